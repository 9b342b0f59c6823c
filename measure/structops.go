package measure

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// StructOps is the measurement of a struct_ops map (a .struct_ops or
// .struct_ops.link variable, such as a sched_ext scheduler or a TCP
// congestion control): the kernel struct it fills, and for each member of
// the object's struct either the program a function member holds or the
// bytes of a data member. The programs are measured as any other; this
// binds them to their slots.
type StructOps struct {
	// Name is the map's kernel name.
	Name string `json:"name"`
	// Type is the kernel struct, such as "tcp_congestion_ops".
	Type string `json:"type"`
	// Flags are the map flags (BPF_F_LINK for .struct_ops.link).
	Flags   uint32            `json:"flags"`
	Members []StructOpsMember `json:"members"`
}

// StructOpsMember is one member of the object's struct, in its order.
type StructOpsMember struct {
	Name string `json:"name"`
	// Func says the member is a function pointer; Program is the program
	// it holds ("" for none).
	Func    bool   `json:"func,omitempty"`
	Program string `json:"program,omitempty"`
	// Data is the hex of a data member's bytes, as the object declares it.
	Data string `json:"data,omitempty"`
}

const structOpsDomain = "bpf2go-signed measurement v2 struct_ops\x00"

// structOpsOf measures every struct_ops map of spec, sorted by name. As
// cilium/ebpf does when it fills the map, a function member holds the
// program whose AttachTo is "<type>:<member>".
func structOpsOf(spec *ebpf.CollectionSpec) ([]StructOps, error) {
	var out []StructOps
	for _, name := range sortedKeys(spec.Maps) {
		ms := spec.Maps[name]
		if ms.Type != ebpf.StructOpsMap {
			continue
		}
		st, ok := btf.As[*btf.Struct](ms.Value)
		if !ok {
			return nil, fmt.Errorf("struct_ops map %s: value is %T, not a struct", name, ms.Value)
		}
		if len(ms.Contents) != 1 {
			return nil, fmt.Errorf("struct_ops map %s: %d values, want 1", name, len(ms.Contents))
		}
		data, ok := ms.Contents[0].Value.([]byte)
		if !ok || len(data) < int(st.Size) {
			return nil, fmt.Errorf("struct_ops map %s: value of %d bytes, want %d", name, len(data), st.Size)
		}
		so := StructOps{Name: KernelName(name), Type: st.Name, Flags: ms.Flags}
		for _, m := range st.Members {
			mem := StructOpsMember{Name: m.Name}
			if _, isPtr := btf.UnderlyingType(m.Type).(*btf.Pointer); isPtr {
				mem.Func = true
				for _, pn := range sortedKeys(spec.Programs) {
					if spec.Programs[pn].AttachTo == st.Name+":"+m.Name {
						if mem.Program != "" {
							return nil, fmt.Errorf("struct_ops map %s: member %s: programs %s and %s both attach to %s:%s", name, m.Name, mem.Program, pn, st.Name, m.Name)
						}
						mem.Program = pn
					}
				}
			} else {
				size, err := btf.Sizeof(m.Type)
				if err != nil {
					return nil, fmt.Errorf("struct_ops map %s: member %s: %w", name, m.Name, err)
				}
				off := int(m.Offset.Bytes())
				mem.Data = hex.EncodeToString(data[off : off+size])
			}
			so.Members = append(so.Members, mem)
		}
		out = append(out, so)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// encodeStructOps appends the canonical encoding of the struct_ops maps
// (nothing when there are none, so that other manifests keep their
// digests).
func encodeStructOps(e *encoder, sos []StructOps, programs []Program) error {
	if len(sos) == 0 {
		return nil
	}
	e.buf = append(e.buf, structOpsDomain...)
	e.u32(uint32(len(sos)))
	for i, so := range sos {
		if i > 0 && sos[i-1].Name >= so.Name {
			return fmt.Errorf("%w: struct_ops maps are not sorted by name (%s before %s)", ErrBadManifest, sos[i-1].Name, so.Name)
		}
		e.str(so.Name)
		e.str(so.Type)
		e.u32(so.Flags)
		e.u32(uint32(len(so.Members)))
		for _, m := range so.Members {
			e.str(m.Name)
			if m.Func {
				if m.Data != "" {
					return fmt.Errorf("%w: struct_ops %s member %s is a function with data", ErrBadManifest, so.Name, m.Name)
				}
				if m.Program != "" && !slices.ContainsFunc(programs, func(p Program) bool { return p.Name == m.Program }) {
					return fmt.Errorf("%w: struct_ops %s member %s holds program %s, which the manifest does not measure", ErrBadManifest, so.Name, m.Name, m.Program)
				}
				e.u8(1)
				e.str(m.Program)
				continue
			}
			if m.Program != "" {
				return fmt.Errorf("%w: struct_ops %s member %s is data with a program", ErrBadManifest, so.Name, m.Name)
			}
			b, err := hex.DecodeString(m.Data)
			if err != nil || hex.EncodeToString(b) != m.Data {
				return fmt.Errorf("%w: struct_ops %s member %s: data %q is not lowercase hex", ErrBadManifest, so.Name, m.Name, m.Data)
			}
			e.u8(0)
			e.bytes(b)
		}
	}
	return nil
}

var kernelTypes = btf.NewCache()

// CompareStructOps compares a loaded struct_ops map (fd) with its
// measurement: its type and flags, and its value as the kernel returns it
// (the kernel struct "bpf_struct_ops_<type>", function members holding
// program ids): every function member must hold the program of that name
// (progIDs maps the ids of the programs loaded with it to their names),
// every data member the signed bytes, every member the object does not
// set zero. Program names compare as the kernel stores them (15 bytes).
func CompareStructOps(want *StructOps, fd int, progIDs map[uint32]string) ([]Mismatch, error) {
	var ms []Mismatch
	prefix := "struct_ops(" + want.Name + ")."
	add := func(field string, w, g any) { ms = append(ms, Mismatch{prefix + field, fmt.Sprint(w), fmt.Sprint(g)}) }
	info, err := bpfsys.MapDescriptor(fd)
	if err != nil {
		return nil, err
	}
	if name := bpfsys.CString(info.Name[:]); name != want.Name {
		add("name", want.Name, name)
	}
	if ebpf.MapType(info.Type) != ebpf.StructOpsMap {
		add("type", ebpf.StructOpsMap, ebpf.MapType(info.Type))
		return ms, nil
	}
	if info.MapFlags != want.Flags {
		add("flags", fmt.Sprintf("%#x", want.Flags), fmt.Sprintf("%#x", info.MapFlags))
	}
	kernel, err := kernelTypes.Kernel()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	var value *btf.Struct
	if err := kernel.TypeByName("bpf_struct_ops_"+want.Type, &value); err != nil {
		return nil, fmt.Errorf("struct_ops %s: the kernel has no %s: %w", want.Name, want.Type, err)
	}
	var inner *btf.Struct
	var innerOff int
	for _, m := range value.Members {
		if s, ok := btf.As[*btf.Struct](m.Type); ok && s.Name == want.Type {
			inner, innerOff = s, int(m.Offset.Bytes())
		}
	}
	if inner == nil || value.Size != info.ValueSize {
		return nil, fmt.Errorf("struct_ops %s: kernel value type %s does not embed %s in %d bytes", want.Name, value.Name, want.Type, info.ValueSize)
	}
	raw := make([]byte, info.ValueSize)
	if err := bpfsys.LookupElem(fd, make([]byte, 4), raw); err != nil {
		return nil, fmt.Errorf("struct_ops %s: read the value: %w", want.Name, err)
	}
	data := raw[innerOff:]
	set := map[string]bool{}
	for _, wm := range want.Members {
		i := slices.IndexFunc(inner.Members, func(km btf.Member) bool { return km.Name == wm.Name })
		if i < 0 {
			// cilium/ebpf accepts a member the kernel lacks only when the
			// object leaves it zero.
			if wm.Program != "" || strings.Trim(wm.Data, "0") != "" {
				add(wm.Name, "a member of the kernel's "+want.Type, "absent")
			}
			continue
		}
		set[wm.Name] = true
		km := inner.Members[i]
		off := int(km.Offset.Bytes())
		size, err := btf.Sizeof(km.Type)
		if err != nil || off+size > len(data) {
			return nil, fmt.Errorf("struct_ops %s: member %s of the kernel's type: %w", want.Name, wm.Name, err)
		}
		got := data[off : off+size]
		if wm.Func {
			id := uint32(binary.NativeEndian.Uint64(got))
			gotName := "no program"
			if id != 0 {
				gotName = fmt.Sprintf("program id %d (not loaded with this object)", id)
				if n, ok := progIDs[id]; ok {
					gotName = n
				}
			}
			wantName := "no program"
			if wm.Program != "" {
				wantName = wm.Program
			}
			if KernelName(gotName) != KernelName(wantName) {
				add(wm.Name, wantName, gotName)
			}
			continue
		}
		if hex.EncodeToString(got) != wm.Data {
			add(wm.Name, wm.Data, hex.EncodeToString(got))
		}
	}
	for _, km := range inner.Members {
		if set[km.Name] {
			continue
		}
		size, err := btf.Sizeof(km.Type)
		off := int(km.Offset.Bytes())
		if err != nil || off+size > len(data) {
			continue
		}
		if !bytes.Equal(data[off:off+size], make([]byte, size)) {
			add(km.Name, "zero (the object does not set it)", hex.EncodeToString(data[off:off+size]))
		}
	}
	return ms, nil
}
