package keyless_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
)

// BenchmarkVerify compares a keyless check (bundle, chain, SCT, SET,
// inclusion proof, checkpoint, identity, statement) with the key check
// of the same statement (attest.Verify): the baseline in the same run.
func BenchmarkVerify(b *testing.B) {
	object := []byte("object")
	payload := statement(b, object)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256(attest.PAE(attest.PayloadType, payload))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, sum[:])
	env, _ := attest.NewEnvelope(payload, sig)
	b.Run("key", func(b *testing.B) {
		for b.Loop() {
			if _, err := attest.Verify(env, object, []crypto.PublicKey{key.Public()}); err != nil {
				b.Fatal(err)
			}
		}
	})
	s := fakesigstore.New()
	r := root(b, s)
	for name, o := range map[string]fakesigstore.Options{"keyless-rekor-v1": {}, "keyless-rekor-v2-tsa": {RekorV2: true}} {
		bundle := s.Sign(attest.PayloadType, payload, o)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := keyless.VerifyObject(bundle, object, r, []keyless.Identity{github}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
