// Package fakesigstore is a local Sigstore for tests, without network: a
// Fulcio-like CA (root, intermediate, short-lived leaves with Fulcio's
// OIDC extensions and an embedded SCT from a CT log), a Rekor v1 log (an
// RFC 6962 Merkle tree with signed checkpoints and SETs), a Rekor v2 log
// (hashedrekord v0.0.2 entries, checkpoints, no SET) and an RFC 3161
// timestamp authority. It writes trusted_root.json and bundles v0.3 as
// cosign does, and can forge every part that a verifier must refuse.
//
// Only tests import it; it never links into shipped binaries.
package fakesigstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Hosts of the fake services, as they appear in the trusted root.
const (
	RekorHost   = "rekor.fake.test"
	RekorV2Host = "log2.rekor.fake.test"
	FulcioURL   = "https://fulcio.fake.test"
	CTURL       = "https://ctfe.fake.test"
	TSAURL      = "https://tsa.fake.test"
	rekorTreeID = "4242"
)

// GitHub Actions values used by default.
const (
	GitHubIssuer  = "https://token.actions.githubusercontent.com"
	DefaultIdent  = "https://github.com/acme/filters/.github/workflows/release.yml@refs/tags/v1.0.0"
	DefaultRepo   = "acme/filters"
	DefaultRef    = "refs/tags/v1.0.0"
	DefaultSHA    = "0123456789abcdef0123456789abcdef01234567"
	DefaultTrig   = "push"
	DefaultWFName = "release"
)

// Sigstore is one fake instance. Its zero value is not usable; use [New].
type Sigstore struct {
	// Now is the default signing time.
	Now time.Time

	rootKey, interKey *ecdsa.PrivateKey
	root, inter       *x509.Certificate
	ctKey             *ecdsa.PrivateKey
	rekorKey          *ecdsa.PrivateKey
	rekorV2Key        *ecdsa.PrivateKey
	tsaRootKey        *ecdsa.PrivateKey
	tsaKey            *ecdsa.PrivateKey
	tsaRoot, tsa      *x509.Certificate

	mu       sync.Mutex
	leaves   [][]byte // Rekor v1 entry bodies
	leavesV2 [][]byte
}

func key() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n
}

// New returns a fake Sigstore with fresh keys, whose CAs are valid from a
// year before now for ten years, and whose logs already hold a few
// entries by others.
func New() *Sigstore {
	now := time.Now().Truncate(time.Second)
	s := &Sigstore{Now: now, rootKey: key(), interKey: key(), ctKey: key(), rekorKey: key(), rekorV2Key: key(), tsaRootKey: key(), tsaKey: key()}
	start, end := now.AddDate(-1, 0, 0), now.AddDate(9, 0, 0)
	ca := func(cn string, parent *x509.Certificate, pub *ecdsa.PrivateKey, signer *ecdsa.PrivateKey, pathLen int) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{Organization: []string{"fake.test"}, CommonName: cn},
			NotBefore: start, NotAfter: end, IsCA: true, BasicConstraintsValid: true, MaxPathLen: pathLen, MaxPathLenZero: pathLen == 0,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		}
		if parent == nil {
			parent = tmpl
			tmpl.ExtKeyUsage = nil
		}
		return mustCert(tmpl, parent, pub.Public(), signer)
	}
	s.root = ca("fake-fulcio", nil, s.rootKey, s.rootKey, 1)
	s.inter = ca("fake-fulcio-intermediate", s.root, s.interKey, s.rootKey, 0)
	s.tsaRoot = ca("fake-tsa-root", nil, s.tsaRootKey, s.tsaRootKey, 0)
	s.tsa = mustCert(tsaTemplate(start, end), s.tsaRoot, s.tsaKey.Public(), s.tsaRootKey)
	for i := range 6 {
		s.leaves = append(s.leaves, fmt.Appendf(nil, `{"other":%d}`, i))
		s.leavesV2 = append(s.leavesV2, fmt.Appendf(nil, `{"other":%d}`, i))
	}
	return s
}

// tsaTemplate is the TSA's certificate.
func tsaTemplate(start, end time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{Organization: []string{"fake.test"}, CommonName: "fake-tsa"},
		NotBefore: start, NotAfter: end, KeyUsage: x509.KeyUsageDigitalSignature,
		// RFC 3161 §2.3: a critical extended key usage, time stamping only.
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true,
			Value: mustDER(asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}}))}},
	}
}

func mustDER(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func pkixDER(k crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return der
}

func logID(k crypto.PublicKey) []byte {
	s := sha256.Sum256(pkixDER(k))
	return s[:]
}

// TrustedRoot returns trusted_root.json for this instance.
func (s *Sigstore) TrustedRoot() []byte {
	start := s.root.NotBefore.UTC().Format(time.RFC3339)
	pubKey := func(k crypto.PublicKey) map[string]any {
		return map[string]any{"rawBytes": pkixDER(k), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": map[string]any{"start": start}}
	}
	tlog := func(u string, k crypto.PublicKey) map[string]any {
		return map[string]any{"baseUrl": u, "hashAlgorithm": "SHA2_256", "publicKey": pubKey(k), "logId": map[string]any{"keyId": logID(k)}}
	}
	chain := func(certs ...*x509.Certificate) map[string]any {
		var l []map[string]any
		for _, c := range certs {
			l = append(l, map[string]any{"rawBytes": c.Raw})
		}
		return map[string]any{"certificates": l}
	}
	root := map[string]any{
		"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		"tlogs":     []any{tlog("https://"+RekorHost, s.rekorKey.Public()), tlog("https://"+RekorV2Host, s.rekorV2Key.Public())},
		"certificateAuthorities": []any{map[string]any{
			"subject": map[string]any{"organization": "fake.test", "commonName": "fake-fulcio"}, "uri": FulcioURL,
			"certChain": chain(s.inter, s.root), "validFor": map[string]any{"start": start},
		}},
		"ctlogs": []any{tlog(CTURL, s.ctKey.Public())},
		"timestampAuthorities": []any{map[string]any{
			"subject": map[string]any{"organization": "fake.test", "commonName": "fake-tsa"}, "uri": TSAURL,
			"certChain": chain(s.tsa, s.tsaRoot), "validFor": map[string]any{"start": start},
		}},
	}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// Options say how to sign, and what to forge.
type Options struct {
	// Issuer is the OIDC issuer (default GitHub Actions); Identity the
	// SAN: a URI (default [DefaultIdent]) or, with an @ and no scheme,
	// an email.
	Issuer, Identity string
	// Claims are extra Fulcio extensions by OID arc under
	// 1.3.6.1.4.1.57264.1; nil gives GitHub workflow claims (2 to 6) for
	// the defaults.
	Claims map[int]string
	// Time is when the certificate is issued and the signature made
	// (default Now); LogDelay is added to it for the integrated time.
	Time     time.Time
	LogDelay time.Duration
	// RekorV2 logs a hashedrekord v0.0.2 entry in the v2 log, without a
	// SET; the signing time then comes from an RFC 3161 timestamp.
	RekorV2 bool
	// Timestamp adds an RFC 3161 timestamp to a Rekor v1 bundle.
	Timestamp bool
	// Intoto logs an intoto v0.0.2 entry instead of dsse v0.0.1.
	Intoto bool

	// Forgeries.
	NoSCT           bool
	ForgeSCT        bool // SCT signed by a key the CT log does not hold
	ForgeSET        bool // SET signed by another key
	ForgeCheckpoint bool
	BadProof        bool // one proof hash flipped
	ForgeTimestamp  bool // timestamp signed by a key the TSA does not hold
	// TSACert, when set, has the timestamp signed by another certificate
	// of the TSA's root (embedded in the token, with a fresh key): a copy
	// of the TSA certificate's template that TSACert changes.
	TSACert func(*x509.Certificate)
	// CAKey signs the leaf with an untrusted CA (another instance's).
	Untrusted *Sigstore
}

func (o *Options) defaults(s *Sigstore) {
	if o.Issuer == "" {
		o.Issuer = GitHubIssuer
	}
	if o.Identity == "" {
		o.Identity = DefaultIdent
	}
	if o.Claims == nil {
		o.Claims = map[int]string{2: DefaultTrig, 3: DefaultSHA, 4: DefaultWFName, 5: DefaultRepo, 6: DefaultRef}
	}
	if o.Time.IsZero() {
		o.Time = s.Now
	}
}

// Sign returns a bundle v0.3 of a DSSE envelope over payload, signed with
// a fresh key certified by the fake Fulcio and logged in the fake Rekor.
func (s *Sigstore) Sign(payloadType string, payload []byte, o Options) []byte {
	o.defaults(s)
	ca := s
	if o.Untrusted != nil {
		ca = o.Untrusted
	}
	signer := key()
	leaf := ca.issue(signer, o, s)
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
	sum := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(rand.Reader, signer, sum[:])
	if err != nil {
		panic(err)
	}
	entry, ts := s.log(payload, sig, leaf, pae, o)
	vm := map[string]any{
		"certificate": map[string]any{"rawBytes": leaf.Raw},
		"tlogEntries": []any{entry},
	}
	if ts != nil {
		vm["timestampVerificationData"] = map[string]any{"rfc3161Timestamps": []any{map[string]any{"signedTimestamp": ts}}}
	}
	b := map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": vm,
		"dsseEnvelope": map[string]any{
			"payload": payload, "payloadType": payloadType,
			"signatures": []any{map[string]any{"sig": sig, "keyid": ""}},
		},
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		panic(err)
	}
	return out
}

// issue returns a Fulcio-like leaf for signer, with an embedded SCT by
// ct's CT log (ct is the trusted instance even when s is an untrusted CA).
func (s *Sigstore) issue(signer *ecdsa.PrivateKey, o Options, ct *Sigstore) *x509.Certificate {
	utf8 := func(v string) []byte {
		b, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			panic(err)
		}
		return b
	}
	fulcio := func(arc int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, arc} }
	exts := []pkix.Extension{
		{Id: fulcio(1), Value: []byte(o.Issuer)},
		{Id: fulcio(8), Value: utf8(o.Issuer)},
	}
	for _, arc := range slices.Sorted(mapKeys(o.Claims)) {
		v := []byte(o.Claims[arc])
		if arc >= 8 {
			v = utf8(o.Claims[arc])
		}
		exts = append(exts, pkix.Extension{Id: fulcio(arc), Value: v})
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), NotBefore: o.Time.Add(-time.Minute), NotAfter: o.Time.Add(9 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: exts,
	}
	if u, err := url.Parse(o.Identity); err == nil && u.Scheme != "" {
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{o.Identity}
	}
	pre := mustCert(tmpl, s.inter, signer.Public(), s.interKey)
	if o.NoSCT {
		return pre
	}
	ctKey := ct.ctKey
	if o.ForgeSCT {
		ctKey = key()
	}
	sct := makeSCT(ctKey, ct.ctKey.Public(), pre.RawTBSCertificate, s.inter.RawSubjectPublicKeyInfo, o.Time)
	list, err := asn1.Marshal(sct)
	if err != nil {
		panic(err)
	}
	tmpl.ExtraExtensions = append(slices.Clone(exts), pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, Value: list})
	return mustCert(tmpl, s.inter, signer.Public(), s.interKey)
}

func mapKeys(m map[int]string) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// makeSCT returns a TLS SignedCertificateTimestampList with one SCT over
// a precertificate, as RFC 6962 §3.2 and §3.3 define.
func makeSCT(signKey *ecdsa.PrivateKey, logPub crypto.PublicKey, tbs, issuerSPKI []byte, t time.Time) []byte {
	ts := uint64(t.UnixMilli())
	keyHash := sha256.Sum256(issuerSPKI)
	var signed bytes.Buffer
	signed.Write([]byte{0, 0})
	binary.Write(&signed, binary.BigEndian, ts)
	signed.Write([]byte{0, 1})
	signed.Write(keyHash[:])
	signed.Write([]byte{byte(len(tbs) >> 16), byte(len(tbs) >> 8), byte(len(tbs))})
	signed.Write(tbs)
	signed.Write([]byte{0, 0})
	d := sha256.Sum256(signed.Bytes())
	sig, err := ecdsa.SignASN1(rand.Reader, signKey, d[:])
	if err != nil {
		panic(err)
	}
	var one bytes.Buffer
	one.WriteByte(0)
	one.Write(logID(logPub))
	binary.Write(&one, binary.BigEndian, ts)
	one.Write([]byte{0, 0}) // no extensions
	one.Write([]byte{4, 3}) // SHA-256, ECDSA
	binary.Write(&one, binary.BigEndian, uint16(len(sig)))
	one.Write(sig)
	var list bytes.Buffer
	binary.Write(&list, binary.BigEndian, uint16(one.Len()+2))
	binary.Write(&list, binary.BigEndian, uint16(one.Len()))
	list.Write(one.Bytes())
	return list.Bytes()
}

func leafHash(b []byte) []byte {
	h := sha256.Sum256(append([]byte{0}, b...))
	return h[:]
}

func nodeHash(l, r []byte) []byte {
	h := sha256.Sum256(slices.Concat([]byte{1}, l, r))
	return h[:]
}

// mth is the RFC 6962 Merkle tree hash of leaves.
func mth(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leafHash(leaves[0])
	}
	k := split(len(leaves))
	return nodeHash(mth(leaves[:k]), mth(leaves[k:]))
}

// split is the largest power of two below n.
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// path is the RFC 6962 audit path of leaf m.
func path(m int, leaves [][]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(path(m, leaves[:k]), mth(leaves[k:]))
	}
	return append(path(m-k, leaves[k:]), mth(leaves[:k]))
}

func signNote(k *ecdsa.PrivateKey, hint []byte, origin string, size int, root []byte, extra string) string {
	text := fmt.Sprintf("%s\n%d\n%s\n%s", origin, size, base64.StdEncoding.EncodeToString(root), extra)
	d := sha256.Sum256([]byte(text))
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		panic(err)
	}
	name := origin
	if i := bytes.IndexByte([]byte(origin), ' '); i > 0 {
		name = origin[:i]
	}
	return text + "\n— " + name + " " + base64.StdEncoding.EncodeToString(append(hint[:4:4], sig...)) + "\n"
}

// log appends the entry to the chosen log and returns its JSON form in the
// bundle, and an RFC 3161 timestamp over sig when one is wanted.
func (s *Sigstore) log(payload, sig []byte, leaf *x509.Certificate, pae []byte, o Options) (map[string]any, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	payloadSum := sha256.Sum256(payload)
	var ts []byte
	if o.RekorV2 || o.Timestamp {
		ts = s.timestamp(sig, o.Time.Add(o.LogDelay), o.ForgeTimestamp, o.TSACert)
	}
	if o.RekorV2 {
		digest := sha256.Sum256(pae)
		body := fmt.Appendf(nil, `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":%q},"signature":{"content":%q,"verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":{"rawBytes":%q}}}}}}`,
			base64.StdEncoding.EncodeToString(digest[:]), base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(leaf.Raw))
		s.leavesV2 = append(s.leavesV2, body)
		index := len(s.leavesV2) - 1
		e := s.entry(s.leavesV2, index, body, s.rekorV2Key, RekorV2Host, "", o)
		e["kindVersion"] = map[string]any{"kind": "hashedrekord", "version": "0.0.2"}
		e["integratedTime"] = "0"
		return e, ts
	}
	var body []byte
	kind := "dsse"
	if o.Intoto {
		kind = "intoto"
		b64 := base64.StdEncoding.EncodeToString
		body = fmt.Appendf(nil, `{"apiVersion":"0.0.2","kind":"intoto","spec":{"content":{"envelope":{"payloadType":"application/vnd.in-toto+json","signatures":[{"publicKey":%q,"sig":%q}]},"hash":{"algorithm":"sha256","value":"%x"},"payloadHash":{"algorithm":"sha256","value":"%x"}}}}`,
			b64(certPEM), b64([]byte(b64(sig))), sha256.Sum256(pae), payloadSum)
	} else {
		body = fmt.Appendf(nil, `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"%x"},"payloadHash":{"algorithm":"sha256","value":"%x"},"signatures":[{"signature":%q,"verifier":%q}]}}`,
			sha256.Sum256(pae), payloadSum, base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(certPEM))
	}
	s.leaves = append(s.leaves, body)
	index := len(s.leaves) - 1
	integrated := o.Time.Add(o.LogDelay).Unix()
	e := s.entry(s.leaves, index, body, s.rekorKey, RekorHost+" - "+rekorTreeID, fmt.Sprintf("Timestamp: %d\n", o.Time.UnixNano()), o)
	e["kindVersion"] = map[string]any{"kind": kind, "version": map[string]string{"dsse": "0.0.1", "intoto": "0.0.2"}[kind]}
	e["integratedTime"] = fmt.Sprint(integrated)
	setKey := s.rekorKey
	if o.ForgeSET {
		setKey = key()
	}
	set := fmt.Sprintf(`{"body":%q,"integratedTime":%d,"logID":%q,"logIndex":%d}`,
		base64.StdEncoding.EncodeToString(body), integrated, hex.EncodeToString(logID(s.rekorKey.Public())), index)
	d := sha256.Sum256([]byte(set))
	setSig, err := ecdsa.SignASN1(rand.Reader, setKey, d[:])
	if err != nil {
		panic(err)
	}
	e["inclusionPromise"] = map[string]any{"signedEntryTimestamp": setSig}
	return e, ts
}

// entry is the bundle form of entry index of leaves, with an inclusion
// proof to the current tree and its checkpoint.
func (s *Sigstore) entry(leaves [][]byte, index int, body []byte, k *ecdsa.PrivateKey, origin, extra string, o Options) map[string]any {
	root := mth(leaves)
	hashes := path(index, leaves)
	if o.BadProof {
		hashes[0] = slices.Clone(hashes[0])
		hashes[0][0] ^= 1
	}
	ck := k
	if o.ForgeCheckpoint {
		// The log's key hint, another key: only the signature check can tell.
		ck = key()
	}
	note := signNote(ck, logID(k.Public()), origin, len(leaves), root, extra)
	return s.entryJSON(index, body, k, root, len(leaves), hashes, note)
}

func (s *Sigstore) entryJSON(index int, body []byte, k *ecdsa.PrivateKey, root []byte, size int, hashes [][]byte, note string) map[string]any {
	return map[string]any{
		"logIndex": fmt.Sprint(index),
		"logId":    map[string]any{"keyId": logID(k.Public())},
		"inclusionProof": map[string]any{
			"logIndex": fmt.Sprint(index), "rootHash": root, "treeSize": fmt.Sprint(size),
			"hashes": hashes, "checkpoint": map[string]any{"envelope": note},
		},
		"canonicalizedBody": body,
	}
}
