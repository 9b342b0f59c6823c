package measure

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
)

// Version is the measurement version this package produces and accepts.
// Version 2 added the slots of sealed program arrays and maps of maps and
// the inner-map template of maps of maps (docs/measurement.md §8).
const Version = 2

// Sentinel errors. Functions wrap them with the details; test with errors.Is.
var (
	// ErrNoInstructions: a program spec has no instructions.
	ErrNoInstructions = errors.New("program has no instructions")
	// ErrNoPrograms: an object has no programs to measure.
	ErrNoPrograms = errors.New("object has no programs")
	// ErrUnsupported: part of a program cannot be measured by this version.
	ErrUnsupported = errors.New("not supported by measurement v2")
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
	// AlgSlots names the contents of a sealed program array or map of
	// maps: its slots, compared one by one through the kernel (no hash).
	AlgSlots = "slots"
)

// Sources of a content hash.
const (
	SourceELF      = "elf"
	SourceKernel   = "kernel"
	SourceReadback = "user-space readback"
)

// MapDescriptor is a map's shape as measurement v2 compares it: the
// fields of bpf_map_info, normalised (see docs/measurement.md §Maps). The
// build-time [Map] and the kernel's [KernelMap] share it; its JSON fields
// are promoted into theirs.
type MapDescriptor struct {
	// Name is the name the kernel keeps (see [KernelName]).
	Name       string `json:"name"`
	Type       uint32 `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	// Flags are the normalised map flags (see [NormaliseFlags]).
	Flags    uint32 `json:"flags"`
	MapExtra uint64 `json:"map_extra"`
}

// Map is the measured descriptor of one map a program uses.
type Map struct {
	MapDescriptor
	// Sealed maps are program inputs: read-only for programs, frozen, and
	// bound by Content.
	Sealed  bool     `json:"sealed"`
	Content *Content `json:"content,omitempty"`
	// Params are run-time parameters inside a sealed map, sorted by
	// offset. Their bytes are zero in the hashed contents; their values are
	// reported, not signed.
	Params []Param `json:"params,omitempty"`
	// Inner is the inner-map template of a map of maps (descriptor only:
	// name, sealed, content and slots stay empty). The kernel accepts only
	// inner maps that match it.
	Inner *Map `json:"inner,omitempty"`
	// Slots are the signed contents of a sealed program array or map of
	// maps, sorted by key: every slot that holds something. Slots not
	// listed must be empty.
	Slots []Slot `json:"slots,omitempty"`
}

// Slot is one filled slot of a sealed program array or map of maps.
type Slot struct {
	// Key is the hex of the key bytes in the object's byte order.
	Key string `json:"key"`
	// Program names the program of this object a program-array slot
	// holds.
	Program string `json:"program,omitempty"`
	// Measurement is the measurement of Program in the same manifest. It
	// is derived (not part of the canonical encoding, which binds the slot
	// to the program by name: tail calls can form cycles) and checked by
	// [Manifest.Check].
	Measurement string `json:"measurement,omitempty"`
	// Map is the inner map a map-of-maps slot holds: its descriptor and,
	// when sealed, its content hash.
	Map *Map `json:"map,omitempty"`
}

// IsProgramArray reports whether the map's slots hold programs.
func (m *MapDescriptor) IsProgramArray() bool { return ebpf.MapType(m.Type) == ebpf.ProgramArray }

// IsMapOfMaps reports whether the map's slots hold maps.
func (m *MapDescriptor) IsMapOfMaps() bool {
	return ebpf.MapType(m.Type) == ebpf.ArrayOfMaps || ebpf.MapType(m.Type) == ebpf.HashOfMaps
}

// holdsObjects reports whether the map's values are programs or maps: its
// sealed contents are slots rather than bytes.
func (m *MapDescriptor) holdsObjects() bool { return m.IsProgramArray() || m.IsMapOfMaps() }

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
	// MapLoads says which map each instruction that loads a map loads,
	// in instruction order (see [MapLoads]): the tag zeroes both halves
	// of such an ldimm64, so neither the map nor the offset in its value
	// is part of the instruction digest. Empty for a program without
	// maps, and in manifests of generators before it was measured (their
	// programs with maps are then at best PARTIAL).
	MapLoads string `json:"map_loads,omitempty"`
	// Unsupported lists what measurement v2 cannot cover in this program. A
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
	programDomain = "bpf2go-signed measurement v2 program\x00"
	objectDomain  = "bpf2go-signed measurement v2 object\x00"
)

// encoder writes the canonical encoding of docs/measurement.md: integers
// little-endian, strings and byte strings prefixed with their u32 length.
type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8)     { e.buf = append(e.buf, v) }
func (e *encoder) u32(v uint32)   { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64)   { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }
func (e *encoder) str(s string)   { e.u32(uint32(len(s))); e.buf = append(e.buf, s...) }
func (e *encoder) bytes(b []byte) { e.u32(uint32(len(b))); e.buf = append(e.buf, b...) }

// reset empties the buffer (keeping its memory) and starts it with domain.
func (e *encoder) reset(domain string) { e.buf = append(e.buf[:0], domain...) }

// lowerHex decodes s, which must be exactly 2*len(dst) lowercase hex
// digits, into dst.
func lowerHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, lo := lowerNibble[s[2*i]], lowerNibble[s[2*i+1]]
		if hi|lo > 0xf {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// lowerNibble is the value of a lowercase hex digit, 0xff for any other
// byte.
var lowerNibble = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

// isHexOf reports whether s is the lowercase hex of b.
func isHexOf(s string, b []byte) bool {
	const digits = "0123456789abcdef"
	if len(s) != 2*len(b) {
		return false
	}
	for i, c := range b {
		if s[2*i] != digits[c>>4] || s[2*i+1] != digits[c&0xf] {
			return false
		}
	}
	return true
}

func badHex(field func() string, s string, n int) error {
	return fmt.Errorf("%w: %s: want %d lowercase hex bytes, got %q", ErrBadManifest, field(), n, s)
}

// encode writes the digest; field names it in an error.
func (d *InsnDigest) encode(e *encoder, field func() string) error {
	var sum [sha256.Size]byte
	if !lowerHex(sum[:], d.Digest) {
		return badHex(func() string { return field() + ".digest" }, d.Digest, sha256.Size)
	}
	if d.Tag != d.Digest[:2*tagSize] {
		return fmt.Errorf("%w: %s.tag %q is not the first 8 bytes of the digest", ErrBadManifest, field(), d.Tag)
	}
	var sha1Tag [tagSize]byte
	if !lowerHex(sha1Tag[:], d.TagSHA1) {
		return badHex(func() string { return field() + ".tag_sha1" }, d.TagSHA1, tagSize)
	}
	e.str(d.Target)
	e.bytes(sum[:])
	e.bytes(sha1Tag[:])
	return nil
}

// canonical writes the canonical encoding of p into e, from its start
// (without Measurement and MeasID, which are derived from it).
func (p *Program) canonical(e *encoder) error {
	e.reset(programDomain)
	e.str(p.Name)
	e.u32(p.Type)
	e.u32(p.AttachType)
	e.u32(uint32(p.Insns))
	e.u32(uint32(1 + len(p.Alternatives)))
	for i := -1; i < len(p.Alternatives); i++ {
		d := &p.InsnDigest
		if i >= 0 {
			d = &p.Alternatives[i]
		}
		if err := d.encode(e, func() string { return fmt.Sprintf("programs[%s].digests[%d]", p.Name, i+1) }); err != nil {
			return err
		}
	}
	e.u32(uint32(len(p.Maps)))
	for i := range p.Maps {
		if err := p.Maps[i].encode(e, mapField{prog: p.Name, index: i, name: p.Maps[i].Name}); err != nil {
			return err
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
	if p.MapLoads != "" {
		// Appended only when present, so that the measurements of
		// manifests made before it stay what they were signed as.
		if _, err := ParseMapLoads(p.MapLoads, len(p.Maps)); err != nil {
			return fmt.Errorf("%w: program %s: %w", ErrBadManifest, p.Name, err)
		}
		e.str("map_loads")
		e.str(p.MapLoads)
	}
	return nil
}

// mapField names a map of a manifest in error messages, built only when
// one is reported: programs[P].maps[I](NAME) and, for the map a slot of
// that map of maps holds, programs[P].maps[I](NAME).slots[J].map(INNER)
// (an inner map holds no maps: there is no deeper level).
type mapField struct {
	prog   string
	index  int
	name   string
	inSlot bool
	slot   int
	inner  string
}

func (f mapField) String() string {
	s := fmt.Sprintf("programs[%s].maps[%d](%s)", f.prog, f.index, f.name)
	if f.inSlot {
		s += fmt.Sprintf(".slots[%d].map(%s)", f.slot, f.inner)
	}
	return s
}

// encode writes the canonical encoding of one map (docs/measurement.md §4).
func (m *Map) encode(e *encoder, f mapField) error {
	m.encodeDescriptor(e)
	if m.IsMapOfMaps() {
		if m.Inner == nil {
			return fmt.Errorf("%w: %s is a map of maps without an inner-map template", ErrBadManifest, f.String())
		}
		e.u8(1)
		m.Inner.encodeDescriptor(e)
	} else {
		if m.Inner != nil {
			return fmt.Errorf("%w: %s has an inner-map template but is not a map of maps", ErrBadManifest, f.String())
		}
		e.u8(0)
	}
	if !m.Sealed {
		if m.Content != nil || len(m.Params) > 0 || len(m.Slots) > 0 {
			return fmt.Errorf("%w: %s has a content hash, parameters or slots but is not sealed", ErrBadManifest, f.String())
		}
		e.u8(0)
		return nil
	}
	e.u8(1)
	if m.holdsObjects() {
		if m.Content != nil || len(m.Params) > 0 {
			return fmt.Errorf("%w: %s holds programs or maps: it is bound by its slots, not by a content hash or parameters", ErrBadManifest, f.String())
		}
		e.str(AlgSlots)
		e.u32(uint32(len(m.Slots)))
		var key []byte
		for j := range m.Slots {
			sl := &m.Slots[j]
			if uint64(len(sl.Key)) != 2*uint64(m.KeySize) {
				return fmt.Errorf("%w: %s.slots[%d].key %q is not %d lowercase hex bytes", ErrBadManifest, f.String(), j, sl.Key, m.KeySize)
			}
			if cap(key) < len(sl.Key)/2 {
				key = make([]byte, len(sl.Key)/2)
			}
			key = key[:len(sl.Key)/2]
			if !lowerHex(key, sl.Key) {
				return fmt.Errorf("%w: %s.slots[%d].key %q is not %d lowercase hex bytes", ErrBadManifest, f.String(), j, sl.Key, m.KeySize)
			}
			if j > 0 && m.Slots[j-1].Key >= sl.Key {
				return fmt.Errorf("%w: %s.slots are not sorted by key or repeat one (%s after %s)", ErrBadManifest, f.String(), sl.Key, m.Slots[j-1].Key)
			}
			e.bytes(key)
			switch {
			case m.IsProgramArray() && sl.Program != "" && sl.Map == nil:
				e.u8(1)
				e.str(sl.Program)
			case m.IsMapOfMaps() && sl.Map != nil && sl.Program == "" && sl.Measurement == "":
				if sl.Map.holdsObjects() {
					return fmt.Errorf("%w: %s.slots[%d]: an inner map cannot hold programs or maps", ErrBadManifest, f.String(), j)
				}
				e.u8(2)
				if err := sl.Map.encode(e, mapField{prog: f.prog, index: f.index, name: f.name, inSlot: true, slot: j, inner: sl.Map.Name}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%w: %s.slots[%d] must hold a program (program arrays) or a map (maps of maps)", ErrBadManifest, f.String(), j)
			}
		}
		return nil
	}
	if len(m.Slots) > 0 {
		return fmt.Errorf("%w: %s has slots but holds neither programs nor maps", ErrBadManifest, f.String())
	}
	if m.Content == nil {
		return fmt.Errorf("%w: %s is sealed but has no content hash", ErrBadManifest, f.String())
	}
	var sum [sha256.Size]byte
	if !lowerHex(sum[:], m.Content.Hash) {
		return badHex(func() string { return f.String() + ".content.hash" }, m.Content.Hash, sha256.Size)
	}
	e.str(m.Content.Algorithm)
	e.bytes(sum[:])
	e.u32(uint32(len(m.Params)))
	end := uint64(0)
	for _, prm := range m.Params {
		if uint64(prm.Offset) < end || prm.Size == 0 || uint64(prm.Offset)+uint64(prm.Size) > uint64(m.ValueSize) {
			return fmt.Errorf("%w: %s: parameter %s (offset %d, size %d) overlaps another or lies outside the %d-byte value", ErrBadManifest, f.String(), prm.Name, prm.Offset, prm.Size, m.ValueSize)
		}
		end = uint64(prm.Offset) + uint64(prm.Size)
		e.str(prm.Name)
		e.u32(prm.Offset)
		e.u32(prm.Size)
	}
	return nil
}

func (m *MapDescriptor) encodeDescriptor(e *encoder) {
	e.str(m.Name)
	e.u32(m.Type)
	e.u32(m.KeySize)
	e.u32(m.ValueSize)
	e.u32(m.MaxEntries)
	e.u32(m.Flags)
	e.u64(m.MapExtra)
}

// derived are the fields of a manifest derived from its contents, as
// [Manifest.derive] computes them.
type derived struct {
	// programs are the programs' measurements, in the manifest's order.
	programs [][sha256.Size]byte
	// digest is the manifest's.
	digest [sha256.Size]byte
}

// derive computes the derived fields of m, whose programs must be sorted
// by name: each program's measurement (refusing a program that appears
// twice) and the manifest's digest; and it refuses a program-array slot
// that names a program not in the manifest (its measurement is that
// program's). [Manifest.Seal] writes what it computes, [Manifest.Check]
// compares it with what m says.
func (m *Manifest) derive() (*derived, error) {
	if m.Version != Version {
		return nil, fmt.Errorf("%w: version %d, this build understands version %d", ErrBadManifest, m.Version, Version)
	}
	d := &derived{programs: make([][sha256.Size]byte, len(m.Programs))}
	obj := &encoder{}
	obj.reset(objectDomain)
	obj.u32(uint32(len(m.Programs)))
	prog := &encoder{}
	for i := range m.Programs {
		p := &m.Programs[i]
		if i > 0 && m.Programs[i-1].Name == p.Name {
			return nil, fmt.Errorf("%w: program %s appears twice", ErrBadManifest, p.Name)
		}
		if err := p.canonical(prog); err != nil {
			return nil, err
		}
		d.programs[i] = sha256.Sum256(prog.buf)
		obj.bytes(d.programs[i][:])
	}
	if err := encodeStructOps(obj, m.StructOps, m.Programs); err != nil {
		return nil, err
	}
	for i := range m.Programs {
		p := &m.Programs[i]
		for j := range p.Maps {
			mp := &p.Maps[j]
			for k := range mp.Slots {
				sl := &mp.Slots[k]
				if sl.Program != "" && m.programIndex(sl.Program) < 0 {
					return nil, fmt.Errorf("%w: program %s: maps[%d](%s).slots[%s] holds program %s, which is not in the manifest", ErrBadManifest, p.Name, j, mp.Name, sl.Key, sl.Program)
				}
			}
		}
	}
	d.digest = sha256.Sum256(obj.buf)
	return d, nil
}

// programIndex is the index of the program called name in m, whose
// programs are sorted by name, or -1.
func (m *Manifest) programIndex(name string) int {
	i := sort.Search(len(m.Programs), func(i int) bool { return m.Programs[i].Name >= name })
	if i == len(m.Programs) || m.Programs[i].Name != name {
		return -1
	}
	return i
}

// sortNote: this package (and sealmap) sorts with sort.Slice rather than
// slices.SortFunc. Every element type sorted with slices.SortFunc gets its
// own copy of the sort (about ten functions, 10–20 KB each time) in every
// loader binary, while sort.Slice is one copy for all types, which
// cilium/ebpf links already. Both are the standard library's pdqsort,
// generated from one template: the order, ties included, is the same.

// Seal sorts the programs by name and computes every derived field: each
// program's Measurement and MeasID, the manifest's Digest and MeasID.
func (m *Manifest) Seal() error {
	if m.Version != Version {
		return fmt.Errorf("%w: version %d, this build understands version %d", ErrBadManifest, m.Version, Version)
	}
	sort.Slice(m.Programs, func(i, j int) bool { return m.Programs[i].Name < m.Programs[j].Name })
	d, err := m.derive()
	if err != nil {
		return err
	}
	for i := range m.Programs {
		p := &m.Programs[i]
		p.Measurement = hex.EncodeToString(d.programs[i][:])
		p.MeasID = p.Measurement[:2*tagSize]
	}
	// Slot measurements are derived from the programs they name.
	for i := range m.Programs {
		p := &m.Programs[i]
		for j := range p.Maps {
			mp := &p.Maps[j]
			for k := range mp.Slots {
				if sl := &mp.Slots[k]; sl.Program != "" {
					sl.Measurement = m.Programs[m.programIndex(sl.Program)].Measurement
				}
			}
		}
	}
	m.Digest = hex.EncodeToString(d.digest[:])
	m.MeasID = m.Digest[:2*tagSize]
	return nil
}

// Check verifies that a manifest read from elsewhere is well formed and that
// its derived fields agree with its contents: that [Manifest.Seal] would
// leave it as it is. It does not modify m.
func (m *Manifest) Check() error {
	if len(m.Programs) == 0 && len(m.StructOps) == 0 {
		return fmt.Errorf("%w: %w", ErrBadManifest, ErrNoPrograms)
	}
	if m.Version != Version {
		return fmt.Errorf("%w: version %d, this build understands version %d", ErrBadManifest, m.Version, Version)
	}
	for i := 1; i < len(m.Programs); i++ {
		if a, b := m.Programs[i-1].Name, m.Programs[i].Name; a > b {
			return fmt.Errorf("%w: programs are not sorted by name (%s before %s)", ErrBadManifest, a, b)
		}
	}
	d, err := m.derive()
	if err != nil {
		return err
	}
	for i := range m.Programs {
		p := &m.Programs[i]
		sum := d.programs[i][:]
		if !isHexOf(p.Measurement, sum) || !isHexOf(p.MeasID, sum[:tagSize]) {
			return fmt.Errorf("%w: program %s: measurement %s does not match its contents (computed %x)", ErrBadManifest, p.Name, p.Measurement, sum)
		}
	}
	for i := range m.Programs {
		p := &m.Programs[i]
		for j := range p.Maps {
			for k := range p.Maps[j].Slots {
				sl := &p.Maps[j].Slots[k]
				if sl.Program == "" {
					continue
				}
				if w := d.programs[m.programIndex(sl.Program)][:]; !isHexOf(sl.Measurement, w) {
					return fmt.Errorf("%w: program %s: maps[%d](%s).slots[%s].measurement %s is not the measurement of program %s (%x)", ErrBadManifest, p.Name, j, p.Maps[j].Name, sl.Key, sl.Measurement, sl.Program, w)
				}
			}
		}
	}
	if !isHexOf(m.Digest, d.digest[:]) || !isHexOf(m.MeasID, d.digest[:tagSize]) {
		return fmt.Errorf("%w: digest %s does not match its programs (computed %x)", ErrBadManifest, m.Digest, d.digest)
	}
	return nil
}
