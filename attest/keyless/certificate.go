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
	"math/big"
	"slices"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	// Certificates and trusted roots hold keys of every family:
	// attest.ParsePKIXPublicKey reads those whose packages are linked.
	_ "github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key"
	_ "github.com/bpf2go-signed/bpf2go-signed/attest/rsakey"
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
	// policyConstraints: policy mappings, policy constraints or inhibit
	// anyPolicy, which crypto/x509 enforces and this package does not.
	policyConstraints bool
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
	// RFC 5280 §4.2.1.5, 4.2.1.11, 4.2.1.14.
	oidPolicyMappings    = asn1.ObjectIdentifier{2, 5, 29, 33}
	oidPolicyConstraints = asn1.ObjectIdentifier{2, 5, 29, 36}
	oidInhibitAnyPolicy  = asn1.ObjectIdentifier{2, 5, 29, 54}
	oidExtKeyUsage       = asn1.ObjectIdentifier{2, 5, 29, 37}

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

// DER is read element by element: encoding/asn1 checks each tag and
// length (definite, minimal) and each primitive value it decodes, and
// every constructed value must be exactly filled by the values it is
// read as (encoding/asn1 alone tolerates trailing data inside SEQUENCEs
// and explicit tags), so that every field is read from the signed bytes
// as crypto/x509 reads it.

var errTrailing = errors.New("trailing data")

// derChildren returns the values that the constructed value v, of the
// class and tag given, holds.
func derChildren(v asn1.RawValue, class, tag int) ([]asn1.RawValue, error) {
	if v.Class != class || v.Tag != tag || !v.IsCompound {
		return nil, fmt.Errorf("value of class %d tag %d, want a constructed value of class %d tag %d", v.Class, v.Tag, class, tag)
	}
	var out []asn1.RawValue
	for rest := v.Bytes; len(rest) > 0; {
		var c asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// derSequence is derChildren of a universal SEQUENCE.
func derSequence(v asn1.RawValue) ([]asn1.RawValue, error) {
	return derChildren(v, asn1.ClassUniversal, asn1.TagSequence)
}

// derOne reads the one value that b holds.
func derOne(b []byte) (asn1.RawValue, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	if err == nil && len(rest) > 0 {
		err = errTrailing
	}
	return v, err
}

// derParse decodes a primitive value (or one encoding/asn1 reads whole:
// a time, an OID, an INTEGER) into out.
func derParse(v asn1.RawValue, out any, params string) error {
	if v.IsCompound {
		return fmt.Errorf("constructed value of tag %d where a primitive is expected", v.Tag)
	}
	rest, err := asn1.UnmarshalWithParams(v.FullBytes, out, params)
	if err == nil && len(rest) > 0 {
		err = errTrailing
	}
	return err
}

// parseAlgorithm reads an AlgorithmIdentifier: an OID and optional
// parameters.
func parseAlgorithm(v asn1.RawValue) (pkix.AlgorithmIdentifier, error) {
	var a pkix.AlgorithmIdentifier
	f, err := derSequence(v)
	if err != nil || len(f) < 1 || len(f) > 2 {
		return a, fmt.Errorf("malformed algorithm identifier")
	}
	if err := derParse(f[0], &a.Algorithm, ""); err != nil {
		return a, fmt.Errorf("algorithm identifier: %v", err)
	}
	if len(f) == 2 {
		a.Parameters = f[1]
	}
	return a, nil
}

func parseOneCertificate(der []byte) (*certificate, []byte, error) {
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %v", err)
	}
	c := &certificate{raw: der[:len(der)-len(rest)], maxPathLen: -1}
	if err := c.parse(outer); err != nil {
		return nil, nil, fmt.Errorf("certificate: %v", err)
	}
	return c, rest, nil
}

// parse reads a Certificate (RFC 5280 §4.1).
func (c *certificate) parse(outer asn1.RawValue) error {
	f, err := derSequence(outer)
	if err != nil || len(f) != 3 {
		return fmt.Errorf("not a SEQUENCE of TBSCertificate, algorithm and signature")
	}
	c.rawTBS = f[0].FullBytes
	if c.sigAlg, err = parseAlgorithm(f[1]); err != nil {
		return err
	}
	var sig asn1.BitString
	if err := derParse(f[2], &sig, ""); err != nil || sig.BitLength%8 != 0 {
		return fmt.Errorf("signature is not a BIT STRING of whole bytes")
	}
	c.signature = sig.Bytes

	tbs, err := derSequence(f[0])
	if err != nil {
		return fmt.Errorf("TBSCertificate: %v", err)
	}
	version := 0
	if len(tbs) > 0 && tbs[0].Class == asn1.ClassContextSpecific && tbs[0].Tag == 0 {
		v, err := derChildren(tbs[0], asn1.ClassContextSpecific, 0)
		if err != nil || len(v) != 1 || derParse(v[0], &version, "") != nil || version < 0 || version > 2 {
			return errors.New("malformed version")
		}
		tbs = tbs[1:]
	}
	if len(tbs) < 6 {
		return fmt.Errorf("TBSCertificate has %d fields after the version, want at least 6", len(tbs))
	}
	var serial *big.Int
	if err := derParse(tbs[0], &serial, ""); err != nil {
		return fmt.Errorf("serial number: %v", err)
	}
	if serial.Sign() < 0 {
		return errors.New("negative serial number")
	}
	alg, err := parseAlgorithm(tbs[1])
	if err != nil {
		return err
	}
	if !alg.Algorithm.Equal(c.sigAlg.Algorithm) || !bytes.Equal(alg.Parameters.FullBytes, c.sigAlg.Parameters.FullBytes) {
		return errors.New("the signature algorithms inside and outside the signed part differ")
	}
	for _, name := range []asn1.RawValue{tbs[2], tbs[4]} {
		if _, err := derSequence(name); err != nil {
			return fmt.Errorf("issuer or subject: %v", err)
		}
	}
	c.rawIssuer, c.rawSubject, c.rawSPKI = tbs[2].FullBytes, tbs[4].FullBytes, tbs[5].FullBytes
	validity, err := derSequence(tbs[3])
	if err != nil || len(validity) != 2 {
		return errors.New("malformed validity")
	}
	for i, t := range []*time.Time{&c.notBefore, &c.notAfter} {
		if err := derParse(validity[i], t, ""); err != nil {
			return fmt.Errorf("validity: %v", err)
		}
		// encoding/asn1 reads fractional seconds, which RFC 5280
		// §4.1.2.5.2 forbids and crypto/x509 refuses.
		if validity[i].Tag == asn1.TagGeneralizedTime && bytes.IndexByte(validity[i].Bytes, '.') >= 0 {
			return errors.New("validity: GeneralizedTime with fractional seconds")
		}
	}
	if c.publicKey, err = parsePublicKey(tbs[5]); err != nil {
		return err
	}
	rest := tbs[6:]
	// issuerUniqueID [1] and subjectUniqueID [2], implicit BIT STRINGs.
	for _, tag := range []int{1, 2} {
		if len(rest) > 0 && rest[0].Class == asn1.ClassContextSpecific && rest[0].Tag == tag {
			if version < 1 || rest[0].IsCompound {
				return fmt.Errorf("malformed unique identifier [%d]", tag)
			}
			rest = rest[1:]
		}
	}
	if len(rest) > 0 {
		if version != 2 {
			return errors.New("extensions in a certificate before version 3")
		}
		exts, err := derChildren(rest[0], asn1.ClassContextSpecific, 3)
		if err != nil || len(exts) != 1 {
			return errors.New("malformed extensions")
		}
		list, err := derSequence(exts[0])
		if err != nil || len(list) == 0 {
			return errors.New("malformed extensions")
		}
		// A set, as crypto/x509 keeps: the certificate is read before
		// anything checks its signature, and comparing each extension
		// with every other would cost the square of its size.
		seen := make(map[string]bool, len(list))
		for _, e := range list {
			ext, err := parseExtension(e)
			if err != nil {
				return err
			}
			id := ext.Id.String()
			if seen[id] {
				return fmt.Errorf("extension %v appears twice", ext.Id)
			}
			seen[id] = true
			c.extensions = append(c.extensions, ext)
			if err := c.extension(ext); err != nil {
				return fmt.Errorf("extension %v: %v", ext.Id, err)
			}
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return fmt.Errorf("TBSCertificate: %v", errTrailing)
	}
	return nil
}

// parseExtension reads an Extension: OID, critical (default false) and
// the value, an OCTET STRING.
func parseExtension(v asn1.RawValue) (pkix.Extension, error) {
	var e pkix.Extension
	f, err := derSequence(v)
	if err != nil || len(f) < 2 || len(f) > 3 {
		return e, errors.New("malformed extension")
	}
	if err := derParse(f[0], &e.Id, ""); err != nil {
		return e, fmt.Errorf("extension: %v", err)
	}
	if len(f) == 3 {
		if err := derParse(f[1], &e.Critical, ""); err != nil {
			return e, fmt.Errorf("extension %v: critical: %v", e.Id, err)
		}
	}
	if err := derParse(f[len(f)-1], &e.Value, ""); err != nil {
		return e, fmt.Errorf("extension %v: value: %v", e.Id, err)
	}
	return e, nil
}

// extension reads the extensions keyless verification uses and notes
// critical ones it does not understand.
func (c *certificate) extension(e pkix.Extension) error {
	// Extensions that make a certificate unusable here do so by their id
	// alone, whatever their value holds and however it is encoded.
	switch {
	case e.Id.Equal(oidNameConstraints):
		c.nameConstraints = true
	case e.Id.Equal(oidPolicyMappings), e.Id.Equal(oidPolicyConstraints), e.Id.Equal(oidInhibitAnyPolicy):
		c.policyConstraints = true
	}
	v, err := derOne(e.Value)
	if err != nil {
		if e.Critical || e.Id.Equal(oidBasicConstraints) || e.Id.Equal(oidKeyUsage) || e.Id.Equal(oidExtKeyUsage) || e.Id.Equal(oidSAN) {
			return err
		}
		return nil
	}
	switch {
	case e.Id.Equal(oidBasicConstraints):
		f, err := derSequence(v)
		if err != nil || len(f) > 2 {
			return errors.New("malformed basic constraints")
		}
		if len(f) > 0 && f[0].Tag == asn1.TagBoolean {
			if err := derParse(f[0], &c.isCA, ""); err != nil {
				return err
			}
			f = f[1:]
		}
		if len(f) > 0 {
			if err := derParse(f[0], &c.maxPathLen, ""); err != nil || c.maxPathLen < 0 {
				return errors.New("malformed path length")
			}
			f = f[1:]
		}
		if len(f) > 0 {
			return errors.New("malformed basic constraints")
		}
		c.basicConstraints = true
	case e.Id.Equal(oidKeyUsage):
		if err := derParse(v, &c.keyUsage, ""); err != nil {
			return err
		}
		c.hasKeyUsage = true
	case e.Id.Equal(oidExtKeyUsage):
		f, err := derSequence(v)
		if err != nil {
			return err
		}
		for _, u := range f {
			var oid asn1.ObjectIdentifier
			if err := derParse(u, &oid, ""); err != nil {
				return err
			}
			c.extKeyUsage = append(c.extKeyUsage, oid)
		}
		c.hasExtKeyUsage = true
	case e.Id.Equal(oidSAN):
		return c.subjectAltNames(v)
	case e.Id.Equal(oidNameConstraints), e.Id.Equal(oidPolicyMappings), e.Id.Equal(oidPolicyConstraints), e.Id.Equal(oidInhibitAnyPolicy):
		// Noted above.
	default:
		if e.Critical && c.unhandled == nil {
			c.unhandled = e.Id
		}
	}
	return nil
}

// subjectAltNames reads the URI, email and Fulcio otherName SANs.
func (c *certificate) subjectAltNames(v asn1.RawValue) error {
	names, err := derSequence(v)
	if err != nil {
		return errors.New("not a SEQUENCE of GeneralName")
	}
	for _, gn := range names {
		if gn.Class != asn1.ClassContextSpecific {
			return fmt.Errorf("GeneralName of class %d", gn.Class)
		}
		switch gn.Tag {
		case 0: // otherName: type-id, [0] EXPLICIT value
			f, err := derChildren(gn, asn1.ClassContextSpecific, 0)
			if err != nil || len(f) != 2 {
				return errors.New("malformed otherName")
			}
			var typ asn1.ObjectIdentifier
			if err := derParse(f[0], &typ, ""); err != nil {
				return fmt.Errorf("otherName: %v", err)
			}
			val, err := derChildren(f[1], asn1.ClassContextSpecific, 0)
			if err != nil || len(val) != 1 {
				return errors.New("malformed otherName value")
			}
			if !typ.Equal(oidOtherName) {
				continue
			}
			var s string
			if err := derParse(val[0], &s, "utf8"); err != nil {
				return fmt.Errorf("Fulcio username: %v", err)
			}
			c.otherNames = append(c.otherNames, s)
		case 1, 6: // rfc822Name, uniformResourceIdentifier: IA5String
			if gn.IsCompound {
				return fmt.Errorf("constructed GeneralName [%d]", gn.Tag)
			}
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
func parsePublicKey(v asn1.RawValue) (crypto.PublicKey, error) {
	f, err := derSequence(v)
	if err != nil || len(f) != 2 {
		return nil, errors.New("malformed SubjectPublicKeyInfo")
	}
	alg, err := parseAlgorithm(f[0])
	if err != nil {
		return nil, err
	}
	var key asn1.BitString
	if err := derParse(f[1], &key, ""); err != nil || key.BitLength%8 != 0 {
		return nil, errors.New("public key: not a BIT STRING of whole bytes")
	}
	if alg.Algorithm.Equal(oidECPublicKey) {
		var curve asn1.ObjectIdentifier
		if err := derParse(alg.Parameters, &curve, ""); err == nil && curve.Equal(oidP521) {
			return ecdsa.ParseUncompressedPublicKey(elliptic.P521(), key.Bytes)
		}
	}
	k, err := attest.ParsePKIXPublicKey(v.FullBytes)
	if rk, ok := k.(*rsa.PublicKey); ok && rk.N.BitLen() > maxRSABits {
		return nil, fmt.Errorf("RSA key of %d bits, more than %d", rk.N.BitLen(), maxRSABits)
	}
	return k, err
}

// maxRSABits bounds RSA moduli, as crypto/tls bounds them: a signature
// check costs the square of the modulus, and the signing certificate's
// key checks the envelope before anything checks the certificate (Fulcio
// certifies 2048 to 4096 bits).
const maxRSABits = 8192

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
	if c.policyConstraints {
		return fmt.Errorf("%q has policy mappings or constraints, which are not supported", c.subject())
	}
	if below >= 0 && c.maxPathLen >= 0 && below > c.maxPathLen {
		return fmt.Errorf("%q allows %d intermediate certificates below it, the chain has %d", c.subject(), c.maxPathLen, below)
	}
	if c.hasExtKeyUsage && !slices.ContainsFunc(c.extKeyUsage, func(u asn1.ObjectIdentifier) bool { return u.Equal(eku) || u.Equal(oidEKUAny) }) {
		return fmt.Errorf("%q has extended key usages %v, without %v", c.subject(), c.extKeyUsage, eku)
	}
	return nil
}
