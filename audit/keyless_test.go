package audit_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
)

const ciIdentity = "# the release workflow\nissuer=" + fakesigstore.GitHubIssuer + ";identity=" + fakesigstore.DefaultIdent + "\n"

// keylessTrustDir holds the example's object, a bundle of the fake
// Sigstore over its statement (the one in its committed envelope), the
// fake trusted root and an identity file; no public key.
func keylessTrustDir(t testing.TB, s *fakesigstore.Sigstore, o fakesigstore.Options, identity string) string {
	t.Helper()
	dir := t.TempDir()
	obj, err := os.ReadFile(filepath.Join(exampleDir, "filter_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(exampleDir, "filter_bpfel.o.intoto.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := attest.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"filter_bpfel.o":                 obj,
		"filter_bpfel.o.sigstore.json":   s.Sign(attest.PayloadType, payload, o),
		audit.TrustedRootFile:            s.TrustedRoot(),
		"release" + audit.IdentitySuffix: []byte(identity),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestKeylessTrustDir: prog verify --trust DIR gives OK to a program whose
// manifest is signed keylessly by a trusted identity; a bundle of another
// identity or of an untrusted Sigstore is skipped, with the reason, and
// the program is then UNSIGNED.
func TestKeylessTrustDir(t *testing.T) {
	s, other := fakesigstore.New(), fakesigstore.New()
	dir := keylessTrustDir(t, s, fakesigstore.Options{}, ciIdentity)
	trust, err := audit.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(trust.Manifests) != 1 || !trust.Manifests[0].ObjectChecked || !strings.Contains(trust.Manifests[0].Signer, fakesigstore.DefaultIdent) {
		t.Fatalf("manifests %+v, skipped %v", trust.Manifests, trust.Skipped)
	}
	for name, d := range map[string]string{
		"another identity":   keylessTrustDir(t, s, fakesigstore.Options{Identity: "https://github.com/evil/x/.github/workflows/r.yml@refs/heads/main"}, ciIdentity),
		"untrusted Sigstore": keylessTrustDir(t, other, fakesigstore.Options{}, ciIdentity),
	} {
		if name == "untrusted Sigstore" {
			os.WriteFile(filepath.Join(d, audit.TrustedRootFile), s.TrustedRoot(), 0o644)
		}
		trust, err := audit.LoadTrustDir(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(trust.Manifests) != 0 || len(trust.Skipped) != 1 {
			t.Errorf("%s: manifests %d, skipped %v", name, len(trust.Manifests), trust.Skipped)
		}
	}
	// An identity without a trusted root, or a malformed one: refused.
	os.Remove(filepath.Join(dir, audit.TrustedRootFile))
	if _, err := audit.LoadTrustDir(dir); err == nil || !strings.Contains(err.Error(), audit.TrustedRootFile) {
		t.Errorf("no trusted root: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad"+audit.IdentitySuffix), []byte("issuer=https://x\n"), 0o644)
	if _, err := audit.LoadTrustDir(dir); err == nil {
		t.Error("identity without a subject accepted")
	}
	if _, err := audit.LoadTrustDir(t.TempDir()); !errors.Is(err, audit.ErrNoKeys) {
		t.Errorf("empty: %v", err)
	}

	// prog verify, from another process, on the example loaded here.
	testutil.RequireBPF(t)
	spec, plan := exampleSpec(t)
	coll, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	id := strconv.Itoa(int(progID(t, coll.Programs["port_filter"])))
	for _, tt := range []struct {
		name, dir, verdict string
		code               int
	}{
		{"keyless", keylessTrustDir(t, s, fakesigstore.Options{}, ciIdentity), "OK", 0},
		{"keyless rekor v2", keylessTrustDir(t, s, fakesigstore.Options{RekorV2: true}, ciIdentity), "OK", 0},
		{"another identity", keylessTrustDir(t, s, fakesigstore.Options{Issuer: "https://accounts.example"}, ciIdentity), "UNSIGNED", 1},
		{"forged SCT", keylessTrustDir(t, s, fakesigstore.Options{ForgeSCT: true}, ciIdentity), "UNSIGNED", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLI(t, "prog", "verify", "--trust", tt.dir, "-j", "id", id)
			var doc struct {
				Trust    audit.Trust    `json:"trust"`
				Programs []audit.Result `json:"programs"`
			}
			if err := json.Unmarshal(out, &doc); err != nil || len(doc.Programs) != 1 {
				t.Fatalf("output %q: %v", out, err)
			}
			res := doc.Programs
			if doc.Trust.Identities != 1 || doc.Trust.Bundles != 1 {
				t.Errorf("trust %+v", doc.Trust)
			}
			if string(res[0].Verdict) != tt.verdict || code != tt.code {
				t.Fatalf("verdict %s exit %d, want %s exit %d", res[0].Verdict, code, tt.verdict, tt.code)
			}
			if tt.verdict == "OK" && res[0].Manifest != "filter_bpfel.o.sigstore.json#port_filter" {
				t.Errorf("manifest %q", res[0].Manifest)
			}
		})
	}
}
