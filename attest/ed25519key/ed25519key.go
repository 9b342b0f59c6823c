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
	"encoding/hex"
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
	if smallOrder(key) {
		return nil, errSmallOrder(key)
	}
	return ed25519.PublicKey(key), nil
}

// smallOrderY are the encodings of y (little-endian, sign bit clear) of
// the Ed25519 points whose order divides the cofactor 8: 0, 1 and p-1,
// the y of the order-8 points and p minus it, and p and p+1, which
// crypto/ed25519 decodes as 0 and 1 (it accepts non-canonical y). Such a
// key has no secret: crypto/ed25519 checks [S]B = R + [k]A, and [k]A is
// one of at most 8 points, so R the identity and S zero verify for one
// message in 8 or fewer, whoever made them. They are refused as weak, as
// RSA keys under 2048 bits are (TestSmallOrderKeyRefused).
var smallOrderY = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
}

// smallOrder reports whether key, 32 bytes, is a point of small order.
func smallOrder(key []byte) bool {
	var y [ed25519.PublicKeySize]byte
	copy(y[:], key)
	y[len(y)-1] &^= 0x80 // the sign of x
	var h [2 * ed25519.PublicKeySize]byte
	hex.Encode(h[:], y[:])
	for _, s := range smallOrderY {
		if string(h[:]) == s {
			return true
		}
	}
	return false
}

func errSmallOrder(key []byte) error {
	return fmt.Errorf("%w: Ed25519 key %x is a point of small order, for which anyone can make signatures (use a key from ed25519.GenerateKey or bpf2go-signed keygen)", attest.ErrUnsupportedKey, key)
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
	if smallOrder(ed) {
		return true, errSmallOrder(ed)
	}
	return true, nil
}

func verify(k crypto.PublicKey, pae, sig []byte) bool {
	return ed25519.Verify(k.(ed25519.PublicKey), pae, sig)
}

func marshal(k crypto.PublicKey) (asn1.ObjectIdentifier, asn1.RawValue, []byte, error) {
	return oid, asn1.RawValue{}, k.(ed25519.PublicKey), nil
}
