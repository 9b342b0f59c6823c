package gen

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// Limits of the build-side readers: inputs beyond them are refused with
// [measure.ErrTooLarge] before anything is allocated for them.
const (
	// MaxObjectSize is the largest BPF object read: 128 MiB. Real objects
	// are kilobytes to a few megabytes (the kernel takes at most a million
	// instructions per program and 16 MiB of BTF).
	MaxObjectSize = 128 << 20
	// MaxZeroSection is the largest section without file contents (.bss
	// and other NOBITS sections) an object may declare: 64 MiB. cilium/ebpf
	// allocates such sections in memory when it reads the object, so their
	// declared size is refused before it does.
	MaxZeroSection = 64 << 20
	// MaxJSONFile is the largest sealing plan, contents file or envelope
	// read: 64 MiB.
	MaxJSONFile = 64 << 20
)

// ReadFile reads a build input that is at most max bytes: it refuses
// anything but a regular file (a FIFO or a device could block or never
// end) and larger files, with one line naming the file.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than the %d read", path, measure.ErrTooLarge, st.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: grew past %d bytes while read", path, measure.ErrTooLarge, max)
	}
	return b, nil
}

// CheckObject refuses objects whose size or zero-filled sections exceed
// [MaxObjectSize] and [MaxZeroSection], before cilium/ebpf reads them.
// Objects that are not ELF pass: the ELF reader says what is wrong.
func CheckObject(obj []byte) error {
	if len(obj) > MaxObjectSize {
		return fmt.Errorf("%w: object of %d bytes, more than the %d read", measure.ErrTooLarge, len(obj), MaxObjectSize)
	}
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS && s.Size > MaxZeroSection {
			return fmt.Errorf("%w: section %s declares %d zero bytes, more than the %d a BPF object may (the kernel would need them as one map value)", measure.ErrTooLarge, s.Name, s.Size, MaxZeroSection)
		}
	}
	return nil
}

// LoadSpec reads a BPF object's collection spec after [CheckObject].
func LoadSpec(obj []byte) (*ebpf.CollectionSpec, error) {
	if err := CheckObject(obj); err != nil {
		return nil, err
	}
	return ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
}
