// Package audit checks the programs loaded on a host, from any process,
// against signed manifests: it asks the kernel what each program is
// (package measure), finds the manifest whose measurement it matches, and
// gives a verdict. An auditor trusts no loader: only the kernel's answers
// and the signatures.
package audit

import (
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// ErrNoKeys is returned when a trust directory holds no public key.
var ErrNoKeys = errors.New("no public key (*.pub) in the trust directory")

// Manifest is one verified envelope of a trust directory.
type Manifest struct {
	// File is the envelope's file name.
	File string
	// ObjectChecked says the object was next to the envelope and its
	// sha256 matched the signed subject.
	ObjectChecked bool
	Manifest      *measure.Manifest
}

type candidate struct {
	m *Manifest
	p *measure.Program
}

type nameType struct {
	name string
	typ  uint32
}

// Trust is what an audit compares with: the manifests of a trust directory
// whose signature verified with one of its keys.
type Trust struct {
	Manifests []*Manifest
	// Skipped lists envelopes that were not trusted, and why.
	Skipped []string
	byTag   map[string][]candidate
	byName  map[nameType][]candidate
}

// LoadTrustDir reads every *.pub key and every *.intoto.json envelope of
// dir. An envelope whose object (the file name without .intoto.json) is in
// dir is verified against it; otherwise only its signature and statement
// are. Envelopes that do not verify are listed in Skipped.
func LoadTrustDir(dir string) (*Trust, error) {
	pubs, _ := filepath.Glob(filepath.Join(dir, "*.pub"))
	var keys []crypto.PublicKey
	for _, p := range pubs {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		k, err := attest.ParsePublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoKeys)
	}
	envs, _ := filepath.Glob(filepath.Join(dir, "*"+attest.Suffix))
	slices.Sort(envs)
	t := &Trust{byTag: map[string][]candidate{}, byName: map[nameType][]candidate{}}
	for _, e := range envs {
		raw, err := os.ReadFile(e)
		if err != nil {
			return nil, err
		}
		m := &Manifest{File: filepath.Base(e)}
		var v *attest.Verified
		if obj, err := os.ReadFile(strings.TrimSuffix(e, attest.Suffix)); err == nil {
			v, err = attest.Verify(raw, obj, keys)
			if err != nil {
				t.Skipped = append(t.Skipped, fmt.Sprintf("%s: %v", m.File, err))
				continue
			}
			m.ObjectChecked = true
		} else if v, err = attest.VerifySignature(raw, keys); err != nil {
			t.Skipped = append(t.Skipped, fmt.Sprintf("%s: %v", m.File, err))
			continue
		}
		m.Manifest = v.Statement.Predicate
		t.add(m)
	}
	return t, nil
}

func (t *Trust) add(m *Manifest) {
	t.Manifests = append(t.Manifests, m)
	for i := range m.Manifest.Programs {
		p := &m.Manifest.Programs[i]
		c := candidate{m, p}
		for _, d := range p.Digests() {
			t.byTag[measure.TagSHA256+":"+d.Tag] = append(t.byTag[measure.TagSHA256+":"+d.Tag], c)
			t.byTag[measure.TagSHA1+":"+d.TagSHA1] = append(t.byTag[measure.TagSHA1+":"+d.TagSHA1], c)
		}
		k := nameType{measure.KernelName(p.Name), p.Type}
		t.byName[k] = append(t.byName[k], c)
	}
}

// Result is the verdict on one loaded program.
type Result struct {
	ID      uint32            `json:"id"`
	Type    string            `json:"type"`
	Name    string            `json:"name"`
	Tag     string            `json:"tag"`
	Verdict bpfsigned.Verdict `json:"verdict"`
	// Manifest names the envelope and program matched or compared with.
	Manifest   string               `json:"manifest,omitempty"`
	MeasID     string               `json:"meas_id,omitempty"`
	Mismatches []measure.Mismatch   `json:"mismatches,omitempty"`
	Params     []measure.ParamValue `json:"params,omitempty"`
}

// Passed reports whether the verdict is OK.
func (r *Result) Passed() bool { return r.Verdict == bpfsigned.OK }

// Program gives the verdict on the program behind fd.
func (t *Trust) Program(fd int) (*Result, error) {
	alg, err := measure.TagAlgorithm()
	if err != nil {
		return nil, err
	}
	info, _, err := bpfsys.ProgramInfo(fd)
	if err != nil {
		return nil, err
	}
	r := &Result{
		ID:   info.ID,
		Type: ebpf.ProgramType(info.Type).String(),
		Name: bpfsys.CString(info.Name[:]),
	}
	r.Tag = hex.EncodeToString(info.Tag[:])
	cands := t.byTag[alg+":"+r.Tag]
	if len(cands) == 0 {
		if named := t.byName[nameType{r.Name, info.Type}]; len(named) > 0 {
			// A signed program of this name and type, with other
			// instructions.
			kp, err := measure.KernelFD(fd, &measure.KernelOptions{Expected: named[0].p})
			if err != nil {
				return nil, err
			}
			r.Verdict = bpfsigned.BadSig
			r.describe(named[0])
			r.Mismatches, _ = measure.Compare(named[0].p, kp)
			return r, nil
		}
		r.Verdict = bpfsigned.Unsigned
		return r, nil
	}
	for i, c := range cands {
		kp, err := measure.KernelFD(fd, &measure.KernelOptions{Expected: c.p})
		if err != nil {
			return nil, err
		}
		ms, _ := measure.Compare(c.p, kp)
		if len(ms) == 0 || i == 0 {
			r.describe(c)
			r.Mismatches = ms
			r.Params = nil
			for _, m := range kp.Maps {
				r.Params = append(r.Params, m.Params...)
			}
		}
		if len(ms) == 0 {
			r.Verdict = bpfsigned.OK
			return r, nil
		}
	}
	r.Verdict = bpfsigned.BadSig
	return r, nil
}

func (r *Result) describe(c candidate) {
	r.Manifest = c.m.File + "#" + c.p.Name
	r.MeasID = c.p.MeasID
}

// ProgramID gives the verdict on the program with this id. A program that
// is gone returns os.ErrNotExist.
func (t *Trust) ProgramID(id uint32) (*Result, error) {
	fd, err := bpfsys.ProgFDByID(id)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("program id %d: %w", id, os.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return t.Program(fd)
}

// All gives a verdict on every program loaded on the host, in id order.
// Programs that are unloaded while the scan runs are left out.
func (t *Trust) All() ([]Result, error) {
	var out []Result
	for id := uint32(0); ; {
		next, ok, err := bpfsys.NextProgID(id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		id = next
		r, err := t.ProgramID(id)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("program id %d: %w", id, err)
		}
		out = append(out, *r)
	}
}
