package sealmap_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
)

// benchValueSize is the value size of the benchmark arrays (a config table
// row); max_entries is the total size divided by it.
const benchValueSize = 64

var benchSizes = []struct {
	name  string
	bytes int
}{
	{"4KiB", 4 << 10},
	{"1MiB", 1 << 20},
	{"64MiB", 64 << 20},
}

func benchSpec(total int) *ebpf.MapSpec {
	n := uint32(total / benchValueSize)
	ms := &ebpf.MapSpec{Name: "bench", Type: ebpf.Array, KeySize: 4, ValueSize: benchValueSize, MaxEntries: n, Flags: sealmap.FlagRdonlyProg}
	ms.Contents = make([]ebpf.MapKV, n)
	for i := range n {
		v := make([]byte, benchValueSize)
		for j := range v {
			v[j] = byte(i*7 + uint32(j))
		}
		ms.Contents[i] = ebpf.MapKV{Key: binary.NativeEndian.AppendUint32(nil, i), Value: v}
	}
	return ms
}

func hashPaths() []struct {
	name string
	opts *measure.KernelOptions
} {
	return []struct {
		name string
		opts *measure.KernelOptions
	}{
		{"kernel", &measure.KernelOptions{}},
		{"readback", &measure.KernelOptions{Readback: true}},
	}
}

// BenchmarkSealAndHash: fill + freeze + hash of a sealed array, with the
// kernel's map hash and with the contents read back and hashed in user
// space, in the same run.
func BenchmarkSealAndHash(b *testing.B) {
	testutil.RequireBPF(b)
	if err := measure.MapHashProbe(); err != nil {
		testutil.SkipWithout(b, testutil.FeatureMapHash, err)
	}
	for _, size := range benchSizes {
		ms := benchSpec(size.bytes)
		for _, path := range hashPaths() {
			b.Run(fmt.Sprintf("%s/%s", size.name, path.name), func(b *testing.B) {
				b.SetBytes(int64(size.bytes))
				for b.Loop() {
					m, err := sealmap.Seal(ms)
					if err != nil {
						b.Fatal(err)
					}
					km, err := measure.KernelMapFD(m.FD(), path.opts)
					m.Close()
					if err != nil || km.Content == nil {
						b.Fatalf("%v %+v", err, km)
					}
				}
			})
		}
	}
}

// BenchmarkHash: the hash alone, on an already sealed array.
func BenchmarkHash(b *testing.B) {
	testutil.RequireBPF(b)
	if err := measure.MapHashProbe(); err != nil {
		testutil.SkipWithout(b, testutil.FeatureMapHash, err)
	}
	for _, size := range benchSizes {
		m, err := sealmap.Seal(benchSpec(size.bytes))
		if err != nil {
			b.Fatal(err)
		}
		for _, path := range hashPaths() {
			b.Run(fmt.Sprintf("%s/%s", size.name, path.name), func(b *testing.B) {
				b.SetBytes(int64(size.bytes))
				for b.Loop() {
					if _, err := measure.KernelMapFD(m.FD(), path.opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		m.Close()
	}
}

// TestSealedHashesAgree checks, on the benchmark arrays, that both hash
// paths give the same answer.
func TestSealedHashesAgree(t *testing.T) {
	testutil.RequireBPF(t)
	if err := measure.MapHashProbe(); err != nil {
		testutil.SkipWithout(t, testutil.FeatureMapHash, err)
	}
	for _, size := range benchSizes[:2] {
		m, err := sealmap.Seal(benchSpec(size.bytes))
		if err != nil {
			t.Fatal(err)
		}
		k, err1 := measure.KernelMapFD(m.FD(), nil)
		r, err2 := measure.KernelMapFD(m.FD(), &measure.KernelOptions{Readback: true})
		m.Close()
		if err1 != nil || err2 != nil || k.Content.Hash != r.Content.Hash || k.Content.Source == r.Content.Source {
			t.Fatalf("%s: kernel %+v (%v), readback %+v (%v)", size.name, k.Content, err1, r.Content, err2)
		}
	}
}
