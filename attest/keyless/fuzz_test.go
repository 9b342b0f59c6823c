package keyless_test

import (
	"errors"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
)

var sentinels = []error{keyless.ErrMalformed, keyless.ErrUnsigned, keyless.ErrNoTrustedRoot, keyless.ErrNoIdentity,
	keyless.ErrCertificate, keyless.ErrSCT, keyless.ErrTlog, keyless.ErrTimestamp, keyless.ErrNoTime, keyless.ErrSignature,
	keyless.ErrIdentity, attest.ErrMalformed, attest.ErrWrongSubject}

// FuzzVerifyBundle feeds untrusted bundles to the verifier: no panic, and
// every refusal wraps one of the sentinels.
func FuzzVerifyBundle(f *testing.F) {
	s := fakesigstore.New()
	object := []byte("object")
	payload := statement(f, object)
	f.Add(s.Sign(attest.PayloadType, payload, fakesigstore.Options{}))
	f.Add(s.Sign(attest.PayloadType, payload, fakesigstore.Options{RekorV2: true}))
	f.Add(s.Sign(attest.PayloadType, payload, fakesigstore.Options{Intoto: true, Timestamp: true}))
	ph, _ := keyless.UnsignedPlaceholder(attest.PayloadType, payload)
	f.Add(ph)
	r := root(f, s)
	ids := []keyless.Identity{github}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := keyless.VerifyObject(raw, object, r, ids)
		if err == nil {
			if v.Statement.Predicate.Check() != nil || v.Issuer != fakesigstore.GitHubIssuer {
				t.Fatal("verified an inconsistent bundle")
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error wraps no sentinel: %v", err)
	})
}
