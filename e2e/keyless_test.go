package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

const ciIdentity = "issuer=" + fakesigstore.GitHubIssuer + ";identity=" + fakesigstore.DefaultIdent + ";github_workflow_repository=" + fakesigstore.DefaultRepo

// TestKeylessWorkflow is the keyless release pipeline with a local fake
// Sigstore standing in for cosign and the public instance: go generate
// with -trust-identity and a pinned trusted root writes an unsigned
// placeholder bundle (UNSIGNED); "statement ./..." writes the statement;
// the fake Sigstore signs it into X.o.sigstore.json as cosign attest-blob
// would; the rebuilt binary verifies it offline (OK); go generate again
// keeps the bundle; "verify --identity" accepts it; a bundle signed by
// another workflow is refused with no fd left open.
func TestKeylessWorkflow(t *testing.T) {
	testutil.HostOnly(t, "go generate and go build of user modules")
	testutil.RequireBPF(t)
	testutil.RequireTool(t, "clang-19", "llvm-strip-19")
	s := fakesigstore.New()
	dir := userModule(t, `-trust-identity "`+ciIdentity+`" -trusted-root trusted_root.json`)
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), s.TrustedRoot(), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"GOFLAGS=-mod=mod"}
	tool := []string{"run", "github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed"}
	run(t, dir, env, "go", "generate", "./...")
	// Generated with -trust-identity: the loader links the keyless
	// verifier (key-signed loaders do not, see TestUserWorkflow).
	if deps := linked(t, dir, env); !slices.Contains(deps, "github.com/bpf2go-signed/bpf2go-signed/attest/keyless") {
		t.Errorf("the loader generated with -trust-identity does not link attest/keyless: %v", deps)
	}
	bin := filepath.Join(dir, "filter")
	run(t, dir, env, "go", "build", "-o", bin, ".")
	r, code := runBinary(t, bin)
	if code != 3 || r.Report.Verdict != "UNSIGNED" || !strings.Contains(r.Error, "cosign attest-blob") {
		t.Fatalf("unsigned build: exit %d, verdict %s, error %q", code, r.Report.Verdict, r.Error)
	}

	out := run(t, dir, env, "go", append(tool, "statement", "./...")...)
	if !strings.Contains(string(out), "cosign attest-blob --statement") {
		t.Fatalf("statement: %s", out)
	}
	statement, err := os.ReadFile(filepath.Join(dir, "bpf_bpfel.o.statement.json"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bpf_bpfel.o.sigstore.json")
	sign := func(o fakesigstore.Options) {
		if err := os.WriteFile(bundle, s.Sign(attest.PayloadType, statement, o), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, dir, env, "go", "build", "-o", bin, ".")
	}
	sign(fakesigstore.Options{})
	r, code = runBinary(t, bin)
	if code != 0 || r.Report.Verdict != "OK" || len(r.FDsAfter) != len(r.FDsBefore) {
		t.Fatalf("keyless build: exit %d, verdict %s, error %s", code, r.Report.Verdict, r.Error)
	}

	signed, _ := os.ReadFile(bundle)
	run(t, dir, env, "go", "generate", "./...")
	if again, _ := os.ReadFile(bundle); !bytes.Equal(again, signed) {
		t.Error("go generate replaced a valid bundle over the same statement")
	}
	out = run(t, dir, env, "go", append(tool, "verify", "--identity", ciIdentity, "--trusted-root", "trusted_root.json", "bpf_bpfel.o")...)
	if !strings.Contains(string(out), "Verified OK") || !strings.Contains(string(out), fakesigstore.DefaultIdent) {
		t.Errorf("verify --identity: %s", out)
	}

	if cosign := cosignBinary(); cosign == "" {
		t.Log("cosign not installed: skipping the cosign cross-check of the keyless bundle")
	} else {
		// cosign verifies the same bundle offline with the same trusted
		// root (in a network namespace of its own: nothing leaves).
		cmd := exec.Command("unshare", "--net", cosign, "verify-blob-attestation", "--new-bundle-format",
			"--bundle", "bpf_bpfel.o.sigstore.json", "--trusted-root", "trusted_root.json",
			"--certificate-oidc-issuer", fakesigstore.GitHubIssuer, "--certificate-identity", fakesigstore.DefaultIdent,
			"--certificate-github-workflow-repository", fakesigstore.DefaultRepo,
			"--type", attest.PredicateType, "bpf_bpfel.o")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verified OK") {
			t.Fatalf("cosign verify-blob-attestation of the keyless bundle: %v\n%s", err, out)
		}
	}

	// Another workflow of the same repository signed: refused.
	sign(fakesigstore.Options{Identity: "https://github.com/acme/filters/.github/workflows/pr.yml@refs/pull/1/merge"})
	r, code = runBinary(t, bin)
	if code != 3 || r.Report.Verdict != "BADSIG" || !strings.Contains(r.Error, "identity: expected") || len(r.FDsAfter) != len(r.FDsBefore) {
		t.Fatalf("other workflow: exit %d, verdict %s, error %q, fds %d → %d", code, r.Report.Verdict, r.Error, len(r.FDsBefore), len(r.FDsAfter))
	}
	cmd := exec.Command("go", append(tool, "verify", "--identity", ciIdentity, "--trusted-root", "trusted_root.json", "bpf_bpfel.o")...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "certificate identity not trusted") {
		t.Errorf("verify --identity of another workflow: %v\n%s", err, out)
	}
}
