package gen

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
)

// TrustedRootSuffix is appended to an object's file name to name the copy
// of the trusted root (-trusted-root) its loader embeds.
const TrustedRootSuffix = ".trusted_root.json"

// keylessExtras are the identities (-trust-identity, canonical syntax) and
// the trusted root (-trusted-root) of a keyless loader.
type keylessExtras struct {
	identities []string
	root       []byte
}

func loadKeyless(c *Config) (*keylessExtras, error) {
	if len(c.TrustIdentity) == 0 {
		if c.TrustedRoot != "" {
			return nil, fmt.Errorf("-trusted-root without -trust-identity: say who may sign keylessly (for example -trust-identity 'issuer=https://token.actions.githubusercontent.com;identity=https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.0.0')")
		}
		return nil, nil
	}
	k := &keylessExtras{}
	for _, spec := range c.TrustIdentity {
		id, err := keyless.ParseIdentity(spec)
		if err != nil {
			return nil, fmt.Errorf("-trust-identity: %w", err)
		}
		k.identities = append(k.identities, id.String())
	}
	if c.TrustedRoot == "" {
		return nil, fmt.Errorf("-trust-identity needs -trusted-root FILE: the trusted_root.json of the Sigstore instance that signs (for the public instance, from its TUF repository: see docs/keyless.md); it is pinned in the loader, which never fetches one")
	}
	raw, err := os.ReadFile(c.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("-trusted-root: %w", err)
	}
	if _, err := keyless.ParseTrustedRoot(raw); err != nil {
		return nil, fmt.Errorf("-trusted-root %s: %w", c.TrustedRoot, err)
	}
	k.root = raw
	return k, nil
}

// writeKeyless writes, next to the object, the pinned trusted root and the
// bundle: an existing one whose statement is st is kept (cosign wrote it),
// anything else is replaced by the unsigned placeholder. It returns the
// file names the loader embeds.
func writeKeyless(k *keylessExtras, objFile string, st *attest.Statement) (bundleFile, rootFile string, err error) {
	payload, err := st.Marshal()
	if err != nil {
		return "", "", err
	}
	bundleFile, rootFile = objFile+keyless.Suffix, objFile+TrustedRootSuffix
	if err := writeIfChanged(rootFile, k.root); err != nil {
		return "", "", err
	}
	if old, err := os.ReadFile(bundleFile); err == nil {
		if signed, err := keyless.Placeholder(old); err == nil {
			if again, err := signed.Marshal(); err == nil && string(again) == string(payload) {
				return filepath.Base(bundleFile), filepath.Base(rootFile), nil
			}
		}
	}
	ph, err := keyless.UnsignedPlaceholder(attest.PayloadType, payload)
	if err != nil {
		return "", "", err
	}
	if err := writeIfChanged(bundleFile, ph); err != nil {
		return "", "", err
	}
	return filepath.Base(bundleFile), filepath.Base(rootFile), nil
}
