package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/bpf2go-signed/bpf2go-signed/attest/internal/keyalg"
)

// ErrKeyAlgorithm: a key of a family (ECDSA, Ed25519, RSA) the verifier
// was not set up to accept. It wraps [ErrUnsupportedKey]: to callers that
// only ask whether a key was refused, it is one more unsupported key.
var ErrKeyAlgorithm = fmt.Errorf("%w of an algorithm this verifier does not accept", ErrUnsupportedKey)

// KeyAlgorithm is one family of signature keys: how its keys are read
// from PKIX, which of them are strong enough, how their DSSE signatures
// verify, and how they are written back. The families are [ECDSA], built
// into this package, and Ed25519 and RSA, each in a package of its own
// (attest/ed25519key, attest/rsakey); a verifier accepts those of a
// [KeyAlgorithms] set.
//
// A binary links the cryptography of the families it imports and no
// other: importing crypto/ed25519 or crypto/rsa at all links their
// self-tests, and with them most of their code. A generated loader names
// the families it was generated for (bpf2go-signed -key-algorithms; by
// default those of its -trust-key or -sign-key keys), and so imports only
// their packages.
type KeyAlgorithm struct{ def keyalg.Def }

// String returns the family's name as -key-algorithms spells it: "ecdsa",
// "ed25519" or "rsa".
func (a *KeyAlgorithm) String() string { return a.def.Name }

// ECDSA is the family of ECDSA keys on P-256 or P-384, with ASN.1
// signatures over SHA-256 of the DSSE encoding: cosign's default (cosign
// generate-key-pair, bpf2go-signed keygen). Other curves are refused.
var ECDSA = &KeyAlgorithm{keyalg.Def{Name: "ecdsa", OID: oidECPublicKeyDotted, Parse: parseECDSA, Check: checkECDSA, Verify: verifyECDSA, Marshal: marshalECDSA}}

// familyNames names every family by its SubjectPublicKeyInfo algorithm
// and its Go key type, for messages about keys of families a verifier
// does not accept (and whose code it may not link), with the package
// that defines it. The order is the canonical order of [KeyAlgorithms].
var familyNames = []struct{ name, goType, oid, pkg string }{
	{"ecdsa", "*ecdsa.PublicKey", oidECPublicKeyDotted, "github.com/bpf2go-signed/bpf2go-signed/attest"},
	{"ed25519", "ed25519.PublicKey", oidEd25519Dotted, "github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key"},
	{"rsa", "*rsa.PublicKey", oidRSADotted, "github.com/bpf2go-signed/bpf2go-signed/attest/rsakey"},
}

// The families linked into this binary: ECDSA and those whose packages
// are imported.
var (
	registryMu sync.Mutex
	registry   = map[string]*KeyAlgorithm{"ecdsa": ECDSA}
)

// DefineKeyAlgorithm defines a key family and registers it for the
// package-level functions of this package, which accept every
// registered family. It is for this module's family packages
// (attest/ed25519key, attest/rsakey), which call it once, at init: its
// argument's type is internal. A family is registered once.
func DefineKeyAlgorithm(d keyalg.Def) *KeyAlgorithm {
	i := slices.IndexFunc(familyNames, func(f struct{ name, goType, oid, pkg string }) bool { return f.name == d.Name })
	if i < 0 || familyNames[i].oid != d.OID {
		panic(fmt.Sprintf("attest: unknown key family %q", d.Name))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[d.Name]; dup {
		panic(fmt.Sprintf("attest: key family %s defined twice", d.Name))
	}
	a := &KeyAlgorithm{d}
	registry[d.Name] = a
	return a
}

// KeyAlgorithms is a set of key families a verifier accepts. Its methods
// are the package's key functions restricted to the set: a key of
// another family is refused with [ErrKeyAlgorithm]. The package-level
// functions ([ParsePublicKey], [CheckKey], [Verify], ...) accept every
// family linked into the binary ([AllKeyAlgorithms]), for the generator,
// the CLI and the audit.
type KeyAlgorithms []*KeyAlgorithm

// AllKeyAlgorithms returns the families linked into this binary, in
// canonical order: [ECDSA], then Ed25519 and RSA when their packages
// (attest/ed25519key, attest/rsakey) are imported.
func AllKeyAlgorithms() KeyAlgorithms {
	registryMu.Lock()
	defer registryMu.Unlock()
	var out KeyAlgorithms
	for _, f := range familyNames {
		if a := registry[f.name]; a != nil {
			out = append(out, a)
		}
	}
	return out
}

// ParseKeyAlgorithms reads a comma-separated list of family names
// ("ecdsa,rsa"), or "all", as the generator's -key-algorithms takes it,
// and returns the set in canonical order. Unknown and repeated names and
// an empty list are refused.
func ParseKeyAlgorithms(list string) (KeyAlgorithms, error) {
	all := AllKeyAlgorithms()
	if list == "all" {
		if len(all) < len(familyNames) {
			return nil, fmt.Errorf("all: only %s linked into this binary", all)
		}
		return all, nil
	}
	var set KeyAlgorithms
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(a *KeyAlgorithm) bool { return a.def.Name == name })
		if i < 0 {
			for _, f := range familyNames {
				if f.name == name {
					return nil, fmt.Errorf("key algorithm %s is not linked into this binary: import %s", name, f.pkg)
				}
			}
			return nil, fmt.Errorf("unknown key algorithm %q (want a comma-separated list of ecdsa, ed25519 and rsa, or all)", name)
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
		names[i] = a.def.Name
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
		if ok, _ := a.def.Check(k); ok {
			return a
		}
	}
	return nil
}

// CheckKey accepts the keys of the families of s that are strong enough
// (ECDSA P-256 and P-384, Ed25519 keys of 32 bytes, RSA of 2048 bits or
// more) and refuses everything else with [ErrUnsupportedKey]; a key of a
// known family that s leaves out with [ErrKeyAlgorithm].
func (s KeyAlgorithms) CheckKey(k crypto.PublicKey) error {
	_, err := s.checkKey(k)
	return err
}

func (s KeyAlgorithms) checkKey(k crypto.PublicKey) (*KeyAlgorithm, error) {
	for _, a := range s {
		if ok, err := a.def.Check(k); ok {
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
	return fmt.Sprintf("%v: an %s key (%s), and this verifier accepts %s keys only",
		ErrKeyAlgorithm, e.Family, e.Found, e.Accepted)
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
		if f.name == name || slices.ContainsFunc(s, func(a *KeyAlgorithm) bool { return a.def.Name == f.name }) {
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
	alg, params, key, err := a.def.Marshal(k)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: alg, Parameters: params},
		PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)},
	})
}

// verifySig checks one DSSE signature over pae with k, a key of a family
// of s.
func (s KeyAlgorithms) verifySig(k crypto.PublicKey, pae, sig []byte) bool {
	a, err := s.checkKey(k)
	return err == nil && a.def.Verify(k, pae, sig)
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
	// A point off the curve (a key built by hand) verifies nothing and
	// has no fingerprint, and one without coordinates makes crypto/ecdsa
	// panic: refused here rather than as a bad signature, or a panic.
	if ec.X == nil || ec.Y == nil {
		return true, fmt.Errorf("%w: ECDSA key without a point", ErrUnsupportedKey)
	}
	if _, err := ec.Bytes(); err != nil {
		return true, fmt.Errorf("%w: ECDSA key: %w", ErrUnsupportedKey, err)
	}
	return true, nil
}

func verifyECDSA(k crypto.PublicKey, pae, sig []byte) bool {
	sum := sha256.Sum256(pae)
	return ecdsa.VerifyASN1(k.(*ecdsa.PublicKey), sum[:], sig)
}

func marshalECDSA(k crypto.PublicKey) (asn1.ObjectIdentifier, asn1.RawValue, []byte, error) {
	ec := k.(*ecdsa.PublicKey)
	oid := oidP256
	if ec.Curve == elliptic.P384() {
		oid = oidP384
	}
	params, err := asn1.Marshal(oid)
	if err != nil {
		return nil, asn1.RawValue{}, nil, err
	}
	key, err := ec.Bytes()
	if err != nil {
		return nil, asn1.RawValue{}, nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
	}
	return oidECPublicKey, asn1.RawValue{FullBytes: params}, key, nil
}
