package runtime

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
)

// TestFingerprintCached: keys usable as map keys are remembered, byte-slice
// keys (Ed25519) are fingerprinted every time; both give keyFingerprint.
func TestFingerprintCached(t *testing.T) {
	t.Cleanup(resetCaches)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		key    any
		cached bool
	}{
		{"ecdsa", &ec.PublicKey, true},
		{"ed25519", ed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resetCaches()
			want := keyFingerprint(attest.AllKeyAlgorithms(), tt.key)
			if want == "" {
				t.Fatal("no fingerprint")
			}
			if got := fingerprintCached(attest.AllKeyAlgorithms(), tt.key); got != want {
				t.Fatalf("fingerprint %q, want %q", got, want)
			}
			n := 0
			fpCache.Range(func(any, any) bool { n++; return true })
			if cached := n == 1; cached != tt.cached {
				t.Fatalf("cached: %v, want %v", cached, tt.cached)
			}
		})
	}
}

// TestSigKey: a cached signature check is reused only for the same
// envelope, bundle, object, keyless trust and trusted keys: a change of
// any of them, of the keys' order or number, gives another cache key.
func TestSigKey(t *testing.T) {
	t.Cleanup(resetCaches)
	keys := make([]crypto.PublicKey, 2)
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = &k.PublicKey
	}
	o := &Object{Envelope: []byte("envelope"), Bundle: []byte("bundle")}
	type in struct {
		o       *Object
		elf     [32]byte
		keys    []crypto.PublicKey
		keyless [32]byte
	}
	id := func(x in) [32]byte { return sigKey(x.o, x.elf, x.keys, x.keyless) }
	want := id(in{o: o, keys: keys[:1]})
	if again := id(in{o: &Object{Envelope: []byte("envelope"), Bundle: []byte("bundle")}, keys: keys[:1]}); again != want {
		t.Fatal("the same inputs give another cache key")
	}
	for _, tt := range []struct {
		name string
		x    in
	}{
		{"other envelope", in{o: &Object{Envelope: []byte("other"), Bundle: o.Bundle}, keys: keys[:1]}},
		{"other bundle", in{o: &Object{Envelope: o.Envelope}, keys: keys[:1]}},
		{"other object", in{o: o, elf: [32]byte{1}, keys: keys[:1]}},
		{"other keyless trust", in{o: o, keyless: [32]byte{1}, keys: keys[:1]}},
		{"other key", in{o: o, keys: keys[1:]}},
		{"one more key", in{o: o, keys: keys}},
		{"keys in another order", in{o: o, keys: []crypto.PublicKey{keys[1], keys[0]}}},
		{"no key", in{o: o}},
	} {
		if id(tt.x) == want {
			t.Errorf("%s: same cache key", tt.name)
		}
	}
}
