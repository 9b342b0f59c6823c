// Package keyalg holds the definition of a key family of package attest,
// so that only this module's family packages (attest/ed25519key,
// attest/rsakey) can define one: attest.DefineKeyAlgorithm takes a [Def],
// which no package outside attest can name.
package keyalg

import (
	"crypto"
	"encoding/asn1"
)

// Def defines a key family.
type Def struct {
	// Name is the family's name as -key-algorithms spells it.
	Name string
	// OID is the SubjectPublicKeyInfo algorithm of the family's keys, in
	// dotted form.
	OID string
	// Parse reads a key of the family from the parameters and the key
	// bits of a SubjectPublicKeyInfo, as strictly as crypto/x509.
	Parse func(params asn1.RawValue, key []byte) (crypto.PublicKey, error)
	// Check reports whether k is of the family (by its Go type) and, if
	// so, refuses it (wrapping attest.ErrUnsupportedKey) when it is too
	// weak or malformed.
	Check func(k crypto.PublicKey) (bool, error)
	// Verify checks a DSSE signature over pae by k, a checked key of the
	// family.
	Verify func(k crypto.PublicKey, pae, sig []byte) bool
	// Marshal returns the SubjectPublicKeyInfo algorithm, parameters and
	// key bits of k, a checked key of the family.
	Marshal func(k crypto.PublicKey) (alg asn1.ObjectIdentifier, params asn1.RawValue, key []byte, err error)
}
