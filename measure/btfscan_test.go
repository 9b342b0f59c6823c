package measure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// TestScanKernelBTF: the scan of the kernel's BTF finds what cilium/ebpf's
// BTF decoder finds: whether struct bpf_prog holds the digest, the
// iterator's offsets, and the iterator function's BTF id.
func TestScanKernelBTF(t *testing.T) {
	spec, err := btf.LoadKernelSpec()
	if errors.Is(err, btf.ErrNotSupported) || errors.Is(err, os.ErrNotExist) {
		t.Skip("no kernel BTF")
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := scanKernelBTF()
	if err != nil {
		t.Fatal(err)
	}
	var prog *btf.Struct
	if err := spec.TypeByName("bpf_prog", &prog); err != nil {
		t.Fatal(err)
	}
	if want := hasMember(prog.Members, "digest"); got.hasDigest != want {
		t.Fatalf("hasDigest %v, cilium/ebpf says %v", got.hasDigest, want)
	}
	want, wantErr := iteratorLayout(spec, prog)
	if (got.layoutErr == nil) != (wantErr == nil) {
		t.Fatalf("layout error %v, cilium/ebpf's %v", got.layoutErr, wantErr)
	}
	if want == nil {
		t.Logf("no full digest on this kernel: %v", got.layoutErr)
		return
	}
	var iter *btf.Func
	if err := spec.TypeByName("bpf_iter_bpf_prog", &iter); err != nil {
		t.Fatal(err)
	}
	id, err := spec.TypeID(iter)
	if err != nil {
		t.Fatal(err)
	}
	want.iterFunc = uint32(id)
	if *got.layout != *want {
		t.Fatalf("layout %+v, cilium/ebpf's %+v", *got.layout, *want)
	}
}

// TestScanBTFRefusesMalformed: truncated or foreign input is an error,
// never a panic or a wrong answer.
func TestScanBTFRefusesMalformed(t *testing.T) {
	raw, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		t.Skip("no kernel BTF")
	}
	for _, n := range []int{0, 10, 24, 100, len(raw) / 2, len(raw) - 1} {
		if _, err := scanBTF(raw[:n]); err == nil {
			t.Errorf("%d of %d bytes: no error", n, len(raw))
		}
	}
	bad := append([]byte{0x12, 0x34}, raw[2:]...)
	if _, err := scanBTF(bad); err == nil {
		t.Error("bad magic: no error")
	}
	// A kind the scan does not know the size of.
	unknown := binary.LittleEndian.AppendUint16(nil, 0xeb9f)
	unknown = append(unknown, 1, 0)
	for _, v := range []uint32{24, 0, 12, 12, 1} { // hdr_len, type_off, type_len, str_off, str_len
		unknown = binary.LittleEndian.AppendUint32(unknown, v)
	}
	for _, v := range []uint32{0, 25 << 24, 0} { // name_off, info (kind 25), size
		unknown = binary.LittleEndian.AppendUint32(unknown, v)
	}
	unknown = append(unknown, 0)
	if _, err := scanBTF(unknown); err == nil || !strings.Contains(err.Error(), "unknown kind 25") {
		t.Errorf("kind 25: %v, want an unknown kind error", err)
	}
	// The same record as a pointer scans.
	binary.LittleEndian.PutUint32(unknown[28:], 2<<24)
	if s, err := scanBTF(unknown); err != nil || len(s.offsets) != 2 {
		t.Errorf("one pointer type: %v", err)
	}
}

// iteratorLayout is the layout read with cilium/ebpf's decoder.
func iteratorLayout(spec *btf.Spec, prog *btf.Struct) (*layout, error) {
	l := &layout{}
	digest, ok := findMember(prog, "digest", 0)
	if !ok {
		return nil, fmt.Errorf("%w: struct bpf_prog has no digest member: this kernel keeps only the 8-byte tag (the full SHA-256 is kept from Linux 6.18)", ErrNoFullDigest)
	}
	if arr, ok := btf.UnderlyingType(digest.Type).(*btf.Array); !ok || arr.Nelems != 32 {
		return nil, fmt.Errorf("%w: struct bpf_prog.digest is %v, not 32 bytes", ErrNoFullDigest, digest.Type)
	}
	l.digest = digest.Offset.Bytes()
	aux, ok := findMember(prog, "aux", 0)
	if !ok {
		return nil, fmt.Errorf("%w: struct bpf_prog has no aux member", ErrNoFullDigest)
	}
	l.aux = aux.Offset.Bytes()
	var auxT *btf.Struct
	if err := spec.TypeByName("bpf_prog_aux", &auxT); err != nil {
		return nil, fmt.Errorf("%w: kernel BTF has no struct bpf_prog_aux: %w", ErrNoFullDigest, err)
	}
	id, ok := findMember(auxT, "id", 0)
	if !ok {
		return nil, fmt.Errorf("%w: struct bpf_prog_aux has no id member", ErrNoFullDigest)
	}
	l.auxID = id.Offset.Bytes()
	return l, nil
}

// findMember finds a member by name, looking into anonymous structs and
// unions; the offset returned is from the start of s.
func findMember(t btf.Type, name string, base btf.Bits) (btf.Member, bool) {
	var members []btf.Member
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	}
	for _, m := range members {
		if m.Name == name {
			m.Offset += base
			return m, true
		}
		if m.Name == "" {
			if found, ok := findMember(m.Type, name, base+m.Offset); ok {
				return found, true
			}
		}
	}
	return btf.Member{}, false
}

// hasMember looks for a member by name, also inside anonymous struct and
// union members.
func hasMember(ms []btf.Member, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
		if m.Name == "" {
			switch t := btf.UnderlyingType(m.Type).(type) {
			case *btf.Struct:
				if hasMember(t.Members, name) {
					return true
				}
			case *btf.Union:
				if hasMember(t.Members, name) {
					return true
				}
			}
		}
	}
	return false
}

// FuzzScanBTF: the scan and its lookups never panic on any input. Its
// first seed, a hand-made BTF with the types the backend needs (digest
// inside an anonymous union), gives the layout it was made with.
func FuzzScanBTF(f *testing.F) {
	hdr := func(types []byte, strs string) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 0xeb9f)
		b = append(b, 1, 0)
		for _, v := range []uint32{24, 0, uint32(len(types)), uint32(len(types)), uint32(len(strs))} {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return append(append(b, types...), strs...)
	}
	rec := func(vals ...uint32) []byte {
		var b []byte
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	// struct bpf_prog { anonymous union { u8 digest[32]; } ; } and friends.
	strs := "\x00bpf_prog\x00digest\x00aux\x00bpf_prog_aux\x00id\x00bpf_iter_bpf_prog\x00"
	types := append(rec(1, 4<<24|2, 40, 0, 2, 0, 17, 3, 256), // 1: struct bpf_prog {anon union (2) at 0; aux (3) at 256 bits}
		rec(0, 5<<24|1, 32, 10, 4, 0)...) // 2: union { digest (4) }
	types = append(types, rec(0, 2<<24, 5)...)              // 3: pointer to 5
	types = append(types, rec(0, 3<<24, 0, 6, 6, 32)...)    // 4: array of 32 (elem 6)
	types = append(types, rec(21, 4<<24|1, 8, 34, 6, 0)...) // 5: struct bpf_prog_aux { id }
	types = append(types, rec(0, 1<<24, 1, 8)...)           // 6: int
	types = append(types, rec(37, 12<<24, 0)...)            // 7: func bpf_iter_bpf_prog
	s, err := scanBTF(hdr(types, strs))
	if err != nil {
		f.Fatal(err)
	}
	prog := s.byName(btfKindStruct, "bpf_prog")
	dt, doff, dok := s.member(prog, "digest", 0)
	_, aoff, aok := s.member(prog, "aux", 0)
	_, ioff, iok := s.member(s.byName(btfKindStruct, "bpf_prog_aux"), "id", 0)
	arr, _ := s.typ(s.resolve(dt))
	if prog != 1 || !dok || doff != 0 || arr.kind != btfKindArray || !aok || aoff != 32 || !iok || ioff != 0 || s.byName(btfKindFunc, "bpf_iter_bpf_prog") != 7 {
		f.Fatalf("hand-made BTF: prog %d, digest %v at %d (kind %d), aux %v at %d, id %v at %d", prog, dok, doff, arr.kind, aok, aoff, iok, ioff)
	}
	f.Add(hdr(types, strs))
	f.Add(hdr(nil, "\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := scanBTF(raw)
		if err != nil {
			return
		}
		prog := s.byName(btfKindStruct, "bpf_prog")
		if typ, off, ok := s.member(prog, "digest", 0); ok {
			s.typ(s.resolve(typ))
			_ = off
		}
		s.member(s.byName(btfKindStruct, "bpf_prog_aux"), "id", 0)
		s.byName(btfKindFunc, "bpf_iter_bpf_prog")
	})
}

// BenchmarkScanKernelBTF: what the full-digest backend and the tag
// algorithm cost a process in kernel BTF (once per process).
func BenchmarkScanKernelBTF(b *testing.B) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		b.Skip("no kernel BTF")
	}
	for b.Loop() {
		if _, err := scanKernelBTF(); err != nil {
			b.Fatal(err)
		}
	}
}

// handMadeBTF is FuzzScanBTF's first seed: struct bpf_prog with digest in
// an anonymous union and aux, struct bpf_prog_aux with id, and the
// iterator's function, in that order.
func handMadeBTF() []byte {
	rec := func(vals ...uint32) []byte {
		var b []byte
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	strs := "\x00bpf_prog\x00digest\x00aux\x00bpf_prog_aux\x00id\x00bpf_iter_bpf_prog\x00"
	types := append(rec(1, 4<<24|2, 40, 0, 2, 0, 17, 3, 256), rec(0, 5<<24|1, 32, 10, 4, 0)...)
	types = append(types, rec(0, 2<<24, 5)...)
	types = append(types, rec(0, 3<<24, 0, 6, 6, 32)...)
	types = append(types, rec(21, 4<<24|1, 8, 34, 6, 0)...)
	types = append(types, rec(0, 1<<24, 1, 8)...)
	types = append(types, rec(37, 12<<24, 0)...)
	b := binary.LittleEndian.AppendUint16(nil, 0xeb9f)
	b = append(b, 1, 0)
	for _, v := range []uint32{24, 0, uint32(len(types)), uint32(len(types)), uint32(len(strs))} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return append(append(b, types...), strs...)
}

// scanWanted are the types scanKernelBTF asks scanBTF for.
var scanWanted = []btfName{{btfKindStruct, "bpf_prog"}, {btfKindStruct, "bpf_prog_aux"}, {btfKindFunc, "bpf_iter_bpf_prog"}}

// earlyStopAgrees checks that the scan that stops once it has found its
// types finds the ids, members and offsets a scan of every record finds,
// for any BTF a scan of every record accepts.
func earlyStopAgrees(t *testing.T, raw []byte) {
	full, err := scanBTF(raw)
	if err != nil {
		return
	}
	early, err := scanBTF(raw, scanWanted...)
	if err != nil {
		t.Fatalf("a full walk accepts the BTF, the early-stopping one refuses it: %v", err)
	}
	for i, w := range scanWanted {
		if got, want := early.found[i], full.byName(w.kind, w.name); got != want {
			t.Fatalf("%s: early-stopping scan found id %d, full walk %d", w.name, got, want)
		}
	}
	type look struct {
		typ, off uint32
		ok       bool
		kind     int
		elems    uint32
	}
	lookup := func(s *btfScan, id uint32, name string) look {
		typ, off, ok := s.member(id, name, 0)
		l := look{typ: typ, off: off, ok: ok}
		if ok {
			if rt, found := s.typ(s.resolve(typ)); found {
				l.kind = rt.kind
				if len(rt.rest) >= 12 {
					l.elems = s.u32(rt.rest[8:])
				}
			}
		}
		return l
	}
	for _, q := range []struct {
		id   int
		name string
	}{{0, "digest"}, {0, "aux"}, {1, "id"}} {
		got, want := lookup(early, early.found[q.id], q.name), lookup(full, full.byName(scanWanted[q.id].kind, scanWanted[q.id].name), q.name)
		if got != want {
			t.Fatalf("%s.%s: early-stopping scan %+v, full walk %+v", scanWanted[q.id].name, q.name, got, want)
		}
	}
}

// FuzzScanBTFEarlyStop: the scan that stops once it has found struct
// bpf_prog, struct bpf_prog_aux and bpf_iter_bpf_prog gives the
// iterator's layout a full walk gives, whatever the BTF.
func FuzzScanBTFEarlyStop(f *testing.F) {
	f.Add(handMadeBTF())
	f.Fuzz(earlyStopAgrees)
}

// TestScanKernelBTFEarlyStop: the same for this kernel's vmlinux BTF.
func TestScanKernelBTFEarlyStop(t *testing.T) {
	raw, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	earlyStopAgrees(t, raw)
}
