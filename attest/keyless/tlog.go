package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
)

// verifyEntry checks one Rekor v1 entry for the envelope signed with leaf:
// the body is about this envelope, signature and certificate; the SET
// signs body, time and index; the inclusion proof (required unless
// proofOptional) reaches a checkpoint signed by the same log. It returns
// the integrated time when the SET verified.
func (r *TrustedRoot) verifyEntry(e *TlogEntry, env *DSSEEnvelope, leaf *certificate, proofOptional bool) (time.Time, error) {
	log := findLog(r.tlogs, e.LogID.KeyID)
	if log == nil {
		return time.Time{}, fmt.Errorf("%w: entry %d is in log %s, which the trusted root does not hold (trusted: %s); use the trusted root of the Sigstore instance that signed",
			ErrTlog, e.LogIndex, hex.EncodeToString(e.LogID.KeyID), describeLogs(r.tlogs))
	}
	if e.KindVersion.Kind == "hashedrekord" && e.KindVersion.Version == "0.0.2" {
		// Rekor v2: no SET, and the entry is rebuilt from the bundle
		// rather than trusted from its canonicalized body.
		if e.InclusionProof == nil {
			return time.Time{}, fmt.Errorf("%w: Rekor v2 entry %d has no inclusion proof", ErrTlog, e.LogIndex)
		}
		body, err := rekorV2Body(env, leaf)
		if err != nil {
			return time.Time{}, err
		}
		return time.Time{}, verifyInclusion(e, log, body)
	}
	if err := checkBody(e, env, leaf); err != nil {
		return time.Time{}, err
	}
	var logged time.Time
	if e.InclusionPromise != nil && len(e.InclusionPromise.SignedEntryTimestamp) > 0 {
		if err := verifySET(e, log); err != nil {
			return time.Time{}, err
		}
		logged = time.Unix(int64(e.IntegratedTime), 0)
		if !log.valid.contains(logged) {
			return time.Time{}, fmt.Errorf("%w: entry integrated at %s, when log %s was not trusted (%s)", ErrTlog, logged.UTC().Format(time.RFC3339), log.baseURL, log.valid)
		}
	}
	switch {
	case e.InclusionProof != nil:
		if err := verifyInclusion(e, log, e.CanonicalizedBody); err != nil {
			return time.Time{}, err
		}
	case !proofOptional:
		return time.Time{}, fmt.Errorf("%w: entry %d has no inclusion proof; bundles v0.2 and later must carry one (sign with cosign v2.4 or later)", ErrTlog, e.LogIndex)
	}
	return logged, nil
}

// rekorV2Body rebuilds the Rekor v2 hashedrekord v0.0.2 entry that logs
// this envelope's signature: the canonical (RFC 8785) protobuf JSON of the
// digest of the DSSE pre-authentication encoding, the signature and the
// certificate, as Rekor v2 stores DSSE signatures.
func rekorV2Body(env *DSSEEnvelope, leaf *certificate) ([]byte, error) {
	var details, alg string
	var h crypto.Hash
	switch k := leaf.publicKey.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			details, alg, h = "PKIX_ECDSA_P256_SHA_256", "SHA2_256", crypto.SHA256
		case 384:
			details, alg, h = "PKIX_ECDSA_P384_SHA_384", "SHA2_384", crypto.SHA384
		case 521:
			details, alg, h = "PKIX_ECDSA_P521_SHA_512", "SHA2_512", crypto.SHA512
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n == 2048 || n == 3072 || n == 4096 {
			details, alg, h = fmt.Sprintf("PKIX_RSA_PKCS1V15_%d_SHA256", n), "SHA2_256", crypto.SHA256
		}
	}
	if details == "" {
		return nil, fmt.Errorf("%w: Rekor v2 entries with a %T certificate key are not supported", ErrTlog, leaf.publicKey)
	}
	d := h.New()
	d.Write(attest.PAE(env.PayloadType, env.Payload))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":%q,"digest":%q},"signature":{"content":%q,"verifier":{"keyDetails":%q,"x509Certificate":{"rawBytes":%q}}}}}}`,
		alg, b64(d.Sum(nil)), b64(env.Signatures[0].Sig), details, b64(leaf.raw)), nil
}

// checkBody checks that the canonicalized body (Rekor dsse v0.0.1 or
// intoto v0.0.2) is about this payload, signature and certificate.
func checkBody(e *TlogEntry, env *DSSEEnvelope, leaf *certificate) error {
	kv := e.KindVersion.Kind + " " + e.KindVersion.Version
	var hash string
	var sigs [][]byte
	var verifiers []string
	switch kv {
	case "dsse 0.0.1":
		var b struct {
			Kind       string `json:"kind"`
			APIVersion string `json:"apiVersion"`
			Spec       struct {
				PayloadHash struct{ Algorithm, Value string } `json:"payloadHash"`
				Signatures  []struct {
					Signature string `json:"signature"`
					Verifier  string `json:"verifier"`
				} `json:"signatures"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(e.CanonicalizedBody, &b); err != nil || b.Kind != "dsse" || b.APIVersion != "0.0.1" {
			return fmt.Errorf("%w: entry %d: body is not a dsse v0.0.1 entry", ErrTlog, e.LogIndex)
		}
		if b.Spec.PayloadHash.Algorithm != "sha256" {
			return fmt.Errorf("%w: entry %d: payload hash algorithm %q, want sha256", ErrTlog, e.LogIndex, b.Spec.PayloadHash.Algorithm)
		}
		hash = b.Spec.PayloadHash.Value
		for _, s := range b.Spec.Signatures {
			sig, _ := base64.StdEncoding.DecodeString(s.Signature)
			v, _ := base64.StdEncoding.DecodeString(s.Verifier)
			sigs, verifiers = append(sigs, sig), append(verifiers, string(v))
		}
	case "intoto 0.0.2":
		var b struct {
			Kind       string `json:"kind"`
			APIVersion string `json:"apiVersion"`
			Spec       struct {
				Content struct {
					Envelope struct {
						Signatures []struct {
							Sig       string `json:"sig"`
							PublicKey string `json:"publicKey"`
						} `json:"signatures"`
					} `json:"envelope"`
					PayloadHash struct{ Algorithm, Value string } `json:"payloadHash"`
				} `json:"content"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(e.CanonicalizedBody, &b); err != nil || b.Kind != "intoto" || b.APIVersion != "0.0.2" {
			return fmt.Errorf("%w: entry %d: body is not an intoto v0.0.2 entry", ErrTlog, e.LogIndex)
		}
		if b.Spec.Content.PayloadHash.Algorithm != "sha256" {
			return fmt.Errorf("%w: entry %d: payload hash algorithm %q, want sha256", ErrTlog, e.LogIndex, b.Spec.Content.PayloadHash.Algorithm)
		}
		hash = b.Spec.Content.PayloadHash.Value
		for _, s := range b.Spec.Content.Envelope.Signatures {
			// intoto v0.0.2 stores the signature and key base64-encoded twice.
			inner, _ := base64.StdEncoding.DecodeString(s.Sig)
			sig, _ := base64.StdEncoding.DecodeString(string(inner))
			v, _ := base64.StdEncoding.DecodeString(s.PublicKey)
			sigs, verifiers = append(sigs, sig), append(verifiers, string(v))
		}
	default:
		return fmt.Errorf("%w: entry %d is of kind %s, want dsse 0.0.1 or intoto 0.0.2 (Rekor v1); sign with cosign attest-blob", ErrTlog, e.LogIndex, kv)
	}
	sum := sha256.Sum256(env.Payload)
	if hash != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%w: entry %d logs payload sha256 %s, the bundle's payload has sha256 %x: the entry is for another statement", ErrTlog, e.LogIndex, hash, sum)
	}
	for i, sig := range sigs {
		if !bytes.Equal(sig, env.Signatures[0].Sig) {
			continue
		}
		block, _ := pem.Decode([]byte(verifiers[i]))
		if block != nil && bytes.Equal(block.Bytes, leaf.raw) {
			return nil
		}
	}
	return fmt.Errorf("%w: entry %d logs %d signature(s), none is the bundle's signature with its certificate: the entry is for another signature", ErrTlog, e.LogIndex, len(sigs))
}

// verifySET checks the signed entry timestamp: the log's signature over
// the canonical JSON of body, integrated time, log id and index.
func verifySET(e *TlogEntry, log *logKey) error {
	// RFC 8785 canonical JSON of four fields: sorted keys, no spaces.
	payload := fmt.Sprintf(`{"body":%q,"integratedTime":%d,"logID":%q,"logIndex":%d}`,
		base64.StdEncoding.EncodeToString(e.CanonicalizedBody), int64(e.IntegratedTime), hex.EncodeToString(e.LogID.KeyID), int64(e.LogIndex))
	if err := verifyWithKey(log.key, []byte(payload), e.InclusionPromise.SignedEntryTimestamp); err != nil {
		return fmt.Errorf("%w: entry %d: the signed entry timestamp does not verify with the key of %s (%v): the entry, its time or its index was altered, or it was not signed by this log",
			ErrTlog, e.LogIndex, log.baseURL, err)
	}
	return nil
}

// leafHash and nodeHash are RFC 6962 §2.1 hashes.
func leafHash(b []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil)
}

func nodeHash(l, r []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// RootFromInclusionProof computes the root of a tree of size leaves from
// the hash of leaf index and its audit path (RFC 9162 §2.1.3.2).
func RootFromInclusionProof(index, size uint64, leaf []byte, path [][]byte) ([]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("leaf index %d is not below tree size %d", index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range path {
		if len(p) != sha256.Size {
			return nil, fmt.Errorf("proof hash of %d bytes", len(p))
		}
		if sn == 0 {
			return nil, fmt.Errorf("proof has %d hashes, too many for index %d in a tree of %d", len(path), index, size)
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return nil, fmt.Errorf("proof has %d hashes, too few for index %d in a tree of %d", len(path), index, size)
	}
	return r, nil
}

// verifyInclusion checks the inclusion proof of the entry's body and its
// checkpoint.
func verifyInclusion(e *TlogEntry, log *logKey, body []byte) error {
	p := e.InclusionProof
	root, err := RootFromInclusionProof(uint64(p.LogIndex), uint64(p.TreeSize), leafHash(body), p.Hashes)
	if err != nil {
		return fmt.Errorf("%w: entry %d: inclusion proof: %v", ErrTlog, e.LogIndex, err)
	}
	if !bytes.Equal(root, p.RootHash) {
		return fmt.Errorf("%w: entry %d: the inclusion proof leads to root %x, the proof claims root %x: the entry or the proof was altered",
			ErrTlog, e.LogIndex, root, p.RootHash)
	}
	cp, err := verifyCheckpoint(p.Checkpoint.Envelope, log)
	if err != nil {
		return fmt.Errorf("%w: entry %d: checkpoint: %v", ErrTlog, e.LogIndex, err)
	}
	if cp.size != uint64(p.TreeSize) || !bytes.Equal(cp.root, p.RootHash) {
		return fmt.Errorf("%w: entry %d: the signed checkpoint is for size %d root %x, the proof for size %d root %x",
			ErrTlog, e.LogIndex, cp.size, cp.root, p.TreeSize, p.RootHash)
	}
	return nil
}

type checkpoint struct {
	origin string
	size   uint64
	root   []byte
}

// verifyCheckpoint parses a signed note (origin, tree size, base64 root
// hash, optional extension lines, a blank line, signature lines
// "— NAME base64(keyhash[4] || signature)") and checks that a signature by
// the log's key signs the text above the blank line.
func verifyCheckpoint(note string, log *logKey) (*checkpoint, error) {
	text, sigs, ok := strings.Cut(note, "\n\n")
	if !ok {
		return nil, errors.New("not a signed note (no blank line)")
	}
	text += "\n"
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("note of %d lines, want origin, size and root", len(lines))
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != sha256.Size {
		return nil, fmt.Errorf("root hash %q", lines[2])
	}
	cp := &checkpoint{origin: lines[0], size: size, root: root}
	if h, name := log.host(), strings.SplitN(cp.origin, " ", 2)[0]; h != "" && name != h {
		return nil, fmt.Errorf("origin %q, want the log %s", cp.origin, h)
	}
	hint := log.id[:4]
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "— ")
		if !ok {
			return nil, fmt.Errorf("signature line %q", line)
		}
		_, b64, ok := strings.Cut(rest, " ")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(raw) < 5 {
			return nil, fmt.Errorf("signature line %q", line)
		}
		n++
		if !bytes.Equal(raw[:4], hint) {
			continue
		}
		if err := verifyWithKey(log.key, []byte(text), raw[4:]); err == nil {
			return cp, nil
		}
	}
	return nil, fmt.Errorf("none of %d signature(s) is by %s (key hint %x): the checkpoint is forged or from another log", n, log.baseURL, hint)
}

// verifyWithKey checks a signature over msg: ECDSA (ASN.1) and RSA PKCS #1
// v1.5 over SHA-256 (SHA-384 for P-384, SHA-512 for P-521), Ed25519 over
// msg.
func verifyWithKey(k crypto.PublicKey, msg, sig []byte) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		var d []byte
		switch k.Curve.Params().BitSize {
		case 384:
			s := sha512.Sum384(msg)
			d = s[:]
		case 521:
			s := sha512.Sum512(msg)
			d = s[:]
		default:
			s := sha256.Sum256(msg)
			d = s[:]
		}
		if !ecdsa.VerifyASN1(k, d, sig) {
			return errors.New("ECDSA signature invalid")
		}
		return nil
	case *rsa.PublicKey:
		s := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, s[:], sig)
	case ed25519.PublicKey:
		if !ed25519.Verify(k, msg, sig) {
			return errors.New("Ed25519 signature invalid")
		}
		return nil
	}
	return fmt.Errorf("unsupported key %T", k)
}

// verifyDigitallySigned checks a TLS DigitallySigned (RFC 5246 §4.7) with
// SHA-256: ECDSA (3) or RSA (1).
func verifyDigitallySigned(k crypto.PublicKey, hashAlg, sigAlg byte, msg, sig []byte) error {
	if hashAlg != 4 {
		return fmt.Errorf("hash algorithm %d, want SHA-256 (4)", hashAlg)
	}
	switch k.(type) {
	case *ecdsa.PublicKey:
		if sigAlg != 3 {
			return fmt.Errorf("signature algorithm %d for an ECDSA key", sigAlg)
		}
		s := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(k.(*ecdsa.PublicKey), s[:], sig) {
			return errors.New("signature invalid")
		}
		return nil
	case *rsa.PublicKey:
		if sigAlg != 1 {
			return fmt.Errorf("signature algorithm %d for an RSA key", sigAlg)
		}
		s := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k.(*rsa.PublicKey), crypto.SHA256, s[:], sig)
	}
	return fmt.Errorf("unsupported CT log key %T", k)
}
