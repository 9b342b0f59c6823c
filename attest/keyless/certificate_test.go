package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The certificate code is checked against crypto/x509 (test-only here):
// the same fields, and the same verdict on chains, except where this
// package is deliberately stricter.

var chainNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || k == nil {
		t.Fatalf("key %s: %v", kind, err)
	}
	return k
}

func testCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"test"}, CommonName: cn},
		NotBefore: chainNow.AddDate(-1, 0, 0), NotAfter: chainNow.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: -1,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func leafTemplate() *x509.Certificate {
	u, _ := url.Parse("https://github.com/acme/filters/.github/workflows/release.yml@refs/tags/v1.0.0")
	return &x509.Certificate{
		SerialNumber: big.NewInt(2), NotBefore: chainNow.Add(-time.Minute), NotAfter: chainNow.Add(9 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs: []*url.URL{u}, EmailAddresses: []string{"dev@example.org"},
	}
}

type testChain struct {
	root, inter, leaf *x509.Certificate
	authority         authority
	parsedLeaf        *certificate
}

// chainCase changes the templates and keys of a root → intermediate →
// leaf chain before it is built.
type chainCase struct {
	name              string
	rootKey, interKey string
	leafKey           string
	root, inter, leaf func(*x509.Certificate)
	// forgeLeaf signs the leaf with another key under the
	// intermediate's name.
	forgeLeaf bool
	at        time.Duration
	ok        bool
	// stricter: crypto/x509 accepts, this package refuses on purpose.
	stricter bool
	says     string
}

func buildChain(t testing.TB, tc chainCase) testChain {
	t.Helper()
	kind := func(k, def string) string { return map[bool]string{true: def, false: k}[k == ""] }
	rootKey, interKey, leafKey := testKey(t, kind(tc.rootKey, "p384")), testKey(t, kind(tc.interKey, "p384")), testKey(t, kind(tc.leafKey, "p256"))
	rt, it, lt := caTemplate("root"), caTemplate("intermediate"), leafTemplate()
	it.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	for _, f := range []struct {
		f func(*x509.Certificate)
		c *x509.Certificate
	}{{tc.root, rt}, {tc.inter, it}, {tc.leaf, lt}} {
		if f.f != nil {
			f.f(f.c)
		}
	}
	var c testChain
	c.root = testCert(t, rt, nil, rootKey.Public(), rootKey)
	c.inter = testCert(t, it, c.root, interKey.Public(), rootKey)
	parent, signer := c.inter, interKey
	if tc.forgeLeaf {
		// Another key under the intermediate's name.
		signer = testKey(t, kind(tc.interKey, "p384"))
		parent = testCert(t, it, c.root, signer.Public(), rootKey)
	}
	c.leaf = testCert(t, lt, parent, leafKey.Public(), signer)
	for _, x := range []*x509.Certificate{c.root, c.inter, c.leaf} {
		compareWithX509(t, x)
	}
	var err error
	root, _ := parseCertificate(c.root.Raw)
	inter, _ := parseCertificate(c.inter.Raw)
	c.authority = authority{uri: "test", roots: []*certificate{root}, intermediates: []*certificate{inter}}
	if c.parsedLeaf, err = parseCertificate(c.leaf.Raw); err != nil {
		t.Fatal(err)
	}
	return c
}

// compareWithX509 checks that parseCertificate reads what
// x509.ParseCertificate reads.
func compareWithX509(t testing.TB, x *x509.Certificate) {
	t.Helper()
	c, err := parseCertificate(x.Raw)
	if err != nil {
		t.Fatalf("%s: %v", x.Subject, err)
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{{"raw", c.raw, x.Raw}, {"tbs", c.rawTBS, x.RawTBSCertificate}, {"subject", c.rawSubject, x.RawSubject},
		{"issuer", c.rawIssuer, x.RawIssuer}, {"spki", c.rawSPKI, x.RawSubjectPublicKeyInfo}, {"signature", c.signature, x.Signature}} {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("%s: %s differs from crypto/x509's", x.Subject, f.name)
		}
	}
	if !c.notBefore.Equal(x.NotBefore) || !c.notAfter.Equal(x.NotAfter) {
		t.Errorf("%s: validity %v–%v, crypto/x509 %v–%v", x.Subject, c.notBefore, c.notAfter, x.NotBefore, x.NotAfter)
	}
	if k, ok := x.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(c.publicKey) {
		t.Errorf("%s: public key %T differs from crypto/x509's %T", x.Subject, c.publicKey, x.PublicKey)
	}
	if c.basicConstraints != x.BasicConstraintsValid || c.isCA != x.IsCA || (x.BasicConstraintsValid && c.maxPathLen != x.MaxPathLen && !(x.MaxPathLen == 0 && !x.MaxPathLenZero && c.maxPathLen == -1)) {
		t.Errorf("%s: basic constraints %v CA %v path %d, crypto/x509 %v %v %d (zero %v)", x.Subject, c.basicConstraints, c.isCA, c.maxPathLen, x.BasicConstraintsValid, x.IsCA, x.MaxPathLen, x.MaxPathLenZero)
	}
	if want := x.KeyUsage&x509.KeyUsageCertSign != 0; c.hasKeyUsage && (c.keyUsage.At(5) != 0) != want {
		t.Errorf("%s: cert sign %v, crypto/x509 %v", x.Subject, c.keyUsage.At(5) != 0, want)
	}
	// URIs are read as the bytes the certificate holds (and matched as
	// such); crypto/x509 re-escapes them (net/url: "}" is "%7D"), and
	// sigstore-go matches that form, so where they differ the identity
	// reads differently (docs/keyless.md). Compare what net/url makes of
	// the bytes read here.
	var uris, ours []string
	for _, u := range x.URIs {
		uris = append(uris, u.String())
	}
	for _, raw := range c.uris {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("%s: URI %q: %v", x.Subject, raw, err)
			return
		}
		ours = append(ours, u.String())
	}
	if !slices.Equal(ours, uris) || !slices.Equal(c.emails, x.EmailAddresses) {
		t.Errorf("%s: SANs %v %v, crypto/x509 %v %v", x.Subject, c.uris, c.emails, uris, x.EmailAddresses)
	}
}

// TestChain: chains are accepted and refused as crypto/x509's Verify
// accepts and refuses them (for code signing, at a time), and refused
// where this package is stricter.
func TestChain(t *testing.T) {
	unknownCritical := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}
	for _, tc := range []chainCase{
		{name: "ok", ok: true},
		{name: "ok RSA intermediate", interKey: "rsa", ok: true},
		{name: "ok Ed25519 intermediate", interKey: "ed25519", ok: true},
		{name: "ok P-521 leaf", leafKey: "p521", ok: true},
		{name: "ok leaf without extended key usage", leaf: func(c *x509.Certificate) { c.ExtKeyUsage = nil }, ok: true},
		{name: "ok intermediate for any usage", inter: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }, ok: true},
		{name: "ok path length 1", root: func(c *x509.Certificate) { c.MaxPathLen = 1 }, ok: true},
		{name: "leaf not yet valid", at: -2 * time.Minute, says: "not at"},
		{name: "leaf expired", at: time.Hour, says: "not at"},
		{name: "root expired", root: func(c *x509.Certificate) { c.NotAfter = chainNow.Add(-time.Second) }, says: "not at"},
		{name: "intermediate expired", inter: func(c *x509.Certificate) { c.NotAfter = chainNow.Add(-time.Second) }, says: "not at"},
		{name: "intermediate not a CA", inter: func(c *x509.Certificate) { c.IsCA = false }, says: "not a certificate authority"},
		{name: "intermediate without basic constraints", inter: func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = false, false }, says: "not a certificate authority"},
		{name: "intermediate may not sign certificates", inter: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }, says: "key usage"},
		{name: "root path length 0", root: func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 0, true }, says: "allows 0 intermediate"},
		{name: "leaf for server auth", leaf: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, says: "extended key usages"},
		{name: "root for server auth", root: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, says: "extended key usages"},
		{name: "intermediate for time stamping", inter: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping} }, says: "extended key usages"},
		{name: "leaf with unknown critical extension", leaf: func(c *x509.Certificate) { c.ExtraExtensions = []pkix.Extension{unknownCritical} }, says: "unknown critical extension"},
		{name: "intermediate with unknown critical extension", inter: func(c *x509.Certificate) { c.ExtraExtensions = []pkix.Extension{unknownCritical} }, says: "unknown critical extension"},
		{name: "leaf signed by another key", forgeLeaf: true, says: "signature invalid"},
		{name: "leaf signed by another RSA key", interKey: "rsa", forgeLeaf: true, says: "verification error"},
		{name: "leaf signed by another Ed25519 key", interKey: "ed25519", forgeLeaf: true, says: "signature invalid"},
		{name: "intermediate with name constraints", inter: func(c *x509.Certificate) { c.PermittedEmailAddresses = []string{"example.org"} }, stricter: true, says: "name constraints"},
		// inhibitAnyPolicy SkipCerts 2; policyConstraints
		// requireExplicitPolicy 0 (RFC 5280 §4.2.1.14, 4.2.1.11).
		{name: "intermediate inhibiting anyPolicy", inter: func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: oidInhibitAnyPolicy, Critical: true, Value: []byte{2, 1, 2}})
		}, stricter: true, says: "policy mappings or constraints"},
		{name: "intermediate requiring an explicit policy", inter: func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: oidPolicyConstraints, Critical: true, Value: []byte{0x30, 3, 0x80, 1, 0}})
		}, says: "policy mappings or constraints"},
		{name: "RSA-PSS signature", interKey: "rsa", leaf: func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA256WithRSAPSS }, stricter: true, says: "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := buildChain(t, tc)
			at := chainNow.Add(tc.at)
			roots, inters := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(c.root)
			inters.AddCert(c.inter)
			_, xerr := c.leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
			if xok := xerr == nil; xok != (tc.ok || tc.stricter) {
				t.Fatalf("crypto/x509 (the reference) says %v", xerr)
			}
			chain, err := c.authority.chain(c.parsedLeaf, at, oidEKUCodeSigning)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if len(chain) != 3 || !bytes.Equal(chain[1].raw, c.inter.Raw) || !bytes.Equal(chain[2].raw, c.root.Raw) {
					t.Fatalf("chain of %d certificates, want leaf, intermediate, root", len(chain))
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%q does not say %q", err, tc.says)
			}
		})
	}
}

// TestChainUnknownIssuer: a certificate whose issuer is not in the
// authority does not chain.
func TestChainUnknownIssuer(t *testing.T) {
	c := buildChain(t, chainCase{})
	other := buildChain(t, chainCase{root: func(c *x509.Certificate) { c.Subject.CommonName = "other root" }})
	_, err := other.authority.chain(c.parsedLeaf, chainNow, oidEKUCodeSigning)
	if err == nil {
		t.Fatal("a leaf of another CA with the same intermediate name chained")
	}
	c.authority.intermediates = nil
	if _, err := c.authority.chain(c.parsedLeaf, chainNow, oidEKUCodeSigning); err == nil || !strings.Contains(err.Error(), "no certificate of the authority is the issuer") {
		t.Fatalf("without the intermediate: %v", err)
	}
}

// TestParseCertificateRefuses: what crypto/x509 refuses to parse is
// refused too, and duplicate extensions and trailing data.
func TestParseCertificateRefuses(t *testing.T) {
	c := buildChain(t, chainCase{})
	dup := leafTemplate()
	ext := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}
	dup.ExtraExtensions = []pkix.Extension{ext, ext}
	k := testKey(t, "p256")
	dupDER, err := x509.CreateCertificate(rand.Reader, dup, dup, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	// The outer signature algorithm differs from the signed one.
	var rc struct {
		TBS                asn1.RawValue
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.leaf.Raw, &rc); err != nil {
		t.Fatal(err)
	}
	rc.SignatureAlgorithm.Algorithm = oidECDSAWithSHA512
	mismatch, err := asn1.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{
		"trailing data":                append(slices.Clip(c.leaf.Raw), 0),
		"truncated":                    c.leaf.Raw[:len(c.leaf.Raw)-1],
		"duplicate extension":          dupDER,
		"signature algorithm mismatch": mismatch,
		"empty":                        nil,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseCertificate(der); err == nil {
				t.Fatal("parsed")
			}
			if _, err := x509.ParseCertificate(der); err == nil {
				t.Error("crypto/x509 (the reference) parses it")
			}
		})
	}
	if certs, err := parseCertificates(append(slices.Clip(c.leaf.Raw), c.inter.Raw...)); err != nil || len(certs) != 2 {
		t.Errorf("two concatenated certificates: %d, %v", len(certs), err)
	}
}

// TestHost: the host of a log's base URL is net/url's Hostname.
func TestHost(t *testing.T) {
	for _, u := range []string{"https://rekor.sigstore.dev", "https://rekor.sigstore.dev/", "https://log2.rekor.fake.test:8443/api?x#y",
		"http://user@host.example/x", "https://[::1]:3000/", "rekor.sigstore.dev", "", "https://"} {
		want := ""
		if p, err := url.Parse(u); err == nil {
			want = p.Hostname()
		}
		if got := (&logKey{baseURL: u}).host(); got != want {
			t.Errorf("host(%q) = %q, net/url says %q", u, got, want)
		}
	}
}

// notInterpreted are crypto/x509's parse errors about parts of a
// certificate that this package does not interpret: names, compared as
// DER bytes (as crypto/x509 compares them to chain), and the contents of
// extensions and SANs it does not use or matches only as exact strings.
var notInterpreted = []string{"invalid RDNSequence", "SAN dNSName", "SAN ip", "cannot parse IP", "cannot parse URI",
	"cannot parse rfc822Name", "SAN rfc822Name", "SAN uniformResourceIdentifier", "authority key identifier",
	"subject key identifier", "certificate policies", "CRL distribution", "authority information access", "incorrectly marked critical"}

// unusable are crypto/x509's parse errors about extensions that make a
// certificate unusable in a chain here whatever their contents: such a
// certificate must be marked so.
var unusable = []string{"name constraints", "NameConstraints", "IP constraint", "URI constraint", "dnsName constraint",
	"rfc822Name constraint", "policy constraints", "policy mappings", "inhibit any policy"}

// FuzzParseCertificate: parseCertificate never panics, and what it reads
// crypto/x509 reads too (but for the parts it does not interpret), with
// the same fields: DER is read as strictly, so every field is what the
// signature covers.
func FuzzParseCertificate(f *testing.F) {
	for _, tc := range []chainCase{{}, {interKey: "rsa", leafKey: "ed25519"}, {leafKey: "p521"}} {
		c := buildChain(f, tc)
		f.Add(c.leaf.Raw)
		f.Add(c.inter.Raw)
		f.Add(c.root.Raw)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := parseCertificate(der)
		if err != nil {
			return
		}
		x, err := x509.ParseCertificate(der)
		if err != nil {
			if slices.ContainsFunc(unusable, func(s string) bool { return strings.Contains(err.Error(), s) }) {
				// Parsed, but never usable in a chain here.
				if !c.nameConstraints && !c.policyConstraints {
					t.Fatalf("crypto/x509 refuses (%v) what this package would chain", err)
				}
				return
			}
			if slices.ContainsFunc(notInterpreted, func(s string) bool { return strings.Contains(err.Error(), s) }) {
				return
			}
			t.Fatalf("parsed what crypto/x509 refuses: %v", err)
		}
		compareWithX509(t, x)
		if !bytes.Equal(c.raw, der) {
			t.Fatal("raw is not the input")
		}
	})
}

// tbsFields returns the fields of a DER TBSCertificate.
func tbsFields(t testing.TB, tbs []byte) []asn1.RawValue {
	t.Helper()
	v, err := derOne(tbs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := derSequence(v)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// derTLV is the DER of a value of this class and tag holding content.
func derTLV(t testing.TB, class, tag int, compound bool, content ...asn1.RawValue) asn1.RawValue {
	t.Helper()
	var b []byte
	for _, v := range content {
		b = append(b, v.FullBytes...)
	}
	full, err := asn1.Marshal(asn1.RawValue{Class: class, Tag: tag, IsCompound: compound, Bytes: b})
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{FullBytes: full}
}

func derPrimitive(t testing.TB, tag int, content string) asn1.RawValue {
	return derTLV(t, asn1.ClassUniversal, tag, false, asn1.RawValue{FullBytes: []byte(content)})
}

// signTBS makes a certificate of the TBSCertificate fields, signed with
// ECDSA P-384 and SHA-384 by k.
func signTBS(t testing.TB, fields []asn1.RawValue, k crypto.Signer) []byte {
	t.Helper()
	tbs := derTLV(t, asn1.ClassUniversal, asn1.TagSequence, true, fields...)
	h := sha512.Sum384(tbs.FullBytes)
	sig, err := k.Sign(rand.Reader, h[:], crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	alg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384})
	bits, _ := asn1.Marshal(asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)})
	return derTLV(t, asn1.ClassUniversal, asn1.TagSequence, true, tbs, asn1.RawValue{FullBytes: alg}, asn1.RawValue{FullBytes: bits}).FullBytes
}

// TestParseCertificateFields: signed certificates whose fields take the
// forms DER allows and RFC 5280 forbids or restricts are read as
// crypto/x509 reads them, or refused where this package is stricter.
func TestParseCertificateFields(t *testing.T) {
	k := testKey(t, "p384")
	x := testCert(t, caTemplate("self"), nil, k.Public(), k)
	f := tbsFields(t, x.RawTBSCertificate)
	const version, serial, validity, spki = 0, 1, 4, 6
	with := func(i int, v asn1.RawValue) []asn1.RawValue {
		g := slices.Clone(f)
		g[i] = v
		return g
	}
	times := func(tag int, notBefore, notAfter string) []asn1.RawValue {
		return with(validity, derTLV(t, asn1.ClassUniversal, asn1.TagSequence, true, derPrimitive(t, tag, notBefore), derPrimitive(t, tag, notAfter)))
	}
	integer := func(n int64) asn1.RawValue { b, _ := asn1.Marshal(n); return asn1.RawValue{FullBytes: b} }
	// rsaKey is an RSA SubjectPublicKeyInfo with a modulus of bits
	// (not a product of primes: only its size matters here).
	rsaKey := func(bits int) asn1.RawValue {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		n.SetBit(n, 0, 1)
		pk, _ := asn1.Marshal(struct {
			N *big.Int
			E int
		}{n, 65537})
		spki, err := asn1.Marshal(struct {
			Algorithm pkix.AlgorithmIdentifier
			Key       asn1.BitString
		}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, Parameters: asn1.NullRawValue}, asn1.BitString{Bytes: pk, BitLength: 8 * len(pk)}})
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: spki}
	}
	explicitVersion := func(v int64) asn1.RawValue { return derTLV(t, asn1.ClassContextSpecific, 0, true, integer(v)) }
	const (
		both     = "both"     // crypto/x509 and this package read it, alike
		neither  = "neither"  // both refuse it
		stricter = "stricter" // crypto/x509 reads it, this package refuses it
	)
	for _, tc := range []struct {
		name   string
		fields []asn1.RawValue
		want   string
	}{
		{"as made", f, both},
		{"no extensions", f[:len(f)-1], both},
		{"version 1, no extensions", f[1 : len(f)-1], both},
		{"UTCTime without seconds", times(asn1.TagUTCTime, "2501010000Z", "3001010000Z"), both},
		{"UTCTime with an offset", times(asn1.TagUTCTime, "250101000000+0100", "300101000000Z"), both},
		{"UTCTime 50 is 1950", times(asn1.TagUTCTime, "500101000000Z", "490101000000Z"), both},
		{"GeneralizedTime", times(asn1.TagGeneralizedTime, "20250101000000Z", "20500101000000Z"), both},
		{"GeneralizedTime with an offset", times(asn1.TagGeneralizedTime, "20250101000000-0130", "20500101000000Z"), both},
		{"GeneralizedTime with fractional seconds", times(asn1.TagGeneralizedTime, "20250101000000Z", "20300101000000.5Z"), neither},
		{"GeneralizedTime with fractional seconds and an offset", times(asn1.TagGeneralizedTime, "20250101000000.25+0100", "20300101000000Z"), neither},
		{"GeneralizedTime without seconds", times(asn1.TagGeneralizedTime, "202501010000Z", "20300101000000Z"), neither},
		{"GeneralizedTime lower-case z", times(asn1.TagGeneralizedTime, "20250101000000z", "20300101000000Z"), neither},
		{"UTCTime with fractional seconds", times(asn1.TagUTCTime, "250101000000.5Z", "300101000000Z"), neither},
		{"negative serial number", with(serial, integer(-5)), neither},
		{"zero serial number", with(serial, integer(0)), both},
		{"version 4", with(version, explicitVersion(3)), neither},
		{"extensions in a version 2 certificate", with(version, explicitVersion(1)), stricter},
		{"RSA key of 8192 bits", with(spki, rsaKey(8192)), both},
		// Checking a signature costs the square of the modulus (a 1 MiB
		// bundle could hold one of 3 Mbit: minutes), and the signing
		// certificate's key checks the envelope before anything checks
		// the certificate: bounded as crypto/tls bounds it.
		{"RSA key of 8200 bits", with(spki, rsaKey(8200)), stricter},
		{"RSA key of 65536 bits", with(spki, rsaKey(65536)), stricter},
		{"empty extensions", with(len(f)-1, derTLV(t, asn1.ClassContextSpecific, 3, true, derTLV(t, asn1.ClassUniversal, asn1.TagSequence, true))), stricter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := signTBS(t, tc.fields, k)
			xc, xerr := x509.ParseCertificate(der)
			if (xerr == nil) != (tc.want == both || tc.want == stricter) {
				t.Fatalf("crypto/x509 (the reference) says %v", xerr)
			}
			_, err := parseCertificate(der)
			if (err == nil) != (tc.want == both) {
				t.Fatalf("parseCertificate says %v, want %s", err, tc.want)
			}
			if err == nil {
				compareWithX509(t, xc)
			}
		})
	}
}

// TestCertClaims: the issuer and the identity are read without
// ambiguity: the issuer extensions (1.1 raw, 1.8 UTF8String) must agree
// when both are there (sigstore-go reads the last one, this package
// 1.8), and a certificate names one identity (sigstore-go reads the first
// URI, else email, else Fulcio username; this package would match any).
func TestCertClaims(t *testing.T) {
	utf8 := func(s string) []byte { b, _ := asn1.MarshalWithParams(s, "utf8"); return b }
	v1 := func(s string) pkix.Extension { return pkix.Extension{Id: oidIssuerV1, Value: []byte(s)} }
	v2 := func(s string) pkix.Extension { return pkix.Extension{Id: oidIssuerV2, Value: utf8(s)} }
	name := func(tag int, s string) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: []byte(s)}
	}
	username := func(s string) asn1.RawValue {
		typ, _ := asn1.Marshal(oidOtherName)
		val, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8(s)})
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(typ, val...)}
	}
	san := func(names ...asn1.RawValue) pkix.Extension {
		v, err := asn1.Marshal(names)
		if err != nil {
			t.Fatal(err)
		}
		return pkix.Extension{Id: oidSAN, Critical: true, Value: v}
	}
	const gh, wf = "https://token.actions.githubusercontent.com", "https://github.com/acme/filters/.github/workflows/release.yml@refs/tags/v1.0.0"
	uri, email := name(6, wf), name(1, "dev@example.org")
	for _, tc := range []struct {
		name        string
		exts        []pkix.Extension
		issuer, san string
		says        string
	}{
		{name: "issuer 1.8", exts: []pkix.Extension{v2(gh), san(uri)}, issuer: gh, san: wf},
		{name: "issuer 1.1", exts: []pkix.Extension{v1(gh), san(uri)}, issuer: gh, san: wf},
		{name: "issuers 1.1 and 1.8 agree", exts: []pkix.Extension{v1(gh), v2(gh), san(uri)}, issuer: gh, san: wf},
		{name: "email", exts: []pkix.Extension{v2("https://accounts.example"), san(email)}, issuer: "https://accounts.example", san: "dev@example.org"},
		{name: "Fulcio username", exts: []pkix.Extension{v2("https://accounts.example"), san(username("dev"))}, issuer: "https://accounts.example", san: "dev"},
		{name: "other names are not identities", exts: []pkix.Extension{v2(gh), san(name(2, "host.example"), uri, name(7, "\x7f\x00\x00\x01"))}, issuer: gh, san: wf},
		{name: "issuers 1.1 and 1.8 differ", exts: []pkix.Extension{v1("https://evil.example"), v2(gh), san(uri)}, says: "issuer extensions differ"},
		{name: "issuers 1.8 and 1.1 differ", exts: []pkix.Extension{v2(gh), v1("https://evil.example"), san(uri)}, says: "issuer extensions differ"},
		{name: "URI and email", exts: []pkix.Extension{v2(gh), san(email, uri)}, says: "2 identities"},
		{name: "two URIs", exts: []pkix.Extension{v2(gh), san(uri, name(6, "https://github.com/acme/filters/.github/workflows/pr.yml@refs/heads/x"))}, says: "2 identities"},
		{name: "Fulcio username and URI", exts: []pkix.Extension{v2(gh), san(uri, username("dev"))}, says: "2 identities"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := leafTemplate()
			tmpl.URIs, tmpl.EmailAddresses, tmpl.ExtraExtensions = nil, nil, tc.exts
			k := testKey(t, "p256")
			x := testCert(t, tmpl, nil, k.Public(), k)
			c, err := parseCertificate(x.Raw)
			if err != nil {
				t.Fatal(err)
			}
			claims, sans, err := certClaims(c)
			if tc.says != "" {
				if !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("got %v, want %v saying %q", err, ErrIdentity, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if claims["issuer"] != tc.issuer || len(sans) != 1 || sans[0] != tc.san {
				t.Fatalf("issuer %q, identities %q; want %q and %q", claims["issuer"], sans, tc.issuer, tc.san)
			}
		})
	}
}

// manyExtensions is a signed certificate with n distinct extensions (and
// a copy of the first at the end, with dup).
func manyExtensions(t testing.TB, n int, dup bool) []byte {
	t.Helper()
	k := testKey(t, "p384") // signTBS signs with ECDSA and SHA-384, as crypto/x509 does with P-384
	x := testCert(t, caTemplate("many"), nil, k.Public(), k)
	f := tbsFields(t, x.RawTBSCertificate)
	var exts []asn1.RawValue
	for i := range n {
		oid, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2, 3, 4, 5, i})
		exts = append(exts, derTLV(t, asn1.ClassUniversal, asn1.TagSequence, true, asn1.RawValue{FullBytes: oid}, derPrimitive(t, asn1.TagOctetString, "")))
	}
	if dup {
		exts = append(exts, exts[0])
	}
	list := derTLV(t, asn1.ClassContextSpecific, 3, true, derTLV(t, asn1.ClassUniversal, asn1.TagSequence, true, exts...))
	return signTBS(t, append(f[:len(f)-1:len(f)-1], list), k)
}

// TestParseCertificateManyExtensions: duplicates are found among many
// extensions (as crypto/x509 finds them, with a set: the certificate is
// read before its signature is checked, so reading it must not cost the
// square of its size; BenchmarkParseCertificateExtensions).
func TestParseCertificateManyExtensions(t *testing.T) {
	if c, err := parseCertificate(manyExtensions(t, 4096, false)); err != nil || len(c.extensions) != 4096 {
		t.Fatalf("4096 extensions: %v", err)
	}
	if _, err := parseCertificate(manyExtensions(t, 4096, true)); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("the first of 4096 extensions again at the end: %v", err)
	}
}

// BenchmarkParseCertificateExtensions: reading a certificate costs about
// the same per extension with 16 or 16384 of them (a 1 MiB bundle holds
// about 40000).
func BenchmarkParseCertificateExtensions(b *testing.B) {
	for _, n := range []int{16, 16384} {
		der := manyExtensions(b, n, false)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := parseCertificate(der); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/extension")
		})
	}
}
