package measure

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// Tag algorithms of bpf_prog_info.tag.
const (
	TagSHA256 = "sha256" // Linux 6.18+
	TagSHA1   = "sha1"   // before Linux 6.18
)

// KernelMap is a map as the kernel reports it.
type KernelMap struct {
	ID         uint32 `json:"id"`
	Name       string `json:"name"`
	Type       uint32 `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	// Flags are normalised like the expected ones; RawFlags are as reported.
	Flags    uint32 `json:"flags"`
	RawFlags uint32 `json:"raw_flags"`
	MapExtra uint64 `json:"map_extra"`
	// Frozen: BPF_MAP_FREEZE was applied (Linux 5.2+).
	Frozen bool `json:"frozen"`
	// Content is measured for frozen maps only.
	Content *Content `json:"content,omitempty"`
	// ContentError says why a frozen map has no content hash.
	ContentError string `json:"content_error,omitempty"`
}

// KernelProgram is the measurement of a loaded program, built from data the
// kernel owns: bpf_prog_info, bpf_map_info and the kernel's map hash.
type KernelProgram struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	Type uint32 `json:"type"`
	// Tag is bpf_prog_info.tag in hex.
	Tag string `json:"tag"`
	// TagAlgorithm is [TagSHA256] or [TagSHA1], found by probing.
	TagAlgorithm string      `json:"tag_algorithm"`
	Maps         []KernelMap `json:"maps"`
}

// KernelOptions tune a kernel measurement. The zero value is the default.
type KernelOptions struct {
	// Readback hashes frozen maps in user space from contents read back
	// through the kernel even where the kernel can hash them itself.
	Readback bool
}

// Kernel measures a loaded program from kernel-owned data.
func Kernel(prog *ebpf.Program, opts *KernelOptions) (*KernelProgram, error) {
	return KernelFD(prog.FD(), opts)
}

// KernelFD measures the program behind a file descriptor.
func KernelFD(fd int, opts *KernelOptions) (*KernelProgram, error) {
	if opts == nil {
		opts = &KernelOptions{}
	}
	alg, err := TagAlgorithm()
	if err != nil {
		return nil, err
	}
	info, ids, err := bpfsys.ProgramInfo(fd)
	if err != nil {
		return nil, err
	}
	kp := &KernelProgram{
		ID:           info.ID,
		Name:         bpfsys.CString(info.Name[:]),
		Type:         info.Type,
		Tag:          hex.EncodeToString(info.Tag[:]),
		TagAlgorithm: alg,
		Maps:         make([]KernelMap, 0, len(ids)),
	}
	for _, id := range ids {
		km, err := kernelMapByID(id, opts)
		if err != nil {
			return nil, fmt.Errorf("program %s (id %d): %w", kp.Name, kp.ID, err)
		}
		kp.Maps = append(kp.Maps, *km)
	}
	return kp, nil
}

func kernelMapByID(id uint32, opts *KernelOptions) (*KernelMap, error) {
	fd, err := bpfsys.MapFDByID(id)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return KernelMapFD(fd, opts)
}

// KernelMapFD measures the map behind a file descriptor: its descriptor,
// whether it is frozen and, when it is, its content hash. The kernel hashes
// frozen arrays itself on Linux 6.18+; elsewhere the contents are read back
// and hashed in user space, and the result says so.
func KernelMapFD(fd int, opts *KernelOptions) (*KernelMap, error) {
	if opts == nil {
		opts = &KernelOptions{}
	}
	info, err := bpfsys.MapDescriptor(fd)
	if err != nil {
		return nil, err
	}
	var kernelSum *[sha256.Size]byte
	frozen := false
	if ebpf.MapType(info.Type) == ebpf.Array && !opts.Readback && MapHashSupported() {
		// One call gives the descriptor and the hash; EPERM means the map
		// is not frozen.
		withHash, sum, err := bpfsys.MapInfoWithHash(fd)
		switch {
		case err == nil:
			info, frozen, kernelSum = withHash, true, &sum
		case errors.Is(err, unix.EPERM):
			frozen = false
		default:
			return nil, err
		}
	} else {
		frozen, err = bpfsys.MapFrozen(fd)
		if err != nil && !errors.Is(err, bpfsys.ErrNoFrozenField) {
			return nil, err
		}
	}

	km := &KernelMap{
		ID:         info.ID,
		Name:       bpfsys.CString(info.Name[:]),
		Type:       info.Type,
		KeySize:    info.KeySize,
		ValueSize:  info.ValueSize,
		MaxEntries: info.MaxEntries,
		RawFlags:   info.MapFlags,
		MapExtra:   info.MapExtra,
		Frozen:     frozen,
	}
	desc := Map{Name: km.Name, Type: km.Type, KeySize: km.KeySize, ValueSize: km.ValueSize, MaxEntries: km.MaxEntries, Flags: km.RawFlags}
	normaliseDescriptor(&desc)
	km.Flags, km.KeySize, km.ValueSize, km.MaxEntries = desc.Flags, desc.KeySize, desc.ValueSize, desc.MaxEntries
	if !frozen {
		return km, nil
	}
	if kernelSum != nil {
		km.Content = &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(kernelSum[:]), Source: SourceKernel}
		return km, nil
	}
	content, err := readbackHash(fd, info)
	if err != nil {
		km.ContentError = err.Error()
		return km, nil
	}
	km.Content = content
	return km, nil
}

// readbackHash reads a frozen map's contents through the kernel and hashes
// them with the algorithm measurement v1 uses for the map's type.
func readbackHash(fd int, info *bpfsys.MapInfo) (*Content, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("dup map fd: %w", err)
	}
	m, err := ebpf.NewMapFromFD(dup)
	if err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("open map: %w", err)
	}
	defer m.Close()

	typ := ebpf.MapType(info.Type)
	var entries []Entry
	if typ == ebpf.Array {
		entries = make([]Entry, 0, info.MaxEntries)
		for i := uint32(0); i < info.MaxEntries; i++ {
			key := binary.NativeEndian.AppendUint32(nil, i)
			value := make([]byte, info.ValueSize)
			if err := m.Lookup(key, &value); err != nil {
				return nil, fmt.Errorf("read back index %d: %w", i, err)
			}
			entries = append(entries, Entry{key, value})
		}
	} else {
		key := make([]byte, info.KeySize)
		value := make([]byte, info.ValueSize)
		it := m.Iterate()
		for it.Next(&key, &value) {
			entries = append(entries, Entry{append([]byte(nil), key...), append([]byte(nil), value...)})
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("read back: %w", err)
		}
	}
	sum, alg, err := HashContents(typ, info.KeySize, info.ValueSize, info.MaxEntries, entries)
	if err != nil {
		return nil, err
	}
	return &Content{Algorithm: alg, Hash: hex.EncodeToString(sum[:]), Source: SourceReadback}, nil
}

var tagProbe = sync.OnceValues(probeTagAlgorithm)

// TagAlgorithm reports which hash the running kernel uses for
// bpf_prog_info.tag. It loads a two-instruction socket filter once and
// compares its tag with both candidates; the answer is cached.
func TagAlgorithm() (string, error) { return tagProbe() }

func probeTagAlgorithm() (string, error) {
	spec := &ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "MIT",
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return "", fmt.Errorf("probe tag algorithm: load probe program: %w", err)
	}
	defer prog.Close()
	info, _, err := bpfsys.ProgramInfo(prog.FD())
	if err != nil {
		return "", fmt.Errorf("probe tag algorithm: %w", err)
	}
	raw, err := SubmittedInstructions(spec)
	if err != nil {
		return "", err
	}
	want := DigestInstructions(raw, nativeOrder)
	got := hex.EncodeToString(info.Tag[:])
	switch got {
	case want.Tag:
		return TagSHA256, nil
	case want.TagSHA1:
		return TagSHA1, nil
	}
	return "", fmt.Errorf("probe tag algorithm: kernel tag %s matches neither SHA-256 (%s) nor SHA-1 (%s)", got, want.Tag, want.TagSHA1)
}

var mapHashProbe = sync.OnceValue(probeMapHash)

// MapHashSupported reports whether the kernel returns the SHA-256 of a
// frozen array in bpf_map_info.hash (Linux 6.18+). It creates, freezes and
// asks the hash of a one-element array once; the answer is cached.
func MapHashSupported() bool { return mapHashProbe() == nil }

// MapHashProbe returns nil when the kernel supports map hashes, or the
// reason it does not.
func MapHashProbe() error { return mapHashProbe() }

func probeMapHash() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("probe map hash: create array: %w", err)
	}
	defer m.Close()
	if err := m.Put(uint32(0), uint32(0x01020304)); err != nil {
		return fmt.Errorf("probe map hash: %w", err)
	}
	if err := m.Freeze(); err != nil {
		return fmt.Errorf("probe map hash: freeze: %w", err)
	}
	_, got, err := bpfsys.MapInfoWithHash(m.FD())
	if err != nil {
		return fmt.Errorf("probe map hash: %w", err)
	}
	want, _ := HashArray(4, 1, []Entry{{binary.NativeEndian.AppendUint32(nil, 0), binary.NativeEndian.AppendUint32(nil, 0x01020304)}})
	if got != want {
		return fmt.Errorf("probe map hash: kernel hash %x differs from the array algorithm's %x", got, want)
	}
	return nil
}
