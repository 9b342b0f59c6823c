package gen

import (
	"bytes"
	"debug/elf"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
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

// ReadFile reads a build input named by the operator: a regular file of
// at most max bytes (see [safefs.ReadRegular]).
func ReadFile(path string, max int64) ([]byte, error) { return safefs.ReadRegular(path, max) }

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
