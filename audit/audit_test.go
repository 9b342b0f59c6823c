package audit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

var exampleDir = filepath.Join(testutil.Root(), "examples", "xdp")

// trustDir holds the example's object, its signed envelope and demo.pub.
func trustDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"filter_bpfel.o", "filter_bpfel.o.intoto.json", "demo.pub"} {
		b, err := os.ReadFile(filepath.Join(exampleDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func exampleSpec(t testing.TB) (*ebpf.CollectionSpec, *sealmap.Plan) {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(filepath.Join(exampleDir, "filter_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(exampleDir, "filter_bpfel.o.seal.json"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sealmap.DecodePlan(raw, spec)
	if err != nil {
		t.Fatal(err)
	}
	return spec, plan
}

func progID(t testing.TB, p *ebpf.Program) uint32 {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

// cli builds the command line tool once per test binary.
var cli = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bpf2go-signed-cli")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bpf2go-signed")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bpf2go-signed")
	cmd.Dir = testutil.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
})

// nodeCLI builds bpf2go-signed-node once per test binary.
var nodeCLI = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bpf2go-signed-node")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bpf2go-signed-node")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bpf2go-signed-node")
	cmd.Dir = testutil.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
})

// runBin runs an executable and returns its stdout, stderr and exit
// status.
func runBin(t testing.TB, bin string, args ...string) ([]byte, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.Bytes(), stderr.String(), code
}

func runCLI(t testing.TB, args ...string) ([]byte, int) {
	t.Helper()
	out, _, code := runCLIErr(t, args...)
	return out, code
}

func runCLIErr(t testing.TB, args ...string) ([]byte, string, int) {
	t.Helper()
	bin, err := cli()
	if err != nil {
		t.Fatal(err)
	}
	return runBin(t, bin, args...)
}

// TestNodeToolMatchesCLI: bpf2go-signed-node and bpf2go-signed give the
// same output and exit status for the node commands, on programs and maps
// loaded here (OK, BADSIG, UNSIGNED, a map, a frozen map's hash), for a
// program that is not there and for usage errors; their messages differ
// only in the tool's name.
func TestNodeToolMatchesCLI(t *testing.T) {
	testutil.RequireBPF(t)
	full, err := cli()
	if err != nil {
		t.Fatal(err)
	}
	node, err := nodeCLI()
	if err != nil {
		t.Fatal(err)
	}
	dir := trustDir(t)
	good, _, unsealed, other := loadCases(t)

	id := func(p *ebpf.Program) string { return strconv.Itoa(int(progID(t, p))) }
	var sealed string
	for _, m := range good.Maps {
		if info, err := m.Info(); err == nil && info.Frozen() {
			mid, _ := info.ID()
			sealed = strconv.Itoa(int(mid))
		}
	}
	if sealed == "" {
		t.Fatal("the sealed example has no frozen map")
	}
	ours := map[float64]bool{}
	for _, c := range []*ebpf.Collection{good, unsealed, other} {
		for _, m := range c.Maps {
			if info, err := m.Info(); err == nil {
				mid, _ := info.ID()
				ours[float64(mid)] = true
			}
		}
	}
	lines := [][]string{
		{"prog", "verify", "--trust", dir, "id", id(good.Programs["port_filter"]), "-j"},
		{"prog", "verify", "--trust", dir, "id", id(good.Programs["port_filter"])},
		{"prog", "verify", "--trust", dir, "id", id(unsealed.Programs["port_filter"]), "-p"},
		{"prog", "verify", "--trust", dir, "id", id(other.Programs["socket_count"]), "--accept", "OK,UNSIGNED"},
		{"prog", "verify", "--trust", dir, "id", "4294967295"},
		{"prog", "show", "id", id(good.Programs["port_filter"]), "-j"},
		{"prog", "show", "id", id(good.Programs["port_filter"])},
		{"prog", "measure", "id", id(good.Programs["port_filter"]), "-j"},
		{"prog", "measure", "id", id(good.Programs["port_filter"])},
		{"map", "show", "id", sealed, "-j"},
		{"map", "hash", "id", sealed},
		{"map", "verify", "--trust", dir, "--all", "-j", "--accept", "OK,PARTIAL,UNSIGNED,BADSIG"},
		{"prog", "verify", "--all"},
		{"prog", "verify", "--trust"},
		{"prog", "shwo"},
		{"map", "hash", "id", "x"},
		{"prog", "verify", "-h"},
	}
	codes := map[int]bool{}
	for _, args := range lines {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			fo, fe, fc := runBin(t, full, args...)
			codes[fc] = true
			no, ne, nc := runBin(t, node, args...)
			// Help names the tool it comes from.
			no = bytes.ReplaceAll(no, []byte("bpf2go-signed-node"), []byte("bpf2go-signed"))
			if args[0] == "map" && slices.Contains(args, "--all") {
				// Other processes (the tests of other packages) create
				// and remove maps between the two runs: compare the
				// verdicts on this test's maps.
				fo, no = ownMaps(t, fo, ours), ownMaps(t, no, ours)
			}
			if fc != nc || !bytes.Equal(fo, no) {
				t.Fatalf("bpf2go-signed: exit %d\n%s\nbpf2go-signed-node: exit %d\n%s", fc, fo, nc, no)
			}
			if strings.ReplaceAll(ne, "bpf2go-signed-node", "bpf2go-signed") != fe {
				t.Errorf("stderr differs:\n%s\n%s", fe, ne)
			}
		})
	}
	if !codes[0] || !codes[1] || !codes[2] {
		t.Errorf("exit statuses seen %v: want 0, 1 and 2 among the cases", codes)
	}
}

// ownMaps keeps, of the JSON output of "map verify --all -j" (every
// struct_ops map of the host), the trust directory and the results on the
// maps whose ids are in ours.
func ownMaps(t *testing.T, out []byte, ours map[float64]bool) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("map verify --all -j: %v\n%s", err, out)
	}
	all, _ := doc["maps"].([]any)
	kept := []any{}
	for _, m := range all {
		if e, ok := m.(map[string]any); ok && ours[e["id"].(float64)] {
			kept = append(kept, m)
		}
	}
	doc["maps"] = kept
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadCases loads the example sealed as its loader does (OK), the same
// with one instruction changed and with its input map left unsealed
// (both BADSIG), and a program no envelope covers (UNSIGNED). They are
// closed when the test ends.
func loadCases(t *testing.T) (good, modified, unsealed, other *ebpf.Collection) {
	t.Helper()
	load := func(c *ebpf.Collection, err error) *ebpf.Collection {
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	spec, plan := exampleSpec(t)
	good = load(sealmap.LoadCollection(spec, plan, nil))

	spec, plan = exampleSpec(t)
	p := spec.Programs["port_filter"]
	for i, ins := range p.Instructions {
		if ins.OpCode.Class().IsALU() && ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource && ins.Constant == 2 {
			p.Instructions[i].Constant = 1 // XDP_PASS instead of XDP_DROP
			break
		}
	}
	modified = load(sealmap.LoadCollection(spec, plan, nil))

	spec, _ = exampleSpec(t)
	unsealed = load(ebpf.NewCollection(spec))
	other = load(ebpf.LoadCollection(testutil.Testdata("socket_bpfel.o")))
	return good, modified, unsealed, other
}

// TestAuditFromAnotherProcess loads programs here and audits them with the
// command line tool, another process: the verified example is OK, a
// modified one BADSIG, an unsealed one BADSIG, an unknown one UNSIGNED.
func TestAuditFromAnotherProcess(t *testing.T) {
	testutil.RequireBPF(t)
	dir := trustDir(t)

	good, modified, unsealed, other := loadCases(t)

	pin := filepath.Join(testutil.BPFFS(t), "port_filter")
	if err := good.Programs["port_filter"].Pin(pin); err != nil {
		t.Fatalf("pin: %v", err)
	}
	defer os.Remove(pin)

	tests := []struct {
		name    string
		args    []string
		verdict bpfsigned.Verdict
		code    int
		field   string
	}{
		{"verified", []string{"id", strconv.Itoa(int(progID(t, good.Programs["port_filter"])))}, bpfsigned.OK, 0, ""},
		{"pinned", []string{"pinned", pin}, bpfsigned.OK, 0, ""},
		{"modified instruction", []string{"id", strconv.Itoa(int(progID(t, modified.Programs["port_filter"])))}, bpfsigned.BadSig, 1, "tag(" + testutil.TagAlgorithm(t) + ")"},
		{"input map not sealed", []string{"id", strconv.Itoa(int(progID(t, unsealed.Programs["port_filter"])))}, bpfsigned.BadSig, 1, "maps[1](blocked_ports).frozen"},
		{"unknown program", []string{"id", strconv.Itoa(int(progID(t, other.Programs["socket_count"])))}, bpfsigned.Unsigned, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"prog", "verify", "--trust", dir, "-j"}, tt.args...)...)
			var res struct {
				Programs []struct {
					ID         uint32 `json:"id"`
					Name       string `json:"name"`
					Tag        string `json:"tag"`
					Verdict    string `json:"verdict"`
					Mismatches []struct{ Field string }
				}
			}
			if err := json.Unmarshal(out, &res); err != nil || len(res.Programs) != 1 {
				t.Fatalf("output %q: %v", out, err)
			}
			r := res.Programs[0]
			if r.Verdict != string(tt.verdict) || code != tt.code || r.ID == 0 || r.Name == "" || len(r.Tag) != 16 {
				t.Fatalf("got %+v (exit %d), want verdict %s exit %d", r, code, tt.verdict, tt.code)
			}
			if tt.field != "" {
				found := false
				for _, m := range r.Mismatches {
					found = found || m.Field == tt.field
				}
				if !found {
					t.Errorf("mismatches %+v do not name %s", r.Mismatches, tt.field)
				}
			}
		})
	}

	// --all lists every program on the host, ours among them.
	out, code := runCLI(t, "prog", "verify", "--all", "--trust", dir, "-j")
	var all struct{ Programs []audit.Result }
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatalf("--all output %q: %v", out, err)
	}
	seen := map[uint32]bpfsigned.Verdict{}
	for _, r := range all.Programs {
		seen[r.ID] = r.Verdict
	}
	if seen[progID(t, good.Programs["port_filter"])] != bpfsigned.OK || seen[progID(t, modified.Programs["port_filter"])] != bpfsigned.BadSig || code != 1 {
		t.Errorf("--all: exit %d, verdicts %v", code, seen)
	}
	// The table form.
	table, _ := runCLI(t, "prog", "verify", "--trust", dir, "id", strconv.Itoa(int(progID(t, good.Programs["port_filter"]))))
	if !bytes.Contains(table, []byte("VERDICT")) || !bytes.Contains(table, []byte("filter_bpfel.o.intoto.json#port_filter")) {
		t.Errorf("table output:\n%s", table)
	}
}

// TestAuditProgramsDisappearing: programs unloaded while --all scans are
// left out; the scan itself does not fail.
func TestAuditProgramsDisappearing(t *testing.T) {
	testutil.RequireBPF(t)
	trust, err := audit.LoadTrustDir(trustDir(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, License: "MIT",
				Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 7), asm.Return()}})
			if err == nil {
				p.Close()
			}
		}
	}()
	for range 50 {
		if _, err := trust.All(); err != nil {
			t.Errorf("scan failed while programs come and go: %v", err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

func TestTrustDir(t *testing.T) {
	dir := trustDir(t)
	trust, err := audit.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(trust.Manifests) != 1 || !trust.Manifests[0].ObjectChecked {
		t.Fatalf("manifests %+v skipped %v", trust.Manifests, trust.Skipped)
	}
	verified := trust.Manifests[0]
	if _, err := verified.LoadSpec(); err != nil {
		t.Fatalf("the verified object, read again for CO-RE: %v", err)
	}
	// Without keys: refused.
	empty := t.TempDir()
	if _, err := audit.LoadTrustDir(empty); !errors.Is(err, audit.ErrNoKeys) {
		t.Errorf("no keys: %v", err)
	}
	// An envelope signed by another key, and one whose object differs:
	// skipped, with the reason.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := signing.FromPrivateKey(key)
	obj, _ := os.ReadFile(filepath.Join(dir, "filter_bpfel.o"))
	spec, _ := ebpf.LoadCollectionSpec(filepath.Join(dir, "filter_bpfel.o"))
	m, _ := measure.Collection(spec)
	env, err := s.Sign(context.Background(), attest.NewStatement("x.o", obj, m))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "x.o.intoto.json"), env, 0o644)
	os.WriteFile(filepath.Join(dir, "filter_bpfel.o"), append(obj, 0), 0o644)
	// The object read again after its envelope was verified (for CO-RE
	// relocations) must still be the verified one.
	if _, err := verified.LoadSpec(); err == nil || !strings.Contains(err.Error(), "changed after it was verified") {
		t.Errorf("an object replaced after it was verified: %v", err)
	}
	trust, err = audit.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The envelope signed by another key is skipped. The example's
	// envelope is still trusted: its subject is no longer in the
	// directory, so the changed object is named in a warning.
	if len(trust.Manifests) != 1 || trust.Manifests[0].ObjectChecked || len(trust.Skipped) != 1 || !strings.Contains(trust.Skipped[0], "x.o.intoto.json") {
		t.Fatalf("manifests %+v, skipped %v", trust.Manifests, trust.Skipped)
	}
	if len(trust.Warnings) != 1 || !strings.Contains(trust.Warnings[0], "filter_bpfel.o: no trusted envelope is about this object") {
		t.Errorf("warnings %q", trust.Warnings)
	}
}

// copyFile copies src to dst, making dst's directory.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// signInto measures and signs an object with key and writes the object and
// its envelope (named name) into dir.
func signInto(t testing.TB, s *signing.Signer, obj []byte, name, dir string, targets []measure.Target) {
	t.Helper()
	m, _, _, err := build.Measure(obj, build.Source{}, targets)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Sign(context.Background(), attest.NewStatement(name, obj, m))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), obj, 0o644)
	os.WriteFile(filepath.Join(dir, name+attest.Suffix), env, 0o644)
}

// TestTrustDirLayout: the trust directory is walked recursively and
// envelopes are matched to objects by the signed subject digest, so
// envelopes of the same name in different subdirectories (every cilium
// example's ident is "bpf") are all trusted, each with its own object;
// envelopes of big-endian objects are set aside on a little-endian host;
// a directory without envelopes says so.
func TestTrustDirLayout(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := signing.FromPrivateKey(key)
	pub, _ := attest.MarshalPublicKey(key.Public())
	dir := t.TempDir()
	copyFile(t, filepath.Join(exampleDir, "demo.pub"), filepath.Join(dir, "keys", "demo.pub"))
	os.WriteFile(filepath.Join(dir, "keys", "release.pub"), pub, 0o644)
	for _, sub := range []string{"socket", "xdp", "tracepoint"} {
		obj, err := os.ReadFile(testutil.Testdata(sub + "_bpfel.o"))
		if err != nil {
			t.Fatal(err)
		}
		signInto(t, s, obj, "bpf_bpfel.o", filepath.Join(dir, "examples", sub), nil)
	}
	// A big-endian object and its envelope.
	be, _ := os.ReadFile(testutil.Testdata("socket_bpfeb.o"))
	signInto(t, s, be, "bpf_bpfeb.o", filepath.Join(dir, "examples", "socket"), nil)
	// The example's envelope alone, without its object.
	copyFile(t, filepath.Join(exampleDir, "filter_bpfel.o.intoto.json"), filepath.Join(dir, "xdp", "filter_bpfel.o.intoto.json"))

	trust, err := audit.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if trust.Keys != 2 || trust.Envelopes != 5 || len(trust.Skipped) != 0 || len(trust.Warnings) != 0 {
		t.Fatalf("keys %d envelopes %d skipped %q warnings %q", trust.Keys, trust.Envelopes, trust.Skipped, trust.Warnings)
	}
	host := "little-endian"
	if measure.NativeOrder == binary.BigEndian {
		host = "big-endian"
	}
	objects := map[string]bool{}
	for _, m := range trust.Manifests {
		if m.ByteOrder != host {
			t.Errorf("%s: byte order %q on a %s host", m.File, m.ByteOrder, host)
		}
		if m.File == filepath.Join("xdp", "filter_bpfel.o.intoto.json") {
			if m.ObjectChecked {
				t.Errorf("%s: object checked, but it is not in the directory", m.File)
			}
			continue
		}
		if !m.ObjectChecked || filepath.Dir(m.Object) != filepath.Dir(m.File) {
			t.Errorf("%s: matched with object %q", m.File, m.Object)
		}
		objects[m.Object] = true
	}
	if host == "little-endian" {
		if len(trust.Manifests) != 4 || len(objects) != 3 {
			t.Errorf("manifests %d (objects %v), want 4 with 3 objects", len(trust.Manifests), objects)
		}
		if len(trust.OtherByteOrder) != 1 || !strings.Contains(trust.OtherByteOrder[0], "bpf_bpfeb.o") {
			t.Errorf("other byte order: %q", trust.OtherByteOrder)
		}
	}

	// No envelopes: a warning, in the CLI's JSON too, and on stderr.
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "release.pub"), pub, 0o644)
	trust, err = audit.LoadTrustDir(empty)
	if err != nil {
		t.Fatal(err)
	}
	if trust.Envelopes != 0 || len(trust.Warnings) != 1 || !strings.Contains(trust.Warnings[0], "no signed envelope") {
		t.Errorf("empty trust directory: envelopes %d warnings %q", trust.Envelopes, trust.Warnings)
	}
	testutil.RequireBPF(t)
	out, stderr, _ := runCLIErr(t, "prog", "verify", "--all", "--trust", empty, "-j")
	var rep struct {
		Trust struct {
			Envelopes *int     `json:"envelopes"`
			Warnings  []string `json:"warnings"`
		} `json:"trust"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || rep.Trust.Envelopes == nil || *rep.Trust.Envelopes != 0 || len(rep.Trust.Warnings) != 1 {
		t.Errorf("JSON does not report the empty trust directory: %s (%v)", out, err)
	}
	if !strings.Contains(stderr, "warning: no signed envelope") {
		t.Errorf("stderr does not warn: %q", stderr)
	}
}

// TestAuditPartial: a CO-RE program signed without a target for this
// kernel, loaded by the verified loader (PARTIAL) and audited with the
// object and its envelope in the trust directory: the same verdict and the
// same CO-RE sites; with the envelope alone, BADSIG with a hint. An
// envelope of the same program's big-endian build is never the match.
func TestAuditPartial(t *testing.T) {
	testutil.RequireBPF(t)
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := signing.FromPrivateKey(key)
	pub, _ := attest.MarshalPublicKey(key.Public())
	obj, err := os.ReadFile(testutil.Testdata("corerel_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cosign.pub"), pub, 0o644)
	signInto(t, s, obj, "corerel_bpfel.o", filepath.Join(dir, "corerel"), nil)

	// The loader's verdict.
	env, _ := os.ReadFile(filepath.Join(dir, "corerel", "corerel_bpfel.o"+attest.Suffix))
	_, plan, _, err := build.Measure(obj, build.Source{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &bpfsigned.Object{Name: "corerel_bpfel.o", ELF: obj, Envelope: env, Plan: plan.Encode(), TrustedKeys: []string{string(pub)}}
	var objs struct {
		Probe *ebpf.Program `ebpf:"corerel_probe"`
	}
	rep, err := bpfsigned.Load(o, &objs, &bpfsigned.LoadOptions{Policy: &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer objs.Probe.Close()
	if rep.Verdict != bpfsigned.Partial {
		t.Fatalf("the loader's verdict is %s, this test needs PARTIAL:\n%s", rep.Verdict, rep)
	}
	id := strconv.Itoa(int(progID(t, objs.Probe)))

	type result struct {
		Verdict     string
		Manifest    string
		Hint        string
		Relocations []measure.Fixup
	}
	verify := func(args ...string) (result, int) {
		t.Helper()
		out, code := runCLI(t, append([]string{"prog", "verify", "id", id, "--trust", dir, "-j"}, args...)...)
		var res struct{ Programs []result }
		if err := json.Unmarshal(out, &res); err != nil || len(res.Programs) != 1 {
			t.Fatalf("output %q: %v", out, err)
		}
		return res.Programs[0], code
	}
	r, code := verify()
	if r.Verdict != "PARTIAL" || code != 1 {
		t.Fatalf("audit: %+v exit %d, want PARTIAL refused by the default --accept OK", r, code)
	}
	if fmt.Sprint(r.Relocations) != fmt.Sprint(rep.Programs[0].Relocations) {
		t.Errorf("audit lists CO-RE sites %v, the loader %v", r.Relocations, rep.Programs[0].Relocations)
	}
	if r, code := verify("--accept", "OK,PARTIAL"); r.Verdict != "PARTIAL" || code != 0 {
		t.Errorf("--accept OK,PARTIAL: %+v exit %d", r, code)
	}

	// A big-endian build's envelope next to it is never the match.
	be := append([]byte{}, obj...)
	be[5] = 2 // ELFDATA2MSB: only the header is read to tell the byte order
	m, _, _, _ := build.Measure(obj, build.Source{}, nil)
	beEnv, _ := s.Sign(context.Background(), attest.NewStatement("corerel_bpfeb.o", be, m))
	os.WriteFile(filepath.Join(dir, "corerel", "corerel_bpfeb.o"), be, 0o644)
	os.WriteFile(filepath.Join(dir, "corerel", "corerel_bpfeb.o"+attest.Suffix), beEnv, 0o644)
	if r, _ := verify(); r.Verdict != "PARTIAL" || strings.Contains(r.Manifest, "bpfeb") {
		t.Errorf("with a big-endian envelope present: %+v", r)
	}

	// The envelope alone: BADSIG, saying the object is needed.
	os.Remove(filepath.Join(dir, "corerel", "corerel_bpfel.o"))
	if r, code := verify("--accept", "OK,PARTIAL"); r.Verdict != "BADSIG" || code != 1 || !strings.Contains(r.Hint, "put its object") {
		t.Errorf("envelope alone: %+v exit %d", r, code)
	}
}

// TestAuditStructOps: struct_ops maps loaded by another loader (plain
// cilium/ebpf here) get a verdict from the trust directory: OK as signed;
// BADSIG, naming the member, with two programs swapped between members;
// UNSIGNED for a map no envelope measures.
func TestAuditStructOps(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireStructOpsLink(t, "tcp_congestion_ops")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := signing.FromPrivateKey(key)
	pub, _ := attest.MarshalPublicKey(key.Public())
	obj, err := os.ReadFile(testutil.Testdata("structops_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cosign.pub"), pub, 0o644)
	signInto(t, s, obj, "structops_bpfel.o", filepath.Join(dir, "cc"), nil)

	load := func(tamper func(*ebpf.CollectionSpec)) *ebpf.Collection {
		t.Helper()
		spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("structops_bpfel.o"))
		if err != nil {
			t.Fatal(err)
		}
		if tamper != nil {
			tamper(spec)
		}
		coll, err := ebpf.NewCollection(spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(coll.Close)
		return coll
	}
	mapID := func(m *ebpf.Map) string {
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := info.ID()
		return strconv.Itoa(int(id))
	}
	good := load(nil)
	swapped := load(func(spec *ebpf.CollectionSpec) {
		a, b := spec.Programs["signed_ssthresh"], spec.Programs["signed_undo_cwnd"]
		a.AttachTo, b.AttachTo = b.AttachTo, a.AttachTo
	})
	renamed := load(func(spec *ebpf.CollectionSpec) {
		ms := spec.Maps["signed_cc"]
		delete(spec.Maps, "signed_cc")
		ms.Name = "other_cc"
		spec.Maps["other_cc"] = ms
	})
	for _, tt := range []struct {
		name    string
		m       *ebpf.Map
		verdict string
		code    int
		field   string
	}{
		{"as signed", good.Maps["signed_cc"], "OK", 0, ""},
		{"programs swapped", swapped.Maps["signed_cc"], "BADSIG", 1, "struct_ops(signed_cc).ssthresh"},
		{"not signed", renamed.Maps["other_cc"], "UNSIGNED", 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLI(t, "map", "verify", "id", mapID(tt.m), "--trust", dir, "-j")
			var rep struct {
				Maps []audit.MapResult `json:"maps"`
			}
			if err := json.Unmarshal(out, &rep); err != nil || len(rep.Maps) != 1 {
				t.Fatalf("output %q: %v", out, err)
			}
			r := rep.Maps[0]
			if string(r.Verdict) != tt.verdict || code != tt.code {
				t.Fatalf("%+v exit %d, want %s exit %d", r, code, tt.verdict, tt.code)
			}
			if tt.field != "" && (len(r.Mismatches) == 0 || r.Mismatches[0].Field != tt.field) {
				t.Errorf("mismatches %+v do not name %s", r.Mismatches, tt.field)
			}
		})
	}
	// --all finds ours among the host's struct_ops maps.
	out, _ := runCLI(t, "map", "verify", "--all", "--trust", dir, "-j")
	var all struct{ Maps []audit.MapResult }
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, r := range all.Maps {
		seen[strconv.Itoa(int(r.ID))] = string(r.Verdict)
	}
	if seen[mapID(good.Maps["signed_cc"])] != "OK" || seen[mapID(swapped.Maps["signed_cc"])] != "BADSIG" {
		t.Errorf("--all: %v", seen)
	}
}

// A Kubernetes ConfigMap volume keeps each version in a hidden
// "..<timestamp>" directory and publishes it through links at the top:
// every file is read once, through the links, and hidden folders such as
// .git are not part of the trust.
func TestTrustDirConfigMap(t *testing.T) {
	dir := t.TempDir()
	version := filepath.Join(dir, "..2026_11_28_20_00_00.1")
	copyFile(t, filepath.Join(exampleDir, "demo.pub"), filepath.Join(version, "demo.pub"))
	copyFile(t, filepath.Join(exampleDir, "filter_bpfel.o.intoto.json"), filepath.Join(version, "filter_bpfel.o.intoto.json"))
	copyFile(t, filepath.Join(exampleDir, "filter_bpfel.o.intoto.json"), filepath.Join(dir, ".git", "filter_bpfel.o.intoto.json"))
	if err := os.Symlink(filepath.Base(version), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"demo.pub", "filter_bpfel.o.intoto.json"} {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	trust, err := audit.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if trust.Keys != 1 || trust.Envelopes != 1 || len(trust.Manifests) != 1 || len(trust.Skipped) != 0 {
		t.Fatalf("keys %d envelopes %d manifests %d skipped %q, want each file once", trust.Keys, trust.Envelopes, len(trust.Manifests), trust.Skipped)
	}
	if got := trust.Manifests[0].File; got != "filter_bpfel.o.intoto.json" {
		t.Errorf("manifest read from %q, want the published link", got)
	}
}
