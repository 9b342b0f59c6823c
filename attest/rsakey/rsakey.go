// Package rsakey is the RSA key family of package attest: keys of 2048
// bits or more, PKCS #1 v1.5 signatures over SHA-256 of the DSSE
// encoding, as cosign makes them with RSA keys.
//
// It is a package of its own so that verifiers that accept no RSA key do
// not link crypto/rsa (its self-test alone links most of it). Importing
// it registers the family for attest's package-level functions; loaders
// generated with -key-algorithms rsa (or for an RSA -trust-key) name
// [Algorithm] in their Object.KeyAlgorithms.
package rsakey

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/internal/keyalg"
)

// MinBits is the smallest modulus accepted.
const MinBits = 2048

// Algorithm is the RSA key family.
var Algorithm = attest.DefineKeyAlgorithm(keyalg.Def{
	Name:    "rsa",
	OID:     "1.2.840.113549.1.1.1",
	Parse:   parse,
	Check:   check,
	Verify:  verify,
	Marshal: marshal,
})

// oid is RFC 3279's rsaEncryption.
var oid = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

// pkcs1PublicKey is RFC 8017's RSAPublicKey.
type pkcs1PublicKey struct {
	N *big.Int
	E int
}

// parse reads an RSAPublicKey with NULL parameters, as strictly as
// crypto/x509 and a little more: no trailing data after the key.
func parse(params asn1.RawValue, key []byte) (crypto.PublicKey, error) {
	if params.Tag != asn1.TagNull || params.Class != asn1.ClassUniversal || len(params.Bytes) != 0 {
		return nil, errors.New("RSA key: missing NULL parameters")
	}
	var pk pkcs1PublicKey
	rest, err := asn1.Unmarshal(key, &pk)
	if err != nil {
		return nil, fmt.Errorf("RSA key: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("RSA key: trailing data")
	}
	if pk.N.Sign() <= 0 {
		return nil, errors.New("RSA key: modulus is not a positive number")
	}
	if pk.E <= 0 {
		return nil, errors.New("RSA key: exponent is not a positive number")
	}
	return &rsa.PublicKey{N: pk.N, E: pk.E}, nil
}

func check(k crypto.PublicKey) (bool, error) {
	r, ok := k.(*rsa.PublicKey)
	if !ok {
		return false, nil
	}
	bits := 0
	if r.N != nil {
		bits = r.N.BitLen()
	}
	if bits < MinBits {
		return true, fmt.Errorf("%w: RSA key of %d bits (use %d or more)", attest.ErrUnsupportedKey, bits, MinBits)
	}
	// crypto/rsa verifies nothing with these (an even modulus, an
	// exponent below 3, even, or above 2³¹-1): refused here, before
	// anything is loaded, rather than as a bad signature after.
	if r.N.Bit(0) == 0 {
		return true, fmt.Errorf("%w: RSA key with an even modulus", attest.ErrUnsupportedKey)
	}
	if r.E < 3 || r.E%2 == 0 || r.E > 1<<31-1 {
		return true, fmt.Errorf("%w: RSA key with public exponent %d (want an odd exponent from 3 to 2³¹-1; 65537 is usual)", attest.ErrUnsupportedKey, r.E)
	}
	return true, nil
}

func verify(k crypto.PublicKey, pae, sig []byte) bool {
	sum := sha256.Sum256(pae)
	return rsa.VerifyPKCS1v15(k.(*rsa.PublicKey), attest.Hash, sum[:], sig) == nil
}

func marshal(k crypto.PublicKey) (asn1.ObjectIdentifier, asn1.RawValue, []byte, error) {
	r := k.(*rsa.PublicKey)
	key, err := asn1.Marshal(pkcs1PublicKey{N: r.N, E: r.E})
	return oid, asn1.NullRawValue, key, err
}
