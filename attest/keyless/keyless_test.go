package keyless_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// statement returns a statement about object with a small valid manifest.
func statement(t testing.TB, object []byte) []byte {
	t.Helper()
	m := &measure.Manifest{Version: measure.Version, Programs: []measure.Program{{Name: "p", Type: 6, Insns: 2,
		InsnDigest: measure.DigestInstructions(make([]byte, 16), nil), Maps: []measure.Map{}}}}
	if err := m.Seal(); err != nil {
		t.Fatal(err)
	}
	payload, err := attest.NewStatement("x.o", object, m).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

var github = keyless.Identity{Issuer: fakesigstore.GitHubIssuer, Subject: fakesigstore.DefaultIdent}

func root(t testing.TB, s *fakesigstore.Sigstore) *keyless.TrustedRoot {
	t.Helper()
	r, err := keyless.ParseTrustedRoot(s.TrustedRoot())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerifyFakeSigstore: bundles from the fake Sigstore verify, for each
// way of logging and timestamping, and the result names the signer.
func TestVerifyFakeSigstore(t *testing.T) {
	s := fakesigstore.New()
	object := []byte("object")
	payload := statement(t, object)
	for _, tc := range []struct {
		name  string
		opts  fakesigstore.Options
		times int
	}{
		{"rekor v1 dsse", fakesigstore.Options{}, 1},
		{"rekor v1 intoto", fakesigstore.Options{Intoto: true}, 1},
		{"rekor v1 with timestamp", fakesigstore.Options{Timestamp: true}, 2},
		{"rekor v2 with timestamp", fakesigstore.Options{RekorV2: true}, 1},
		{"email identity", fakesigstore.Options{Issuer: "https://accounts.example", Identity: "dev@example.org", Claims: map[int]string{}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := s.Sign(attest.PayloadType, payload, tc.opts)
			ids := []keyless.Identity{{Issuer: "https://other", Subject: "x"}, github}
			if tc.opts.Identity != "" {
				ids = append(ids, keyless.Identity{Issuer: tc.opts.Issuer, Subject: tc.opts.Identity})
			}
			v, err := keyless.VerifyObject(raw, object, root(t, s), ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Times) != tc.times {
				t.Errorf("%d verified times, want %d", len(v.Times), tc.times)
			}
			if tc.opts.Identity == "" && (v.IdentityIndex != 1 || v.Issuer != fakesigstore.GitHubIssuer || v.Claims["github_workflow_repository"] != fakesigstore.DefaultRepo) {
				t.Errorf("identity %d issuer %q claims %v", v.IdentityIndex, v.Issuer, v.Claims)
			}
			if v.Statement.Predicate.MeasID == "" {
				t.Error("no manifest")
			}
		})
	}
}

// TestVerifyRefusals: every way a bundle can be wrong is refused with its
// sentinel, and the message says what was expected and what was found.
func TestVerifyRefusals(t *testing.T) {
	s := fakesigstore.New()
	other := fakesigstore.New()
	object := []byte("object")
	payload := statement(t, object)
	good := s.Sign(attest.PayloadType, payload, fakesigstore.Options{})
	for _, tc := range []struct {
		name   string
		bundle func() []byte
		object []byte
		root   *fakesigstore.Sigstore
		ids    []keyless.Identity
		want   error
		says   string
	}{
		{name: "wrong issuer", ids: []keyless.Identity{{Issuer: "https://accounts.google.com", Subject: fakesigstore.DefaultIdent}}, want: keyless.ErrIdentity, says: "issuer: expected"},
		{name: "wrong identity", ids: []keyless.Identity{{Issuer: fakesigstore.GitHubIssuer, Subject: "https://github.com/acme/filters/.github/workflows/release.yml@refs/heads/main"}}, want: keyless.ErrIdentity, says: "identity: expected"},
		{name: "identity regexp is anchored", ids: []keyless.Identity{{Issuer: fakesigstore.GitHubIssuer, SubjectRegexp: "https://github.com/acme/"}}, want: keyless.ErrIdentity, says: "a match of"},
		{name: "wrong workflow claim", ids: []keyless.Identity{{Issuer: fakesigstore.GitHubIssuer, Subject: fakesigstore.DefaultIdent, Claims: map[string]string{"github_workflow_repository": "evil/filters"}}}, want: keyless.ErrIdentity, says: "claim github_workflow_repository"},
		{name: "expired outside the logged time", bundle: sign(s, payload, fakesigstore.Options{LogDelay: time.Hour}), want: keyless.ErrCertificate, says: "valid at the signing time"},
		{name: "missing SCT", bundle: sign(s, payload, fakesigstore.Options{NoSCT: true}), want: keyless.ErrSCT, says: "no embedded SCT"},
		{name: "forged SCT", bundle: sign(s, payload, fakesigstore.Options{ForgeSCT: true}), want: keyless.ErrSCT, says: "signature invalid"},
		{name: "bad inclusion proof", bundle: sign(s, payload, fakesigstore.Options{BadProof: true}), want: keyless.ErrTlog, says: "inclusion proof leads to root"},
		{name: "bad inclusion proof rekor v2", bundle: sign(s, payload, fakesigstore.Options{RekorV2: true, BadProof: true}), want: keyless.ErrTlog, says: "inclusion proof leads to root"},
		{name: "forged checkpoint", bundle: sign(s, payload, fakesigstore.Options{ForgeCheckpoint: true}), want: keyless.ErrTlog, says: "checkpoint"},
		{name: "forged SET", bundle: sign(s, payload, fakesigstore.Options{ForgeSET: true}), want: keyless.ErrTlog, says: "signed entry timestamp does not verify"},
		{name: "forged timestamp", bundle: sign(s, payload, fakesigstore.Options{RekorV2: true, ForgeTimestamp: true}), want: keyless.ErrTimestamp},
		{name: "untrusted root", root: other, want: keyless.ErrTlog, says: "does not hold"},
		{name: "certificate from an untrusted CA", bundle: sign(s, payload, fakesigstore.Options{Untrusted: other}), want: keyless.ErrCertificate, says: "does not chain"},
		{name: "bundle for another object", object: []byte("another object"), want: attest.ErrWrongSubject, says: "sign this object again"},
		{name: "altered payload", bundle: edit(good, func(b map[string]any) {
			b["dsseEnvelope"].(map[string]any)["payload"] = statement(t, []byte("another object"))
		}), want: keyless.ErrSignature},
		{name: "entry of another signature", bundle: func() []byte {
			other := s.Sign(attest.PayloadType, statement(t, []byte("another object")), fakesigstore.Options{})
			var o map[string]any
			json.Unmarshal(other, &o)
			return edit(good, func(b map[string]any) {
				b["verificationMaterial"].(map[string]any)["tlogEntries"] = o["verificationMaterial"].(map[string]any)["tlogEntries"]
			})()
		}, want: keyless.ErrTlog, says: "another statement"},
		{name: "no tlog entry", bundle: edit(good, func(b map[string]any) {
			delete(b["verificationMaterial"].(map[string]any), "tlogEntries")
		}), want: keyless.ErrTlog},
		{name: "rekor v2 without timestamp", bundle: func() []byte {
			return edit(sign(s, payload, fakesigstore.Options{RekorV2: true})(), func(b map[string]any) {
				delete(b["verificationMaterial"].(map[string]any), "timestampVerificationData")
			})()
		}, want: keyless.ErrNoTime},
		{name: "unsigned placeholder", bundle: func() []byte {
			b, _ := keyless.UnsignedPlaceholder(attest.PayloadType, payload)
			return b
		}, want: keyless.ErrUnsigned, says: "cosign attest-blob"},
		{name: "verification material stripped", bundle: edit(good, func(b map[string]any) {
			b["verificationMaterial"] = map[string]any{}
		}), want: keyless.ErrMalformed, says: "no signing certificate"},
		{name: "certificate with a giant RSA key", bundle: edit(good, func(b map[string]any) {
			// Checking the envelope's signature with a 65536-bit key
			// costs a fifth of a second, with a 3-Mbit one minutes:
			// such keys are refused before.
			n := new(big.Int).Lsh(big.NewInt(1), 65535)
			n.SetBit(n, 0, 1)
			signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Minute)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsa.PublicKey{N: n, E: 65537}, signer)
			if err != nil {
				t.Fatal(err)
			}
			b["verificationMaterial"].(map[string]any)["certificate"] = map[string]any{"rawBytes": der}
			sig := b["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			sig["sig"] = make([]byte, 65536/8)
		}), want: keyless.ErrMalformed, says: "RSA key of 65536 bits"},
		{name: "no identity", ids: []keyless.Identity{}, want: keyless.ErrNoIdentity},
		{name: "not a bundle", bundle: func() []byte { return []byte(`{"mediaType":"x"}`) }, want: keyless.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := good
			if tc.bundle != nil {
				raw = tc.bundle()
			}
			obj := object
			if tc.object != nil {
				obj = tc.object
			}
			r := s
			if tc.root != nil {
				r = tc.root
			}
			ids := tc.ids
			if ids == nil {
				ids = []keyless.Identity{github}
			}
			_, err := keyless.VerifyObject(raw, obj, root(t, r), ids)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%q does not say %q", err, tc.says)
			}
		})
	}
}

func sign(s *fakesigstore.Sigstore, payload []byte, o fakesigstore.Options) func() []byte {
	return func() []byte { return s.Sign(attest.PayloadType, payload, o) }
}

func edit(raw []byte, f func(map[string]any)) func() []byte {
	return func() []byte {
		var b map[string]any
		if err := json.Unmarshal(raw, &b); err != nil {
			panic(err)
		}
		f(b)
		out, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		return out
	}
}

func TestParseIdentity(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want keyless.Identity
		err  string
	}{
		{spec: "issuer=https://token.actions.githubusercontent.com;identity-regexp=https://github.com/acme/.*@refs/tags/v.*;github-workflow-repository=acme/x",
			want: keyless.Identity{Issuer: "https://token.actions.githubusercontent.com", SubjectRegexp: "https://github.com/acme/.*@refs/tags/v.*", Claims: map[string]string{"github_workflow_repository": "acme/x"}}},
		{spec: `{"issuer":"https://i","identity":"a@b"}`, want: keyless.Identity{Issuer: "https://i", Subject: "a@b"}},
		{spec: "issuer=https://i", err: "identity"},
		{spec: "identity=x", err: "issuer"},
		{spec: "issuer=https://i;identity=x;color=red", err: "unknown key"},
		{spec: "issuer=https://i;identity-regexp=(", err: "missing closing"},
	} {
		id, err := keyless.ParseIdentity(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want an error about %s", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if id.String() != tc.want.String() {
			t.Errorf("%s: got %s, want %s", tc.spec, id, tc.want)
		}
		again, err := keyless.ParseIdentity(id.String())
		if err != nil || again.String() != id.String() {
			t.Errorf("%s does not round-trip: %v %v", id, again, err)
		}
	}
}

func TestInclusionProofBounds(t *testing.T) {
	leaf := make([]byte, 32)
	if _, err := keyless.RootFromInclusionProof(5, 5, leaf, nil); err == nil {
		t.Error("index beyond the tree accepted")
	}
	if _, err := keyless.RootFromInclusionProof(0, 4, leaf, [][]byte{leaf}); err == nil {
		t.Error("short proof accepted")
	}
	if _, err := keyless.RootFromInclusionProof(0, 1, leaf, [][]byte{leaf}); err == nil {
		t.Error("long proof accepted")
	}
}

// TestTimestampSigner: a timestamp is signed by the TSA certificate the
// trusted root pins (the first of its chain when that is not a CA), as
// sigstore-go requires, and never by a certificate authority (RFC 3161
// §2.3), even one with the time stamping usage; without a pinned
// certificate, another time stamping certificate of the TSA's chain, embedded in
// the token, may sign.
func TestTimestampSigner(t *testing.T) {
	s := fakesigstore.New()
	object := []byte("object")
	payload := statement(t, object)
	pinned := root(t, s)
	var j map[string]any
	if err := json.Unmarshal(s.TrustedRoot(), &j); err != nil {
		t.Fatal(err)
	}
	chain := j["timestampAuthorities"].([]any)[0].(map[string]any)["certChain"].(map[string]any)
	certs := chain["certificates"].([]any)
	chain["certificates"] = certs[len(certs)-1:]
	raw, _ := json.Marshal(j)
	unpinned, err := keyless.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	otherLeaf := func(c *x509.Certificate) { c.Subject.CommonName = "another-tsa" }
	ca := func(c *x509.Certificate) {
		c.Subject.CommonName = "a-tsa-ca"
		c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
	}
	for _, tc := range []struct {
		name string
		root *keyless.TrustedRoot
		cert func(*x509.Certificate)
		says string
	}{
		{name: "pinned certificate", root: pinned},
		{name: "another certificate where one is pinned", root: pinned, cert: otherLeaf, says: "did not sign the timestamp"},
		{name: "a CA where one is pinned", root: pinned, cert: ca, says: "did not sign the timestamp"},
		{name: "TSA certificate, none pinned", root: unpinned},
		{name: "another certificate, none pinned", root: unpinned, cert: otherLeaf},
		{name: "a CA, none pinned", root: unpinned, cert: ca, says: "certificate authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := s.Sign(attest.PayloadType, payload, fakesigstore.Options{RekorV2: true, TSACert: tc.cert})
			_, err := keyless.VerifyObject(raw, object, tc.root, []keyless.Identity{github})
			if tc.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, keyless.ErrTimestamp) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, keyless.ErrTimestamp, tc.says)
			}
		})
	}
}
