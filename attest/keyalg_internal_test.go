package attest

import (
	"strings"
	"testing"
)

// TestFamilyNotLinked: in a binary that does not import a family's
// package, the package-level functions refuse its keys with
// ErrKeyAlgorithm and -key-algorithms names the package to import.
func TestFamilyNotLinked(t *testing.T) {
	registryMu.Lock()
	saved := registry
	registry = map[string]*KeyAlgorithm{"ecdsa": ECDSA}
	registryMu.Unlock()
	t.Cleanup(func() {
		registryMu.Lock()
		registry = saved
		registryMu.Unlock()
	})
	if got := AllKeyAlgorithms().String(); got != "ecdsa" {
		t.Fatalf("AllKeyAlgorithms = %s, want ecdsa", got)
	}
	_, err := ParseKeyAlgorithms("ecdsa,rsa")
	if err == nil || !strings.Contains(err.Error(), "attest/rsakey") {
		t.Fatalf("ParseKeyAlgorithms(ecdsa,rsa) = %v, want an error naming attest/rsakey", err)
	}
	if _, err := ParseKeyAlgorithms("all"); err == nil {
		t.Fatal(`ParseKeyAlgorithms("all") accepted with ECDSA only linked`)
	}
	for name, der := range map[string][]byte{
		// An Ed25519 key: SPKI with id-Ed25519 and 32 bytes.
		"ed25519": append([]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, make([]byte, 32)...),
	} {
		_, err := ParsePKIXPublicKey(der)
		if err == nil || !strings.Contains(err.Error(), "an "+name+" key") || !strings.Contains(err.Error(), "accepts ecdsa keys only") {
			t.Errorf("%s key: %v, want ErrKeyAlgorithm naming it", name, err)
		}
	}
}
