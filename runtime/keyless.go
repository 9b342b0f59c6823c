package runtime

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/identity"
)

// Keyless verifies keyless signatures (Sigstore bundles) for [Load].
//
// The runtime links no keyless verifier of its own: the verifier of
// attest/keyless (certificates, transparency logs, timestamps, identity
// patterns with regexp) is about 0.6 MiB of a binary
// (scripts/bench/keylesssize). A loader generated with -trust-identity sets
// [Object.Keyless] to the one of package runtime/keyless; a loader
// generated with keys only leaves it nil and links none of it. A load that
// asks for keyless verification without a verifier fails with
// [ErrNoKeyless] before anything is loaded.
type Keyless interface {
	// Trust parses a trusted root (trusted_root.json; nil when none is
	// pinned) and the trusted identities: specs in the -trust-identity
	// syntax (embedded at generate time) and ids (from the policy).
	Trust(root []byte, specs []string, ids []identity.Identity) (KeylessTrust, error)
	// Statement returns the statement a bundle carries without verifying
	// anything: for display in the report of a refused load.
	Statement(bundle []byte) (*attest.Statement, error)
}

// KeylessTrust verifies bundles with one trusted root and set of trusted
// identities.
type KeylessTrust interface {
	// Verify checks that bundle is a keyless signature of object by a
	// trusted identity, offline, and returns the signed statement and the
	// signer (OIDC issuer and certificate identity). The error wraps
	// attest.ErrUnsigned when the bundle is an unsigned placeholder.
	Verify(bundle, object []byte) (st *attest.Statement, signer string, err error)
}

// ErrNoKeyless: the load asks for keyless verification (a policy with
// Identities or TrustedRoot, or an object with a bundle) but the loader
// links no keyless verifier ([Object.Keyless] is nil): it was generated
// without -trust-identity.
var ErrNoKeyless = errors.New("keyless verification not linked into this loader")

// errNoBundle: identities are trusted but the object has no bundle.
var errNoBundle = errors.New("no .sigstore.json bundle embedded; generate with -trust-identity and sign keylessly")

// signed is a verified signature: the statement, and who signed it (a
// trusted key, or a keyless identity).
type signed struct {
	statement *attest.Statement
	key       crypto.PublicKey // nil for keyless
	identity  string           // issuer and certificate identity, keyless only
}

// keylessTrust is what a keyless check of a load uses.
type keylessTrust struct {
	// trust verifies bundles; nil when the load involves no keyless
	// signature.
	trust KeylessTrust
	// ids is the number of trusted identities.
	ids int
	// id identifies the verifier, root and identities for the signature
	// cache.
	id [32]byte
}

// keylessTrustOf returns the keyless trust of a load: the trusted root
// (the policy's, else the embedded one) and identities (the embedded ones
// unless the policy ignores them, plus the policy's).
func keylessTrustOf(o *Object, policy *Policy) (*keylessTrust, error) {
	rootJSON := o.TrustedRoot
	var specs []string
	var ids []identity.Identity
	if policy != nil {
		if len(policy.TrustedRoot) > 0 {
			rootJSON = policy.TrustedRoot
		}
		ids = policy.Identities
	}
	if policy == nil || !policy.IgnoreEmbeddedKeys {
		specs = o.Identities
	}
	kt := &keylessTrust{ids: len(specs) + len(ids)}
	if o.Keyless == nil {
		if err := noKeyless(o, policy); err != nil {
			return nil, err
		}
		return kt, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%T", o.Keyless)
	lenPrefixed(h, rootJSON)
	for _, s := range specs {
		lenPrefixed(h, []byte(s))
	}
	h.Write([]byte{0})
	for _, id := range ids {
		// Every field, length-prefixed, claims sorted by name: the
		// same identities give the same cache key, different ones
		// another.
		for _, f := range []string{id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp} {
			lenPrefixed(h, []byte(f))
		}
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(id.Claims))))
		for _, name := range slices.Sorted(maps.Keys(id.Claims)) {
			lenPrefixed(h, []byte(name))
			lenPrefixed(h, []byte(id.Claims[name]))
		}
	}
	h.Sum(kt.id[:0])
	t, err := o.Keyless.Trust(rootJSON, specs, ids)
	if err != nil {
		return nil, err
	}
	kt.trust = t
	return kt, nil
}

// noKeyless refuses a load without a keyless verifier whose object or
// policy asks for keyless verification: it must fail, not fall back to
// keys alone.
func noKeyless(o *Object, policy *Policy) error {
	var asks []string
	if o.Bundle != nil || len(o.TrustedRoot) > 0 || len(o.Identities) > 0 {
		asks = append(asks, "the object embeds a Sigstore bundle, trusted root or identities")
	}
	if policy != nil && len(policy.Identities) > 0 {
		asks = append(asks, fmt.Sprintf("the policy trusts %d identities (Policy.Identities)", len(policy.Identities)))
	}
	if policy != nil && len(policy.TrustedRoot) > 0 {
		asks = append(asks, "the policy sets a trusted root (Policy.TrustedRoot)")
	}
	if len(asks) == 0 {
		return nil
	}
	return fmt.Errorf("load %s: %w: %s, but the loader was generated without -trust-identity; what to do: generate with -trust-identity IDENTITY -trusted-root trusted_root.json (the loader then links the keyless verifier, runtime/keyless), or trust keys only (no Policy.Identities or Policy.TrustedRoot)",
		o.Name, ErrNoKeyless, joinAnd(asks))
}

func joinAnd(s []string) string {
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " and " + s[1]
	}
	return fmt.Sprintf("%s, %s and %s", s[0], s[1], s[2])
}

func lenPrefixed(h hash.Hash, b []byte) {
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b))))
	h.Write(b)
}

// verifySignature accepts the object when its DSSE envelope is signed by
// a trusted key, or its Sigstore bundle is signed keylessly by a trusted
// identity. The error is attest.ErrUnsigned (wrapped) only when neither
// carries a signature; otherwise it is the failure of the signature that
// is there (both, joined, when both are there).
func verifySignature(o *Object, keys []crypto.PublicKey, kt *keylessTrust) (*signed, error) {
	v, keyErr := o.keyAlgorithms().Verify(o.Envelope, o.ELF, keys)
	if keyErr == nil {
		return &signed{statement: v.Statement, key: v.Key}, nil
	}
	if o.Bundle == nil && kt.ids == 0 {
		return nil, keyErr
	}
	var bundleErr error
	switch {
	case o.Bundle == nil:
		bundleErr = errNoBundle
	case kt.trust == nil:
		// Refused before the load already (noKeyless); never accept.
		bundleErr = ErrNoKeyless
	default:
		st, signer, err := kt.trust.Verify(o.Bundle, o.ELF)
		if err == nil {
			return &signed{statement: st, identity: signer}, nil
		}
		bundleErr = err
	}
	keyUnsigned := errors.Is(keyErr, attest.ErrUnsigned)
	bundleUnsigned := errors.Is(bundleErr, attest.ErrUnsigned) || errors.Is(bundleErr, errNoBundle)
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
