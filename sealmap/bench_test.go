package sealmap_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

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

// mmapable is benchSpec created BPF_F_MMAPABLE: read back through a
// read-only mapping instead of BPF_MAP_LOOKUP_BATCH.
func mmapable(ms *ebpf.MapSpec) *ebpf.MapSpec {
	ms = ms.Copy()
	ms.Flags |= unix.BPF_F_MMAPABLE
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

// BenchmarkReadback: the user-space hash of a sealed array, read back
// through BPF_MAP_LOOKUP_BATCH (batch) and through a read-only mapping of a
// BPF_F_MMAPABLE array (mmap), against SHA-256 of the same bytes in memory
// (memory), in the same run. Needs no kernel map hash: this is the path of
// every kernel before 6.18.
func BenchmarkReadback(b *testing.B) {
	testutil.RequireBPF(b)
	for _, size := range benchSizes {
		spec := benchSpec(size.bytes)
		plain, err := sealmap.Seal(spec)
		if err != nil {
			b.Fatal(err)
		}
		mapped, err := sealmap.Seal(mmapable(spec))
		if err != nil {
			plain.Close()
			b.Fatal(err)
		}
		buf := make([]byte, size.bytes)
		for i := range buf {
			buf[i] = byte(i)
		}
		readback := &measure.KernelOptions{Readback: true}
		b.Run(size.name+"/memory", func(b *testing.B) {
			b.SetBytes(int64(size.bytes))
			for b.Loop() {
				sha256.Sum256(buf)
			}
		})
		for _, m := range []struct {
			name string
			m    *ebpf.Map
		}{{"batch", plain}, {"mmap", mapped}} {
			b.Run(size.name+"/"+m.name, func(b *testing.B) {
				b.SetBytes(int64(size.bytes))
				for b.Loop() {
					km, err := measure.KernelMapFD(m.m.FD(), readback)
					if err != nil || km.Content == nil {
						b.Fatalf("%v %+v", err, km)
					}
				}
			})
		}
		plain.Close()
		mapped.Close()
	}
}

// BenchmarkSealAndHash: fill + freeze + hash of a sealed array, with the
// kernel's map hash and with the contents read back and hashed in user
// space, in the same run.
func BenchmarkSealAndHash(b *testing.B) {
	testutil.RequireBPF(b)
	if err := measure.HaveMapHash(); err != nil {
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
	if err := measure.HaveMapHash(); err != nil {
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
	if err := measure.HaveMapHash(); err != nil {
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

// TestMmapReadback: a sealed BPF_F_MMAPABLE array read back through a
// read-only mapping hashes to what the batch read-back of the same
// contents gives (and the kernel's hash where it has one), and the kernel
// refuses a writable mapping of the frozen array, which is what makes
// hashing it in place sound.
func TestMmapReadback(t *testing.T) {
	testutil.RequireBPF(t)
	for _, size := range benchSizes[:2] {
		spec := benchSpec(size.bytes)
		plain, err := sealmap.Seal(spec)
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		mapped, err := sealmap.Seal(mmapable(spec))
		if err != nil {
			t.Fatal(err)
		}
		defer mapped.Close()
		readback := &measure.KernelOptions{Readback: true}
		b, err1 := measure.KernelMapFD(plain.FD(), readback)
		m, err2 := measure.KernelMapFD(mapped.FD(), readback)
		if err1 != nil || err2 != nil || b.Content == nil || m.Content == nil {
			t.Fatalf("%s: batch %+v (%v), mmap %+v (%v)", size.name, b, err1, m, err2)
		}
		if b.Content.Hash != m.Content.Hash {
			t.Errorf("%s: mmap read-back hash %s, batch read-back %s", size.name, m.Content.Hash, b.Content.Hash)
		}
		if measure.HaveMapHash() == nil {
			k, err := measure.KernelMapFD(mapped.FD(), nil)
			if err != nil || k.Content == nil || k.Content.Hash != m.Content.Hash {
				t.Errorf("%s: kernel hash %+v (%v), mmap read-back %s", size.name, k, err, m.Content.Hash)
			}
		}
		if mem, err := unix.Mmap(mapped.FD(), 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err == nil {
			unix.Munmap(mem)
			t.Fatalf("%s: the kernel mapped a frozen array writable", size.name)
		}
	}
}

// hashSpec is a sealed hash map of total bytes of 8-byte keys and
// 56-byte values, full.
func hashSpec(total int) *ebpf.MapSpec {
	n := uint32(total / benchValueSize)
	ms := &ebpf.MapSpec{Name: "bench_kv", Type: ebpf.Hash, KeySize: 8, ValueSize: benchValueSize - 8, MaxEntries: n, Flags: sealmap.FlagRdonlyProg | unix.BPF_F_NO_PREALLOC}
	ms.Contents = make([]ebpf.MapKV, n)
	for i := range n {
		v := make([]byte, ms.ValueSize)
		for j := range v {
			v[j] = byte(i*7 + uint32(j))
		}
		ms.Contents[i] = ebpf.MapKV{Key: binary.NativeEndian.AppendUint64(nil, uint64(i)*2654435761), Value: v}
	}
	return ms
}

// BenchmarkReadbackHash: the read-back hash of a sealed hash map (every
// kernel: the kernel hashes arrays only), with SHA-256 of the same number
// of bytes in memory as the yardstick, in the same run.
func BenchmarkReadbackHash(b *testing.B) {
	testutil.RequireBPF(b)
	for _, size := range benchSizes {
		m, err := sealmap.Seal(hashSpec(size.bytes))
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, size.bytes)
		b.Run(size.name+"/memory", func(b *testing.B) {
			b.SetBytes(int64(size.bytes))
			for b.Loop() {
				sha256.Sum256(buf)
			}
		})
		b.Run(size.name+"/readback", func(b *testing.B) {
			b.SetBytes(int64(size.bytes))
			for b.Loop() {
				km, err := measure.KernelMapFD(m.FD(), &measure.KernelOptions{Readback: true})
				if err != nil || km.Content == nil {
					b.Fatalf("%v %+v", err, km)
				}
			}
		})
		m.Close()
	}
}
