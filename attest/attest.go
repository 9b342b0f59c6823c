// Package attest is the signed format of bpf2go-signed: a DSSE envelope
// whose payload is an in-toto Statement about one BPF ELF object, with the
// object's measurement (package measure) as predicate. See docs/signing.md.
//
// The envelope of an object X.o lives next to it in X.o.intoto.json. It
// verifies with cosign v2:
//
//	cosign verify-blob-attestation --key PUB --signature X.o.intoto.json \
//	    --type https://github.com/bpf2go-signed/bpf2go-signed/measurement/v1 \
//	    --insecure-ignore-tlog X.o
//
// This package holds what verifiers need (parsing, public keys,
// verification). Its cryptography and parsing are the standard library's;
// its one import beyond it is package measure, for the predicate (and so
// cilium/ebpf, which every loader links anyway). Signing, private keys,
// sigstore and KMS live in package signing, so shipped binaries stay lean.
//
// Keys come in three families: [ECDSA], in this package, and Ed25519 and
// RSA, in attest/ed25519key and attest/rsakey. The package-level functions
// accept the families linked into the binary; the methods of a
// [KeyAlgorithms] set accept the families it names. A binary links the
// cryptography of the family packages it imports only (generated loaders
// import those of their keys).
package attest

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

const (
	// PredicateType identifies a bpf2go-signed measurement manifest
	// (docs/measurement.md, version 1).
	PredicateType = "https://github.com/bpf2go-signed/bpf2go-signed/measurement/v1"
	// StatementType is the in-toto Statement version used.
	StatementType = "https://in-toto.io/Statement/v1"
	// PayloadType is the DSSE payload type of in-toto statements.
	PayloadType = "application/vnd.in-toto+json"
	// Suffix is appended to an object's file name to name its envelope.
	Suffix = ".intoto.json"
)

// Sentinel errors; each verification failure wraps exactly one of them.
var (
	// ErrMalformed: the envelope or its statement cannot be parsed, or does
	// not have the expected types.
	ErrMalformed = errors.New("malformed envelope")
	// ErrUnsigned: the envelope is the unsigned placeholder.
	ErrUnsigned = errors.New("envelope is not signed")
	// ErrBadSignature: no signature verifies with a trusted key.
	ErrBadSignature = errors.New("no signature verifies with a trusted key")
	// ErrWrongSubject: the envelope is about another object.
	ErrWrongSubject = errors.New("envelope is for another object")
	// ErrNoTrustedKeys: verification was asked with no key to trust.
	ErrNoTrustedKeys = errors.New("no trusted keys")
	// ErrUnsupportedKey: a key of a type or size this project refuses.
	ErrUnsupportedKey = errors.New("unsupported key")
)

// Subject is an in-toto resource descriptor.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto Statement whose predicate is a manifest.
type Statement struct {
	Type          string            `json:"_type"`
	Subject       []Subject         `json:"subject"`
	PredicateType string            `json:"predicateType"`
	Predicate     *measure.Manifest `json:"predicate"`
}

// Envelope is a DSSE envelope.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// NewStatement returns the statement about object (its file name and bytes)
// with its manifest.
func NewStatement(name string, object []byte, m *measure.Manifest) *Statement {
	sum := sha256.Sum256(object)
	return &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: name, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		PredicateType: PredicateType,
		Predicate:     m,
	}
}

func (s *Statement) marshal() ([]byte, error) {
	if err := s.Predicate.Check(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return json.Marshal(s)
}

// Unsigned returns the placeholder envelope: the statement with no
// signature. It lets generated code build; its verdict is UNSIGNED until
// "bpf2go-signed sign" replaces it.
func Unsigned(s *Statement) ([]byte, error) {
	payload, err := s.marshal()
	if err != nil {
		return nil, err
	}
	return NewEnvelope(payload)
}

// Marshal returns the statement's JSON, after checking its manifest: the
// payload that signers sign.
func (s *Statement) Marshal() ([]byte, error) { return s.marshal() }

// NewEnvelope returns the envelope of a payload with its signatures, in the
// layout this project writes.
func NewEnvelope(payload []byte, sigs ...[]byte) ([]byte, error) {
	env := &Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []Signature{}}
	for _, sig := range sigs {
		env.Signatures = append(env.Signatures, Signature{Sig: base64.StdEncoding.EncodeToString(sig)})
	}
	return marshalEnvelope(env)
}

// PAE is the DSSE pre-authentication encoding of a payload: the bytes a
// DSSE signature signs.
func PAE(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

func marshalEnvelope(env *Envelope) ([]byte, error) {
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Parse decodes an envelope and its statement without checking any
// signature. Use it to show what an envelope claims, never to trust it.
func Parse(raw []byte) (*Envelope, *Statement, error) {
	env, payload, err := parseEnvelope(raw)
	if err != nil {
		return nil, nil, err
	}
	st, err := parseStatement(payload)
	if err != nil {
		return nil, nil, err
	}
	return env, st, nil
}

// parseEnvelope decodes the envelope and its payload bytes.
func parseEnvelope(raw []byte) (*Envelope, []byte, error) {
	env, err := decodeEnvelope(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: not a JSON DSSE envelope: %w", ErrMalformed, err)
	}
	if env.PayloadType != PayloadType {
		return nil, nil, fmt.Errorf("%w: payloadType %q, want %q", ErrMalformed, env.PayloadType, PayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload is not base64: %v", ErrMalformed, err)
	}
	return env, payload, nil
}

func parseStatement(payload []byte) (*Statement, error) {
	st, err := decodeStatement(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: statement: %w", ErrMalformed, err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("%w: statement _type %q, want %q", ErrMalformed, st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		return nil, fmt.Errorf("%w: predicateType %q, want %q", ErrMalformed, st.PredicateType, PredicateType)
	}
	if len(st.Subject) != 1 || len(st.Subject[0].Digest["sha256"]) != 64 {
		return nil, fmt.Errorf("%w: want one subject with a sha256 digest", ErrMalformed)
	}
	if st.Predicate == nil {
		return nil, fmt.Errorf("%w: no predicate", ErrMalformed)
	}
	if err := st.Predicate.Check(); err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", ErrMalformed, err)
	}
	return st, nil
}

// Verified is the result of a successful [Verify].
type Verified struct {
	Statement *Statement
	// Key is the trusted key whose signature verified.
	Key crypto.PublicKey
	// KeyIndex is Key's position in the trusted keys.
	KeyIndex int
}

// Verify checks that raw is an envelope signed by one of keys, about
// object: the signature verifies over the DSSE encoding of the payload, the
// payload is a statement of this project's predicate type, the subject's
// sha256 is object's, and the manifest is well formed. It returns the
// statement only then. Keys of every family linked into the binary are
// accepted ([AllKeyAlgorithms]: ECDSA, and Ed25519 and RSA when
// attest/ed25519key and attest/rsakey are imported); [KeyAlgorithms.Verify]
// accepts the families of a set.
//
// Errors wrap [ErrMalformed], [ErrUnsigned], [ErrBadSignature],
// [ErrWrongSubject], [ErrNoTrustedKeys] or [ErrUnsupportedKey].
func Verify(raw, object []byte, keys []crypto.PublicKey) (*Verified, error) {
	return AllKeyAlgorithms().Verify(raw, object, keys)
}

// Verify is [Verify] with keys of the families of s only: a key of
// another family is refused with [ErrKeyAlgorithm].
func (s KeyAlgorithms) Verify(raw, object []byte, keys []crypto.PublicKey) (*Verified, error) {
	v, err := s.VerifySignature(raw, keys)
	if err != nil {
		return nil, err
	}
	st := v.Statement
	sum := sha256.Sum256(object)
	if got, want := st.Subject[0].Digest["sha256"], hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("%w: the envelope is about %s (sha256 %s), the object's sha256 is %s; sign this object again",
			ErrWrongSubject, st.Subject[0].Name, got, want)
	}
	return v, nil
}

// VerifySignature is [Verify] without the object: it checks the signature,
// the statement and the manifest, but not that the subject is a given
// object. Auditors use it to trust a manifest whose object is not at hand.
func VerifySignature(raw []byte, keys []crypto.PublicKey) (*Verified, error) {
	return AllKeyAlgorithms().VerifySignature(raw, keys)
}

// VerifySignature is [VerifySignature] with keys of the families of s
// only.
func (s KeyAlgorithms) VerifySignature(raw []byte, keys []crypto.PublicKey) (*Verified, error) {
	env, payload, err := parseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("%w: the envelope is the unsigned placeholder; sign it with \"bpf2go-signed sign --key KEY\"", ErrUnsigned)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: pass a public key (-trust-key PUB at generate time, or in the policy)", ErrNoTrustedKeys)
	}
	for _, k := range keys {
		if err := s.CheckKey(k); err != nil {
			return nil, err
		}
	}
	pae := PAE(env.PayloadType, payload)
	index := -1
	for i, k := range keys {
		for _, sg := range env.Signatures {
			sig, err := base64.StdEncoding.DecodeString(sg.Sig)
			if err == nil && s.verifySig(k, pae, sig) {
				index = i
				break
			}
		}
		if index >= 0 {
			break
		}
	}
	if index < 0 {
		return nil, fmt.Errorf("%w: %d signature(s), none made by the %d trusted key(s); sign with the matching private key or trust its public key",
			ErrBadSignature, len(env.Signatures), len(keys))
	}
	st, err := parseStatement(payload)
	if err != nil {
		return nil, err
	}
	return &Verified{Statement: st, Key: keys[index], KeyIndex: index}, nil
}

// Hash is the hash used with ECDSA and RSA keys, as cosign does.
const Hash = crypto.SHA256

// CheckKey is [KeyAlgorithms.CheckKey] with every family linked into the
// binary ([AllKeyAlgorithms]).
func CheckKey(k crypto.PublicKey) error { return AllKeyAlgorithms().CheckKey(k) }

// ParsePublicKey reads a PEM public key (PKIX "PUBLIC KEY", as cosign.pub)
// of a family linked into the binary ([AllKeyAlgorithms]) and checks that
// it is supported ([CheckKey]).
func ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	return AllKeyAlgorithms().ParsePublicKey(pemBytes)
}

func parsePublicKey(s KeyAlgorithms, pemBytes []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: not a PEM \"PUBLIC KEY\" block", ErrUnsupportedKey)
	}
	k, err := parsePKIXPublicKey(s, block.Bytes)
	if err != nil {
		if errors.Is(err, ErrUnsupportedKey) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	if err := s.CheckKey(k); err != nil {
		return nil, err
	}
	return k, nil
}

// MarshalPublicKey returns a public key as PEM "PUBLIC KEY", as cosign.pub.
func MarshalPublicKey(k crypto.PublicKey) ([]byte, error) {
	der, err := MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
