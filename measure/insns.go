package measure

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// Raw instruction layout (struct bpf_insn).
const (
	insnSize      = asm.InstructionSize
	opLdImm64     = uint8(asm.LdClass) | uint8(asm.ImmMode) | uint8(asm.DWord) // BPF_LD | BPF_IMM | BPF_DW
	pseudoMapFD   = unix.BPF_PSEUDO_MAP_FD
	pseudoMapValu = unix.BPF_PSEUDO_MAP_VALUE
)

// InsnDigest is one acceptable digest of a program's final instructions.
type InsnDigest struct {
	// Target names what the instructions were produced for; empty for the
	// object as built (no kernel-dependent relocation).
	Target string `json:"target,omitempty"`
	// Digest is the hex SHA-256 of the instructions as submitted, with the
	// kernel's zeroing rule applied (see [ZeroMapImmediates]).
	Digest string `json:"digest"`
	// Tag is the first 8 bytes of Digest: bpf_prog_info.tag on Linux 6.18+.
	Tag string `json:"tag"`
	// TagSHA1 is the first 8 bytes of SHA-1 over the same bytes:
	// bpf_prog_info.tag before Linux 6.18.
	TagSHA1 string `json:"tag_sha1"`
}

// KernelTag is the bpf_prog_info.tag a kernel whose tag algorithm is alg
// ([TagSHA256] or [TagSHA1], as [TagAlgorithm] reports) gives for these
// instructions.
func (d *InsnDigest) KernelTag(alg string) string {
	if alg == TagSHA1 {
		return d.TagSHA1
	}
	return d.Tag
}

// SubmittedInstructions returns the bytes cilium/ebpf v0.22.0 puts in
// bpf_attr.insns for spec: subprograms already flattened by the ELF reader,
// bpf-to-bpf calls and jumps encoded. Map references are left without file
// descriptors; the kernel's tag ignores them anyway.
//
// spec is not modified.
func SubmittedInstructions(spec *ebpf.ProgramSpec) ([]byte, error) {
	if len(spec.Instructions) == 0 {
		return nil, fmt.Errorf("program %s: %w", spec.Name, ErrNoInstructions)
	}
	insns := make(asm.Instructions, len(spec.Instructions))
	copy(insns, spec.Instructions)
	bo := byteOrder(spec)
	var buf bytes.Buffer
	buf.Grow(int(insns.Size()))
	if err := insns.Marshal(&buf, bo); err != nil {
		return nil, fmt.Errorf("program %s: encode instructions: %w", spec.Name, err)
	}
	return buf.Bytes(), nil
}

// ProgramDigest returns the digests of spec's instructions as submitted,
// before any CO-RE relocation.
func ProgramDigest(spec *ebpf.ProgramSpec) (InsnDigest, error) {
	raw, err := SubmittedInstructions(spec)
	if err != nil {
		return InsnDigest{}, err
	}
	return DigestInstructions(raw, byteOrder(spec)), nil
}

// ZeroMapImmediates applies the kernel's tag rule (bpf_prog_calc_tag) to raw
// instructions in place: in every ldimm64 whose src_reg is BPF_PSEUDO_MAP_FD
// or BPF_PSEUDO_MAP_VALUE, the imm of the first half is zeroed, and the imm of
// the second half too when that half is well formed (code, registers and
// offset all zero).
//
// bo is the byte order the instructions were encoded in; it decides which
// nibble of the register byte holds src_reg.
func ZeroMapImmediates(raw []byte, bo binary.ByteOrder) {
	wasLdMap := false
	for off := 0; off+insnSize <= len(raw); off += insnSize {
		ins := raw[off : off+insnSize]
		src := ins[1] >> 4
		dst := ins[1] & 0xf
		if bo == binary.BigEndian {
			src, dst = ins[1]&0xf, ins[1]>>4
		}
		switch {
		case !wasLdMap && ins[0] == opLdImm64 && (src == pseudoMapFD || src == pseudoMapValu):
			wasLdMap = true
			clear(ins[4:8])
		case wasLdMap && ins[0] == 0 && dst == 0 && src == 0 && ins[2] == 0 && ins[3] == 0:
			wasLdMap = false
			clear(ins[4:8])
		default:
			wasLdMap = false
		}
	}
}

// DigestInstructions computes the digests of raw submitted instructions.
// raw is modified: map immediates are zeroed.
func DigestInstructions(raw []byte, bo binary.ByteOrder) InsnDigest {
	ZeroMapImmediates(raw, bo)
	sum := sha256.Sum256(raw)
	sum1 := sha1.Sum(raw)
	return InsnDigest{
		Digest:  hex.EncodeToString(sum[:]),
		Tag:     hex.EncodeToString(sum[:tagSize]),
		TagSHA1: hex.EncodeToString(sum1[:tagSize]),
	}
}

const tagSize = 8

// byteOrder returns the byte order spec's instructions are encoded in: the
// object's, or the host's for specs built in Go.
func byteOrder(spec *ebpf.ProgramSpec) binary.ByteOrder {
	if spec.ByteOrder != nil {
		return spec.ByteOrder
	}
	return NativeOrder
}

// NativeOrder is the host's byte order as one of the two concrete values
// (binary.LittleEndian or binary.BigEndian) that cilium/ebpf compares with.
var NativeOrder = func() binary.ByteOrder {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()
