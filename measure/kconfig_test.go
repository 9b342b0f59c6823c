package measure_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestKconfigMeasured: a program reading a __kconfig extern is measured:
// its .kconfig map is sealed, every extern a parameter whose value is a
// fact of the kernel.
func TestKconfigMeasured(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("kconfig_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.Collection(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Program("kconfig_prog")
	if len(p.Unsupported) != 0 {
		t.Fatalf("unsupported: %v", p.Unsupported)
	}
	if len(p.Maps) != 2 || !p.Maps[0].IsKconfig() || !p.Maps[0].Sealed || len(p.Maps[0].Params) != 1 || p.Maps[0].Params[0].Name != "LINUX_KERNEL_VERSION" {
		t.Fatalf("maps %+v", p.Maps)
	}
}

// TestKconfigVerdict loads the kconfig program three ways: as cilium/ebpf
// loads it (the values it derives are the ones KconfigValues derives),
// and with a .kconfig map of the loader's own, holding this kernel's value
// (no mismatch) or another (a mismatch naming the extern).
func TestKconfigVerdict(t *testing.T) {
	testutil.RequireBPF(t)
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("kconfig_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.Collection(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Program("kconfig_prog")
	values, err := measure.KconfigValues(want.Maps[0].Params)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(prog *ebpf.Program) []measure.Mismatch {
		t.Helper()
		kp, err := measure.Kernel(prog, &measure.KernelOptions{Expected: want})
		if err != nil {
			t.Fatal(err)
		}
		ms, _ := measure.Compare(want, kp)
		return ms
	}

	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	if ms := verify(coll.Programs["kconfig_prog"]); len(ms) != 0 {
		t.Fatalf("loaded by cilium/ebpf: %v (this kernel's LINUX_KERNEL_VERSION: %x)", ms, values["LINUX_KERNEL_VERSION"])
	}

	// The same program with a .kconfig map of the loader's own (cilium/ebpf
	// fills and freezes a map of that name as it does the one it derives).
	good := values["LINUX_KERNEL_VERSION"]
	bad := []byte{good[0] ^ 1, good[1], good[2], good[3]}
	for _, tt := range []struct {
		name  string
		value []byte
		field string
	}{{"this kernel's value", good, ""}, {"another value", bad, "kconfig.LINUX_KERNEL_VERSION"}} {
		t.Run(tt.name, func(t *testing.T) {
			cs := spec.Copy()
			cs.Programs = map[string]*ebpf.ProgramSpec{"kconfig_prog": cs.Programs["kconfig_prog"]}
			km, err := ebpf.NewMap(&ebpf.MapSpec{Name: ".kconfig", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1,
				Flags: 0x80, Contents: []ebpf.MapKV{{Key: uint32(0), Value: tt.value}}})
			if err != nil {
				t.Fatal(err)
			}
			defer km.Close()
			ps := cs.Programs["kconfig_prog"]
			for i, ins := range ps.Instructions {
				if ins.IsLoadFromMap() && ins.Reference() == "" {
					ps.Instructions[i] = asm.LoadMapValue(ins.Dst, km.FD(), uint32(ins.Constant>>32))
				}
			}
			c, err := ebpf.NewCollection(cs)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ms := verify(c.Programs["kconfig_prog"])
			found := ""
			for _, m := range ms {
				if strings.HasSuffix(m.Field, "kconfig.LINUX_KERNEL_VERSION") {
					found = m.Field
					if m.Found != hex.EncodeToString(tt.value) {
						t.Errorf("mismatch reports %s, the map holds %x", m.Found, tt.value)
					}
				}
			}
			if tt.field == "" && len(ms) != 0 {
				t.Errorf("this kernel's value: mismatches %v", ms)
			}
			if tt.field != "" && found == "" {
				t.Errorf("another value: mismatches %v do not name the extern", ms)
			}
		})
	}
}
