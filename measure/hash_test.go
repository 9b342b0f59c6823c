package measure_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// naiveArrayHash is the definition of AlgArray written the obvious way:
// the whole padded array in memory.
func naiveArrayHash(valueSize, maxEntries uint32, entries []measure.Entry) [32]byte {
	elem := (int(valueSize) + 7) &^ 7
	buf := make([]byte, elem*int(maxEntries))
	for _, e := range entries {
		copy(buf[int(binary.NativeEndian.Uint32(e.Key))*elem:], e.Value)
	}
	return sha256.Sum256(buf)
}

// TestHashArrayStreamed: the streamed hash equals the definition for
// arrays with values at the start, the end, in the middle, repeated, or
// none at all.
func TestHashArrayStreamed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	entry := func(idx, size uint32) measure.Entry {
		v := make([]byte, size)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return measure.Entry{Key: binary.NativeEndian.AppendUint32(nil, idx), Value: v}
	}
	tests := []struct {
		name              string
		valueSize, maxEnt uint32
		indexes           []uint32
	}{
		{"empty", 10, 4, nil},
		{"one element", 4, 1, []uint32{0}},
		{"first and last", 10, 9000, []uint32{0, 8999}},
		{"unsorted", 24, 100, []uint32{50, 3, 99, 4}},
		{"same index twice", 3, 5, []uint32{2, 2}},
		{"large gap", 1 << 12, 1 << 10, []uint32{777}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var entries []measure.Entry
			for _, i := range tt.indexes {
				entries = append(entries, entry(i, tt.valueSize))
			}
			got, err := measure.HashArray(binary.NativeEndian, tt.valueSize, tt.maxEnt, entries)
			if err != nil {
				t.Fatal(err)
			}
			if want := naiveArrayHash(tt.valueSize, tt.maxEnt, entries); got != want {
				t.Fatalf("streamed %x, definition %x", got, want)
			}
		})
	}
}

// TestHashArrayBounded: a hostile descriptor is refused with one clear
// line, and a large array is hashed without holding it in memory.
func TestHashArrayBounded(t *testing.T) {
	for _, tt := range []struct {
		valueSize, maxEntries uint32
	}{
		{1 << 20, 0xffffffff},
		{0xffffffff, 0xffffffff},
		{8, measure.MaxArrayContents/8 + 1},
	} {
		_, err := measure.HashArray(binary.NativeEndian, tt.valueSize, tt.maxEntries, nil)
		if !errors.Is(err, measure.ErrTooLarge) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "more than the 1 GiB") {
			t.Errorf("%d × %d bytes: %v, want a one-line ErrTooLarge", tt.maxEntries, tt.valueSize, err)
		}
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// 256 MiB of zeros and one value.
	e := measure.Entry{Key: binary.NativeEndian.AppendUint32(nil, 100), Value: make([]byte, 1<<20)}
	if _, err := measure.HashArray(binary.NativeEndian, 1<<20, 256, []measure.Entry{e}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("hashing a 256 MiB array allocated %d bytes; the zero regions must be streamed", grew)
	}
}

// BenchmarkHashArray compares the streamed build-time array hash with the
// definition written as one buffer (the baseline, same run): sparse
// arrays, one value per 64 KiB.
func BenchmarkHashArray(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes uint32
	}{{"1MiB", 1 << 20}, {"64MiB", 64 << 20}} {
		const valueSize = 64
		n := size.bytes / valueSize
		var entries []measure.Entry
		for i := uint32(0); i < n; i += 1024 {
			entries = append(entries, measure.Entry{Key: binary.NativeEndian.AppendUint32(nil, i), Value: make([]byte, valueSize)})
		}
		b.Run(size.name+"/streamed", func(b *testing.B) {
			b.SetBytes(int64(size.bytes))
			for b.Loop() {
				if _, err := measure.HashArray(binary.NativeEndian, valueSize, n, entries); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/in-memory", func(b *testing.B) {
			b.SetBytes(int64(size.bytes))
			for b.Loop() {
				naiveArrayHash(valueSize, n, entries)
			}
		})
	}
}
