package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// ErrKeyAlgorithm: a key of a family (ECDSA, Ed25519, RSA) the verifier
// was not set up to accept. It wraps [ErrUnsupportedKey]: to callers that
// only ask whether a key was refused, it is one more unsupported key.
var ErrKeyAlgorithm = fmt.Errorf("%w of an algorithm this verifier does not accept", ErrUnsupportedKey)

// KeyAlgorithm is one family of signature keys: how its keys are read
// from PKIX, which of them are strong enough, how their DSSE signatures
// verify, and how they are written back. The families are [ECDSA],
// [Ed25519] and [RSA]; a verifier accepts those of a [KeyAlgorithms] set.
//
// The cryptography of a family is reachable only through its variable: a
// binary that names [ECDSA] alone links no RSA and no Ed25519 code. A
// generated loader names the families it was generated for (bpf2go-signed
// -key-algorithms; by default those of its -trust-key or -sign-key keys).
type KeyAlgorithm struct {
	name string
	// oid is the SubjectPublicKeyInfo algorithm of the family's keys, in
	// dotted form. (A string, not an asn1.ObjectIdentifier, so that the
	// family variables are static data: a slice copied at init would make
	// every family, and its code, reachable from the package's init.)
	oid string
	// parse reads a key of the family from the parameters and the key
	// bits of a SubjectPublicKeyInfo, as strictly as crypto/x509.
	parse func(params asn1.RawValue, key []byte) (crypto.PublicKey, error)
	// check reports whether k is of the family (by its Go type) and, if
	// so, refuses it with ErrUnsupportedKey when it is too weak.
	check func(k crypto.PublicKey) (bool, error)
	// verify checks a DSSE signature over pae by k, a checked key of the
	// family.
	verify func(k crypto.PublicKey, pae, sig []byte) bool
	// marshal returns the SubjectPublicKeyInfo algorithm and key bits of
	// k, a checked key of the family.
	marshal func(k crypto.PublicKey) (algorithmIdentifier, []byte, error)
}

// String returns the family's name as -key-algorithms spells it: "ecdsa",
// "ed25519" or "rsa".
func (a *KeyAlgorithm) String() string { return a.name }

// The key families. Their cryptography is the standard library's.
var (
	// ECDSA keys on P-256 or P-384, ASN.1 signatures over SHA-256 of the
	// DSSE encoding: cosign's default (cosign generate-key-pair,
	// bpf2go-signed keygen). Other curves are refused.
	ECDSA = &KeyAlgorithm{name: "ecdsa", oid: oidECPublicKeyDotted, parse: parseECDSA, check: checkECDSA, verify: verifyECDSA, marshal: marshalECDSA}
	// Ed25519 keys, signatures over the DSSE encoding itself.
	Ed25519 = &KeyAlgorithm{name: "ed25519", oid: oidEd25519Dotted, parse: parseEd25519, check: checkEd25519, verify: verifyEd25519, marshal: marshalEd25519}
	// RSA keys of 2048 bits or more, PKCS #1 v1.5 signatures over SHA-256
	// of the DSSE encoding.
	RSA = &KeyAlgorithm{name: "rsa", oid: oidRSADotted, parse: parseRSA, check: checkRSA, verify: verifyRSA, marshal: marshalRSA}
)

// familyNames names every family by its SubjectPublicKeyInfo algorithm
// and its Go key type, for messages about keys of families a verifier
// does not accept (and whose code it does not link). The order is the
// canonical order of [KeyAlgorithms.String].
var familyNames = []struct{ name, goType, oid string }{
	{"ecdsa", "*ecdsa.PublicKey", oidECPublicKeyDotted},
	{"ed25519", "ed25519.PublicKey", oidEd25519Dotted},
	{"rsa", "*rsa.PublicKey", oidRSADotted},
}

// KeyAlgorithms is a set of key families a verifier accepts. Its methods
// are the package's key functions restricted to the set: a key of
// another family is refused with [ErrKeyAlgorithm]. The package-level
// functions ([ParsePublicKey], [CheckKey], [Verify], ...) accept every
// family, for the generator, the CLI and the audit.
type KeyAlgorithms []*KeyAlgorithm

// AllKeyAlgorithms returns every family, in canonical order: ECDSA,
// Ed25519, RSA. Calling it links all of them.
func AllKeyAlgorithms() KeyAlgorithms { return KeyAlgorithms{ECDSA, Ed25519, RSA} }

// ParseKeyAlgorithms reads a comma-separated list of family names
// ("ecdsa,rsa"), or "all", as the generator's -key-algorithms takes it,
// and returns the set in canonical order. Unknown and repeated names and
// an empty list are refused.
func ParseKeyAlgorithms(list string) (KeyAlgorithms, error) {
	all := AllKeyAlgorithms()
	if list == "all" {
		return all, nil
	}
	var set KeyAlgorithms
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(a *KeyAlgorithm) bool { return a.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown key algorithm %q (want a comma-separated list of %s, or all)", name, all)
		}
		if slices.Contains(set, all[i]) {
			return nil, fmt.Errorf("key algorithm %s named twice", name)
		}
		set = append(set, all[i])
	}
	return all.Intersect(set), nil
}

// String returns the set as -key-algorithms takes it: "ecdsa,rsa".
func (s KeyAlgorithms) String() string {
	names := make([]string, len(s))
	for i, a := range s {
		names[i] = a.name
	}
	return strings.Join(names, ",")
}

// Intersect returns the families of s that are in t, in the order of s.
func (s KeyAlgorithms) Intersect(t KeyAlgorithms) KeyAlgorithms {
	var out KeyAlgorithms
	for _, a := range s {
		if slices.Contains(t, a) {
			out = append(out, a)
		}
	}
	return out
}

// Of returns the family of s that k belongs to, nil when none does. It
// does not check the key's strength: see [KeyAlgorithms.CheckKey].
func (s KeyAlgorithms) Of(k crypto.PublicKey) *KeyAlgorithm {
	for _, a := range s {
		if ok, _ := a.check(k); ok {
			return a
		}
	}
	return nil
}

// CheckKey accepts the keys of the families of s that are strong enough
// ([ECDSA], [Ed25519], [RSA] say which) and refuses everything else with
// [ErrUnsupportedKey]; a key of a known family that s leaves out with
// [ErrKeyAlgorithm].
func (s KeyAlgorithms) CheckKey(k crypto.PublicKey) error {
	_, err := s.checkKey(k)
	return err
}

func (s KeyAlgorithms) checkKey(k crypto.PublicKey) (*KeyAlgorithm, error) {
	for _, a := range s {
		if ok, err := a.check(k); ok {
			return a, err
		}
	}
	goType := fmt.Sprintf("%T", k)
	for _, f := range familyNames {
		if f.goType == goType {
			return nil, s.notAccepted(f.name, goType)
		}
	}
	return nil, fmt.Errorf("%w: %s (use ECDSA P-256/P-384, Ed25519 or RSA ≥ 2048)", ErrUnsupportedKey, goType)
}

// KeyAlgorithmError is the error of a key of a known family that a
// [KeyAlgorithms] set leaves out. It wraps [ErrKeyAlgorithm].
type KeyAlgorithmError struct {
	// Family is the key's family: "ecdsa", "ed25519" or "rsa".
	Family string
	// Found is the key as found: its Go type, or its PKIX algorithm.
	Found string
	// Accepted is the set that refused it.
	Accepted KeyAlgorithms
}

func (e *KeyAlgorithmError) Error() string {
	return fmt.Sprintf("%v: an %s key (%s), and this verifier accepts %s keys only (-key-algorithms %s)",
		ErrKeyAlgorithm, e.Family, e.Found, e.Accepted, e.Accepted)
}

func (e *KeyAlgorithmError) Unwrap() error { return ErrKeyAlgorithm }

// notAccepted is the error for a key of the family name that s leaves out.
func (s KeyAlgorithms) notAccepted(name, found string) error {
	return &KeyAlgorithmError{Family: name, Found: found, Accepted: s}
}

// With returns the names of s and of the family name, in canonical order,
// as -key-algorithms takes them: what a verifier needs to accept a key of
// that family as well.
func (s KeyAlgorithms) With(name string) string {
	var names []string
	for _, f := range familyNames {
		if f.name == name || slices.ContainsFunc(s, func(a *KeyAlgorithm) bool { return a.name == f.name }) {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ",")
}

// ParsePublicKey reads a PEM public key (PKIX "PUBLIC KEY", as cosign.pub)
// of a family of s and checks it as [KeyAlgorithms.CheckKey] does.
func (s KeyAlgorithms) ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	return parsePublicKey(s, pemBytes)
}

// ParsePKIXPublicKey reads a DER SubjectPublicKeyInfo holding a key of a
// family of s; see [ParsePKIXPublicKey].
func (s KeyAlgorithms) ParsePKIXPublicKey(der []byte) (crypto.PublicKey, error) {
	return parsePKIXPublicKey(s, der)
}

// MarshalPKIXPublicKey returns k, a key of a family of s, as a DER
// SubjectPublicKeyInfo: the bytes x509.MarshalPKIXPublicKey writes. Key
// fingerprints (SHA-256 of these bytes) are computed from it.
func (s KeyAlgorithms) MarshalPKIXPublicKey(k crypto.PublicKey) ([]byte, error) {
	a, err := s.checkKey(k)
	if err != nil {
		return nil, err
	}
	alg, key, err := a.marshal(k)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: alg,
		PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)},
	})
}

// verifySig checks one DSSE signature over pae with k, a key of a family
// of s.
func (s KeyAlgorithms) verifySig(k crypto.PublicKey, pae, sig []byte) bool {
	a, err := s.checkKey(k)
	return err == nil && a.verify(k, pae, sig)
}

func parseECDSA(params asn1.RawValue, key []byte) (crypto.PublicKey, error) {
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
}

func checkECDSA(k crypto.PublicKey) (bool, error) {
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return false, nil
	}
	if ec.Curve == nil {
		return true, fmt.Errorf("%w: ECDSA key without a curve", ErrUnsupportedKey)
	}
	if n := ec.Curve.Params().Name; n != "P-256" && n != "P-384" {
		return true, fmt.Errorf("%w: ECDSA curve %s (use P-256 or P-384)", ErrUnsupportedKey, n)
	}
	return true, nil
}

func verifyECDSA(k crypto.PublicKey, pae, sig []byte) bool {
	sum := sha256.Sum256(pae)
	return ecdsa.VerifyASN1(k.(*ecdsa.PublicKey), sum[:], sig)
}

func marshalECDSA(k crypto.PublicKey) (algorithmIdentifier, []byte, error) {
	ec := k.(*ecdsa.PublicKey)
	oid := oidP256
	if ec.Curve == elliptic.P384() {
		oid = oidP384
	}
	params, err := asn1.Marshal(oid)
	if err != nil {
		return algorithmIdentifier{}, nil, err
	}
	key, err := ec.Bytes()
	if err != nil {
		return algorithmIdentifier{}, nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
	}
	return algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}, key, nil
}

func parseEd25519(params asn1.RawValue, key []byte) (crypto.PublicKey, error) {
	if len(params.FullBytes) != 0 {
		return nil, errors.New("Ed25519 key: unexpected parameters")
	}
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("Ed25519 key: %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(key), nil
}

func checkEd25519(k crypto.PublicKey) (bool, error) {
	ed, ok := k.(ed25519.PublicKey)
	if !ok {
		return false, nil
	}
	// ed25519.Verify panics on a key of another length.
	if len(ed) != ed25519.PublicKeySize {
		return true, fmt.Errorf("%w: Ed25519 key of %d bytes, want %d", ErrUnsupportedKey, len(ed), ed25519.PublicKeySize)
	}
	return true, nil
}

func verifyEd25519(k crypto.PublicKey, pae, sig []byte) bool {
	return ed25519.Verify(k.(ed25519.PublicKey), pae, sig)
}

func marshalEd25519(k crypto.PublicKey) (algorithmIdentifier, []byte, error) {
	return algorithmIdentifier{Algorithm: oidEd25519}, k.(ed25519.PublicKey), nil
}

// pkcs1PublicKey is RFC 8017's RSAPublicKey.
type pkcs1PublicKey struct {
	N *big.Int
	E int
}

func parseRSA(params asn1.RawValue, key []byte) (crypto.PublicKey, error) {
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

func checkRSA(k crypto.PublicKey) (bool, error) {
	r, ok := k.(*rsa.PublicKey)
	if !ok {
		return false, nil
	}
	if r.N == nil || r.N.BitLen() < 2048 {
		bits := 0
		if r.N != nil {
			bits = r.N.BitLen()
		}
		return true, fmt.Errorf("%w: RSA key of %d bits (use 2048 or more)", ErrUnsupportedKey, bits)
	}
	return true, nil
}

func verifyRSA(k crypto.PublicKey, pae, sig []byte) bool {
	sum := sha256.Sum256(pae)
	return rsa.VerifyPKCS1v15(k.(*rsa.PublicKey), Hash, sum[:], sig) == nil
}

func marshalRSA(k crypto.PublicKey) (algorithmIdentifier, []byte, error) {
	r := k.(*rsa.PublicKey)
	key, err := asn1.Marshal(pkcs1PublicKey{N: r.N, E: r.E})
	return algorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}, key, err
}
