package audit

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// MapResult is the verdict on one loaded struct_ops map.
type MapResult struct {
	ID      uint32            `json:"id"`
	Type    string            `json:"type"`
	Name    string            `json:"name"`
	Verdict bpfsigned.Verdict `json:"verdict"`
	// Manifest names the envelope and struct_ops map compared with.
	Manifest   string             `json:"manifest,omitempty"`
	Mismatches []measure.Mismatch `json:"mismatches,omitempty"`
}

// StructOpsMap gives the verdict on a struct_ops map: OK when a
// trusted manifest measures a struct_ops map of its name whose every
// member the kernel's value matches, each function member holding a
// program whose own verdict is OK or PARTIAL against the same manifest;
// BADSIG when the map differs from every such manifest; UNSIGNED when no
// manifest measures a map of its name.
func (t *Trust) StructOpsMap(sm *ebpf.Map) (*MapResult, error) {
	info, err := sm.Info()
	if err != nil {
		return nil, err
	}
	id, _ := info.ID()
	r := &MapResult{ID: uint32(id), Type: info.Type.String(), Name: info.Name}
	if info.Type != ebpf.StructOpsMap {
		return nil, fmt.Errorf("map %d (%s) is a %s, not a struct_ops map", id, r.Name, r.Type)
	}
	fd := sm.FD()
	r.Verdict = bpfsigned.Unsigned
	for _, m := range t.Manifests {
		for i := range m.Manifest.StructOps {
			so := &m.Manifest.StructOps[i]
			if so.Name != r.Name {
				continue
			}
			ms, err := measure.CompareStructOps(so, fd, t.memberPrograms(sm, m))
			if err != nil {
				return nil, err
			}
			if len(ms) == 0 {
				r.Verdict, r.Manifest, r.Mismatches = bpfsigned.OK, m.File+"#"+so.Name, nil
				return r, nil
			}
			if r.Verdict == bpfsigned.Unsigned {
				r.Verdict, r.Manifest, r.Mismatches = bpfsigned.BadSig, m.File+"#"+so.Name, ms
			}
		}
	}
	return r, nil
}

// memberPrograms names, for each program id the map's function members
// hold, the program if its own verdict against manifest m passes, or says
// what it is otherwise.
func (t *Trust) memberPrograms(sm *ebpf.Map, m *Manifest) map[uint32]string {
	out := map[uint32]string{}
	ids, err := structOpsProgramIDs(sm)
	if err != nil {
		return out
	}
	for _, id := range ids {
		res, err := t.ProgramID(id)
		if err != nil {
			out[id] = fmt.Sprintf("program id %d (%v)", id, err)
			continue
		}
		if (res.Verdict == bpfsigned.OK || res.Verdict == bpfsigned.Partial) && len(res.Manifest) > len(m.File) && res.Manifest[:len(m.File)+1] == m.File+"#" {
			out[id] = res.Name
		} else {
			out[id] = fmt.Sprintf("program id %d (%s, verdict %s)", id, res.Name, res.Verdict)
		}
	}
	return out
}

// structOpsProgramIDs lists the nonzero 8-byte words of a struct_ops map's
// value that are ids of loaded programs: the kernel stores the program id
// in each function member it returns.
func structOpsProgramIDs(sm *ebpf.Map) ([]uint32, error) {
	raw := make([]byte, sm.ValueSize())
	if err := sm.Lookup(uint32(0), raw); err != nil {
		return nil, err
	}
	var ids []uint32
	for off := 0; off+8 <= len(raw); off += 8 {
		v := measure.NativeOrder.Uint64(raw[off:])
		if v == 0 || v > 1<<32 {
			continue
		}
		prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(v))
		if err != nil {
			continue
		}
		prog.Close()
		ids = append(ids, uint32(v))
	}
	return ids, nil
}

// AllStructOps gives a verdict on every struct_ops map loaded on the host,
// in id order. Maps that go away while the scan runs are left out.
func (t *Trust) AllStructOps() ([]MapResult, error) {
	var out []MapResult
	err := eachMap(func(m *ebpf.Map) error {
		if m.Type() != ebpf.StructOpsMap {
			return nil
		}
		r, err := t.StructOpsMap(m)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err == nil {
			out = append(out, *r)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
