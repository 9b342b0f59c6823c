package audit

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
)

// Files of a trust directory for keyless signatures.
const (
	// TrustedRootFile, at the top of the trust directory, is the
	// trusted_root.json keyless bundles verify with.
	TrustedRootFile = "trusted_root.json"
	// IdentitySuffix names files of trusted identities: one per line, in
	// the -trust-identity syntax or as JSON; empty lines and lines
	// starting with # are ignored.
	IdentitySuffix = ".identity"
)

// loadIdentities reads the identity files and the trusted root of dir. A
// directory with identities but no trusted root is refused.
func loadIdentities(dir string, files []string) (*keyless.TrustedRoot, []keyless.Identity, error) {
	slices.Sort(files)
	var ids []keyless.Identity
	for _, f := range files {
		raw, err := readTrustFile(f, MaxKeyFile)
		if err != nil {
			return nil, nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			id, err := keyless.ParseIdentity(line)
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", f, n, err)
			}
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	raw, err := readTrustFile(filepath.Join(dir, TrustedRootFile), MaxEnvelopeFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: trusted identities need the %s of their Sigstore instance at the top of the trust directory: %w", dir, TrustedRootFile, err)
	}
	root, err := keyless.ParseTrustedRoot(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, TrustedRootFile), err)
	}
	return root, ids, nil
}

// addBundles verifies every bundle with the trusted identities, against
// the object whose sha256 its subject names when that object is in the
// directory (objects, by sha256), and adds the manifests of those that
// verify, as LoadTrustDir does for envelopes.
func (t *Trust) addBundles(bundles []string, root *keyless.TrustedRoot, ids []keyless.Identity, objects map[string]string, rel func(string) string, used map[string]bool, host string) error {
	for _, b := range bundles {
		raw, err := readTrustFile(b, MaxEnvelopeFile)
		if err != nil {
			return err
		}
		m := &Manifest{File: rel(b)}
		if len(ids) == 0 {
			t.Skipped = append(t.Skipped, fmt.Sprintf("%s: %v: add a *%s file and %s to the trust directory", m.File, keyless.ErrNoIdentity, IdentitySuffix, TrustedRootFile))
			continue
		}
		v, err := keyless.VerifyStatement(raw, root, ids)
		if err != nil {
			t.Skipped = append(t.Skipped, fmt.Sprintf("%s: %v", m.File, err))
			continue
		}
		subject := v.Statement.Subject[0]
		if o, ok := objects[subject.Digest["sha256"]]; ok {
			obj, err := readTrustFile(o, MaxObjectFile)
			if err != nil {
				return err
			}
			if err := v.Statement.CheckSubject(obj); err != nil {
				t.Skipped = append(t.Skipped, fmt.Sprintf("%s: %v", m.File, err))
				continue
			}
			m.Object, m.objPath, m.objSHA256, m.ObjectChecked = rel(o), o, subject.Digest["sha256"], true
			m.ByteOrder = elfByteOrder(obj)
			used[o] = true
		} else {
			m.ByteOrder = nameByteOrder(subject.Name)
		}
		m.Manifest = v.Statement.Predicate
		m.Signer = v.Signer()
		if m.ByteOrder != "" && m.ByteOrder != host {
			t.OtherByteOrder = append(t.OtherByteOrder, m.File)
			continue
		}
		t.add(m)
	}
	return nil
}
