package audit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

func runCLI(t testing.TB, args ...string) ([]byte, int) {
	t.Helper()
	bin, err := cli()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.Bytes(), code
}

// TestAuditFromAnotherProcess loads programs here and audits them with the
// command line tool, another process: the verified example is OK, a
// modified one BADSIG, an unsealed one BADSIG, an unknown one UNSIGNED.
func TestAuditFromAnotherProcess(t *testing.T) {
	testutil.RequireBPF(t)
	dir := trustDir(t)

	// The example, loaded and sealed like its generated loader does.
	spec, plan := exampleSpec(t)
	good, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()

	// The same program with one instruction changed.
	spec, plan = exampleSpec(t)
	p := spec.Programs["port_filter"]
	for i, ins := range p.Instructions {
		if ins.OpCode.Class().IsALU() && ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource && ins.Constant == 2 {
			p.Instructions[i].Constant = 1 // XDP_PASS instead of XDP_DROP
			break
		}
	}
	modified, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer modified.Close()

	// The same program, its input map left unsealed.
	spec, _ = exampleSpec(t)
	unsealed, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer unsealed.Close()

	other, err := ebpf.LoadCollection(testutil.Testdata("socket_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

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
		{"modified instruction", []string{"id", strconv.Itoa(int(progID(t, modified.Programs["port_filter"])))}, bpfsigned.BadSig, 1, "tag(sha256)"},
		{"input map not sealed", []string{"id", strconv.Itoa(int(progID(t, unsealed.Programs["port_filter"])))}, bpfsigned.BadSig, 1, "maps[1](blocked_ports).frozen"},
		{"unknown program", []string{"id", strconv.Itoa(int(progID(t, other.Programs["socket_count"])))}, bpfsigned.Unsigned, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"prog", "verify", "--trust", dir, "-j"}, tt.args...)...)
			var res []struct {
				ID         uint32 `json:"id"`
				Name       string `json:"name"`
				Tag        string `json:"tag"`
				Verdict    string `json:"verdict"`
				Mismatches []struct{ Field string }
			}
			if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
				t.Fatalf("output %q: %v", out, err)
			}
			r := res[0]
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
	var all []audit.Result
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatalf("--all output %q: %v", out, err)
	}
	seen := map[uint32]bpfsigned.Verdict{}
	for _, r := range all {
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
	trust, err = audit.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(trust.Manifests) != 0 || len(trust.Skipped) != 2 {
		t.Fatalf("manifests %d, skipped %v", len(trust.Manifests), trust.Skipped)
	}
}
