package measure

// Feature probes in cilium/ebpf's style: each asks the running kernel once
// per process, and a probe that finds the feature missing returns an error
// wrapping ebpf.ErrNotSupported.

import (
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

var tagProbe = sync.OnceValues(probeTagAlgorithm)

// TagAlgorithm reports which hash the running kernel uses for
// bpf_prog_info.tag. Where the kernel has BTF it reads the answer there:
// the SHA-256 tag came with the full digest in struct bpf_prog
// (union { u8 digest[32]; u8 tag[8]; }, Linux 6.18), so the member digest
// means SHA-256 and its absence SHA-1. This loads nothing, so it works
// where a gate refuses unsigned loads. Without kernel BTF it loads a
// two-instruction socket filter and compares its tag with both candidates.
// The answer is cached.
func TagAlgorithm() (string, error) { return tagProbe() }

// HaveProgDigest returns nil when the running kernel's struct bpf_prog
// holds the full 32-byte SHA-256 digest (member digest, Linux 6.18+), an
// error wrapping [ebpf.ErrNotSupported] when its BTF shows no such member,
// and another error when the kernel has no BTF, or no struct bpf_prog in
// it, to tell. It reads the kernel's BTF and loads nothing, once per
// process.
func HaveProgDigest() error { return haveProgDigest() }

var haveProgDigest = sync.OnceValue(func() error {
	// Not wrapped: a kernel without BTF does not tell, and cilium/ebpf
	// says so with ErrNotSupported too. The BTF is read once per process
	// for this and the full-digest backend (kernelBTFFacts).
	f, err := kernelBTFFacts()
	if err != nil {
		return fmt.Errorf("struct bpf_prog: no kernel BTF to tell (%v)", err)
	}
	if !f.hasDigest {
		return fmt.Errorf("struct bpf_prog.digest (Linux 6.18+): %w", ebpf.ErrNotSupported)
	}
	return nil
})

func probeTagAlgorithm() (string, error) {
	switch err := HaveProgDigest(); {
	case err == nil:
		return TagSHA256, nil
	case errors.Is(err, ebpf.ErrNotSupported):
		return TagSHA1, nil
	}
	return probeTagAlgorithmByLoad()
}

func probeTagAlgorithmByLoad() (string, error) {
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
	want := DigestInstructions(raw, NativeOrder)
	got := hex.EncodeToString(info.Tag[:])
	switch got {
	case want.Tag:
		return TagSHA256, nil
	case want.TagSHA1:
		return TagSHA1, nil
	}
	return "", fmt.Errorf("probe tag algorithm: kernel tag %s matches neither SHA-256 (%s) nor SHA-1 (%s)", got, want.Tag, want.TagSHA1)
}

// HaveMapHash returns nil when the kernel returns the SHA-256 of a frozen
// array in bpf_map_info.hash (Linux 6.18+), an error wrapping
// [ebpf.ErrNotSupported] when it does not, and another error when the
// probe could not tell. It creates, fills, freezes and asks the hash of a
// one-element array once per process.
func HaveMapHash() error { return haveMapHash() }

var haveMapHash = sync.OnceValue(func() error {
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
		return fmt.Errorf("bpf_map_info.hash (Linux 6.18+): %w: %w", ebpf.ErrNotSupported, err)
	}
	want, _ := HashArray(NativeOrder, 4, 1, []Entry{{binary.NativeEndian.AppendUint32(nil, 0), binary.NativeEndian.AppendUint32(nil, 0x01020304)}})
	if got != want {
		return fmt.Errorf("bpf_map_info.hash: %w: kernel hash %x differs from the array algorithm's %x", ebpf.ErrNotSupported, got, want)
	}
	return nil
})

// haveWriteProbe returns nil when [bpfsys.WriteProbe] answers EPERM for a
// frozen hash map and EINVAL or EFAULT for a writable one, leaving the
// writable map unchanged, and an error wrapping [ebpf.ErrNotSupported]
// when it does not. Probed once per process.
var haveWriteProbe = sync.OnceValue(func() error {
	spec := &ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	writable, err := ebpf.NewMap(spec)
	if err != nil {
		return fmt.Errorf("probe write probe: %w", err)
	}
	defer writable.Close()
	frozen, err := ebpf.NewMap(spec)
	if err != nil {
		return fmt.Errorf("probe write probe: %w", err)
	}
	defer frozen.Close()
	if err := frozen.Freeze(); err != nil {
		return fmt.Errorf("write probe: freeze (Linux 5.2+): %w: %w", ebpf.ErrNotSupported, err)
	}
	errW, errF := bpfsys.WriteProbe(writable.FD()), bpfsys.WriteProbe(frozen.FD())
	var k, v uint32
	if writable.Iterate().Next(&k, &v) {
		return fmt.Errorf("write probe: %w: it wrote to a writable map", ebpf.ErrNotSupported)
	}
	if !errors.Is(errF, unix.EPERM) || !(errors.Is(errW, unix.EINVAL) || errors.Is(errW, unix.EFAULT)) {
		return fmt.Errorf("write probe: %w: frozen map answers %v, writable map %v", ebpf.ErrNotSupported, errF, errW)
	}
	return nil
})
