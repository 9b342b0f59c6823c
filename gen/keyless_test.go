package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestKeylessFlags: -trust-identity needs a trusted root and a valid
// identity; -trusted-root alone is refused.
func TestKeylessFlags(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "trusted_root.json")
	os.WriteFile(root, fakesigstore.New().TrustedRoot(), 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	id := "issuer=https://token.actions.githubusercontent.com;identity-regexp=https://github.com/acme/.*"
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-trust-identity", id, "-trusted-root", root}, ""},
		{[]string{"-trust-identity", id}, "needs -trusted-root"},
		{[]string{"-trusted-root", root}, "without -trust-identity"},
		{[]string{"-trust-identity", "issuer=https://x", "-trusted-root", root}, "identity"},
		{[]string{"-trust-identity", id, "-trusted-root", bad}, "at least one"},
	} {
		c, err := Parse(append(tc.args, "bpf", "x.c"), func(k string) (string, bool) { return map[string]string{"GOPACKAGE": "p"}[k], k == "GOPACKAGE" }, nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := loadKeyless(c)
		if tc.err == "" {
			if err != nil || k == nil || len(k.identities) != 1 {
				t.Errorf("%v: %v", tc.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: got %v, want an error about %q", tc.args, err, tc.err)
		}
	}
}

// TestWriteKeyless: the placeholder bundle carries the statement; a bundle
// over the same statement is kept, one over another is replaced.
func TestWriteKeyless(t *testing.T) {
	s := fakesigstore.New()
	k := &keylessExtras{identities: []string{"x"}, root: s.TrustedRoot()}
	obj := filepath.Join(t.TempDir(), "x.o")
	m := &measure.Manifest{Version: measure.Version, Programs: []measure.Program{{Name: "p", Type: 6, Insns: 2,
		InsnDigest: measure.DigestInstructions(make([]byte, 16), nil), Maps: []measure.Map{}}}}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	st := attest.NewStatement("x.o", []byte("x"), m)
	if _, _, err := writeKeyless(k, obj, st); err != nil {
		t.Fatal(err)
	}
	ph, _ := os.ReadFile(obj + keyless.Suffix)
	if got, err := keyless.Placeholder(ph); err != nil || got.Subject[0].Digest["sha256"] != st.Subject[0].Digest["sha256"] {
		t.Fatalf("placeholder: %v", err)
	}
	payload, _ := st.Marshal()
	signed := s.Sign(attest.PayloadType, payload, fakesigstore.Options{})
	os.WriteFile(obj+keyless.Suffix, signed, 0o644)
	writeKeyless(k, obj, st)
	if again, _ := os.ReadFile(obj + keyless.Suffix); string(again) != string(signed) {
		t.Error("valid bundle replaced")
	}
	other := attest.NewStatement("x.o", []byte("y"), m)
	writeKeyless(k, obj, other)
	if again, _ := os.ReadFile(obj + keyless.Suffix); string(again) == string(signed) {
		t.Error("stale bundle kept")
	}
	if root, _ := os.ReadFile(obj + TrustedRootSuffix); string(root) != string(k.root) {
		t.Error("trusted root not pinned next to the object")
	}
}
