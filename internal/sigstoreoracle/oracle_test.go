// Package sigstoreoracle cross-checks attest/keyless against sigstore-go
// v1.3.0. It is a module of its own so that sigstore-go and its ~70
// dependencies never reach the main go.mod: run its tests with
// "make test-oracle" (or cd here and go test ./...).
//
// The public test vectors (real bundles signed by GitHub Actions and a
// person through the public-good Sigstore, with the public trusted root)
// are read from sigstore-go's module in the module cache, not committed.
package sigstoreoracle

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// moduleDir is where sigstore-go v1.3.0 lies in the module cache.
func moduleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/sigstore/sigstore-go").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/sigstore/sigstore-go: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("sigstore-go is not in the module cache: run go mod download in internal/sigstoreoracle")
	}
	return dir
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// oracle verifies a bundle with sigstore-go: an SCT, a log entry, and an
// observer timestamp (integrated time with a SET, or RFC 3161) required,
// as attest/keyless requires.
func oracle(trustedRoot, raw []byte, id keyless.Identity, digest []byte) error {
	tr, err := root.NewTrustedRootFromJSON(trustedRoot)
	if err != nil {
		return err
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return err
	}
	v, err := verify.NewVerifier(tr, verify.WithSignedCertificateTimestamps(1), verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return err
	}
	cid, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp)
	if err != nil {
		return err
	}
	artifact := verify.WithoutArtifactUnsafe()
	if digest != nil {
		artifact = verify.WithArtifactDigest("sha256", digest)
	}
	_, err = v.Verify(&b, verify.NewPolicy(artifact, verify.WithCertificateIdentity(cid)))
	return err
}

var publicVectors = []struct {
	bundle, root string
	id           keyless.Identity
}{
	{"pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json", "pkg/testing/data/trusted-roots/public-good.json",
		keyless.Identity{Issuer: "https://token.actions.githubusercontent.com", Subject: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
			Claims: map[string]string{"github_workflow_repository": "sigstore/sigstore-js", "github_workflow_ref": "refs/heads/main"}}},
	{"examples/bundle-provenance.json", "examples/trusted-root-public-good.json",
		keyless.Identity{Issuer: "https://token.actions.githubusercontent.com", SubjectRegexp: `https://github\.com/sigstore/sigstore-js/\.github/workflows/release\.yml@refs/heads/.*`}},
	{"pkg/testing/data/bundles/dsse.sigstore.json", "pkg/testing/data/trusted-roots/public-good.json",
		keyless.Identity{Issuer: "https://github.com/login/oauth", Subject: "brian@dehamer.com"}},
}

// TestPublicBundles: real bundles of the public-good Sigstore verify
// offline with the public trusted root through attest/keyless, as they do
// through sigstore-go; with another identity, or a byte of the log proof
// or SET altered, both refuse.
func TestPublicBundles(t *testing.T) {
	dir := moduleDir(t)
	for _, vec := range publicVectors {
		t.Run(filepath.Base(vec.bundle), func(t *testing.T) {
			raw, trRaw := read(t, filepath.Join(dir, vec.bundle)), read(t, filepath.Join(dir, vec.root))
			tr, err := keyless.ParseTrustedRoot(trRaw)
			if err != nil {
				t.Fatal(err)
			}
			b, err := keyless.ParseBundle(raw)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tr.Verify(b, []keyless.Identity{vec.id})
			if err != nil {
				t.Fatalf("attest/keyless refuses a public bundle: %v", err)
			}
			if err := oracle(trRaw, raw, vec.id, nil); err != nil {
				t.Fatalf("sigstore-go refuses it: %v", err)
			}
			t.Logf("verified: %s, logged at %v, Rekor index %d", res.Signer(), res.Times, res.LogIndex)

			wrong := vec.id
			wrong.Issuer, wrong.IssuerRegexp = "https://accounts.google.com", ""
			if _, err := tr.Verify(b, []keyless.Identity{wrong}); !errors.Is(err, keyless.ErrIdentity) {
				t.Errorf("another issuer: %v", err)
			}
			if oracle(trRaw, raw, wrong, nil) == nil {
				t.Error("sigstore-go accepts another issuer")
			}

			tampered := mutate(t, raw, func(e map[string]any) {
				set := e["inclusionPromise"].(map[string]any)
				s := []byte(set["signedEntryTimestamp"].(string))
				s[10] ^= 1
				set["signedEntryTimestamp"] = string(s)
			})
			tb, err := keyless.ParseBundle(tampered)
			if err == nil {
				_, err = tr.Verify(tb, []keyless.Identity{vec.id})
			}
			if err == nil {
				t.Error("altered SET accepted")
			}
			if oracle(trRaw, tampered, vec.id, nil) == nil {
				t.Error("sigstore-go accepts the altered SET")
			}
		})
	}
}

// mutate edits the first log entry of a bundle.
func mutate(t *testing.T, raw []byte, f func(map[string]any)) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	f(b["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any))
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFakeSigstoreAgreesWithSigstoreGo: the fake Sigstore's bundles verify
// with sigstore-go too (so the fake is faithful), and every forgery that
// attest/keyless refuses, sigstore-go refuses as well.
func TestFakeSigstoreAgreesWithSigstoreGo(t *testing.T) {
	s, other := fakesigstore.New(), fakesigstore.New()
	object := []byte("object")
	m := &measure.Manifest{Version: measure.Version, Programs: []measure.Program{{Name: "p", Type: 6, Insns: 2,
		InsnDigest: measure.DigestInstructions(make([]byte, 16), nil), Maps: []measure.Map{}}}}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	payload, err := attest.NewStatement("x.o", object, m).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(object)
	trRaw := s.TrustedRoot()
	tr, err := keyless.ParseTrustedRoot(trRaw)
	if err != nil {
		t.Fatal(err)
	}
	id := keyless.Identity{Issuer: fakesigstore.GitHubIssuer, Subject: fakesigstore.DefaultIdent}
	for _, tc := range []struct {
		name string
		opts fakesigstore.Options
		ok   bool
	}{
		{"rekor v1 dsse", fakesigstore.Options{}, true},
		{"rekor v1 intoto", fakesigstore.Options{Intoto: true}, true},
		{"rekor v1 and timestamp", fakesigstore.Options{Timestamp: true}, true},
		{"rekor v2 and timestamp", fakesigstore.Options{RekorV2: true}, true},
		{"expired at logged time", fakesigstore.Options{LogDelay: 3600e9}, false},
		{"missing SCT", fakesigstore.Options{NoSCT: true}, false},
		{"forged SCT", fakesigstore.Options{ForgeSCT: true}, false},
		{"forged SET", fakesigstore.Options{ForgeSET: true}, false},
		{"bad inclusion proof", fakesigstore.Options{BadProof: true}, false},
		{"bad inclusion proof v2", fakesigstore.Options{RekorV2: true, BadProof: true}, false},
		{"forged checkpoint", fakesigstore.Options{ForgeCheckpoint: true}, false},
		{"forged timestamp", fakesigstore.Options{RekorV2: true, ForgeTimestamp: true}, false},
		{"untrusted CA", fakesigstore.Options{Untrusted: other}, false},
		{"other issuer", fakesigstore.Options{Issuer: "https://accounts.example"}, false},
		{"timestamp by a TSA certificate the root does not pin", fakesigstore.Options{RekorV2: true, TSACert: func(c *x509.Certificate) { c.Subject.CommonName = "another-tsa" }}, false},
		{"timestamp by a TSA CA", fakesigstore.Options{RekorV2: true, TSACert: func(c *x509.Certificate) {
			c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
		}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := s.Sign(attest.PayloadType, payload, tc.opts)
			_, ours := keyless.VerifyObject(raw, object, tr, []keyless.Identity{id})
			theirs := oracle(trRaw, raw, id, sum[:])
			if (ours == nil) != tc.ok || (theirs == nil) != tc.ok {
				t.Fatalf("want ok=%v; attest/keyless: %v; sigstore-go: %v", tc.ok, ours, theirs)
			}
			if !tc.ok {
				t.Logf("attest/keyless: %v\nsigstore-go: %v", ours, theirs)
			}
		})
	}
	// A trusted root whose TSA chain pins no TSA certificate (the root
	// only): a time stamping certificate of that root embedded in the
	// token may sign, a certificate authority may not.
	var j map[string]any
	if err := json.Unmarshal(trRaw, &j); err != nil {
		t.Fatal(err)
	}
	tsaChain := j["timestampAuthorities"].([]any)[0].(map[string]any)["certChain"].(map[string]any)
	tsaCerts := tsaChain["certificates"].([]any)
	tsaChain["certificates"] = tsaCerts[len(tsaCerts)-1:]
	unpinnedRaw, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	unpinned, err := keyless.ParseTrustedRoot(unpinnedRaw)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert func(*x509.Certificate)
		ok   bool
	}{
		{"unpinned TSA: another time stamping certificate", func(c *x509.Certificate) { c.Subject.CommonName = "another-tsa" }, true},
		{"unpinned TSA: a CA", func(c *x509.Certificate) {
			c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := s.Sign(attest.PayloadType, payload, fakesigstore.Options{RekorV2: true, TSACert: tc.cert})
			_, ours := keyless.VerifyObject(raw, object, unpinned, []keyless.Identity{id})
			theirs := oracle(unpinnedRaw, raw, id, sum[:])
			if (ours == nil) != tc.ok || (theirs == nil) != tc.ok {
				t.Fatalf("want ok=%v; attest/keyless: %v; sigstore-go: %v", tc.ok, ours, theirs)
			}
			if !tc.ok {
				t.Logf("attest/keyless: %v\nsigstore-go: %v", ours, theirs)
			}
		})
	}
	// A bundle for another object: sigstore-go checks the statement's
	// subject against the artifact digest, as VerifyObject does.
	raw := s.Sign(attest.PayloadType, payload, fakesigstore.Options{})
	otherSum := sha256.Sum256([]byte("another"))
	if oracle(trRaw, raw, id, otherSum[:]) == nil {
		t.Error("sigstore-go accepts a bundle for another object")
	}
	if _, err := keyless.VerifyObject(raw, []byte("another"), tr, []keyless.Identity{id}); !errors.Is(err, attest.ErrWrongSubject) {
		t.Errorf("attest/keyless: %v", err)
	}
	if bytes.Contains(raw, []byte("PRIVATE")) {
		t.Error("a bundle holds a private key")
	}
}

// TestPublicTimestamp: a real RFC 3161 timestamp of Sigstore's timestamp
// authority (sigstore-go's public-key-validity vector) verifies against
// its TSA, whose trusted root pins the signing certificate, and not over
// other data. That TSA is grafted into the public-good trusted root,
// since its own has no CA or log.
func TestPublicTimestamp(t *testing.T) {
	dir := filepath.Join(moduleDir(t), "pkg/testing/data")
	var own, good map[string]any
	if err := json.Unmarshal(read(t, filepath.Join(dir, "trusted-roots/public-key-validity.json")), &own); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(read(t, filepath.Join(dir, "trusted-roots/public-good.json")), &good); err != nil {
		t.Fatal(err)
	}
	good["timestampAuthorities"] = own["timestampAuthorities"]
	raw, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := keyless.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		MessageSignature struct {
			Signature []byte `json:"signature"`
		} `json:"messageSignature"`
		VerificationMaterial struct {
			TimestampVerificationData struct {
				RFC3161Timestamps []struct {
					SignedTimestamp []byte `json:"signedTimestamp"`
				} `json:"rfc3161Timestamps"`
			} `json:"timestampVerificationData"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal(read(t, filepath.Join(dir, "bundles/public-key-validity.sigstore.json")), &b); err != nil {
		t.Fatal(err)
	}
	tss := b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps
	if len(tss) != 1 || len(b.MessageSignature.Signature) == 0 {
		t.Fatalf("the vector has %d timestamps and a %d-byte signature", len(tss), len(b.MessageSignature.Signature))
	}
	ts, err := tr.VerifyTimestamp(tss[0].SignedTimestamp, b.MessageSignature.Signature)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s at %s", ts.TSA, ts.Time)
	if _, err := tr.VerifyTimestamp(tss[0].SignedTimestamp, []byte("other data")); !errors.Is(err, keyless.ErrTimestamp) {
		t.Fatalf("a timestamp over other data: %v", err)
	}
}
