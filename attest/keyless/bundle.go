// Package keyless verifies keyless Sigstore signatures offline, with the
// standard library's cryptography and no sigstore library (it imports
// only package attest, for the envelope and statement): a Sigstore bundle (v0.1 to v0.3, JSON) holding a
// DSSE envelope signed with a short-lived Fulcio certificate and logged in
// Rekor, against a pinned trusted root (trusted_root.json) and an identity
// policy (OIDC issuer and certificate identity).
//
// Verification checks, without any network call: the certificate chains to
// a Fulcio CA of the trusted root and is valid at the time the entry was
// logged (the integrated time signed by Rekor's SET) or timestamped (an
// RFC 3161 timestamp from a trusted TSA); it carries an SCT from a trusted
// CT log (RFC 6962); the Rekor entry's canonicalized body is about this
// envelope, its SET verifies, and its inclusion proof leads to the root of
// a checkpoint signed by the log (RFC 9162 §2.1.3.2, signed note); the
// DSSE signature verifies with the certificate's key; the certificate's
// issuer, identity and GitHub workflow claims match a policy. See
// docs/keyless.md.
package keyless

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Media types of Sigstore bundles this package reads.
const (
	MediaTypeV03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
	mediaTypeV02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	mediaTypeV01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	// Suffix is appended to an object's file name to name its bundle.
	Suffix = ".sigstore.json"
)

// Sentinel errors; each verification failure wraps one of them.
var (
	// ErrMalformed: the bundle or trusted root cannot be parsed.
	ErrMalformed = errors.New("malformed bundle")
	// ErrUnsigned: the bundle is the unsigned placeholder.
	ErrUnsigned = errors.New("bundle is not signed")
	// ErrNoTrustedRoot: no trusted root to verify with.
	ErrNoTrustedRoot = errors.New("no trusted root")
	// ErrNoIdentity: no identity policy to verify with.
	ErrNoIdentity = errors.New("no trusted identity")
	// ErrCertificate: the certificate does not chain to a trusted Fulcio
	// CA at the logged time.
	ErrCertificate = errors.New("certificate not trusted")
	// ErrSCT: no valid SCT from a trusted CT log.
	ErrSCT = errors.New("no valid certificate transparency SCT")
	// ErrTlog: the transparency log entry does not verify (body, SET,
	// inclusion proof or checkpoint).
	ErrTlog = errors.New("transparency log entry does not verify")
	// ErrTimestamp: an RFC 3161 timestamp does not verify.
	ErrTimestamp = errors.New("timestamp does not verify")
	// ErrNoTime: nothing signed says when the signature was made.
	ErrNoTime = errors.New("no verified signing time")
	// ErrSignature: the DSSE signature does not verify with the
	// certificate's key.
	ErrSignature = errors.New("DSSE signature does not verify")
	// ErrIdentity: the certificate's identity matches no policy.
	ErrIdentity = errors.New("certificate identity not trusted")
)

// Bundle is a Sigstore bundle holding a DSSE envelope, in the JSON
// encoding of sigstore/protobuf-specs (proto3 JSON: camelCase names,
// bytes in base64, 64-bit integers as strings).
type Bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial VerificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         *DSSEEnvelope        `json:"dsseEnvelope,omitempty"`
	// MessageSignature is set by bundles over a blob rather than a DSSE
	// envelope; they are refused.
	MessageSignature json.RawMessage `json:"messageSignature,omitempty"`
}

// VerificationMaterial is what a bundle offers to verify its signature.
type VerificationMaterial struct {
	Certificate          *RawBytes            `json:"certificate,omitempty"`
	X509CertificateChain *CertificateChain    `json:"x509CertificateChain,omitempty"`
	PublicKey            *PublicKeyIdentifier `json:"publicKey,omitempty"`
	TlogEntries          []TlogEntry          `json:"tlogEntries,omitempty"`
	TimestampData        *TimestampData       `json:"timestampVerificationData,omitempty"`
}

// RawBytes is a DER value.
type RawBytes struct {
	RawBytes []byte `json:"rawBytes"`
}

// CertificateChain is the leaf first, as in bundles v0.1 and v0.2.
type CertificateChain struct {
	Certificates []RawBytes `json:"certificates"`
}

// PublicKeyIdentifier names a key: bundles signed with a key, not a
// certificate, are refused here (package attest verifies keys).
type PublicKeyIdentifier struct {
	Hint string `json:"hint"`
}

// TimestampData holds RFC 3161 signed timestamps.
type TimestampData struct {
	RFC3161Timestamps []struct {
		SignedTimestamp []byte `json:"signedTimestamp"`
	} `json:"rfc3161Timestamps"`
}

// DSSEEnvelope is the bundle's envelope; bytes are base64 in JSON.
type DSSEEnvelope struct {
	Payload     []byte `json:"payload"`
	PayloadType string `json:"payloadType"`
	Signatures  []struct {
		Sig   []byte `json:"sig"`
		KeyID string `json:"keyid,omitempty"`
	} `json:"signatures"`
}

// Int64 is a 64-bit integer written as a JSON string (or number).
type Int64 int64

// UnmarshalJSON accepts "123" and 123.
func (i *Int64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*i = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("integer %s: %w", b, err)
	}
	*i = Int64(v)
	return nil
}

// MarshalJSON writes the proto3 JSON form: a decimal string.
func (i Int64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(i), 10) + `"`), nil
}

// TlogEntry is one transparency log entry.
type TlogEntry struct {
	LogIndex Int64 `json:"logIndex"`
	LogID    struct {
		KeyID []byte `json:"keyId"`
	} `json:"logId"`
	KindVersion struct {
		Kind    string `json:"kind"`
		Version string `json:"version"`
	} `json:"kindVersion"`
	IntegratedTime   Int64 `json:"integratedTime"`
	InclusionPromise *struct {
		SignedEntryTimestamp []byte `json:"signedEntryTimestamp"`
	} `json:"inclusionPromise,omitempty"`
	InclusionProof    *InclusionProof `json:"inclusionProof,omitempty"`
	CanonicalizedBody []byte          `json:"canonicalizedBody"`
}

// InclusionProof proves an entry is in a tree whose root is signed by a
// checkpoint.
type InclusionProof struct {
	LogIndex   Int64    `json:"logIndex"`
	RootHash   []byte   `json:"rootHash"`
	TreeSize   Int64    `json:"treeSize"`
	Hashes     [][]byte `json:"hashes"`
	Checkpoint struct {
		Envelope string `json:"envelope"`
	} `json:"checkpoint"`
}

// maxBundle bounds what is parsed; real bundles are a few KiB.
const maxBundle = 1 << 20

// ParseBundle decodes a bundle holding a DSSE envelope, without verifying
// anything. Errors wrap [ErrMalformed].
func ParseBundle(raw []byte) (*Bundle, error) {
	if len(raw) > maxBundle {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(raw), maxBundle)
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: not a JSON Sigstore bundle: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the bundle", ErrMalformed)
	}
	switch b.MediaType {
	case MediaTypeV03, mediaTypeV02, mediaTypeV01:
	default:
		return nil, fmt.Errorf("%w: mediaType %q, want %q (or v0.1/v0.2)", ErrMalformed, b.MediaType, MediaTypeV03)
	}
	if b.DSSEEnvelope == nil {
		return nil, fmt.Errorf("%w: no dsseEnvelope (a message signature bundle? sign the statement with cosign attest-blob)", ErrMalformed)
	}
	return &b, nil
}

// Unsigned reports whether b is a placeholder: an envelope without
// signatures. (A signature without verification material is malformed,
// not unsigned.)
func (b *Bundle) Unsigned() bool { return len(b.DSSEEnvelope.Signatures) == 0 }

// requiresInclusionProof: bundles v0.2 and later carry inclusion proofs.
func (b *Bundle) requiresInclusionProof() bool { return b.MediaType != mediaTypeV01 }

// leafDER returns the signing certificate.
func (b *Bundle) leafDER() ([]byte, error) {
	vm := &b.VerificationMaterial
	switch {
	case vm.Certificate != nil && len(vm.Certificate.RawBytes) > 0:
		return vm.Certificate.RawBytes, nil
	case vm.X509CertificateChain != nil && len(vm.X509CertificateChain.Certificates) > 0:
		return vm.X509CertificateChain.Certificates[0].RawBytes, nil
	case vm.PublicKey != nil:
		return nil, fmt.Errorf("%w: the bundle is signed with a key (hint %q), not keyless; verify it with the key (-trust-key PUB)", ErrCertificate, vm.PublicKey.Hint)
	}
	return nil, fmt.Errorf("%w: no signing certificate in the bundle", ErrMalformed)
}

// UnsignedPlaceholder returns the placeholder bundle of a payload: its
// DSSE envelope with no signature and no verification material. The
// generator writes it so that code embedding X.o.sigstore.json builds
// before CI signs; its verdict is UNSIGNED.
func UnsignedPlaceholder(payloadType string, payload []byte) ([]byte, error) {
	ph := struct {
		MediaType            string          `json:"mediaType"`
		VerificationMaterial struct{}        `json:"verificationMaterial"`
		DSSEEnvelope         json.RawMessage `json:"dsseEnvelope"`
	}{MediaType: MediaTypeV03}
	env, err := json.Marshal(struct {
		Payload     string     `json:"payload"`
		PayloadType string     `json:"payloadType"`
		Signatures  []struct{} `json:"signatures"`
	}{base64.StdEncoding.EncodeToString(payload), payloadType, []struct{}{}})
	if err != nil {
		return nil, err
	}
	ph.DSSEEnvelope = env
	out, err := json.MarshalIndent(ph, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
