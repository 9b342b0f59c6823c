package audit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

// signed is a testdata object measured with a sealing configuration,
// signed with a fresh key, as a generated loader embeds it, and a trust
// directory holding the object, its envelope and the public key.
type signed struct {
	obj      *bpfsigned.Object
	dir      string
	manifest *measure.Manifest
}

func signObject(t *testing.T, name string, cfg sealmap.Config) *signed {
	t.Helper()
	raw, err := os.ReadFile(testutil.Testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	m, plan, _, err := build.Measure(raw, build.Declared(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := signing.FromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Sign(context.Background(), attest.NewStatement(name, raw, m))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := attest.MarshalPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for f, b := range map[string][]byte{name: raw, name + attest.Suffix: env, "key.pub": pub} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &signed{
		obj:      &bpfsigned.Object{Name: name, ELF: raw, Envelope: env, Plan: plan.Encode(), TrustedKeys: []string{string(pub)}},
		dir:      dir,
		manifest: m,
	}
}

// load is a verified load into a fresh collection struct of the object's
// programs and maps.
func (s *signed) load(t *testing.T, to any, policy *bpfsigned.Policy) *bpfsigned.Report {
	t.Helper()
	rep, err := bpfsigned.Load(s.obj, to, &bpfsigned.LoadOptions{Policy: policy})
	if err != nil {
		t.Fatalf("verified load: %v", err)
	}
	return rep
}

// verdicts are the three views of one program: the loader's recheck, the
// audit in this process, and "prog verify --all" in another process.
type verdicts struct {
	recheck, audit, cli bpfsigned.Verdict
	// texts are the mismatches and unbound entries of each view.
	recheckText, auditText, cliText string
}

// agree rechecks a verified load, audits every one of its programs in this
// process and with "prog verify --all" in another, and checks that all
// three give each program the wanted verdict and mention what (when not
// empty).
func agree(t *testing.T, objs any, rep *bpfsigned.Report, s *signed, want map[string]bpfsigned.Verdict, what string) map[string]*verdicts {
	t.Helper()
	re, err := bpfsigned.Recheck(objs, rep)
	if re == nil {
		t.Fatalf("recheck: %v", err)
	}
	trust, err := audit.LoadTrustDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	trust.FullDigest = true // as prog verify does
	out, _ := runCLI(t, "prog", "verify", "--all", "--trust", s.dir, "-j")
	var all struct {
		Programs []audit.Result `json:"programs"`
	}
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatalf("prog verify --all: %q: %v", out, err)
	}
	byID := map[uint32]audit.Result{}
	for _, r := range all.Programs {
		byID[r.ID] = r
	}
	got := map[string]*verdicts{}
	for _, p := range re.Programs {
		v := &verdicts{recheck: p.Verdict}
		rj, _ := json.Marshal(p)
		v.recheckText = string(rj)
		ar, err := trust.ProgramID(p.ID)
		if err != nil {
			t.Fatalf("audit %s: %v", p.Name, err)
		}
		v.audit = ar.Verdict
		aj, _ := json.Marshal(ar)
		v.auditText = string(aj)
		cr, ok := byID[p.ID]
		if !ok {
			t.Fatalf("prog verify --all does not list %s (id %d)", p.Name, p.ID)
		}
		v.cli = cr.Verdict
		cj, _ := json.Marshal(cr)
		v.cliText = string(cj)
		got[p.Name] = v
		w, ok := want[p.Name]
		if !ok {
			continue
		}
		if v.recheck != w || v.audit != w || v.cli != w {
			t.Errorf("%s: recheck %s, audit %s, prog verify --all %s; want %s everywhere\nrecheck: %s\naudit: %s\ncli: %s",
				p.Name, v.recheck, v.audit, v.cli, w, v.recheckText, v.auditText, v.cliText)
		}
		if what != "" && w != bpfsigned.OK {
			for view, text := range map[string]string{"recheck": v.recheckText, "audit": v.auditText, "prog verify --all": v.cliText} {
				if !strings.Contains(text, what) {
					t.Errorf("%s: %s does not mention %q: %s", p.Name, view, what, text)
				}
			}
		}
	}
	for name := range want {
		if got[name] == nil {
			t.Errorf("no verdict on %s", name)
		}
	}
	return got
}

func wantAll(v bpfsigned.Verdict, names ...string) map[string]bpfsigned.Verdict {
	out := map[string]bpfsigned.Verdict{}
	for _, n := range names {
		out[n] = v
	}
	return out
}

type tailObjects struct {
	Entry *ebpf.Program `ebpf:"tail_entry"`
	A     *ebpf.Program `ebpf:"tail_a"`
	B     *ebpf.Program `ebpf:"tail_b"`
	Jmp   *ebpf.Map     `ebpf:"jmp"`
	Calls *ebpf.Map     `ebpf:"calls"`
}

func (o *tailObjects) Close() {
	for _, c := range []interface{ Close() error }{o.Entry, o.A, o.B, o.Jmp, o.Calls} {
		c.Close()
	}
}

// exampleWithMode loads the project's signed XDP example with another
// value of its mode parameter, sealed as its loader does: a program that
// verifies on its own, the replacement an attacker would pick.
func exampleWithMode(t *testing.T, mode uint32) *ebpf.Collection {
	t.Helper()
	spec, plan := exampleSpec(t)
	if err := spec.Variables["mode"].Set(mode); err != nil {
		t.Fatal(err)
	}
	coll, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coll.Close() })
	return coll
}

// TestTailCallsSealed (attack 1): a program array initialised in C is
// filled with the object's programs and frozen. Another process cannot
// put the example's program (valid and signed on its own, with another
// parameter) or anything else into a slot, nor empty one; the loader, the
// recheck, the audit and prog verify --all say OK, and report the
// programs reached through the slots.
func TestTailCallsSealed(t *testing.T) {
	testutil.RequireBPF(t)
	s := signObject(t, "tailcall_bpfel.o", sealmap.Config{})
	var objs tailObjects
	rep := s.load(t, &objs, nil)
	defer objs.Close()
	var entry *bpfsigned.ProgramReport
	for i := range rep.Programs {
		if rep.Programs[i].Name == "tail_entry" {
			entry = &rep.Programs[i]
		}
	}
	if entry == nil || len(entry.TailCalls) != 2 || entry.TagBits != 64 {
		t.Fatalf("tail_entry report: %+v", entry)
	}
	v := agree(t, &objs, rep, s, wantAll(bpfsigned.OK, "tail_entry", "tail_a", "tail_b"), "")
	// The audit rests on all 256 bits of the digest where the kernel's can
	// be read, else on the 64-bit tag, and says which.
	bits := `"tag_bits":64`
	if measure.FullDigestProbe() == nil {
		bits = `"tag_bits":256`
	}
	if !strings.Contains(v["tail_entry"].auditText, bits) || !strings.Contains(v["tail_entry"].cliText, bits) {
		t.Errorf("audit does not report %s:\n%s\n%s", bits, v["tail_entry"].auditText, v["tail_entry"].cliText)
	}

	replacement := exampleWithMode(t, 1).Programs["port_filter"]
	jmpID, _ := objs.Jmp.Info()
	id, _ := jmpID.ID()
	other, err := ebpf.NewMapFromID(id) // as another process would open it
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Update(uint32(0), replacement, ebpf.UpdateAny); !errors.Is(err, unix.EPERM) {
		t.Fatalf("overwriting a slot of the sealed program array: %v, want EPERM", err)
	}
	if err := other.Delete(uint32(1)); !errors.Is(err, unix.EPERM) {
		t.Fatalf("emptying a slot of the sealed program array: %v, want EPERM", err)
	}
	agree(t, &objs, rep, s, wantAll(bpfsigned.OK, "tail_entry", "tail_a", "tail_b"), "")
}

type openObjects struct {
	Entry    *ebpf.Program `ebpf:"open_entry"`
	Target   *ebpf.Program `ebpf:"open_target"`
	Dispatch *ebpf.Map     `ebpf:"dispatch"`
}

func (o *openObjects) Close() {
	o.Entry.Close()
	o.Target.Close()
	o.Dispatch.Close()
}

// TestTailCallsOpen (attack 1, unsealed): a program array without initial
// values is refused at generate time unless accepted with
// -unsealed-prog-array; then the verdict is PARTIAL, never OK ("tail-call
// targets not bound"), refused by the default policy, and stays PARTIAL
// with what the slot holds named when another process fills a slot.
func TestTailCallsOpen(t *testing.T) {
	testutil.RequireBPF(t)
	raw, err := os.ReadFile(testutil.Testdata("tailcall_open_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = build.Measure(raw, build.Source{}, nil)
	if !errors.Is(err, sealmap.ErrUnsealedProgArray) || !strings.Contains(err.Error(), "-unsealed-prog-array dispatch") {
		t.Fatalf("generate without -unsealed-prog-array: %v", err)
	}

	s := signObject(t, "tailcall_open_bpfel.o", sealmap.Config{UnsealedProgArrays: []string{"dispatch"}})
	before := testutil.OpenFDs(t)
	var refusedObjs openObjects
	rep, err := bpfsigned.Load(s.obj, &refusedObjs, nil)
	var refused *bpfsigned.Error
	if !errors.As(err, &refused) || rep.Verdict != bpfsigned.Partial || !strings.Contains(err.Error(), "tail-call targets not bound") {
		t.Fatalf("default policy: %v (verdict %v)", err, rep)
	}
	if after := testutil.OpenFDs(t); after != before || refusedObjs.Entry != nil {
		t.Fatalf("refused load: %d fds before, %d after, objects %+v", before, after, refusedObjs)
	}

	var objs openObjects
	rep = s.load(t, &objs, &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}})
	defer objs.Close()
	agree(t, &objs, rep, s, map[string]bpfsigned.Verdict{"open_entry": bpfsigned.Partial, "open_target": bpfsigned.OK}, "tail-call targets not bound")

	// Another process fills the slot with the example's program.
	replacement := exampleWithMode(t, 1).Programs["port_filter"]
	info, _ := objs.Dispatch.Info()
	id, _ := info.ID()
	other, err := ebpf.NewMapFromID(id)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Update(uint32(0), replacement, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	rid := progID(t, replacement)
	v := agree(t, &objs, rep, s, map[string]bpfsigned.Verdict{"open_entry": bpfsigned.Partial}, "tail-call targets not bound")
	if held := "program id " + itoa(rid); !strings.Contains(v["open_entry"].recheckText, held) || !strings.Contains(v["open_entry"].auditText, held) {
		t.Errorf("reports do not name what the open slot holds (%s):\n%s\n%s", held, v["open_entry"].recheckText, v["open_entry"].auditText)
	}
}

type mimObjects struct {
	Filter   *ebpf.Program `ebpf:"mim_filter"`
	Policies *ebpf.Map     `ebpf:"policies"`
	Policy   *ebpf.Map     `ebpf:"policy"`
	Tenants  *ebpf.Map     `ebpf:"tenants"`
	Spare    *ebpf.Map     `ebpf:"spare"`
}

func (o *mimObjects) Close() {
	for _, c := range []interface{ Close() error }{o.Filter, o.Policies, o.Policy, o.Tenants, o.Spare} {
		c.Close()
	}
}

var mimConfig = sealmap.Config{Contents: map[string][]byte{"policy": []byte(`{"entries":[{"key":1,"value":1}]}`)}}

// TestMapsOfMaps (attack 2): a sealed map that programs reach only through
// a map of maps is measured through the outer map's slot (descriptor and
// content), the outer map is sealed and frozen: another process can
// neither swap the look-alike map into the slot nor change the sealed
// contents. The unsealed hash of maps stays mutable data: a map of its
// template may come and go (OK), one of another shape the kernel refuses.
// A sealed map no program reaches is refused at generate time.
func TestMapsOfMaps(t *testing.T) {
	testutil.RequireBPF(t)
	raw, err := os.ReadFile(testutil.Testdata("mapinmap_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := build.Measure(raw, build.Declared(sealmap.Config{Seal: []string{"spare"}}), nil); !errors.Is(err, sealmap.ErrUnreachableSealed) || !strings.Contains(err.Error(), "spare") {
		t.Fatalf("sealing a map no program reaches: %v", err)
	}

	s := signObject(t, "mapinmap_bpfel.o", mimConfig)
	outer := s.manifest.Program("mim_filter").Maps[0]
	if outer.Name != "policies" || !outer.Sealed || len(outer.Slots) != 1 || outer.Slots[0].Map == nil || outer.Slots[0].Map.Name != "policy" || outer.Slots[0].Map.Content == nil {
		t.Fatalf("outer map measurement: %+v", outer)
	}
	var objs mimObjects
	rep := s.load(t, &objs, nil)
	defer objs.Close()
	agree(t, &objs, rep, s, wantAll(bpfsigned.OK, "mim_filter"), "")

	if err := objs.Policies.Update(uint32(0), objs.Spare, ebpf.UpdateAny); !errors.Is(err, unix.EPERM) {
		t.Fatalf("swapping the look-alike into the sealed outer map: %v, want EPERM", err)
	}
	if err := objs.Policy.Update(uint32(1), uint32(0), ebpf.UpdateAny); !errors.Is(err, unix.EPERM) {
		t.Fatalf("writing the sealed inner map: %v, want EPERM", err)
	}

	good, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := objs.Tenants.Update(uint32(7), good, ebpf.UpdateAny); err != nil {
		t.Fatalf("a tenant map of the template: %v", err)
	}
	bad, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := objs.Tenants.Update(uint32(8), bad, ebpf.UpdateAny); err == nil {
		t.Fatal("the kernel accepted an inner map that does not match the template")
	}
	agree(t, &objs, rep, s, wantAll(bpfsigned.OK, "mim_filter"), "")
}

// TestBoundMap (attack 4): a map bound to a verified program with
// BPF_PROG_BIND_MAP by someone else is referenced by no instruction and
// cannot change what the program does: the verdict stays OK everywhere,
// and the reports name the bound map's id and type.
func TestBoundMap(t *testing.T) {
	testutil.RequireBPF(t)
	s := signObject(t, "tailcall_bpfel.o", sealmap.Config{})
	var objs tailObjects
	rep := s.load(t, &objs, nil)
	defer objs.Close()
	extra, err := ebpf.NewMap(&ebpf.MapSpec{Name: "bound_extra", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	target, err := ebpf.NewProgramFromID(ebpf.ProgramID(progID(t, objs.A)))
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := target.BindMap(extra); err != nil {
		t.Fatalf("BPF_PROG_BIND_MAP: %v", err)
	}
	info, _ := extra.Info()
	id, _ := info.ID()
	v := agree(t, &objs, rep, s, wantAll(bpfsigned.OK, "tail_entry", "tail_a", "tail_b"), "")
	want := `"bound_maps":[{"id":` + itoa(uint32(id)) + `,"name":"bound_extra","type":"Hash"}]`
	for view, text := range map[string]string{"recheck": v["tail_a"].recheckText, "audit": v["tail_a"].auditText, "prog verify --all": v["tail_a"].cliText} {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not report the bound map %s: %s", view, want, text)
		}
	}
}

type subprogObjects struct {
	Filter *ebpf.Program `ebpf:"subprog_filter"`
}

// attachTo loads program name of ext_bpfel.o against target, or skips when
// the kernel refuses such programs (this host refuses tracing and
// extension loads with EPERM).
func attachTo(t *testing.T, target *ebpf.Program, name string) *ebpf.Program {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("ext_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	ps := spec.Programs[name]
	ps.AttachTarget = target
	prog, err := ebpf.NewProgram(ps)
	if errors.Is(err, unix.EPERM) || errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) && strings.Contains(err.Error(), "not supported") {
		feature := testutil.FeatureTracing
		if ps.Type == ebpf.Extension {
			feature = testutil.FeatureExtension
		}
		testutil.SkipWithout(t, feature, fmt.Errorf("loading %s program %s: %w", ps.Type, name, err))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// TestExtensionLink (attack 3): an extension (freplace) or fentry program
// attached to a global function of a verified program leaves its tag and
// map_ids as they were; the link makes the verdict BADSIG in the recheck,
// the audit and prog verify --all, naming the link, its type and the
// attaching program with its own verdict.
func TestExtensionLink(t *testing.T) {
	testutil.RequireBPF(t)
	for _, name := range []string{"replace_snap", "watch_snap"} {
		t.Run(name, func(t *testing.T) {
			s := signObject(t, "subprog_bpfel.o", sealmap.Config{})
			var objs subprogObjects
			rep := s.load(t, &objs, nil)
			defer objs.Filter.Close()
			prog := attachTo(t, objs.Filter, name)
			var l link.Link
			var err error
			if prog.Type() == ebpf.Extension {
				l, err = link.AttachFreplace(nil, "", prog)
			} else {
				l, err = link.AttachTracing(link.TracingOptions{Program: prog})
			}
			if err != nil {
				t.Fatalf("attach %s: %v", name, err)
			}
			defer l.Close()
			info, err := l.Info()
			if err != nil {
				t.Fatal(err)
			}
			want := "tracing link id " + itoa(uint32(info.ID))
			v := agree(t, &objs, rep, s, wantAll(bpfsigned.BadSig, "subprog_filter"), want)
			for view, text := range map[string]string{"recheck": v["subprog_filter"].recheckText, "audit": v["subprog_filter"].auditText, "prog verify --all": v["subprog_filter"].cliText} {
				for _, part := range []string{name[:min(len(name), 15)], "verdict: UNSIGNED", "program id " + itoa(progID(t, prog))} {
					if !strings.Contains(text, part) {
						t.Errorf("%s does not mention %q: %s", view, part, text)
					}
				}
			}
		})
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// TestAuditFullDigest: a signed program whose digest equals the kernel's
// on the tag's 64 bits but differs in the other 192 (what a second
// preimage or a collision on the tag would give) is OK for a comparison
// that rests on the tag, and BADSIG for the full-digest backend, which the
// audit uses where the kernel keeps the whole SHA-256 and lets a bpf_prog
// iterator read it.
func TestAuditFullDigest(t *testing.T) {
	testutil.RequireBPF(t)
	if err := measure.FullDigestProbe(); err != nil {
		testutil.SkipWithout(t, testutil.FeatureFullDigest, err)
	}
	raw, err := os.ReadFile(testutil.Testdata("tailcall_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	m, plan, _, err := build.Measure(raw, build.Source{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Programs {
		d := []byte(m.Programs[i].Digest)
		d[len(d)-1] ^= 1 // beyond the tag: still equal on 64 bits
		m.Programs[i].Digest = string(d)
	}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sg, _ := signing.FromPrivateKey(key)
	env, err := sg.Sign(context.Background(), attest.NewStatement("tailcall_bpfel.o", raw, m))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := attest.MarshalPublicKey(key.Public())
	dir := t.TempDir()
	for f, b := range map[string][]byte{"tailcall_bpfel.o": raw, "tailcall_bpfel.o" + attest.Suffix: env, "key.pub": pub} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("tailcall_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	coll, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	trust, err := audit.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	trust.FullDigest = true
	r, err := trust.ProgramID(progID(t, coll.Programs["tail_entry"]))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ms := range r.Mismatches {
		found = found || ms.Field == "digest(sha256)"
	}
	if r.Verdict != bpfsigned.BadSig || !found || r.TagBits != 256 {
		t.Fatalf("a digest equal on the tag only: verdict %s, tag_bits %d, mismatches %+v", r.Verdict, r.TagBits, r.Mismatches)
	}
}
