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
