// Package keyless plugs the keyless signature verifier of attest/keyless
// (Sigstore bundles, verified offline against a pinned trusted root) into
// the loader of package runtime.
//
// Loaders generated with -trust-identity set Object.Keyless to
// [Verifier]; loaders generated with keys only do not import this
// package, so they link neither attest/keyless nor what it needs (regexp,
// for identity patterns). It links no crypto/x509 and no net either way.
package keyless

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/identity"
	sigstore "github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// Verifier is the keyless verifier of attest/keyless for
// bpfsigned.Object.Keyless. The zero value is ready to use.
type Verifier struct{}

var _ bpfsigned.Keyless = Verifier{}

// rootCache keeps parsed trusted roots per process, by the SHA-256 of
// their trusted_root.json: the embedded one is a constant of the binary.
var rootCache sync.Map // [32]byte → *sigstore.TrustedRoot

// Trust parses the trusted root and the embedded identity specs; the
// policy's identities are checked when a bundle is verified.
func (Verifier) Trust(root []byte, specs []string, ids []identity.Identity) (bpfsigned.KeylessTrust, error) {
	t := &trust{}
	if len(root) > 0 {
		sum := sha256.Sum256(root)
		if r, ok := rootCache.Load(sum); ok {
			t.root = r.(*sigstore.TrustedRoot)
		} else {
			r, err := sigstore.ParseTrustedRoot(root)
			if err != nil {
				return nil, fmt.Errorf("trusted root: %w", err)
			}
			rootCache.Store(sum, r)
			t.root = r
		}
	}
	for i, spec := range specs {
		id, err := sigstore.ParseIdentity(spec)
		if err != nil {
			return nil, fmt.Errorf("embedded trusted identity %d: %w", i, err)
		}
		t.ids = append(t.ids, id)
	}
	t.ids = append(t.ids, ids...)
	return t, nil
}

// Statement returns the statement of a bundle, unverified.
func (Verifier) Statement(bundle []byte) (*attest.Statement, error) {
	return sigstore.Placeholder(bundle)
}

type trust struct {
	root *sigstore.TrustedRoot
	ids  []identity.Identity
}

func (t *trust) Verify(bundle, object []byte) (*attest.Statement, string, error) {
	v, err := sigstore.VerifyObject(bundle, object, t.root, t.ids)
	if err != nil {
		if errors.Is(err, sigstore.ErrUnsigned) {
			err = unsigned{err}
		}
		return nil, "", err
	}
	return v.Statement, v.Signer(), nil
}

// unsigned is the error of an unsigned placeholder bundle: it is
// attest.ErrUnsigned for the loader's verdict (UNSIGNED, not BADSIG) and
// keeps its message and sentinel (keyless.ErrUnsigned).
type unsigned struct{ error }

func (u unsigned) Is(target error) bool { return target == attest.ErrUnsigned }

func (u unsigned) Unwrap() error { return u.error }
