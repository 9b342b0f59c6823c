package measure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"

	"golang.org/x/sys/unix"
)

// A scan of the kernel's BTF for the few types the full-digest backend
// and the tag-algorithm probe need (struct bpf_prog, struct bpf_prog_aux,
// the bpf_prog iterator's function). cilium/ebpf's btf package decodes
// every type and indexes every name before the first lookup, tens of
// milliseconds per process for vmlinux; this walks the type records once
// and decodes nothing else. It reads only the format's fixed layout
// (include/uapi/linux/btf.h), which has not changed since BTF appeared.

// btfKind* are the BTF_KIND_* values (all of them up to Linux 6.18).
const (
	btfKindInt      = 1
	btfKindPtr      = 2
	btfKindArray    = 3
	btfKindStruct   = 4
	btfKindUnion    = 5
	btfKindEnum     = 6
	btfKindFwd      = 7
	btfKindTypedef  = 8
	btfKindVolatile = 9
	btfKindConst    = 10
	btfKindRestrict = 11
	btfKindFunc     = 12
	btfKindProto    = 13
	btfKindVar      = 14
	btfKindDatasec  = 15
	btfKindFloat    = 16
	btfKindDeclTag  = 17
	btfKindTypeTag  = 18
	btfKindEnum64   = 19
)

var errBTFFormat = errors.New("malformed BTF")

// btfScan is a parsed BTF header with the offsets of the type records
// walked so far. The walk stops once it has found the types it was asked
// for; a lookup of a type past that point walks on to it.
type btfScan struct {
	big     bool // big-endian BTF
	types   []byte
	strs    []byte
	offsets []uint32 // offsets[id] into types; id 0 is void
	next    int      // offset of the first record not walked yet
	// want are the types scanBTF was asked to find, found their ids (0:
	// not found yet), wantKinds the kinds still looked for (bit k for
	// kind k).
	want      []btfName
	found     []uint32
	wantKinds uint32
}

// btfName is a type scanBTF looks for while it walks the records.
type btfName struct {
	kind int
	name string
}

// u32 reads a number in the BTF's byte order.
func (s *btfScan) u32(b []byte) uint32 {
	v := binary.LittleEndian.Uint32(b)
	if s.big {
		v = bits.ReverseBytes32(v)
	}
	return v
}

// scanBTF parses raw BTF (no split BTF) and walks its type records until
// it has found the first type of each kind and name of want (their ids
// are then in found), or to the end when some are not there (or want is
// empty): the records after the last one wanted are walked only if a
// lookup needs them. In vmlinux the iterator's function comes about
// halfway.
func scanBTF(raw []byte, want ...btfName) (*btfScan, error) {
	if len(raw) < 24 {
		return nil, errBTFFormat
	}
	s := &btfScan{want: want, found: make([]uint32, len(want))}
	if binary.BigEndian.Uint16(raw) == 0xeb9f {
		s.big = true
	} else if binary.LittleEndian.Uint16(raw) != 0xeb9f {
		return nil, fmt.Errorf("%w: bad magic", errBTFFormat)
	}
	hdrLen, typeOff, typeLen := s.u32(raw[4:]), s.u32(raw[8:]), s.u32(raw[12:])
	strOff, strLen := s.u32(raw[16:]), s.u32(raw[20:])
	section := func(off, n uint32) ([]byte, error) {
		start := uint64(hdrLen) + uint64(off)
		if start+uint64(n) > uint64(len(raw)) {
			return nil, fmt.Errorf("%w: section beyond the end", errBTFFormat)
		}
		return raw[start : start+uint64(n)], nil
	}
	types, err := section(typeOff, typeLen)
	if err != nil {
		return nil, err
	}
	strs, err := section(strOff, strLen)
	if err != nil {
		return nil, err
	}
	s.types, s.strs = types, strs
	// Records average well above 16 bytes: one allocation.
	s.offsets = make([]uint32, 1, 1+len(types)/16)
	for _, w := range want {
		s.wantKinds |= 1 << (w.kind & 0x1f)
	}
	if err := s.walk(-1); err != nil {
		return nil, err
	}
	return s, nil
}

// walk indexes records until id upTo is indexed or, with upTo < 0, until
// every wanted type is found; at the end of the records at the latest.
func (s *btfScan) walk(upTo int) error {
	types := s.types
	off := s.next
	defer func() { s.next = off }()
	for off < len(types) {
		if upTo < 0 && len(s.want) > 0 && s.wantKinds == 0 || upTo >= 0 && upTo < len(s.offsets) {
			return nil
		}
		if off+12 > len(types) {
			return fmt.Errorf("%w: truncated type", errBTFFormat)
		}
		info := s.u32(types[off+4:])
		vlen := int(info & 0xffff)
		kind := (info >> 24) & 0x1f
		next := off
		switch kind {
		case btfKindInt, btfKindVar, btfKindDeclTag:
			next += 12 + 4
		case btfKindArray:
			next += 12 + 12
		case btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64:
			next += 12 + 12*vlen
		case btfKindEnum, btfKindProto:
			next += 12 + 8*vlen
		case btfKindPtr, btfKindFwd, btfKindTypedef, btfKindVolatile, btfKindConst, btfKindRestrict,
			btfKindFunc, btfKindFloat, btfKindTypeTag:
			next += 12
		default:
			// A kind this scan does not know the size of: refuse
			// rather than misread every record after it.
			return fmt.Errorf("%w: unknown kind %d", errBTFFormat, kind)
		}
		if next > len(types) {
			return fmt.Errorf("%w: truncated type", errBTFFormat)
		}
		s.offsets = append(s.offsets, uint32(off))
		if s.wantKinds&(1<<kind) != 0 {
			s.match(int(kind), s.u32(types[off:]))
		}
		off = next
	}
	return nil
}

// match records the type just indexed (the last id) in found when it is
// the first of a wanted kind and name, and updates the kinds still
// wanted.
func (s *btfScan) match(kind int, nameOff uint32) {
	id := uint32(len(s.offsets) - 1)
	s.wantKinds = 0
	for i, w := range s.want {
		if s.found[i] == 0 && w.kind == kind && s.isName(nameOff, w.name) {
			s.found[i] = id
		}
		if s.found[i] == 0 {
			s.wantKinds |= 1 << (w.kind & 0x1f)
		}
	}
}

// btfType is one type record: kind, vlen, kind_flag, size or type, and
// the bytes that follow the common part.
type btfType struct {
	nameOff    uint32
	kind, vlen int
	kindFlag   bool
	sizeType   uint32
	rest       []byte
}

func (s *btfScan) typ(id uint32) (btfType, bool) {
	if id >= uint32(len(s.offsets)) && s.walk(int(min(id, math.MaxInt32))) != nil {
		return btfType{}, false
	}
	if id == 0 || int(id) >= len(s.offsets) {
		return btfType{}, false
	}
	b := s.types[s.offsets[id]:]
	info := s.u32(b[4:])
	return btfType{nameOff: s.u32(b), kind: int(info>>24) & 0x1f, vlen: int(info & 0xffff),
		kindFlag: info>>31 == 1, sizeType: s.u32(b[8:]), rest: b[12:]}, true
}

// byName returns the id of the first type of this kind and name, or 0.
// It walks the rest of the records first.
func (s *btfScan) byName(kind int, name string) uint32 {
	if s.walk(math.MaxInt32) != nil {
		return 0
	}
	for id := 1; id < len(s.offsets); id++ {
		b := s.types[s.offsets[id]:]
		if int(s.u32(b[4:])>>24)&0x1f == kind && s.isName(s.u32(b), name) {
			return uint32(id)
		}
	}
	return 0
}

// isName reports whether the string at off is name, without looking
// for its end first.
func (s *btfScan) isName(off uint32, name string) bool {
	end := uint64(off) + uint64(len(name))
	return end < uint64(len(s.strs)) && s.strs[end] == 0 && string(s.strs[off:end]) == name
}

// member finds a member of a struct or union by name, also inside
// anonymous struct and union members; it returns the member's type id and
// its offset in bytes from the start of the outer type.
func (s *btfScan) member(id uint32, name string, depth int) (typ, off uint32, ok bool) {
	t, found := s.typ(id)
	if !found || (t.kind != btfKindStruct && t.kind != btfKindUnion) || depth > 8 {
		return 0, 0, false
	}
	for i := 0; i < t.vlen && 12*i+12 <= len(t.rest); i++ {
		m := t.rest[12*i:]
		mName, mType, mOff := s.u32(m), s.u32(m[4:]), s.u32(m[8:])
		if t.kindFlag {
			mOff &= 0xffffff // the bitfield size is in the top 8 bits
		}
		if s.isName(mName, name) {
			return mType, mOff / 8, true
		}
		if mName == 0 {
			if inner, innerOff, ok := s.member(s.resolve(mType), name, depth+1); ok {
				return inner, mOff/8 + innerOff, true
			}
		}
	}
	return 0, 0, false
}

// resolve skips typedefs and qualifiers.
func (s *btfScan) resolve(id uint32) uint32 {
	for range 32 {
		t, ok := s.typ(id)
		if !ok {
			return id
		}
		switch t.kind {
		case btfKindTypedef, btfKindVolatile, btfKindConst, btfKindRestrict, btfKindTypeTag:
			id = t.sizeType
		default:
			return id
		}
	}
	return id
}

// scanKernelBTF reads what the measurement needs from
// /sys/kernel/btf/vmlinux. Where it fails (no BTF, a kind it does not
// know), the tag algorithm is probed by a load and the full-digest
// backend is unavailable, as on a kernel without BTF.
func scanKernelBTF() (*btfFacts, error) {
	raw, release, err := readKernelBTF()
	if err != nil {
		return nil, fmt.Errorf("%w: no kernel BTF: %w", ErrNoFullDigest, err)
	}
	defer release()
	// The three types the backend needs are found in the same walk.
	s, err := scanBTF(raw, btfName{btfKindStruct, "bpf_prog"}, btfName{btfKindStruct, "bpf_prog_aux"}, btfName{btfKindFunc, "bpf_iter_bpf_prog"})
	if err != nil {
		return nil, fmt.Errorf("%w: kernel BTF: %w", ErrNoFullDigest, err)
	}
	prog, aux, iter := s.found[0], s.found[1], s.found[2]
	if prog == 0 {
		return nil, fmt.Errorf("%w: kernel BTF has no struct bpf_prog", ErrNoFullDigest)
	}
	f := &btfFacts{}
	digestType, digestOff, has := s.member(prog, "digest", 0)
	f.hasDigest = has
	f.layout, f.layoutErr = func() (*layout, error) {
		if !has {
			return nil, fmt.Errorf("%w: struct bpf_prog has no digest member: this kernel keeps only the 8-byte tag (the full SHA-256 is kept from Linux 6.18)", ErrNoFullDigest)
		}
		if t, _ := s.typ(s.resolve(digestType)); t.kind != btfKindArray || len(t.rest) < 12 || s.u32(t.rest[8:]) != 32 {
			return nil, fmt.Errorf("%w: struct bpf_prog.digest is not 32 bytes", ErrNoFullDigest)
		}
		_, auxOff, ok := s.member(prog, "aux", 0)
		if !ok {
			return nil, fmt.Errorf("%w: struct bpf_prog has no aux member", ErrNoFullDigest)
		}
		if aux == 0 {
			return nil, fmt.Errorf("%w: kernel BTF has no struct bpf_prog_aux", ErrNoFullDigest)
		}
		_, idOff, ok := s.member(aux, "id", 0)
		if !ok {
			return nil, fmt.Errorf("%w: struct bpf_prog_aux has no id member", ErrNoFullDigest)
		}
		if iter == 0 {
			return nil, fmt.Errorf("%w: the kernel has no bpf_prog iterator (bpf_iter_bpf_prog)", ErrNoFullDigest)
		}
		return &layout{digest: digestOff, aux: auxOff, auxID: idOff, iterFunc: iter}, nil
	}()
	return f, nil
}

// readKernelBTF maps vmlinux's BTF read-only (reading the sysfs file
// copies it a page per system call: about 8 ms against 0.1 ms), or reads
// it where it cannot be mapped. release unmaps it.
func readKernelBTF() (raw []byte, release func(), err error) {
	f, err := os.Open("/sys/kernel/btf/vmlinux")
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_PRIVATE); err == nil {
		return m, func() { unix.Munmap(m) }, nil
	}
	raw, err = io.ReadAll(f)
	return raw, func() {}, err
}
