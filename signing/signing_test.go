package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/kms/fake"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

func statement(t *testing.T, name string) (*attest.Statement, []byte) {
	t.Helper()
	obj, err := os.ReadFile(testutil.Testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.Collection(spec)
	if err != nil {
		t.Fatal(err)
	}
	return attest.NewStatement(name, obj, m), obj
}

func pkcs8(t *testing.T, priv crypto.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testKMS is a KMS provider registered by the test: it signs with an
// in-memory key, through sigstore's KMS interface.
const testKMS = "testkms://"

var testKMSKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

func init() {
	kms.AddProvider(testKMS, func(ctx context.Context, _ string, hf crypto.Hash, _ ...signature.RPCOption) (kms.SignerVerifier, error) {
		return fake.LoadSignerVerifier(context.WithValue(ctx, fake.KmsCtxKey{}, crypto.PrivateKey(testKMSKey)), hf)
	})
}

// TestSignVerifyEveryKeyKind signs with every supported key kind and
// verifies with the public key alone.
func TestSignVerifyEveryKeyKind(t *testing.T) {
	ctx := context.Background()
	st, obj := statement(t, "xdp_bpfel.o")

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	cosignKey, cosignPub, err := signing.GenerateKeyPair([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	emptyKey, emptyPub, err := signing.GenerateKeyPair([]byte{})
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := func(k crypto.PublicKey) []byte {
		der, _ := x509.MarshalPKIXPublicKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}

	tests := []struct {
		name     string
		ref      string
		password []byte
		pub      []byte
	}{
		{"cosign encrypted", writeFile(t, "cosign.key", cosignKey), []byte("s3cret"), cosignPub},
		{"cosign empty password", writeFile(t, "empty.key", emptyKey), []byte{}, emptyPub},
		{"PKCS#8 ECDSA P-256", writeFile(t, "p256.pem", pkcs8(t, p256)), nil, pubPEM(p256.Public())},
		{"PKCS#8 ECDSA P-384", writeFile(t, "p384.pem", pkcs8(t, p384)), nil, pubPEM(p384.Public())},
		{"PKCS#8 Ed25519", writeFile(t, "ed.pem", pkcs8(t, ed)), nil, pubPEM(ed.Public())},
		{"PKCS#8 RSA 2048", writeFile(t, "rsa.pem", pkcs8(t, rsa2048)), nil, pubPEM(rsa2048.Public())},
		{"KMS", testKMS + "key/1", nil, pubPEM(testKMSKey.Public())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := signing.Load(ctx, tt.ref, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			env, err := s.Sign(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := attest.ParsePublicKey(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			v, err := attest.Verify(env, obj, []crypto.PublicKey{pub})
			if err != nil {
				t.Fatal(err)
			}
			if v.Statement.Predicate.Digest != st.Predicate.Digest {
				t.Errorf("verified manifest digest %s, signed %s", v.Statement.Predicate.Digest, st.Predicate.Digest)
			}
			// The private key never appears in what is written.
			if priv, err := os.ReadFile(tt.ref); err == nil {
				block, _ := pem.Decode(priv)
				for _, secret := range [][]byte{priv, block.Bytes, []byte(base64.StdEncoding.EncodeToString(block.Bytes))} {
					if bytes.Contains(env, secret) {
						t.Fatal("the envelope contains the private key")
					}
				}
			}
		})
	}
}

func TestKeyLoadingErrors(t *testing.T) {
	ctx := context.Background()
	enc, _, err := signing.GenerateKeyPair([]byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name     string
		ref      string
		password []byte
		want     error
	}{
		{"wrong password", writeFile(t, "a.key", enc), []byte("wrong"), signing.ErrWrongPassword},
		{"encrypted, no password", writeFile(t, "b.key", enc), nil, signing.ErrPasswordRequired},
		{"not PEM", writeFile(t, "c.key", []byte("hello")), nil, signing.ErrUnknownKeyType},
		{"unknown PEM type", writeFile(t, "d.key", pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{1}})), nil, signing.ErrUnknownKeyType},
		{"public key given as private", writeFile(t, "e.key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})), nil, signing.ErrUnknownKeyType},
		{"P-224", writeFile(t, "f.key", pkcs8(t, p224)), nil, attest.ErrUnsupportedKey},
		{"RSA 1024", writeFile(t, "g.key", pkcs8(t, rsa1024)), nil, attest.ErrUnsupportedKey},
		{"missing file", filepath.Join(t.TempDir(), "none.key"), nil, os.ErrNotExist},
		{"unknown KMS", "nosuchkms://key", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signing.Load(ctx, tt.ref, tt.password)
			if err == nil {
				t.Fatal("loaded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if strings.Contains(tt.ref, "://") && !strings.Contains(err.Error(), "sigstore-kms-nosuchkms on the PATH") {
				t.Errorf("a KMS URI without provider or plugin does not name the plugin to install: %v", err)
			}
			t.Log(err)
		})
	}
}

func TestPassword(t *testing.T) {
	t.Setenv(signing.PasswordEnv, "")
	if p := signing.Password(); p == nil || len(p) != 0 {
		t.Errorf("empty COSIGN_PASSWORD: %v, want empty non-nil", p)
	}
	os.Unsetenv(signing.PasswordEnv)
	if p := signing.Password(); p != nil {
		t.Errorf("unset COSIGN_PASSWORD: %q, want nil", p)
	}
}

// TestVerifyRefuses: every way an envelope can be wrong gets its own error.
func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	st, obj := statement(t, "xdp_bpfel.o")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := signing.FromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Sign(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	otherStatement, otherObj := statement(t, "tc_bpfel.o")
	otherEnv, err := s.Sign(ctx, otherStatement)
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := attest.Unsigned(st)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(e *attest.Envelope)) []byte {
		var e attest.Envelope
		if err := json.Unmarshal(env, &e); err != nil {
			t.Fatal(err)
		}
		f(&e)
		b, _ := json.Marshal(e)
		return b
	}
	editPayload := func(f func(p []byte) []byte) []byte {
		return edit(func(e *attest.Envelope) {
			p, _ := base64.StdEncoding.DecodeString(e.Payload)
			e.Payload = base64.StdEncoding.EncodeToString(f(p))
		})
	}
	trusted := []crypto.PublicKey{key.Public()}
	payload, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// signRaw signs any payload, valid or not, as a compromised build would.
	signRaw := func(p []byte) []byte {
		sum := sha256.Sum256(attest.PAE(attest.PayloadType, p))
		sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		b, err := attest.NewEnvelope(p, sig)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	tests := []struct {
		name string
		env  []byte
		obj  []byte
		keys []crypto.PublicKey
		want error
	}{
		{"wrong key", env, obj, []crypto.PublicKey{other.Public()}, attest.ErrBadSignature},
		{"tampered payload byte", editPayload(func(p []byte) []byte {
			return bytes.Replace(p, []byte(st.Predicate.Digest), []byte(strings.Repeat("0", 64)), 1)
		}), obj, trusted, attest.ErrBadSignature},
		{"tampered signature", edit(func(e *attest.Envelope) {
			sig, _ := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
			sig[len(sig)-1] ^= 1
			e.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
		}), obj, trusted, attest.ErrBadSignature},
		{"signature not base64", edit(func(e *attest.Envelope) { e.Signatures[0].Sig = "%%%" }), obj, trusted, attest.ErrBadSignature},
		{"envelope for another object", otherEnv, obj, trusted, attest.ErrWrongSubject},
		{"object for another envelope", env, otherObj, trusted, attest.ErrWrongSubject},
		{"truncated", env[:len(env)/2], obj, trusted, attest.ErrMalformed},
		{"empty", nil, obj, trusted, attest.ErrMalformed},
		{"not JSON", []byte("not json at all"), obj, trusted, attest.ErrMalformed},
		{"JSON array", []byte("[]"), obj, trusted, attest.ErrMalformed},
		{"trailing garbage", append(append([]byte{}, env...), "{}"...), obj, trusted, attest.ErrMalformed},
		{"wrong payload type", edit(func(e *attest.Envelope) { e.PayloadType = "text/plain" }), obj, trusted, attest.ErrMalformed},
		{"payload not base64", edit(func(e *attest.Envelope) { e.Payload = "!!" }), obj, trusted, attest.ErrMalformed},
		{"signed, wrong predicate type", signRaw(bytes.Replace(payload, []byte(attest.PredicateType), []byte("https://example.invalid/x"), 1)), obj, trusted, attest.ErrMalformed},
		{"signed, inconsistent manifest", signRaw(bytes.Replace(payload, []byte(`"max_entries":`), []byte(`"max_entries":1`), 1)), obj, trusted, attest.ErrMalformed},
		{"signed, not a statement", signRaw([]byte(`{"hello":1}`)), obj, trusted, attest.ErrMalformed},
		{"unsigned placeholder", unsigned, obj, trusted, attest.ErrUnsigned},
		{"no trusted keys", env, obj, nil, attest.ErrNoTrustedKeys},
		{"unsupported trusted key", env, obj, []crypto.PublicKey{"not a key"}, attest.ErrUnsupportedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := attest.Verify(tt.env, tt.obj, tt.keys)
			if v != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify() = %v, %v; want %v", v, err, tt.want)
			}
			for _, other := range []error{attest.ErrMalformed, attest.ErrUnsigned, attest.ErrBadSignature, attest.ErrWrongSubject, attest.ErrNoTrustedKeys, attest.ErrUnsupportedKey} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("error also matches %v: %v", other, err)
				}
			}
			t.Log(err)
		})
	}
	// Any one of several trusted keys (rotation) is enough.
	if _, err := attest.Verify(env, obj, []crypto.PublicKey{other.Public(), key.Public()}); err != nil {
		t.Fatalf("second trusted key: %v", err)
	}
}
