package build

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
)

// FuzzMeasureMapSizes gives the sealed maps of a real object hostile
// descriptors (type, key size, value size, max entries) and contents
// counts, and measures it as [Measure] does (the generator and "sign"). Every input
// ends in a manifest or an error, never a panic, and no input makes the
// measurement allocate more than 64 MiB: sizes come from the object, and
// only the bytes it really holds may be allocated.
func FuzzMeasureMapSizes(f *testing.F) {
	obj, err := os.ReadFile(testutil.Testdata("sealed_bpfel.o"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(ebpf.Array), uint32(4), uint32(10), uint32(4), uint16(2), uint32(ebpf.Hash), uint32(2), uint32(4), uint32(16), uint16(2))
	f.Add(uint32(ebpf.Array), uint32(4), uint32(1<<20), uint32(0xffffffff), uint16(3), uint32(ebpf.Hash), uint32(0xffffffff), uint32(0xffffffff), uint32(0xffffffff), uint16(1000))
	f.Add(uint32(ebpf.Array), uint32(4), uint32(0), uint32(0), uint16(0), uint32(ebpf.LPMTrie), uint32(8), uint32(8), uint32(1), uint16(5))
	f.Add(uint32(ebpf.Array), uint32(4), uint32(8), uint32(1<<27), uint16(1), uint32(ebpf.Array), uint32(4), uint32(1<<30), uint32(1<<20), uint16(7))
	f.Fuzz(func(t *testing.T, t1, k1, v1, n1 uint32, c1 uint16, t2, k2, v2, n2 uint32, c2 uint16) {
		spec, err := LoadSpec(obj)
		if err != nil {
			t.Fatal(err)
		}
		contents := map[string][]byte{}
		for _, m := range []struct {
			name                 string
			typ, key, value, max uint32
			count                uint16
		}{{"config", t1, k1, v1, n1, c1}, {"ports", t2, k2, v2, n2, c2}} {
			ms := spec.Maps[m.name]
			ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries = ebpf.MapType(m.typ%40), m.key, m.value, m.max
			ms.Key, ms.Value = nil, nil // the BTF no longer describes them
			var b strings.Builder
			b.WriteString(`{"entries":[`)
			for i := 0; i < int(m.count); i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"key":%d,"value":%d}`, i, i)
			}
			b.WriteString(`]}`)
			contents[m.name] = []byte(b.String())
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err = measureSpec(spec, Declared(sealmap.Config{Seal: []string{"ports"}, Contents: contents}), nil)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Fatalf("measuring allocated %d MiB (err %v)", grew>>20, err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error: %q", err)
		}
	})
}
