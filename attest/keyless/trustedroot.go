package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TrustedRootMediaType is the media type of trusted_root.json.
const TrustedRootMediaType = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"

// TrustedRoot is a parsed trusted_root.json: the Fulcio CAs, Rekor logs,
// CT logs and timestamp authorities trusted, each with the time range in
// which it is.
type TrustedRoot struct {
	cas    []authority
	tsas   []authority
	tlogs  []*logKey
	ctlogs []*logKey
}

type validFor struct {
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
}

// contains reports whether t is in the range; a missing end is open.
func (v *validFor) contains(t time.Time) bool {
	if v == nil {
		return true
	}
	if v.Start != nil && t.Before(*v.Start) {
		return false
	}
	if v.End != nil && t.After(*v.End) {
		return false
	}
	return true
}

func (v *validFor) String() string {
	if v == nil {
		return "always"
	}
	s := "from " + v.Start.UTC().Format(time.RFC3339)
	if v.End != nil {
		s += " to " + v.End.UTC().Format(time.RFC3339)
	}
	return s
}

type authority struct {
	uri string
	// roots is the last certificate of the chain, intermediates the
	// others.
	roots, intermediates []*certificate
	// leaves is the first certificate of the chain when it is not a CA
	// (the TSA's signing certificate, which alone may sign timestamps).
	leaves []*certificate
	valid  *validFor
}

// logKey is a transparency log (Rekor or CT) trusted by the root.
type logKey struct {
	baseURL string
	id      []byte // SHA-256 of the PKIX key for Rekor v1 and CT logs
	key     crypto.PublicKey
	valid   *validFor
}

// host is the host name of the log's base URL ("" when it has no
// scheme), as net/url's Hostname returns it.
func (l *logKey) host() string {
	_, rest, ok := strings.Cut(l.baseURL, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.Index(rest, "]"); i > 0 {
			return rest[1:i]
		}
		return ""
	}
	host, _, _ := strings.Cut(rest, ":")
	return host
}

type jsonRoot struct {
	MediaType              string    `json:"mediaType"`
	Tlogs                  []jsonLog `json:"tlogs"`
	CertificateAuthorities []jsonCA  `json:"certificateAuthorities"`
	Ctlogs                 []jsonLog `json:"ctlogs"`
	TimestampAuthorities   []jsonCA  `json:"timestampAuthorities"`
}

type jsonLog struct {
	BaseURL       string `json:"baseUrl"`
	HashAlgorithm string `json:"hashAlgorithm"`
	PublicKey     struct {
		RawBytes   []byte    `json:"rawBytes"`
		KeyDetails string    `json:"keyDetails"`
		ValidFor   *validFor `json:"validFor"`
	} `json:"publicKey"`
	LogID struct {
		KeyID []byte `json:"keyId"`
	} `json:"logId"`
}

type jsonCA struct {
	URI       string `json:"uri"`
	CertChain struct {
		Certificates []RawBytes `json:"certificates"`
	} `json:"certChain"`
	ValidFor *validFor `json:"validFor"`
}

// ParseTrustedRoot reads trusted_root.json (sigstore/protobuf-specs
// TrustedRoot, as written by "cosign trusted-root create" or fetched
// through TUF). Errors wrap [ErrMalformed].
func ParseTrustedRoot(raw []byte) (*TrustedRoot, error) {
	var j jsonRoot
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("%w: trusted root: %v", ErrMalformed, err)
	}
	if !strings.HasPrefix(j.MediaType, "application/vnd.dev.sigstore.trustedroot") {
		return nil, fmt.Errorf("%w: trusted root mediaType %q, want %q", ErrMalformed, j.MediaType, TrustedRootMediaType)
	}
	r := &TrustedRoot{}
	for i, ca := range j.CertificateAuthorities {
		a, err := parseAuthority(ca)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted root: certificate authority %d: %v", ErrMalformed, i, err)
		}
		r.cas = append(r.cas, a)
	}
	for i, ca := range j.TimestampAuthorities {
		a, err := parseAuthority(ca)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted root: timestamp authority %d: %v", ErrMalformed, i, err)
		}
		r.tsas = append(r.tsas, a)
	}
	for i, l := range j.Tlogs {
		k, err := parseLog(l)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted root: tlog %d (%s): %v", ErrMalformed, i, l.BaseURL, err)
		}
		r.tlogs = append(r.tlogs, k)
	}
	for i, l := range j.Ctlogs {
		k, err := parseLog(l)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted root: ctlog %d (%s): %v", ErrMalformed, i, l.BaseURL, err)
		}
		r.ctlogs = append(r.ctlogs, k)
	}
	if len(r.cas) == 0 || len(r.tlogs) == 0 {
		return nil, fmt.Errorf("%w: trusted root has %d certificate authorities and %d transparency logs, want at least one of each", ErrMalformed, len(r.cas), len(r.tlogs))
	}
	return r, nil
}

func parseAuthority(ca jsonCA) (authority, error) {
	a := authority{uri: ca.URI, valid: ca.ValidFor}
	certs := ca.CertChain.Certificates
	if len(certs) == 0 {
		return a, fmt.Errorf("empty certificate chain")
	}
	for i, c := range certs {
		cert, err := parseCertificate(c.RawBytes)
		if err != nil {
			return a, err
		}
		if i == len(certs)-1 {
			a.roots = append(a.roots, cert)
		} else {
			a.intermediates = append(a.intermediates, cert)
		}
		if i == 0 && len(certs) > 1 && !cert.isCA {
			a.leaves = append(a.leaves, cert)
		}
	}
	return a, nil
}

func parseLog(l jsonLog) (*logKey, error) {
	spki, err := derOne(l.PublicKey.RawBytes)
	if err != nil {
		return nil, err
	}
	k, err := parsePublicKey(spki)
	if err != nil {
		return nil, err
	}
	switch k.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("key type %T", k)
	}
	id := l.LogID.KeyID
	if len(id) == 0 {
		sum := sha256.Sum256(l.PublicKey.RawBytes)
		id = sum[:]
	}
	return &logKey{baseURL: l.BaseURL, id: id, key: k, valid: l.PublicKey.ValidFor}, nil
}

// findLog returns the log with this id.
func findLog(logs []*logKey, id []byte) *logKey {
	for _, l := range logs {
		if bytes.Equal(l.id, id) {
			return l
		}
	}
	return nil
}

func describeLogs(logs []*logKey) string {
	var s []string
	for _, l := range logs {
		s = append(s, fmt.Sprintf("%s (id %s)", l.baseURL, hex.EncodeToString(l.id)))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
