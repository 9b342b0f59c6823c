package measure_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestReadbackPerCPU: a lookup of a per-CPU map from user space returns
// one value per possible CPU, each padded to 8 bytes, not value_size
// bytes (the 4-byte values here are 8 bytes each even with one CPU). Anyone who can freeze a map (root, on any program's unfrozen
// per-CPU map, or on its own) makes the measurement read it back: the
// read-back must refuse such maps before the kernel writes a value per
// CPU into buffers sized for one (attacker-chosen bytes past the end of
// the measuring process's heap buffers), and the content is reported as
// not measurable.
func TestReadbackPerCPU(t *testing.T) {
	testutil.RequireBPF(t)
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ        ebpf.MapType
		keySize    uint32
		maxEntries uint32
	}{
		{ebpf.PerCPUArray, 4, 4096},
		{ebpf.PerCPUHash, 4, 4096},
		{ebpf.LRUCPUHash, 4, 4096},
		{ebpf.PerCPUCGroupStorage, 8, 0},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: tt.typ, KeySize: tt.keySize, ValueSize: 4, MaxEntries: tt.maxEntries})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if tt.maxEntries > 0 {
				// Every possible CPU's value set: what the kernel would
				// write past one-value buffers.
				values := make([]uint32, cpus)
				for i := range values {
					values[i] = 0xa5a5a5a5
				}
				for k := uint32(0); k < tt.maxEntries; k++ {
					if err := m.Put(k, values); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := m.Freeze(); err != nil {
				t.Fatal(err)
			}
			before := testutil.OpenFDs(t)
			entries, err := measure.ReadEntries(m.FD())
			if !errors.Is(err, measure.ErrUnsupported) {
				t.Errorf("read back: %d entries (the first of %d bytes), error %v; want the read refused with ErrUnsupported", len(entries), firstLen(entries), err)
			}
			km, err := measure.KernelMapFD(m.FD(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !km.Frozen || km.Content != nil || !strings.Contains(km.ContentError, measure.ErrUnsupported.Error()) {
				t.Errorf("frozen %v content %+v error %q; want a frozen map whose content is not measurable", km.Frozen, km.Content, km.ContentError)
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds open before, %d after", before, after)
			}
		})
	}
}

func firstLen(entries []measure.Entry) int {
	if len(entries) == 0 {
		return 0
	}
	return len(entries[0].Value)
}
