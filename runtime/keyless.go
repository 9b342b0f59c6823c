package runtime

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
)

// signed is a verified signature: the statement, and who signed it (a
// trusted key, or a keyless identity).
type signed struct {
	statement *attest.Statement
	key       crypto.PublicKey // nil for keyless
	identity  string           // issuer and certificate identity, keyless only
}

// keylessTrust is what a keyless check uses: the trusted root and the
// identities.
type keylessTrust struct {
	root *keyless.TrustedRoot
	ids  []keyless.Identity
	// id identifies root and identities for the signature cache.
	id [32]byte
}

var rootCache sync.Map // [32]byte of trusted_root.json → *keyless.TrustedRoot

// keylessTrustOf returns the trusted root (the policy's, else the
// embedded one) and identities (the embedded ones unless the policy
// ignores them, plus the policy's) of a load.
func keylessTrustOf(o *Object, policy *Policy) (*keylessTrust, error) {
	kt := &keylessTrust{}
	rootJSON := o.TrustedRoot
	if policy != nil && len(policy.TrustedRoot) > 0 {
		rootJSON = policy.TrustedRoot
	}
	h := sha256.New()
	if len(rootJSON) > 0 {
		sum := sha256.Sum256(rootJSON)
		h.Write(sum[:])
		if r, ok := rootCache.Load(sum); ok {
			kt.root = r.(*keyless.TrustedRoot)
		} else {
			r, err := keyless.ParseTrustedRoot(rootJSON)
			if err != nil {
				return nil, fmt.Errorf("trusted root: %w", err)
			}
			rootCache.Store(sum, r)
			kt.root = r
		}
	}
	if policy == nil || !policy.IgnoreEmbeddedKeys {
		for i, spec := range o.Identities {
			id, err := keyless.ParseIdentity(spec)
			if err != nil {
				return nil, fmt.Errorf("embedded trusted identity %d: %w", i, err)
			}
			kt.ids = append(kt.ids, id)
		}
	}
	if policy != nil {
		kt.ids = append(kt.ids, policy.Identities...)
	}
	for _, id := range kt.ids {
		fmt.Fprintf(h, "\x00%s", id)
	}
	h.Sum(kt.id[:0])
	return kt, nil
}

// verifySignature accepts the object when its DSSE envelope is signed by
// a trusted key, or its Sigstore bundle is signed keylessly by a trusted
// identity. The error is attest.ErrUnsigned (wrapped) only when neither
// carries a signature; otherwise it is the failure of the signature that
// is there (both, joined, when both are there).
func verifySignature(o *Object, keys []crypto.PublicKey, kt *keylessTrust) (*signed, error) {
	v, keyErr := attest.Verify(o.Envelope, o.ELF, keys)
	if keyErr == nil {
		return &signed{statement: v.Statement, key: v.Key}, nil
	}
	if o.Bundle == nil && (kt == nil || len(kt.ids) == 0) {
		return nil, keyErr
	}
	var bundleErr error
	if o.Bundle == nil {
		bundleErr = fmt.Errorf("%w: no %s bundle embedded; generate with -trust-identity and sign keylessly", keyless.ErrUnsigned, keyless.Suffix)
	} else {
		kv, err := keyless.VerifyObject(o.Bundle, o.ELF, kt.root, kt.ids)
		if err == nil {
			return &signed{statement: kv.Statement, identity: kv.Signer()}, nil
		}
		bundleErr = err
	}
	keyUnsigned, bundleUnsigned := errors.Is(keyErr, attest.ErrUnsigned), errors.Is(bundleErr, keyless.ErrUnsigned)
	switch {
	case keyUnsigned && bundleUnsigned:
		return nil, fmt.Errorf("%w; keyless: %v", keyErr, bundleErr)
	case keyUnsigned:
		return nil, fmt.Errorf("keyless signature: %w", bundleErr)
	case bundleUnsigned:
		return nil, keyErr
	}
	return nil, errors.Join(keyErr, fmt.Errorf("keyless signature: %w", bundleErr))
}
