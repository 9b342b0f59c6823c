package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
)

// Certificates are read and chained here with encoding/asn1 rather than
// with crypto/x509: crypto/x509 links net, net/url, name constraints,
// host name checks and the system roots, about a third of a MiB of the
// loader, and this package needs none of them. What is read is what
// keyless verification uses (RFC 5280): the signed part and its
// signature, issuer and subject (compared as DER, as crypto/x509 does),
// validity, the public key, basic constraints, key usage, extended key
// usage and the subject alternative names (URI, email, Fulcio otherName).
// Checks are those of crypto/x509's Verify or stricter: unknown critical
// extensions and name constraints (which this package does not enforce)
// are refused, duplicate extensions are refused, and RSA-PSS and SHA-1
// signatures are not accepted.

// certificate is a parsed X.509 certificate.
type certificate struct {
	raw, rawTBS, rawSubject, rawIssuer, rawSPKI []byte
	sigAlg                                      pkix.AlgorithmIdentifier
	signature                                   []byte
	notBefore, notAfter                         time.Time
	publicKey                                   crypto.PublicKey
	extensions                                  []pkix.Extension

	isCA             bool // basic constraints present with cA true
	basicConstraints bool
	maxPathLen       int // -1 when not constrained
	keyUsage         asn1.BitString
	hasKeyUsage      bool
	extKeyUsage      []asn1.ObjectIdentifier
	hasExtKeyUsage   bool
	nameConstraints  bool
	// unhandled is the first critical extension this package does not
	// understand (nil when none).
	unhandled asn1.ObjectIdentifier

	// Subject alternative names.
	uris, emails, otherNames []string
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}

	oidEKUAny          = asn1.ObjectIdentifier{2, 5, 29, 37, 0}
	oidEKUCodeSigning  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
	oidEKUTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidSigEd25519      = asn1.ObjectIdentifier{1, 3, 101, 112}

	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP521        = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

type rawCertificate struct {
	TBS                asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
}

type tbsCertificate struct {
	Version            int `asn1:"optional,explicit,default:0,tag:0"`
	SerialNumber       asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Issuer             asn1.RawValue
	Validity           struct{ NotBefore, NotAfter time.Time }
	Subject            asn1.RawValue
	PublicKey          asn1.RawValue
	IssuerUniqueID     asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUniqueID    asn1.BitString   `asn1:"optional,tag:2"`
	Extensions         []pkix.Extension `asn1:"omitempty,optional,explicit,tag:3"`
}

// parseCertificate reads one DER certificate, with nothing after it.
func parseCertificate(der []byte) (*certificate, error) {
	c, rest, err := parseOneCertificate(der)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, errors.New("certificate: trailing data")
	}
	return c, nil
}

// parseCertificates reads concatenated DER certificates.
func parseCertificates(der []byte) ([]*certificate, error) {
	var out []*certificate
	for len(der) > 0 {
		c, rest, err := parseOneCertificate(der)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		der = rest
	}
	return out, nil
}

func parseOneCertificate(der []byte) (*certificate, []byte, error) {
	var rc rawCertificate
	rest, err := asn1.Unmarshal(der, &rc)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %v", err)
	}
	c := &certificate{raw: der[:len(der)-len(rest)], rawTBS: rc.TBS.FullBytes, sigAlg: rc.SignatureAlgorithm, maxPathLen: -1}
	if rc.Signature.BitLength%8 != 0 {
		return nil, nil, errors.New("certificate: signature is not a whole number of bytes")
	}
	c.signature = rc.Signature.Bytes
	var tbs tbsCertificate
	if r, err := asn1.Unmarshal(rc.TBS.FullBytes, &tbs); err != nil {
		return nil, nil, fmt.Errorf("certificate: TBSCertificate: %v", err)
	} else if len(r) > 0 {
		return nil, nil, errors.New("certificate: TBSCertificate: trailing data")
	}
	if tbs.Version < 0 || tbs.Version > 2 {
		return nil, nil, fmt.Errorf("certificate: version %d", tbs.Version+1)
	}
	if tbs.SerialNumber.Class != asn1.ClassUniversal || tbs.SerialNumber.Tag != asn1.TagInteger {
		return nil, nil, errors.New("certificate: serial number is not an INTEGER")
	}
	if !tbs.SignatureAlgorithm.Algorithm.Equal(c.sigAlg.Algorithm) || !bytes.Equal(tbs.SignatureAlgorithm.Parameters.FullBytes, c.sigAlg.Parameters.FullBytes) {
		return nil, nil, errors.New("certificate: the signature algorithms inside and outside the signed part differ")
	}
	for _, name := range []asn1.RawValue{tbs.Issuer, tbs.Subject, tbs.PublicKey} {
		if name.Class != asn1.ClassUniversal || name.Tag != asn1.TagSequence {
			return nil, nil, errors.New("certificate: issuer, subject or public key is not a SEQUENCE")
		}
	}
	c.rawIssuer, c.rawSubject, c.rawSPKI = tbs.Issuer.FullBytes, tbs.Subject.FullBytes, tbs.PublicKey.FullBytes
	c.notBefore, c.notAfter = tbs.Validity.NotBefore, tbs.Validity.NotAfter
	if c.publicKey, err = parsePublicKey(c.rawSPKI); err != nil {
		return nil, nil, fmt.Errorf("certificate: %v", err)
	}
	c.extensions = tbs.Extensions
	for i, e := range c.extensions {
		for _, prev := range c.extensions[:i] {
			if prev.Id.Equal(e.Id) {
				return nil, nil, fmt.Errorf("certificate: extension %v appears twice", e.Id)
			}
		}
		if err := c.extension(e); err != nil {
			return nil, nil, fmt.Errorf("certificate: extension %v: %v", e.Id, err)
		}
	}
	return c, rest, nil
}

// extension reads the extensions keyless verification uses and notes
// critical ones it does not understand.
func (c *certificate) extension(e pkix.Extension) error {
	whole := func(rest []byte, err error) error {
		if err == nil && len(rest) > 0 {
			err = errors.New("trailing data")
		}
		return err
	}
	switch {
	case e.Id.Equal(oidBasicConstraints):
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		if err := whole(asn1.Unmarshal(e.Value, &bc)); err != nil {
			return err
		}
		c.basicConstraints, c.isCA, c.maxPathLen = true, bc.IsCA, bc.MaxPathLen
	case e.Id.Equal(oidKeyUsage):
		if err := whole(asn1.Unmarshal(e.Value, &c.keyUsage)); err != nil {
			return err
		}
		c.hasKeyUsage = true
	case e.Id.Equal(oidExtKeyUsage):
		if err := whole(asn1.Unmarshal(e.Value, &c.extKeyUsage)); err != nil {
			return err
		}
		c.hasExtKeyUsage = true
	case e.Id.Equal(oidSAN):
		return c.subjectAltNames(e.Value)
	case e.Id.Equal(oidNameConstraints):
		c.nameConstraints = true
	default:
		if e.Critical && c.unhandled == nil {
			c.unhandled = e.Id
		}
	}
	return nil
}

// subjectAltNames reads the URI, email and Fulcio otherName SANs.
func (c *certificate) subjectAltNames(ext []byte) error {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(ext, &seq); err != nil || len(rest) > 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence {
		return errors.New("not a SEQUENCE of GeneralName")
	}
	for rest := seq.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return err
		}
		if gn.Class != asn1.ClassContextSpecific {
			return fmt.Errorf("GeneralName of class %d", gn.Class)
		}
		switch gn.Tag {
		case 0: // otherName
			var on struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue `asn1:"explicit,tag:0"`
			}
			if _, err := asn1.UnmarshalWithParams(gn.FullBytes, &on, "tag:0"); err != nil {
				return err
			}
			if !on.Type.Equal(oidOtherName) {
				continue
			}
			var s string
			if _, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "utf8"); err != nil {
				return err
			}
			c.otherNames = append(c.otherNames, s)
		case 1, 6: // rfc822Name, uniformResourceIdentifier: IA5String
			for _, b := range gn.Bytes {
				if b >= 0x80 {
					return fmt.Errorf("SAN %q is not an IA5String", gn.Bytes)
				}
			}
			if gn.Tag == 1 {
				c.emails = append(c.emails, string(gn.Bytes))
			} else {
				c.uris = append(c.uris, string(gn.Bytes))
			}
		}
	}
	return nil
}

// subject is the certificate's subject for messages.
func (c *certificate) subject() string { return dn(c.rawSubject) }

// issuer is the certificate's issuer name for messages.
func (c *certificate) issuer() string { return dn(c.rawIssuer) }

func dn(raw []byte) string {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &rdns); err != nil {
		return fmt.Sprintf("%x", raw)
	}
	return rdns.String()
}

// parsePublicKey reads a SubjectPublicKeyInfo: the keys of package attest
// (ECDSA P-256 and P-384, Ed25519, RSA), and ECDSA P-521, which Fulcio
// certifies too.
func parsePublicKey(der []byte) (crypto.PublicKey, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &spki); err == nil && len(rest) == 0 && spki.Algorithm.Algorithm.Equal(oidECPublicKey) {
		var curve asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); err == nil && len(rest) == 0 && curve.Equal(oidP521) {
			if spki.PublicKey.BitLength%8 != 0 {
				return nil, errors.New("public key: not a whole number of bytes")
			}
			return ecdsa.ParseUncompressedPublicKey(elliptic.P521(), spki.PublicKey.Bytes)
		}
	}
	return attest.ParsePKIXPublicKey(der)
}

// checkSignatureFrom checks that parent, a certificate authority, signed
// c.
func (c *certificate) checkSignatureFrom(parent *certificate) error {
	if !parent.basicConstraints || !parent.isCA {
		return fmt.Errorf("%q is not a certificate authority (basic constraints)", parent.subject())
	}
	if parent.hasKeyUsage && parent.keyUsage.At(5) == 0 {
		return fmt.Errorf("%q may not sign certificates (key usage)", parent.subject())
	}
	return checkSignature(c.sigAlg, parent.publicKey, c.rawTBS, c.signature)
}

// checkSignature checks an X.509 or CMS signature over signed: ECDSA and
// RSA PKCS #1 v1.5 with SHA-256, SHA-384 or SHA-512, and Ed25519.
func checkSignature(alg pkix.AlgorithmIdentifier, key crypto.PublicKey, signed, sig []byte) error {
	params := alg.Parameters.FullBytes
	noParams := len(params) == 0
	nullParams := noParams || bytes.Equal(params, []byte{5, 0})
	var h crypto.Hash
	var ecdsaAlg bool
	switch a := alg.Algorithm; {
	case a.Equal(oidECDSAWithSHA256) && noParams:
		h, ecdsaAlg = crypto.SHA256, true
	case a.Equal(oidECDSAWithSHA384) && noParams:
		h, ecdsaAlg = crypto.SHA384, true
	case a.Equal(oidECDSAWithSHA512) && noParams:
		h, ecdsaAlg = crypto.SHA512, true
	case a.Equal(oidSHA256WithRSA) && nullParams:
		h = crypto.SHA256
	case a.Equal(oidSHA384WithRSA) && nullParams:
		h = crypto.SHA384
	case a.Equal(oidSHA512WithRSA) && nullParams:
		h = crypto.SHA512
	case a.Equal(oidSigEd25519) && noParams:
		k, ok := key.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("an Ed25519 signature with a %T key", key)
		}
		if !ed25519.Verify(k, signed, sig) {
			return errors.New("Ed25519 signature invalid")
		}
		return nil
	default:
		return fmt.Errorf("signature algorithm %v not supported (want ECDSA or RSA PKCS #1 v1.5 with SHA-2, or Ed25519)", alg.Algorithm)
	}
	digest := hashOnce(h, signed)
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if !ecdsaAlg {
			return errors.New("an RSA signature with an ECDSA key")
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature invalid")
		}
		return nil
	case *rsa.PublicKey:
		if ecdsaAlg {
			return errors.New("an ECDSA signature with an RSA key")
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	}
	return fmt.Errorf("a %v signature with a %T key", alg.Algorithm, key)
}

func hashOnce(h crypto.Hash, b []byte) []byte {
	switch h {
	case crypto.SHA384:
		s := sha512.Sum384(b)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(b)
		return s[:]
	}
	s := sha256.Sum256(b)
	return s[:]
}

// chain finds a chain from c through the authority's intermediates to
// one of its roots in which every certificate is valid at t, each is
// signed by the next, which is a certificate authority within its path
// length, no certificate has an unknown critical extension or name
// constraints, and every extended key usage allows eku. It returns the
// chain, c first.
func (a *authority) chain(c *certificate, t time.Time, eku asn1.ObjectIdentifier) ([]*certificate, error) {
	var errs []error
	var walk func(chain []*certificate) []*certificate
	walk = func(chain []*certificate) []*certificate {
		cur := chain[len(chain)-1]
		if err := usable(cur, len(chain)-2, t, eku); err != nil {
			errs = append(errs, err)
			return nil
		}
		for i, p := range append(slices.Clip(a.roots), a.intermediates...) {
			if !bytes.Equal(p.rawSubject, cur.rawIssuer) || slices.Contains(chain, p) {
				continue
			}
			if err := cur.checkSignatureFrom(p); err != nil {
				errs = append(errs, fmt.Errorf("%q: %v", cur.subject(), err))
				continue
			}
			next := append(slices.Clip(chain), p)
			if i < len(a.roots) {
				if err := usable(p, len(next)-2, t, eku); err != nil {
					errs = append(errs, err)
					continue
				}
				return next
			}
			if found := walk(next); found != nil {
				return found
			}
		}
		return nil
	}
	if found := walk([]*certificate{c}); found != nil {
		return found, nil
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no certificate of the authority is the issuer %q", c.issuer()))
	}
	return nil, errors.Join(errs...)
}

// usable checks one certificate of a chain, with below intermediates
// between it and the leaf (-1 for the leaf itself).
func usable(c *certificate, below int, t time.Time, eku asn1.ObjectIdentifier) error {
	if t.Before(c.notBefore) || t.After(c.notAfter) {
		return fmt.Errorf("%q is valid from %s to %s, not at %s", c.subject(), c.notBefore.UTC().Format(time.RFC3339), c.notAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	if c.unhandled != nil {
		return fmt.Errorf("%q has an unknown critical extension %v", c.subject(), c.unhandled)
	}
	if c.nameConstraints {
		return fmt.Errorf("%q has name constraints, which are not supported", c.subject())
	}
	if below >= 0 && c.maxPathLen >= 0 && below > c.maxPathLen {
		return fmt.Errorf("%q allows %d intermediate certificates below it, the chain has %d", c.subject(), c.maxPathLen, below)
	}
	if c.hasExtKeyUsage && !slices.ContainsFunc(c.extKeyUsage, func(u asn1.ObjectIdentifier) bool { return u.Equal(eku) || u.Equal(oidEKUAny) }) {
		return fmt.Errorf("%q has extended key usages %v, without %v", c.subject(), c.extKeyUsage, eku)
	}
	return nil
}
