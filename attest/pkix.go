package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// The public keys this project accepts, in the PKIX SubjectPublicKeyInfo
// form of RFC 5280 §4.1.2.7 that cosign.pub and x509.MarshalPKIXPublicKey
// use, are read and written here with encoding/asn1 instead of
// crypto/x509: crypto/x509 imports net, and with cgo available (the go
// command's default on Linux) net makes every binary that links it
// dynamically linked against the C library. The verifying loader ships in
// every program that loads signed BPF, so it stays on the keys' own
// packages. attest's tests check that both read and write the same bytes
// as crypto/x509 for every accepted key type.

var (
	oidRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1} // RFC 3279 rsaEncryption
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}     // RFC 5480 id-ecPublicKey
	oidEd25519     = asn1.ObjectIdentifier{1, 3, 101, 112}             // RFC 8410 id-Ed25519
	oidP224        = asn1.ObjectIdentifier{1, 3, 132, 0, 33}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384        = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521        = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type subjectPublicKeyInfo struct {
	Algorithm algorithmIdentifier
	PublicKey asn1.BitString
}

// pkcs1PublicKey is RFC 8017's RSAPublicKey.
type pkcs1PublicKey struct {
	N *big.Int
	E int
}

var errTrailing = errors.New("trailing data")

// ParsePKIXPublicKey is [parsePKIXPublicKey] for attest/keyless, which
// reads the keys of certificates and trusted roots with it rather than
// with crypto/x509.
func ParsePKIXPublicKey(der []byte) (crypto.PublicKey, error) { return parsePKIXPublicKey(der) }

// parsePKIXPublicKey reads a DER SubjectPublicKeyInfo holding an ECDSA
// P-256 or P-384, Ed25519 or RSA key. It is as strict as
// x509.ParsePKIXPublicKey for these types: no trailing data, the
// parameters each algorithm requires, a point on the curve, a positive
// modulus and exponent.
func parsePKIXPublicKey(der []byte) (crypto.PublicKey, error) {
	var spki subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil {
		return nil, fmt.Errorf("SubjectPublicKeyInfo: %w", err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("SubjectPublicKeyInfo: %w", errTrailing)
	}
	if spki.PublicKey.BitLength%8 != 0 {
		return nil, errors.New("public key: not a whole number of bytes")
	}
	key := spki.PublicKey.RightAlign()
	alg, params := spki.Algorithm.Algorithm, spki.Algorithm.Parameters
	switch {
	case alg.Equal(oidECPublicKey):
		var curveOID asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(params.FullBytes, &curveOID); err != nil || len(rest) > 0 {
			return nil, errors.New("ECDSA key: parameters are not a named curve")
		}
		var curve elliptic.Curve
		switch {
		case curveOID.Equal(oidP256):
			curve = elliptic.P256()
		case curveOID.Equal(oidP384):
			curve = elliptic.P384()
		case curveOID.Equal(oidP224):
			return nil, fmt.Errorf("%w: ECDSA curve P-224 (use P-256 or P-384)", ErrUnsupportedKey)
		case curveOID.Equal(oidP521):
			return nil, fmt.Errorf("%w: ECDSA curve P-521 (use P-256 or P-384)", ErrUnsupportedKey)
		default:
			return nil, fmt.Errorf("%w: ECDSA curve %v (use P-256 or P-384)", ErrUnsupportedKey, curveOID)
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, key)
		if err != nil {
			return nil, fmt.Errorf("ECDSA key: %w", err)
		}
		return k, nil
	case alg.Equal(oidEd25519):
		if len(params.FullBytes) != 0 {
			return nil, errors.New("Ed25519 key: unexpected parameters")
		}
		if len(key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key: %d bytes, want %d", len(key), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(key), nil
	case alg.Equal(oidRSA):
		if params.Tag != asn1.TagNull || params.Class != asn1.ClassUniversal || len(params.Bytes) != 0 {
			return nil, errors.New("RSA key: missing NULL parameters")
		}
		var pk pkcs1PublicKey
		rest, err := asn1.Unmarshal(key, &pk)
		if err != nil {
			return nil, fmt.Errorf("RSA key: %w", err)
		}
		if len(rest) > 0 {
			return nil, fmt.Errorf("RSA key: %w", errTrailing)
		}
		if pk.N.Sign() <= 0 {
			return nil, errors.New("RSA key: modulus is not a positive number")
		}
		if pk.E <= 0 {
			return nil, errors.New("RSA key: exponent is not a positive number")
		}
		return &rsa.PublicKey{N: pk.N, E: pk.E}, nil
	}
	return nil, fmt.Errorf("unknown public key algorithm %v", alg)
}

// MarshalPKIXPublicKey returns k as a DER SubjectPublicKeyInfo, the bytes
// x509.MarshalPKIXPublicKey writes, for the key types [CheckKey] accepts.
// Key fingerprints (SHA-256 of these bytes) are computed from it.
func MarshalPKIXPublicKey(k crypto.PublicKey) ([]byte, error) {
	if err := CheckKey(k); err != nil {
		return nil, err
	}
	var spki subjectPublicKeyInfo
	var key []byte
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		oid := oidP256
		if k.Curve == elliptic.P384() {
			oid = oidP384
		}
		params, err := asn1.Marshal(oid)
		if err != nil {
			return nil, err
		}
		if key, err = k.Bytes(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
		}
		spki.Algorithm = algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}
	case ed25519.PublicKey:
		key = k
		spki.Algorithm = algorithmIdentifier{Algorithm: oidEd25519}
	case *rsa.PublicKey:
		var err error
		if key, err = asn1.Marshal(pkcs1PublicKey{N: k.N, E: k.E}); err != nil {
			return nil, err
		}
		spki.Algorithm = algorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}
	}
	spki.PublicKey = asn1.BitString{Bytes: key, BitLength: 8 * len(key)}
	return asn1.Marshal(spki)
}
