// Package audit checks the programs loaded on a host, from any process,
// against signed manifests: it asks the kernel what each program is
// (package measure), finds the manifest whose measurement it matches, and
// gives a verdict. An auditor trusts no loader: only the kernel's answers
// and the signatures.
package audit

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// Limits of the files read from a trust directory. A file beyond its
// limit, or one that is not a regular file once opened (a FIFO, a device),
// fails LoadTrustDir with an error naming it instead of blocking or
// exhausting memory.
const (
	// MaxKeyFile is the largest public key or identity file read: 1 MiB.
	MaxKeyFile = 1 << 20
	// MaxEnvelopeFile is the largest envelope, bundle or trusted root
	// read: 64 MiB (the generator's limit for the files it reads).
	MaxEnvelopeFile = 64 << 20
	// MaxObjectFile is the largest BPF object read: 128 MiB (the
	// generator's limit).
	MaxObjectFile = 128 << 20
)

// readTrustFile reads a file of the trust directory, at most max bytes.
// Links are followed (a Kubernetes ConfigMap volume publishes its files
// through them), special files are refused.
func readTrustFile(path string, max int64) ([]byte, error) {
	raw, err := safefs.ReadRegular(path, max)
	if err != nil {
		return nil, fmt.Errorf("trust directory: %w", err)
	}
	return raw, nil
}

// ErrNoKeys is returned when a trust directory holds no public key and
// no trusted identity.
var ErrNoKeys = errors.New("no public key (*.pub) and no trusted identity (*.identity with trusted_root.json) in the trust directory")

// Manifest is one verified envelope of a trust directory.
type Manifest struct {
	// File is the envelope's path relative to the trust directory.
	File string `json:"file"`
	// Object is the path, relative to the trust directory, of the object
	// whose sha256 is the envelope's subject, or "" when none is there.
	Object string `json:"object,omitempty"`
	// ObjectChecked says such an object was found and verified.
	ObjectChecked bool `json:"object_checked"`
	// ByteOrder is the byte order of the signed object: "little-endian",
	// "big-endian", or "" when neither the object nor the subject's name
	// (bpf2go's <stem>_bpfel.o / <stem>_bpfeb.o) says.
	ByteOrder string            `json:"byte_order,omitempty"`
	Manifest  *measure.Manifest `json:"-"`
	// Signer is the issuer and identity of a keyless signature.
	Signer string `json:"signer,omitempty"`

	objPath   string
	objSHA256 string // hex, the verified object's
	spec      *ebpf.CollectionSpec
	specErr   error
}

type candidate struct {
	m *Manifest
	p *measure.Program
}

// tagKey indexes the signed programs by kernel tag: the first 8 bytes of
// an instruction digest under the kernel's algorithm (sha1 false: SHA-256,
// Linux 6.18+; true: SHA-1, before).
type tagKey struct {
	sha1 bool
	tag  [bpfsys.TagSize]byte
}

// newTagKey is the key of a manifest's tag (hex; [measure.Manifest.Check]
// has made sure it is 8 lowercase hex bytes), ok false if it is not.
func newTagKey(alg, tag string) (k tagKey, ok bool) {
	k.sha1 = alg == measure.TagSHA1
	n, err := hex.Decode(k.tag[:], []byte(tag))
	return k, err == nil && n == len(k.tag) && len(tag) == 2*len(k.tag)
}

type nameType struct {
	name string
	typ  uint32
}

// Trust is what an audit compares with: the manifests of a trust directory
// whose signature verified with one of its keys.
type Trust struct {
	// FullDigest makes every pass read the kernel's full 256-bit program
	// digests where the backend is available ([measure.FullDigestProbe]):
	// one bpf_prog iterator, loaded once per process and kept, which is
	// itself a loaded program (not listed by [Trust.All]). Off, the
	// comparison rests on the 64-bit tag. prog verify turns it on; a
	// long-running process such as the agent leaves it off.
	FullDigest bool `json:"full_digest"`
	// Dir is the trust directory.
	Dir string `json:"dir"`
	// Keys is the number of public keys found.
	Keys int `json:"keys"`
	// Envelopes is the number of envelopes found, trusted or not.
	Envelopes int `json:"envelopes"`
	// Identities and Bundles are the numbers of trusted keyless
	// identities and of Sigstore bundles (*.sigstore.json) found.
	Identities int `json:"identities,omitempty"`
	Bundles    int `json:"bundles,omitempty"`
	// Manifests are the trusted envelopes for objects of this host's byte
	// order: the ones programs are matched with.
	Manifests []*Manifest `json:"manifests"`
	// OtherByteOrder lists trusted envelopes of objects for the other byte
	// order, which no program on this host can be.
	OtherByteOrder []string `json:"other_byte_order,omitempty"`
	// Skipped lists envelopes that were not trusted, and why.
	Skipped []string `json:"skipped,omitempty"`
	// Warnings say what in the directory is likely a mistake: no envelope
	// at all, or objects no envelope is about.
	Warnings []string `json:"warnings,omitempty"`
	byTag    map[tagKey][]candidate
	byName   map[nameType][]candidate
}

// loadSpec parses the manifest's object, read again from the trust
// directory: it must still be the object whose sha256 was verified.
func (m *Manifest) loadSpec() (*ebpf.CollectionSpec, error) {
	raw, err := readTrustFile(m.objPath, MaxObjectFile)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != m.objSHA256 {
		return nil, fmt.Errorf("%s changed after it was verified: sha256 %x, expected %s", m.objPath, sum, m.objSHA256)
	}
	return ebpf.LoadCollectionSpecFromReader(bytes.NewReader(raw))
}

// LoadTrustDir reads every public key (*.pub), signed envelope
// (*.intoto.json) and BPF object (*.o) under dir, in any subdirectory that
// is not hidden (a name starting with "."). An
// envelope is verified with the keys, and against the object whose sha256
// its subject names when such an object is anywhere under dir (file names
// play no part, so envelopes of the same name in different subdirectories
// are fine); otherwise only its signature and statement are verified.
// Envelopes that do not verify are listed in Skipped; envelopes of objects
// for the other byte order than this host's in OtherByteOrder. Keyless
// signatures are read the same way: Sigstore bundles (*.sigstore.json),
// verified with the trusted identities of every *.identity file and the
// trusted_root.json at the top of dir.
func LoadTrustDir(dir string) (*Trust, error) {
	var pubs, envs, objs, bundles, idFiles []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Hidden directories are not part of the trust: a Kubernetes
		// ConfigMap volume keeps each version in "..<timestamp>/" and
		// publishes it through links at the top, so reading both would
		// list every file twice; .git and editors' folders are the same.
		if d.IsDir() && path != dir && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		switch name := d.Name(); {
		case strings.HasSuffix(name, ".pub"):
			pubs = append(pubs, path)
		case strings.HasSuffix(name, attest.Suffix):
			envs = append(envs, path)
		case strings.HasSuffix(name, ".o"):
			objs = append(objs, path)
		case strings.HasSuffix(name, keyless.Suffix):
			bundles = append(bundles, path)
		case strings.HasSuffix(name, IdentitySuffix):
			idFiles = append(idFiles, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("trust directory: %w", err)
	}
	var keys []crypto.PublicKey
	for _, p := range pubs {
		raw, err := readTrustFile(p, MaxKeyFile)
		if err != nil {
			return nil, err
		}
		k, err := attest.ParsePublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		keys = append(keys, k)
	}
	root, ids, err := loadIdentities(dir, idFiles)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 && len(ids) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoKeys)
	}
	// Objects by sha256, read once.
	objects := map[string]string{}
	for _, o := range objs {
		raw, err := readTrustFile(o, MaxObjectFile)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		if _, dup := objects[hex.EncodeToString(sum[:])]; !dup {
			objects[hex.EncodeToString(sum[:])] = o
		}
	}
	t := &Trust{Dir: dir, Keys: len(keys), Identities: len(ids), Envelopes: len(envs), Bundles: len(bundles), byTag: map[tagKey][]candidate{}, byName: map[nameType][]candidate{}}
	rel := func(p string) string {
		if r, err := filepath.Rel(dir, p); err == nil {
			return r
		}
		return p
	}
	used := map[string]bool{}
	host := orderName(measure.NativeOrder)
	for _, e := range envs {
		raw, err := readTrustFile(e, MaxEnvelopeFile)
		if err != nil {
			return nil, err
		}
		m := &Manifest{File: rel(e)}
		v, err := attest.VerifySignature(raw, keys)
		if err != nil {
			t.Skipped = append(t.Skipped, fmt.Sprintf("%s: %v", m.File, err))
			continue
		}
		subject := v.Statement.Subject[0]
		if o, ok := objects[subject.Digest["sha256"]]; ok {
			obj, err := readTrustFile(o, MaxObjectFile)
			if err != nil {
				return nil, err
			}
			if _, err := attest.Verify(raw, obj, keys); err != nil {
				t.Skipped = append(t.Skipped, fmt.Sprintf("%s: %v", m.File, err))
				continue
			}
			m.Object, m.objPath, m.objSHA256, m.ObjectChecked = rel(o), o, subject.Digest["sha256"], true
			m.ByteOrder = elfByteOrder(obj)
			used[o] = true
		} else {
			m.ByteOrder = nameByteOrder(subject.Name)
		}
		m.Manifest = v.Statement.Predicate
		if m.ByteOrder != "" && m.ByteOrder != host {
			t.OtherByteOrder = append(t.OtherByteOrder, m.File)
			continue
		}
		t.add(m)
	}
	if err := t.addBundles(bundles, root, ids, objects, rel, used, host); err != nil {
		return nil, err
	}
	switch {
	case len(envs) == 0 && len(bundles) == 0:
		t.Warnings = append(t.Warnings, fmt.Sprintf("no signed envelope (*%s) under %s: every program is UNSIGNED; copy the FILE.o%s files that bpf2go-signed sign wrote (and, for PARTIAL verdicts on CO-RE programs, their objects) into it", attest.Suffix, dir, attest.Suffix))
	case len(t.Manifests) == 0 && len(t.OtherByteOrder) > 0:
		t.Warnings = append(t.Warnings, fmt.Sprintf("every trusted envelope under %s is for %s objects, this host loads %s ones: copy the envelopes of the %s objects", dir, otherOrder(host), host, targetName(host)))
	case len(t.Manifests) == 0:
		t.Warnings = append(t.Warnings, fmt.Sprintf("no envelope or bundle under %s verifies with its %d key(s) and %d identities: every program is UNSIGNED", dir, len(keys), len(ids)))
	}
	for _, o := range objs {
		if !used[o] {
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s: no trusted envelope is about this object (its sha256 is no envelope's subject); sign it again or remove it", rel(o)))
		}
	}
	return t, nil
}

func orderName(bo binary.ByteOrder) string {
	if bo == binary.BigEndian {
		return "big-endian"
	}
	return "little-endian"
}

func otherOrder(o string) string {
	if o == "big-endian" {
		return "little-endian"
	}
	return "big-endian"
}

func targetName(o string) string {
	if o == "big-endian" {
		return "bpfeb"
	}
	return "bpfel"
}

// elfByteOrder is the byte order an ELF object's header declares, or "".
func elfByteOrder(obj []byte) string {
	if len(obj) < 6 || string(obj[:4]) != elf.ELFMAG {
		return ""
	}
	switch elf.Data(obj[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		return "little-endian"
	case elf.ELFDATA2MSB:
		return "big-endian"
	}
	return ""
}

// nameByteOrder reads the byte order from bpf2go's object names
// (<stem>_bpfel.o, <stem>_x86_bpfel.o, <stem>_bpfeb.o), or "". The name is
// part of the signed statement.
func nameByteOrder(name string) string {
	switch base := strings.TrimSuffix(filepath.Base(name), ".o"); {
	case strings.HasSuffix(base, "bpfel"):
		return "little-endian"
	case strings.HasSuffix(base, "bpfeb"):
		return "big-endian"
	}
	return ""
}

// programSpec returns the program called name from the manifest's object,
// or nil when the object is not in the trust directory.
func (m *Manifest) programSpec(name string) *ebpf.ProgramSpec {
	if m.objPath == "" {
		return nil
	}
	if m.spec == nil && m.specErr == nil {
		m.spec, m.specErr = m.loadSpec()
	}
	if m.spec == nil {
		return nil
	}
	return m.spec.Programs[name]
}

func (t *Trust) add(m *Manifest) {
	t.Manifests = append(t.Manifests, m)
	if len(t.byTag) == 0 && len(t.byName) == 0 {
		// Sized for this manifest (two tags and a name per program):
		// growing them a program at a time rehashes them again and again.
		t.byTag = make(map[tagKey][]candidate, 2*len(m.Manifest.Programs))
		t.byName = make(map[nameType][]candidate, len(m.Manifest.Programs))
	}
	for i := range m.Manifest.Programs {
		p := &m.Manifest.Programs[i]
		c := candidate{m, p}
		for _, d := range p.Digests() {
			for _, at := range [...][2]string{{measure.TagSHA256, d.Tag}, {measure.TagSHA1, d.TagSHA1}} {
				if k, ok := newTagKey(at[0], at[1]); ok {
					t.byTag[k] = append(t.byTag[k], c)
				}
			}
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
	// Relocations lists, for a PARTIAL program, every CO-RE site resolved
	// for this kernel, as the loader's report does.
	Relocations []measure.Fixup `json:"relocations,omitempty"`
	// Hint says how a BADSIG could become a verdict, when it is known.
	Hint string `json:"hint,omitempty"`
	// TagBits is how many bits of the instruction digest the match rests
	// on: 64 for the kernel's tag (collision about 2^32 work, second
	// preimage about 2^64), 256 with the full-digest backend.
	TagBits int `json:"tag_bits"`
	// Unbound lists what the signature does not bind in the program's
	// closure (unsealed program arrays): the verdict is then PARTIAL.
	Unbound []string `json:"unbound,omitempty"`
	// TailCalls are the programs reached through program-array slots.
	TailCalls []uint32 `json:"tail_calls,omitempty"`
	// BoundMaps are maps bound with BPF_PROG_BIND_MAP that no instruction
	// references: reported, not compared.
	BoundMaps []measure.BoundMap `json:"bound_maps,omitempty"`
	// Links are the tracing and extension links that target the program
	// or a program of its closure; each makes the verdict BADSIG.
	Links []measure.KernelLink `json:"links,omitempty"`
}

// Passed reports whether the verdict is OK, the only verdict the loader's
// default policy accepts.
func (r *Result) Passed() bool { return r.Verdict == bpfsigned.OK }

// Program gives the verdict on the program behind fd: OK when its
// measurement matches a signed one; PARTIAL when it is a signed program
// whose CO-RE relocations were resolved for this kernel (decided as the
// loader does, which needs the signed object in the trust directory);
// BADSIG when it differs from the signed program of its name and type;
// UNSIGNED when no envelope names it. The measurement covers the program's
// closure (the programs its sealed program arrays hold, the maps its maps
// of maps hold, the links that target any of those programs): a part the
// signature does not bind makes an OK PARTIAL, a link BADSIG.
func (t *Trust) Program(fd int) (*Result, error) {
	p, err := t.newPass()
	if err != nil {
		return nil, err
	}
	return t.program(fd, p, true)
}

// pass is what one audit pass reads once from the host: its links and,
// where the backend is available, the programs' full digests.
type pass struct {
	links *measure.Links
	// fullDigest: read the digests at the first program that needs them.
	fullDigest bool
	digestRead bool
	digests    map[uint32]string
}

func (t *Trust) newPass() (*pass, error) {
	links, err := measure.EnumerateLinks()
	if err != nil {
		return nil, err
	}
	return &pass{links: links, fullDigest: t.FullDigest}, nil
}

// fullDigests returns the full digests of the programs loaded on the
// host, read once per pass when the first program whose tag or name a
// manifest knows is measured: the backend's setup (kernel BTF, an
// iterator program) is paid only by a pass that compares a program with
// a manifest. Programs no manifest names are UNSIGNED on their tag and
// name alone, which the digest cannot change. A program loaded after the
// read has no digest in the map and is compared on its tag (TagBits 64).
func (p *pass) fullDigests() map[uint32]string {
	if p.fullDigest && !p.digestRead {
		p.digestRead = true
		p.digests, _ = measure.FullDigestsIfAvailable()
	}
	return p.digests
}

// program gives the verdict on the program behind fd. withLinks says
// whether the links' attaching programs get a verdict of their own (one
// level: their own links are not followed).
func (t *Trust) program(fd int, ps *pass, withLinks bool) (*Result, error) {
	info, mapIDs, err := bpfsys.ProgramInfo(fd)
	if err != nil {
		return nil, err
	}
	r := &Result{
		ID:      info.ID,
		Type:    ebpf.ProgramType(info.Type).String(),
		Name:    bpfsys.CString(info.Name[:]),
		TagBits: 8 * bpfsys.TagSize,
	}
	r.Tag = hex.EncodeToString(info.Tag[:])
	// Which hash the kernel's tags are is asked (a per-process probe that
	// reads kernel BTF) only for a tag that some manifest has under
	// either algorithm: for any other tag both lookups are empty, the
	// answer cannot change the candidates, and a host of programs no
	// manifest knows is audited without the probe.
	var cands []candidate
	if len(t.byTag[tagKey{false, info.Tag}])+len(t.byTag[tagKey{true, info.Tag}]) > 0 {
		alg, err := measure.TagAlgorithm()
		if err != nil {
			return nil, err
		}
		cands = t.byTag[tagKey{alg == measure.TagSHA1, info.Tag}]
	}
	if len(cands) == 0 {
		named := t.byName[nameType{r.Name, info.Type}]
		if len(named) == 0 {
			r.Verdict = bpfsigned.Unsigned
			return r, nil
		}
		// A signed program of this name and type, with other
		// instructions: the signed one relocated for this kernel
		// (PARTIAL), or another program (BADSIG).
		for i, c := range named {
			kp, err := measure.KernelFDInfo(fd, info, mapIDs, &measure.KernelOptions{Expected: c.p, Manifest: c.m.Manifest, Links: ps.links, FullDigests: ps.fullDigests()})
			if err != nil {
				return nil, err
			}
			ms, _ := c.m.Manifest.Compare(c.p, kp)
			fixups, ms := bpfsigned.MatchPartial(c.p, c.m.programSpec(c.p.Name), kp, ms)
			if fixups != nil || i == 0 {
				r.describe(c)
				r.Mismatches, r.Relocations, r.Params = ms, fixups, nil
				for _, m := range kp.Maps {
					r.Params = append(r.Params, m.Params...)
				}
				r.closure(c, kp)
			}
			if fixups != nil {
				r.Verdict = bpfsigned.Partial
				return r, nil
			}
		}
		r.Verdict = bpfsigned.BadSig
		if c := named[0]; len(c.p.Relocations) > 0 && c.m.objPath == "" {
			r.Hint = fmt.Sprintf("the signed program has CO-RE relocations: put its object (whose sha256 is the subject of %s) in the trust directory to check whether it is the signed program relocated for this kernel (PARTIAL)", c.m.File)
		} else if len(c.p.Relocations) > 0 && c.m.specErr != nil {
			r.Hint = fmt.Sprintf("the signed program has CO-RE relocations, but its object could not be read again to relocate it: %v", c.m.specErr)
		}
		return r, t.linkVerdicts(r, ps, withLinks)
	}
	for i, c := range cands {
		kp, err := measure.KernelFDInfo(fd, info, mapIDs, &measure.KernelOptions{Expected: c.p, Manifest: c.m.Manifest, Links: ps.links, FullDigests: ps.fullDigests()})
		if err != nil {
			return nil, err
		}
		ms, _ := c.m.Manifest.Compare(c.p, kp)
		if len(ms) == 0 || i == 0 {
			r.describe(c)
			r.Mismatches = ms
			r.Params = nil
			for _, m := range kp.Maps {
				r.Params = append(r.Params, m.Params...)
			}
			r.closure(c, kp)
		}
		if len(ms) == 0 {
			r.Verdict = bpfsigned.OK
			if len(r.Unbound) > 0 {
				r.Verdict = bpfsigned.Partial
			}
			return r, nil
		}
	}
	r.Verdict = bpfsigned.BadSig
	return r, t.linkVerdicts(r, ps, withLinks)
}

// closure records what the kernel measurement found beyond the program
// itself.
func (r *Result) closure(c candidate, kp *measure.KernelProgram) {
	r.Unbound = c.m.Manifest.Unbound(c.p, kp)
	r.TagBits = kp.TagBits
	r.BoundMaps = kp.BoundMaps
	r.TailCalls = nil
	r.Links = append([]measure.KernelLink{}, kp.Links...)
	for _, tc := range kp.TailCalls {
		r.TailCalls = append(r.TailCalls, tc.ID)
		r.Links = append(r.Links, tc.Links...)
	}
}

// linkVerdicts adds to every link mismatch the attaching program's own
// verdict against the trust directory.
func (t *Trust) linkVerdicts(r *Result, ps *pass, withLinks bool) error {
	if !withLinks {
		return nil
	}
	for _, l := range r.Links {
		verdict := "gone"
		if prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(l.ProgID)); err == nil {
			ar, err := t.program(prog.FD(), ps, false)
			prog.Close()
			if err != nil {
				return fmt.Errorf("attaching program id %d: %w", l.ProgID, err)
			}
			verdict = string(ar.Verdict)
			if ar.Manifest != "" {
				verdict += " (" + ar.Manifest + ")"
			}
		}
		suffix := fmt.Sprintf("links[id %d]", l.ID)
		for i := range r.Mismatches {
			if strings.HasSuffix(r.Mismatches[i].Field, suffix) {
				r.Mismatches[i].Found += "; the attaching program's verdict: " + verdict
			}
		}
	}
	return nil
}

func (r *Result) describe(c candidate) {
	r.Manifest = c.m.File + "#" + c.p.Name
	r.MeasID = c.p.MeasID
}

// ProgramID gives the verdict on the program with this id. A program that
// is gone returns os.ErrNotExist.
func (t *Trust) ProgramID(id uint32) (*Result, error) {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("program id %d: %w", id, os.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("program id %d: %w", id, err)
	}
	defer prog.Close()
	return t.Program(prog.FD())
}

// All gives a verdict on every program loaded on the host, in id order.
// Programs that are unloaded while the scan runs are left out.
func (t *Trust) All() ([]Result, error) {
	// The results are collected by reference and copied once at the end:
	// appending each to a []Result would copy them all again at every
	// growth (a result is a few hundred bytes, a host has thousands of
	// programs).
	var rs []*Result
	ps, err := t.newPass()
	if err != nil {
		return nil, err
	}
	err = eachProgramFD(func(id uint32, fd int) error {
		if id == measure.DigestIteratorID() {
			return nil // this process's own digest iterator
		}
		r, err := t.program(fd, ps, true)
		if err == nil {
			rs = append(rs, r)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Result
	if len(rs) > 0 {
		out = make([]Result, len(rs))
		for i, r := range rs {
			out[i] = *r
		}
	}
	return out, nil
}
