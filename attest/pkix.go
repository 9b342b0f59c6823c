package attest

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
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
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1} // RFC 5480 id-ecPublicKey
	oidP224        = asn1.ObjectIdentifier{1, 3, 132, 0, 33}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384        = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521        = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// The algorithms of the key families in dotted form, as
// [KeyAlgorithm] and familyNames compare them.
const (
	oidRSADotted         = "1.2.840.113549.1.1.1"
	oidECPublicKeyDotted = "1.2.840.10045.2.1"
	oidEd25519Dotted     = "1.3.101.112"
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type subjectPublicKeyInfo struct {
	Algorithm algorithmIdentifier
	PublicKey asn1.BitString
}

var errTrailing = errors.New("trailing data")

// ParsePKIXPublicKey reads a DER SubjectPublicKeyInfo holding a key of a
// family linked into the binary ([AllKeyAlgorithms]): attest/keyless reads
// the keys of certificates and trusted roots with it rather than with
// crypto/x509. [KeyAlgorithms.ParsePKIXPublicKey] reads the keys of some
// families only.
func ParsePKIXPublicKey(der []byte) (crypto.PublicKey, error) {
	return parsePKIXPublicKey(AllKeyAlgorithms(), der)
}

// parsePKIXPublicKey reads a DER SubjectPublicKeyInfo holding a key of a
// family of s. It is as strict as x509.ParsePKIXPublicKey for these
// types: no trailing data, the parameters each algorithm requires, a
// point on the curve, a positive modulus and exponent. A key of a known
// family that s leaves out is refused with [ErrKeyAlgorithm] before its
// bits are read.
func parsePKIXPublicKey(s KeyAlgorithms, der []byte) (crypto.PublicKey, error) {
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
	alg := spki.Algorithm.Algorithm.String()
	for _, a := range s {
		if alg == a.def.OID {
			return a.def.Parse(spki.Algorithm.Parameters, spki.PublicKey.RightAlign())
		}
	}
	for _, f := range familyNames {
		if alg == f.oid {
			return nil, s.notAccepted(f.name, "PKIX algorithm "+alg)
		}
	}
	return nil, fmt.Errorf("unknown public key algorithm %v", alg)
}

// MarshalPKIXPublicKey returns k as a DER SubjectPublicKeyInfo, the bytes
// x509.MarshalPKIXPublicKey writes, for the key types [CheckKey] accepts.
// Key fingerprints (SHA-256 of these bytes) are computed from it.
func MarshalPKIXPublicKey(k crypto.PublicKey) ([]byte, error) {
	return AllKeyAlgorithms().MarshalPKIXPublicKey(k)
}
