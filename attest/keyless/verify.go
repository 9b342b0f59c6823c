package keyless

import (
	"errors"
	"fmt"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
)

// maxEntries bounds the log entries and timestamps checked per bundle.
const maxEntries = 16

// Result is a verified bundle: what was signed, by whom, and when.
type Result struct {
	PayloadType string
	Payload     []byte
	// Certificate is the signing certificate (DER).
	Certificate []byte
	// Issuer is the OIDC issuer; SANs the certificate's identities.
	Issuer string
	SANs   []string
	Claims map[string]string
	// Identity is the trusted identity that matched, IdentityIndex its
	// position in the policy.
	Identity      Identity
	IdentityIndex int
	// Times are the verified signing times: Rekor integrated times
	// signed by a SET, and RFC 3161 timestamps.
	Times []time.Time
	// LogIndex is the Rekor index of the first verified entry.
	LogIndex int64
}

// Signer describes the signer for reports: issuer and identity.
func (r *Result) Signer() string {
	return fmt.Sprintf("%s %v", r.Issuer, r.SANs)
}

// Verify checks a DSSE bundle against the trusted root and the identity
// policy (any one of ids), offline. See the package documentation for
// what is checked; errors wrap the sentinel of the first check that
// failed, and say what was expected, what was found and what to do.
func (r *TrustedRoot) Verify(b *Bundle, ids []Identity) (*Result, error) {
	if b.Unsigned() {
		return nil, fmt.Errorf("%w: the bundle is the unsigned placeholder; sign the statement keylessly (\"bpf2go-signed statement X.o\", then cosign attest-blob --statement X.o.statement.json --new-bundle-format --bundle X.o%s) and rebuild", ErrUnsigned, Suffix)
	}
	if r == nil {
		return nil, fmt.Errorf("%w: pass a trusted_root.json (-trusted-root at generate time, or Policy.TrustedRoot)", ErrNoTrustedRoot)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: pass the identity allowed to sign (-trust-identity at generate time, or Policy.Identities)", ErrNoIdentity)
	}
	for _, id := range ids {
		if err := CheckIdentity(id); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoIdentity, err)
		}
	}
	env := b.DSSEEnvelope
	if len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%w: the envelope has %d signatures, want exactly one", ErrMalformed, len(env.Signatures))
	}
	der, err := b.leafDER()
	if err != nil {
		return nil, err
	}
	leaf, err := parseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: signing certificate: %v", ErrMalformed, err)
	}
	if err := verifyWithKey(leaf.publicKey, attest.PAE(env.PayloadType, env.Payload), env.Signatures[0].Sig); err != nil {
		return nil, fmt.Errorf("%w: the signature does not verify with the key of the certificate (%v): the payload or signature was altered", ErrSignature, err)
	}

	res := &Result{PayloadType: env.PayloadType, Payload: env.Payload, Certificate: leaf.raw, LogIndex: -1}
	entries := b.VerificationMaterial.TlogEntries
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: the bundle has no transparency log entry; sign without --tlog-upload=false", ErrTlog)
	}
	if len(entries) > maxEntries {
		return nil, fmt.Errorf("%w: %d log entries, more than %d", ErrMalformed, len(entries), maxEntries)
	}
	var tlogErr error
	for i := range entries {
		t, err := r.verifyEntry(&entries[i], env, leaf, !b.requiresInclusionProof())
		if err != nil {
			tlogErr = errors.Join(tlogErr, err)
			continue
		}
		if res.LogIndex < 0 {
			res.LogIndex = int64(entries[i].LogIndex)
		}
		if !t.IsZero() {
			res.Times = append(res.Times, t)
		}
	}
	if res.LogIndex < 0 {
		return nil, tlogErr
	}
	ts, err := r.verifyTimestamps(b, env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	res.Times = append(res.Times, ts...)
	if len(res.Times) == 0 {
		return nil, fmt.Errorf("%w: no log entry has a signed entry timestamp and the bundle has no RFC 3161 timestamp, so nothing trusted says the short-lived certificate was valid when it signed", ErrNoTime)
	}

	var issuer *certificate
	for _, t := range res.Times {
		if issuer, err = r.verifyChain(leaf, t); err != nil {
			return nil, err
		}
	}
	if err := r.verifySCT(leaf, issuer); err != nil {
		return nil, err
	}
	claims, sans, err := certClaims(leaf)
	if err != nil {
		return nil, err
	}
	res.Issuer, res.SANs, res.Claims = claims["issuer"], sans, claims
	var why []string
	for i, id := range ids {
		if diff, ok := matches(id, claims, sans); ok {
			res.Identity, res.IdentityIndex = id, i
			return res, nil
		} else {
			why = append(why, diff)
		}
	}
	return nil, fmt.Errorf("%w: the certificate of issuer %q for %q matches none of the %d trusted identities (%v); trust the identity that signed (-trust-identity, Policy.Identities) or sign from the expected workflow",
		ErrIdentity, res.Issuer, sans, len(ids), why)
}

// Verified is a verified bundle about this project's statement.
type Verified struct {
	Statement *attest.Statement
	*Result
}

// VerifyObject checks that raw is a bundle, signed keylessly by one of
// ids as trusted by root, whose payload is this project's in-toto
// statement about object. Errors wrap this package's sentinels, or
// attest.ErrMalformed and attest.ErrWrongSubject for the statement.
func VerifyObject(raw, object []byte, root *TrustedRoot, ids []Identity) (*Verified, error) {
	v, err := VerifyStatement(raw, root, ids)
	if err != nil {
		return nil, err
	}
	if err := v.Statement.CheckSubject(object); err != nil {
		return nil, err
	}
	return v, nil
}

// VerifyStatement is [VerifyObject] without the object: auditors use it
// to trust a manifest whose object is not at hand.
func VerifyStatement(raw []byte, root *TrustedRoot, ids []Identity) (*Verified, error) {
	b, err := ParseBundle(raw)
	if err != nil {
		return nil, err
	}
	res, err := root.Verify(b, ids)
	if err != nil {
		return nil, err
	}
	if res.PayloadType != attest.PayloadType {
		return nil, fmt.Errorf("%w: payloadType %q, want %q", attest.ErrMalformed, res.PayloadType, attest.PayloadType)
	}
	st, err := attest.ParseStatement(res.Payload)
	if err != nil {
		return nil, err
	}
	return &Verified{Statement: st, Result: res}, nil
}

// Placeholder returns the statement of an unsigned placeholder bundle,
// or of any bundle, without verifying anything: for display only.
func Placeholder(raw []byte) (*attest.Statement, error) {
	b, err := ParseBundle(raw)
	if err != nil {
		return nil, err
	}
	return attest.ParseStatement(b.DSSEEnvelope.Payload)
}
