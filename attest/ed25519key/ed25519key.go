// Package ed25519key is the Ed25519 key family of package attest:
// signatures over the DSSE encoding itself.
//
// It is a package of its own so that verifiers that accept no Ed25519 key
// do not link crypto/ed25519 (its self-test alone links most of it).
// Importing it registers the family for attest's package-level
// functions; loaders generated with -key-algorithms ed25519 (or for an
// Ed25519 -trust-key) name [Algorithm] in their Object.KeyAlgorithms.
package ed25519key

import (
	"crypto"
	"crypto/ed25519"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/internal/keyalg"
)

// Algorithm is the Ed25519 key family.
var Algorithm = attest.DefineKeyAlgorithm(keyalg.Def{
	Name:    "ed25519",
	OID:     "1.3.101.112",
	Parse:   parse,
	Check:   check,
	Verify:  verify,
	Marshal: marshal,
})

// oid is RFC 8410's id-Ed25519.
var oid = asn1.ObjectIdentifier{1, 3, 101, 112}

// parse reads a key of 32 bytes, without parameters (RFC 8410 §3).
func parse(params asn1.RawValue, key []byte) (crypto.PublicKey, error) {
	if len(params.FullBytes) != 0 {
		return nil, errors.New("Ed25519 key: unexpected parameters")
	}
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("Ed25519 key: %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(key), nil
}

func check(k crypto.PublicKey) (bool, error) {
	ed, ok := k.(ed25519.PublicKey)
	if !ok {
		return false, nil
	}
	// ed25519.Verify panics on a key of another length.
	if len(ed) != ed25519.PublicKeySize {
		return true, fmt.Errorf("%w: Ed25519 key of %d bytes, want %d", attest.ErrUnsupportedKey, len(ed), ed25519.PublicKeySize)
	}
	return true, nil
}

func verify(k crypto.PublicKey, pae, sig []byte) bool {
	return ed25519.Verify(k.(ed25519.PublicKey), pae, sig)
}

func marshal(k crypto.PublicKey) (asn1.ObjectIdentifier, asn1.RawValue, []byte, error) {
	return oid, asn1.RawValue{}, k.(ed25519.PublicKey), nil
}
