package runtime_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key"
	"github.com/bpf2go-signed/bpf2go-signed/attest/rsakey"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

// TestLoadKeyAlgorithms: a loader accepts trusted keys of the families
// it names (Object.KeyAlgorithms; nil is ECDSA only) and refuses, before
// anything is loaded, an embedded or policy key of another family, with
// an error that says what it found, what it accepts, and the
// -key-algorithms to generate with. Keys of a named family that cannot
// be used are refused there too.
func TestLoadKeyAlgorithms(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// The object signed with the Ed25519 key, which it embeds.
	edSigner, err := signing.FromPrivateKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	edEnv, err := edSigner.Sign(context.Background(), attest.NewStatement(f.name, f.obj, f.manifest))
	if err != nil {
		t.Fatal(err)
	}
	edPEM, err := attest.MarshalPublicKey(edPriv.Public())
	if err != nil {
		t.Fatal(err)
	}
	edObject := func(algs attest.KeyAlgorithms) *bpfsigned.Object {
		o := f.object(t, f.obj, f.manifest, f.key)
		o.Envelope, o.TrustedKeys, o.KeyAlgorithms = edEnv, []string{string(edPEM)}, algs
		return o
	}
	// The object signed with the RSA key, trusted by the policy only.
	rsaSigner, err := signing.FromPrivateKey(rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	rsaEnv, err := rsaSigner.Sign(context.Background(), attest.NewStatement(f.name, f.obj, f.manifest))
	if err != nil {
		t.Fatal(err)
	}
	rsaObject := func(algs attest.KeyAlgorithms) *bpfsigned.Object {
		o := f.object(t, f.obj, f.manifest, f.key)
		o.Envelope, o.KeyAlgorithms = rsaEnv, algs
		return o
	}
	rsaPolicy := &bpfsigned.Policy{IgnoreEmbeddedKeys: true, TrustedKeys: []crypto.PublicKey{rsaPriv.Public()}}
	ecObject := func(algs attest.KeyAlgorithms) *bpfsigned.Object {
		o := f.object(t, f.obj, f.manifest, f.key)
		o.KeyAlgorithms = algs
		return o
	}
	ecdsaOnly := attest.KeyAlgorithms{attest.ECDSA}

	for _, tt := range []struct {
		name   string
		obj    *bpfsigned.Object
		policy *bpfsigned.Policy
		says   []string // empty: the load succeeds
		family bool     // refused as a key of another family
	}{
		{"ecdsa, nil families", ecObject(nil), nil, nil, false},
		{"ed25519 named", edObject(attest.KeyAlgorithms{ed25519key.Algorithm}), nil, nil, false},
		{"ed25519 among all", edObject(attest.KeyAlgorithms{attest.ECDSA, ed25519key.Algorithm, rsakey.Algorithm}), nil, nil, false},
		{"rsa signature, policy key", rsaObject(attest.KeyAlgorithms{rsakey.Algorithm}), rsaPolicy, nil, false},
		{"rsa signature, ecdsa loader", rsaObject(nil), rsaPolicy,
			[]string{"trusted key 0 of the policy", "an rsa key", "-key-algorithms ecdsa,rsa"}, true},
		{"policy rsa key accepted", ecObject(attest.KeyAlgorithms{attest.ECDSA, rsakey.Algorithm}), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{rsaPriv.Public()}}, nil, false},
		{"embedded ed25519, nil families", edObject(nil), nil,
			[]string{"embedded trusted key 0", "an ed25519 key", "accepts ecdsa keys only", "-key-algorithms ecdsa,ed25519", "Object.KeyAlgorithms"}, true},
		{"embedded ed25519, ecdsa only", edObject(ecdsaOnly), nil,
			[]string{"embedded trusted key 0", "an ed25519 key", "-key-algorithms ecdsa,ed25519"}, true},
		{"policy rsa key", ecObject(ecdsaOnly), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{rsaPriv.Public()}},
			[]string{"trusted key 0 of the policy (Policy.TrustedKeys)", "an rsa key", "*rsa.PublicKey", "accepts ecdsa keys only", "-key-algorithms ecdsa,rsa"}, true},
		{"policy ed25519 key, rsa loader", ecObject(attest.KeyAlgorithms{rsakey.Algorithm}), &bpfsigned.Policy{IgnoreEmbeddedKeys: true, TrustedKeys: []crypto.PublicKey{edPriv.Public()}},
			[]string{"an ed25519 key", "accepts rsa keys only", "-key-algorithms ed25519,rsa"}, true},
		{"policy ecdsa key, ed25519 loader", edObject(attest.KeyAlgorithms{ed25519key.Algorithm}), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{f.key.Public()}},
			[]string{"trusted key 0 of the policy", "an ecdsa key", "-key-algorithms ecdsa,ed25519"}, true},
		{"policy short ed25519 key", edObject(attest.KeyAlgorithms{ed25519key.Algorithm}), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{ed25519.PublicKey(make([]byte, 31))}},
			[]string{"trusted key 0 of the policy", "Ed25519 key of 31 bytes"}, false},
		{"policy ecdsa key without a point", ecObject(nil), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{&ecdsa.PublicKey{Curve: elliptic.P256()}}},
			[]string{"trusted key 0 of the policy", "ECDSA key without a point"}, false},
		{"policy ecdsa key off the curve", ecObject(nil), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{&ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}}},
			[]string{"trusted key 0 of the policy", "ECDSA key"}, false},
		{"policy rsa key with exponent 1", ecObject(attest.KeyAlgorithms{attest.ECDSA, rsakey.Algorithm}), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{&rsa.PublicKey{N: rsaPriv.N, E: 1}}},
			[]string{"trusted key 0 of the policy", "public exponent 1"}, false},
		{"policy rsa key without a modulus", ecObject(attest.KeyAlgorithms{attest.ECDSA, rsakey.Algorithm}), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{&rsa.PublicKey{E: 65537}}},
			[]string{"trusted key 0 of the policy", "RSA key of 0 bits"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.OpenFDs(t)
			var objs objects
			rep, err := bpfsigned.Load(tt.obj, &objs, &bpfsigned.LoadOptions{Policy: tt.policy})
			if len(tt.says) == 0 {
				if err != nil || !rep.Accepted || rep.Signature.Key == "" {
					t.Fatalf("Load() = %v, %v; want an accepted load by a key", rep, err)
				}
				objs.Close()
				return
			}
			if err == nil || rep != nil || objs.Filter != nil {
				objs.Close()
				t.Fatalf("Load() = %v, %v; want a refusal before loading", rep, err)
			}
			if !errors.Is(err, attest.ErrUnsupportedKey) || errors.Is(err, bpfsigned.ErrKeyAlgorithm) != tt.family {
				t.Errorf("error %v: wraps ErrUnsupportedKey %v, ErrKeyAlgorithm %v; want true, %v",
					err, errors.Is(err, attest.ErrUnsupportedKey), errors.Is(err, bpfsigned.ErrKeyAlgorithm), tt.family)
			}
			for _, want := range tt.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds before the refused load, %d after", before, after)
			}
		})
	}
}

// TestP256LoaderLinksOnlyECDSA: the XDP example, generated for a P-256
// key (its demo.key), links ECDSA and neither crypto/rsa nor
// crypto/ed25519 (whose self-tests alone would link most of them): its
// loader alone (as scripts/bench/procload builds it), and the whole
// example.
func TestP256LoaderLinksOnlyECDSA(t *testing.T) {
	banned := []string{"crypto/rsa", "crypto/internal/fips140/rsa", "crypto/ed25519", "crypto/internal/fips140/ed25519",
		"github.com/bpf2go-signed/bpf2go-signed/attest/rsakey", "github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key"}
	for _, args := range [][]string{
		{"loadonce_verified.go", "filter_bpfel.go", "filter_bpfel_signed.go"},
		{"."},
	} {
		deps := goListDeps(t, args...)
		if !slices.Contains(deps, "crypto/ecdsa") {
			t.Fatalf("%v: does not link crypto/ecdsa: %v", args, deps)
		}
		for _, b := range banned {
			if slices.Contains(deps, b) {
				t.Errorf("examples/xdp %v links %s", args, b)
			}
		}
	}
}

// TestLoadRefusesSmallOrderKey: a trusted Ed25519 key that is a point of
// small order (here the all-zero key, a plausible placeholder) would let
// anyone sign: an envelope "signed" with R the identity and S zero,
// made without any private key, verifies under it for one payload in
// four. The load is refused before anything is loaded, with every fd
// closed, instead of loading the object with a passing verdict.
func TestLoadRefusesSmallOrderKey(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	zero := ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))
	payload, err := json.Marshal(attest.NewStatement(f.name, f.obj, f.manifest))
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1 // R: the identity, encoded; S: zero
	for !ed25519.Verify(zero, attest.PAE(attest.PayloadType, payload), sig) {
		if len(payload) > 1<<20 {
			t.Fatal("no payload verifies")
		}
		payload = append(payload, ' ') // white space the statement reader skips
	}
	env, err := json.Marshal(map[string]any{
		"payloadType": attest.PayloadType,
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []map[string]string{{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := f.object(t, f.obj, f.manifest, nil)
	o.Envelope, o.KeyAlgorithms = env, attest.KeyAlgorithms{ed25519key.Algorithm}
	policy := &bpfsigned.Policy{IgnoreEmbeddedKeys: true, TrustedKeys: []crypto.PublicKey{zero}}
	before := testutil.OpenFDs(t)
	var objs objects
	rep, err := bpfsigned.Load(o, &objs, &bpfsigned.LoadOptions{Policy: policy})
	if err == nil {
		objs.Close()
		t.Fatalf("a signature made without a private key was accepted: verdict %s, key %s", rep.Signature.Verdict, rep.Signature.Key)
	}
	if rep != nil || objs.Filter != nil || !errors.Is(err, attest.ErrUnsupportedKey) || !strings.Contains(err.Error(), "small order") {
		t.Errorf("Load() = %v, %v; want a refusal of the key before loading", rep, err)
	}
	if after := testutil.OpenFDs(t); after != before {
		t.Errorf("%d fds before the refused load, %d after", before, after)
	}
}
