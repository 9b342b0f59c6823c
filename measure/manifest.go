package measure

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Version is the measurement version this package produces and accepts.
const Version = 1

// Sentinel errors. Functions wrap them with the details; test with errors.Is.
var (
	// ErrNoInstructions: a program spec has no instructions.
	ErrNoInstructions = errors.New("program has no instructions")
	// ErrNoPrograms: an object has no programs to measure.
	ErrNoPrograms = errors.New("object has no programs")
	// ErrUnsupported: part of a program cannot be measured by this version.
	ErrUnsupported = errors.New("not supported by measurement v1")
	// ErrMismatch: a kernel measurement differs from the expected one.
	ErrMismatch = errors.New("measurement mismatch")
	// ErrBadManifest: a manifest is malformed or inconsistent.
	ErrBadManifest = errors.New("malformed manifest")
)

// Content is the content hash of a sealed map.
type Content struct {
	// Algorithm is [AlgArray] or [AlgKV].
	Algorithm string `json:"algorithm"`
	// Hash is the hex SHA-256 the algorithm produces.
	Hash string `json:"hash"`
	// Source says where a measured value came from. It is informational and
	// not part of any digest: [SourceELF], [SourceKernel] or [SourceReadback].
	Source string `json:"source,omitempty"`
}

// Content hash algorithms.
const (
	// AlgArray is the kernel's algorithm for BPF_MAP_TYPE_ARRAY (6.18+):
	// SHA-256 over max_entries values, each padded with zeros to a multiple
	// of 8 bytes.
	AlgArray = "array-sha256"
	// AlgKV is this project's algorithm for other map types: SHA-256 over the
	// entries sorted by key bytes (docs/measurement.md).
	AlgKV = "kv-sha256"
)

// Sources of a content hash.
const (
	SourceELF      = "elf"
	SourceKernel   = "kernel"
	SourceReadback = "user-space readback"
)

// Map is the measured descriptor of one map a program uses.
type Map struct {
	Name       string `json:"name"`
	Type       uint32 `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	// Flags are the normalised map flags (see [NormaliseFlags]).
	Flags    uint32 `json:"flags"`
	MapExtra uint64 `json:"map_extra"`
	// Sealed maps are program inputs: read-only for programs, frozen, and
	// bound by Content.
	Sealed  bool     `json:"sealed"`
	Content *Content `json:"content,omitempty"`
	// Params are run-time parameters inside a sealed map, sorted by
	// offset. Their bytes are zero in the hashed contents; their values are
	// reported, not signed.
	Params []Param `json:"params,omitempty"`
}

// Param is a read-only global whose value is set at load time.
type Param struct {
	Name   string `json:"name"`
	Offset uint32 `json:"offset"`
	Size   uint32 `json:"size"`
}

// Program is the expected measurement of one program.
type Program struct {
	// Name is the program's name in the object (its ELF symbol).
	Name       string `json:"name"`
	Type       uint32 `json:"type"`
	AttachType uint32 `json:"attach_type"`
	// Insns is the number of raw instructions submitted.
	Insns int `json:"insns"`
	InsnDigest
	// Alternatives are further acceptable instruction digests, each for a
	// named target (kernel-dependent relocations).
	Alternatives []InsnDigest `json:"alternatives,omitempty"`
	// Maps are the maps the program uses, in the kernel's order.
	Maps []Map `json:"maps"`
	// Relocations are the program's CO-RE relocation sites: the kernel
	// receives them resolved against its own types.
	Relocations []Relocation `json:"relocations,omitempty"`
	// Unsupported lists what measurement v1 cannot cover in this program. A
	// program with entries here never matches a kernel measurement.
	Unsupported []string `json:"unsupported,omitempty"`
	// Measurement is the hex SHA-256 of the program's canonical encoding.
	Measurement string `json:"measurement"`
	// MeasID is the first 8 bytes of Measurement.
	MeasID string `json:"meas_id"`
}

// Manifest is the expected measurement of all programs of an object.
type Manifest struct {
	Version int `json:"version"`
	// Programs, sorted by name.
	Programs []Program `json:"programs"`
	// Digest is the top-level measurement digest (hex SHA-256).
	Digest string `json:"digest"`
	// MeasID is the first 8 bytes of Digest.
	MeasID string `json:"meas_id"`
	// StructOps are the object's struct_ops maps, sorted by name: which
	// program each function member holds, the bytes of each data member.
	// Part of Digest (appended to its encoding only when present).
	StructOps []StructOps `json:"struct_ops,omitempty"`
}

// Program returns the program called name, or nil.
func (m *Manifest) Program(name string) *Program {
	for i := range m.Programs {
		if m.Programs[i].Name == name {
			return &m.Programs[i]
		}
	}
	return nil
}

// Digests returns every acceptable instruction digest of p, the primary one
// first.
func (p *Program) Digests() []InsnDigest {
	return append([]InsnDigest{p.InsnDigest}, p.Alternatives...)
}

const (
	programDomain = "bpf2go-signed measurement v1 program\x00"
	objectDomain  = "bpf2go-signed measurement v1 object\x00"
)

// encoder writes the canonical encoding of docs/measurement.md: integers
// little-endian, strings and byte strings prefixed with their u32 length.
type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8)     { e.buf = append(e.buf, v) }
func (e *encoder) u32(v uint32)   { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64)   { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }
func (e *encoder) str(s string)   { e.u32(uint32(len(s))); e.buf = append(e.buf, s...) }
func (e *encoder) bytes(b []byte) { e.u32(uint32(len(b))); e.buf = append(e.buf, b...) }

func decodeHex(field, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n || strings.ToLower(s) != s {
		return nil, fmt.Errorf("%w: %s: want %d lowercase hex bytes, got %q", ErrBadManifest, field, n, s)
	}
	return b, nil
}

func (d *InsnDigest) encode(e *encoder, field string) error {
	sum, err := decodeHex(field+".digest", d.Digest, sha256.Size)
	if err != nil {
		return err
	}
	if d.Tag != d.Digest[:2*tagSize] {
		return fmt.Errorf("%w: %s.tag %q is not the first 8 bytes of the digest", ErrBadManifest, field, d.Tag)
	}
	sha1Tag, err := decodeHex(field+".tag_sha1", d.TagSHA1, tagSize)
	if err != nil {
		return err
	}
	e.str(d.Target)
	e.bytes(sum)
	e.bytes(sha1Tag)
	return nil
}

// canonical returns the canonical encoding of p (without Measurement and
// MeasID, which are derived from it).
func (p *Program) canonical() ([]byte, error) {
	e := &encoder{}
	e.buf = append(e.buf, programDomain...)
	e.str(p.Name)
	e.u32(p.Type)
	e.u32(p.AttachType)
	e.u32(uint32(p.Insns))
	digests := p.Digests()
	e.u32(uint32(len(digests)))
	for i := range digests {
		if err := digests[i].encode(e, fmt.Sprintf("programs[%s].digests[%d]", p.Name, i)); err != nil {
			return nil, err
		}
	}
	e.u32(uint32(len(p.Maps)))
	for i, m := range p.Maps {
		e.str(m.Name)
		e.u32(m.Type)
		e.u32(m.KeySize)
		e.u32(m.ValueSize)
		e.u32(m.MaxEntries)
		e.u32(m.Flags)
		e.u64(m.MapExtra)
		if !m.Sealed {
			if m.Content != nil || len(m.Params) > 0 {
				return nil, fmt.Errorf("%w: programs[%s].maps[%d] (%s) has a content hash or parameters but is not sealed", ErrBadManifest, p.Name, i, m.Name)
			}
			e.u8(0)
			continue
		}
		e.u8(1)
		if m.Content == nil {
			return nil, fmt.Errorf("%w: programs[%s].maps[%d] (%s) is sealed but has no content hash", ErrBadManifest, p.Name, i, m.Name)
		}
		sum, err := decodeHex(fmt.Sprintf("programs[%s].maps[%d].content.hash", p.Name, i), m.Content.Hash, sha256.Size)
		if err != nil {
			return nil, err
		}
		e.str(m.Content.Algorithm)
		e.bytes(sum)
		e.u32(uint32(len(m.Params)))
		end := uint64(0)
		for _, prm := range m.Params {
			if uint64(prm.Offset) < end || prm.Size == 0 || uint64(prm.Offset)+uint64(prm.Size) > uint64(m.ValueSize) {
				return nil, fmt.Errorf("%w: programs[%s].maps[%d] (%s): parameter %s (offset %d, size %d) overlaps another or lies outside the %d-byte value", ErrBadManifest, p.Name, i, m.Name, prm.Name, prm.Offset, prm.Size, m.ValueSize)
			}
			end = uint64(prm.Offset) + uint64(prm.Size)
			e.str(prm.Name)
			e.u32(prm.Offset)
			e.u32(prm.Size)
		}
	}
	e.u32(uint32(len(p.Unsupported)))
	for _, u := range p.Unsupported {
		e.str(u)
	}
	e.u32(uint32(len(p.Relocations)))
	for _, r := range p.Relocations {
		e.u32(uint32(r.Insn))
		e.str(r.Relocation)
	}
	return e.buf, nil
}

// seal computes the derived fields of p.
func (p *Program) seal() error {
	enc, err := p.canonical()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(enc)
	p.Measurement = hex.EncodeToString(sum[:])
	p.MeasID = p.Measurement[:2*tagSize]
	return nil
}

// Seal sorts the programs by name and computes every derived field: each
// program's Measurement and MeasID, the manifest's Digest and MeasID.
func (m *Manifest) Seal() error {
	if m.Version != Version {
		return fmt.Errorf("%w: version %d, this build understands version %d", ErrBadManifest, m.Version, Version)
	}
	slices.SortFunc(m.Programs, func(a, b Program) int { return strings.Compare(a.Name, b.Name) })
	e := &encoder{}
	e.buf = append(e.buf, objectDomain...)
	e.u32(uint32(len(m.Programs)))
	for i := range m.Programs {
		p := &m.Programs[i]
		if i > 0 && m.Programs[i-1].Name == p.Name {
			return fmt.Errorf("%w: program %s appears twice", ErrBadManifest, p.Name)
		}
		if err := p.seal(); err != nil {
			return err
		}
		sum, _ := hex.DecodeString(p.Measurement)
		e.bytes(sum)
	}
	if err := encodeStructOps(e, m.StructOps, m.Programs); err != nil {
		return err
	}
	sum := sha256.Sum256(e.buf)
	m.Digest = hex.EncodeToString(sum[:])
	m.MeasID = m.Digest[:2*tagSize]
	return nil
}

// Check verifies that a manifest read from elsewhere is well formed and that
// its derived fields agree with its contents. It does not modify m.
func (m *Manifest) Check() error {
	if len(m.Programs) == 0 && len(m.StructOps) == 0 {
		return fmt.Errorf("%w: %w", ErrBadManifest, ErrNoPrograms)
	}
	cp := *m
	cp.Programs = slices.Clone(m.Programs)
	if err := cp.Seal(); err != nil {
		return err
	}
	for i := range cp.Programs {
		got, want := m.Programs[i], cp.Programs[i]
		if got.Name != want.Name {
			return fmt.Errorf("%w: programs are not sorted by name (%s before %s)", ErrBadManifest, got.Name, want.Name)
		}
		if got.Measurement != want.Measurement || got.MeasID != want.MeasID {
			return fmt.Errorf("%w: program %s: measurement %s does not match its contents (computed %s)", ErrBadManifest, got.Name, got.Measurement, want.Measurement)
		}
	}
	if m.Digest != cp.Digest || m.MeasID != cp.MeasID {
		return fmt.Errorf("%w: digest %s does not match its programs (computed %s)", ErrBadManifest, m.Digest, cp.Digest)
	}
	return nil
}
