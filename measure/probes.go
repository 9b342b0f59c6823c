package measure

// Feature probes in cilium/ebpf's style: each asks the running kernel once
// per process, and a probe that finds the feature missing returns an error
// wrapping ebpf.ErrNotSupported.

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
// probe could not tell. It shares its one-element array with the write
// probe (see mapProbes), once per process.
func HaveMapHash() error { return mapProbes().mapHash }

// haveWriteProbe returns nil when [bpfsys.WriteProbe] answers EPERM for a
// frozen map and EINVAL or EFAULT for a writable one, leaving the
// writable map unchanged, and an error wrapping [ebpf.ErrNotSupported]
// when it does not. Probed once per process (see mapProbes).
func haveWriteProbe() error { return mapProbes().writeProbe }

// mapAnswers are the answers of the two probes that share one map.
type mapAnswers struct {
	mapHash, writeProbe error
}

// mapProbes runs both map probes on one array of one 4-byte element:
// create it, fill it, write-probe it writable, freeze it, write-probe it
// frozen, read its element back (the write probe must not have changed
// it) and ask the kernel for its hash, which must be the array algorithm's
// hash of what the element holds. Seven system calls and one map, once
// per process.
//
// One array serves the write probe for every map type because Linux
// decides the probe's answer before it looks at the map's type: in
// map_update_elem (kernel/bpf/syscall.c, 5.2 to 6.18) the write
// permission check (map_get_sys_perms: a frozen map loses FMODE_CAN_WRITE,
// EPERM) comes first, then the BPF_F_LOCK check against the map's spin
// lock field (EINVAL; since 6.19 in bpf_map_check_op_flags, likewise
// before the key is copied), then the copy of the key (NULL: EFAULT),
// and only then the per-type update. A kernel that answered otherwise
// fails the probe, and the frozen state is then read from fdinfo. (The
// permission check refuses an fd opened without write access the same
// way; mapFrozen trusts EPERM only from an fd open for writing.)
var mapProbes = sync.OnceValue(probeMaps)

func probeMaps() mapAnswers {
	const value = 0x01020304
	fail := func(err error) mapAnswers { return mapAnswers{err, err} }
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return fail(fmt.Errorf("probe maps: create array: %w", err))
	}
	defer m.Close()
	if err := m.Put(uint32(0), uint32(value)); err != nil {
		return fail(fmt.Errorf("probe maps: %w", err))
	}
	errW := bpfsys.WriteProbe(m.FD())
	if err := m.Freeze(); err != nil {
		return mapAnswers{
			mapHash:    fmt.Errorf("probe map hash: freeze: %w", err),
			writeProbe: fmt.Errorf("write probe: freeze (Linux 5.2+): %w: %w", ebpf.ErrNotSupported, err),
		}
	}
	errF := bpfsys.WriteProbe(m.FD())
	var got uint32
	if err := m.Lookup(uint32(0), &got); err != nil {
		return fail(fmt.Errorf("probe maps: read back: %w", err))
	}
	_, sum, errH := bpfsys.MapInfoWithHash(m.FD())
	return mapAnswers{
		writeProbe: judgeWriteProbe(errW, errF, value, got),
		// The hash of what the array holds, so that this answer does
		// not depend on the write probe's.
		mapHash: judgeMapHash(sum, errH, got),
	}
}

// judgeWriteProbe is the write probe's verdict from its answers on a
// writable (errW) and a frozen (errF) map, and the writable map's element
// before and after.
func judgeWriteProbe(errW, errF error, before, after uint32) error {
	switch {
	case after != before:
		return fmt.Errorf("write probe: %w: it wrote to a writable map (%#x became %#x)", ebpf.ErrNotSupported, before, after)
	case !errors.Is(errF, unix.EPERM) || !(errors.Is(errW, unix.EINVAL) || errors.Is(errW, unix.EFAULT)):
		return fmt.Errorf("write probe: %w: frozen map answers %v, writable map %v", ebpf.ErrNotSupported, errF, errW)
	}
	return nil
}

// judgeMapHash is the map hash probe's verdict from the kernel's answer
// (sum, err) for a frozen one-element array of 4-byte values holding
// value. Kernels before 6.18 refuse the hash request with E2BIG (the
// hash fields are a non-zero tail of bpf_map_info they do not know,
// bpf_check_uarg_tail_zero); any refusal means no kernel hash.
func judgeMapHash(sum [sha256.Size]byte, err error, value uint32) error {
	if err != nil {
		return fmt.Errorf("bpf_map_info.hash (Linux 6.18+): %w: %w", ebpf.ErrNotSupported, err)
	}
	want, _ := HashArray(NativeOrder, 4, 1, []Entry{{binary.NativeEndian.AppendUint32(nil, 0), binary.NativeEndian.AppendUint32(nil, value)}})
	if sum != want {
		return fmt.Errorf("bpf_map_info.hash: %w: kernel hash %x differs from the array algorithm's %x", ebpf.ErrNotSupported, sum, want)
	}
	return nil
}
