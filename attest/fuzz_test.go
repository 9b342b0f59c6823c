package attest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// fuzzKey signs the seed envelope; its public key is the one trusted.
var fuzzKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

var sentinels = []error{attest.ErrMalformed, attest.ErrUnsigned, attest.ErrBadSignature, attest.ErrWrongSubject, attest.ErrNoTrustedKeys, attest.ErrUnsupportedKey}

// FuzzVerify feeds untrusted envelopes to Parse and Verify: no panic, and
// every error wraps exactly one of the package's sentinels.
func FuzzVerify(f *testing.F) {
	object := []byte("object")
	m := &measure.Manifest{Version: measure.Version, Programs: []measure.Program{{Name: "p", Type: 6, Insns: 2,
		InsnDigest: measure.DigestInstructions(make([]byte, 16), nil), Maps: []measure.Map{}}}}
	if err := m.Seal(); err != nil {
		f.Fatal(err)
	}
	st := attest.NewStatement("x.o", object, m)
	payload, err := st.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256(attest.PAE(attest.PayloadType, payload))
	sig, _ := ecdsa.SignASN1(rand.Reader, fuzzKey, sum[:])
	env, _ := attest.NewEnvelope(payload, sig)
	unsigned, _ := attest.Unsigned(st)
	f.Add(env)
	f.Add(unsigned)
	f.Add(env[:len(env)/2])
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`))
	keys := []crypto.PublicKey{fuzzKey.Public()}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, st, err := attest.Parse(raw); err == nil {
			if _, err := json.Marshal(st); err != nil {
				t.Fatalf("parsed statement does not marshal: %v", err)
			}
		}
		v, err := attest.Verify(raw, object, keys)
		if err == nil {
			if v == nil || v.Statement.Predicate.Check() != nil {
				t.Fatal("verified envelope with an inconsistent manifest")
			}
			return
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error wraps %d sentinels: %v", n, err)
		}
	})
}
