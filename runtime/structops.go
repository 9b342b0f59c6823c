package runtime

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// StructOpsReport is the verdict on one struct_ops map: whether each of
// its function members holds the signed program and each data member the
// signed bytes, as the kernel returns the map's value.
type StructOpsReport struct {
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	ID         uint32             `json:"id,omitempty"`
	Verdict    Verdict            `json:"verdict"`
	Mismatches []measure.Mismatch `json:"mismatches,omitempty"`
}

// measureStructOps compares the struct_ops maps of the manifest with the
// loaded ones (held: the maps of the load; progs: its programs, whose
// kernel ids the maps' function members hold). On a recheck of a subset
// (complete false), maps not held are skipped.
func (r *Report) measureStructOps(progs map[string]*ebpf.Program, complete bool, held []*ebpf.Map) error {
	r.StructOps = nil
	if len(r.manifest.StructOps) == 0 {
		return nil
	}
	ids := map[uint32]string{}
	for name, p := range progs {
		info, err := p.Info()
		if err != nil {
			return fmt.Errorf("program %s: %w", name, err)
		}
		if id, ok := info.ID(); ok {
			ids[uint32(id)] = name
		}
	}
	byName := map[string]*ebpf.Map{}
	for _, m := range held {
		info, err := m.Info()
		if err != nil {
			return fmt.Errorf("map: %w", err)
		}
		if info.Type == ebpf.StructOpsMap {
			byName[info.Name] = m
		}
	}
	for i := range r.manifest.StructOps {
		want := &r.manifest.StructOps[i]
		sr := StructOpsReport{Name: want.Name, Type: want.Type, Verdict: r.Signature.Verdict}
		m := byName[want.Name]
		switch {
		case m == nil && !complete:
			continue
		case m == nil:
			sr.Mismatches = []measure.Mismatch{{Field: "struct_ops(" + want.Name + ")", Expected: "loaded", Found: "absent from the load"}}
		default:
			if info, err := m.Info(); err == nil {
				if id, ok := info.ID(); ok {
					sr.ID = uint32(id)
				}
			}
			ms, err := measure.CompareStructOps(want, m.FD(), ids)
			if err != nil {
				return fmt.Errorf("struct_ops map %s: %w", want.Name, err)
			}
			sr.Mismatches = ms
		}
		if len(sr.Mismatches) > 0 {
			sr.Verdict = BadSig
		}
		r.Verdict = worst(r.Verdict, sr.Verdict)
		r.StructOps = append(r.StructOps, sr)
	}
	return nil
}

// structOpsHint explains a load that failed because the kernel lacks the
// struct_ops type a map of the object fills.
func structOpsHint(spec *ebpf.CollectionSpec, err error) string {
	if !errors.Is(err, ebpf.ErrNotSupported) {
		return ""
	}
	kernel, kerr := btf.LoadKernelSpec()
	for _, name := range slices.Sorted(maps.Keys(spec.Maps)) {
		ms := spec.Maps[name]
		if ms.Type != ebpf.StructOpsMap || ms.Value == nil {
			continue
		}
		typ := ms.Value.TypeName()
		var st *btf.Struct
		if kerr == nil && kernel.TypeByName("bpf_struct_ops_"+typ, &st) == nil {
			continue
		}
		hint := fmt.Sprintf(" (this kernel has no struct_ops type %s, which map %s fills: it cannot load this object", typ, name)
		if typ == "sched_ext_ops" {
			hint += "; sched_ext needs Linux 6.12+ built with CONFIG_SCHED_CLASS_EXT"
		}
		return hint + ")"
	}
	return ""
}
