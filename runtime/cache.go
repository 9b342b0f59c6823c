package runtime

import (
	"crypto"
	"crypto/sha256"
	"reflect"
	"sync"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
)

// The embedded object, envelope, plan and keys of a generated loader are
// constants of the binary. What is computed from them alone (parsed keys,
// a successful signature check, the decoded sealing plan) is kept for the
// life of the process, keyed by the bytes it was computed from, so a
// process that loads its programs again does not redo it. Everything the
// kernel reports is measured again on every load.
var (
	keyCache  sync.Map // PEM string → crypto.PublicKey
	fpCache   sync.Map // crypto.PublicKey → fingerprint string
	sigCache  sync.Map // sigKey → *signed
	planCache sync.Map // [32]byte of plan and object → *sealmap.Plan
)

// parseKeyCached parses a PEM key with algs. A key found in the cache may
// have been parsed for another object, with other families: the caller
// checks it against its own.
func parseKeyCached(algs attest.KeyAlgorithms, pemKey string) (crypto.PublicKey, error) {
	if k, ok := keyCache.Load(pemKey); ok {
		return k, nil
	}
	k, err := algs.ParsePublicKey([]byte(pemKey))
	if err != nil {
		return nil, err
	}
	keyCache.Store(pemKey, k)
	return k, nil
}

// sigKey identifies a signature check: the envelope, the bundle, the
// object (by its SHA-256), the trusted keys, in order, and the keyless
// trust (trusted root and identities).
func sigKey(o *Object, elfSum [32]byte, keys []crypto.PublicKey, keylessID [32]byte) [32]byte {
	h := sha256.New()
	env := sha256.Sum256(o.Envelope)
	h.Write(env[:])
	bundle := sha256.Sum256(o.Bundle)
	h.Write(bundle[:])
	h.Write(keylessID[:])
	h.Write(elfSum[:])
	for _, k := range keys {
		h.Write([]byte(fingerprintCached(o.keyAlgorithms(), k)))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// fingerprintCached is keyFingerprint, remembered per key. Keys that
// cannot be map keys (ed25519.PublicKey is a byte slice) are fingerprinted
// every time.
func fingerprintCached(algs attest.KeyAlgorithms, k crypto.PublicKey) string {
	if k == nil || !reflect.ValueOf(k).Comparable() {
		return keyFingerprint(algs, k)
	}
	if fp, ok := fpCache.Load(k); ok {
		return fp.(string)
	}
	fp := keyFingerprint(algs, k)
	fpCache.Store(k, fp)
	return fp
}

func planID(o *Object, elfSum [32]byte) [32]byte {
	h := sha256.New()
	h.Write(o.Plan)
	h.Write([]byte{0})
	h.Write(elfSum[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// resetCaches forgets everything cached; for tests and cold benchmarks.
func resetCaches() {
	keyCache.Clear()
	fpCache.Clear()
	sigCache.Clear()
	planCache.Clear()
}
