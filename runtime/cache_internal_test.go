package runtime

import (
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
