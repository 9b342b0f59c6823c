package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// RFC 3161 and CMS (RFC 5652) object identifiers.
var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

func hashOf(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     []byte `asn1:"explicit,tag:0"`
	}
	Certificates asn1.RawValue `asn1:"optional,tag:0"`
	CRLs         asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos  []signerInfo  `asn1:"set"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
}

// parseTSTInfo decodes the fields of a TSTInfo up to genTime; those after
// it (accuracy, ordering, nonce, tsa, extensions) are not used.
func parseTSTInfo(der []byte, info *tstInfo) error {
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 || outer.Tag != asn1.TagSequence {
		return fmt.Errorf("not a SEQUENCE")
	}
	rest := outer.Bytes
	var err error
	for _, f := range []struct {
		v      any
		params string
	}{{&info.Version, ""}, {&info.Policy, ""}, {&info.MessageImprint, ""}, {&info.SerialNumber, ""}, {&info.GenTime, "generalized"}} {
		if rest, err = asn1.UnmarshalWithParams(rest, f.v, f.params); err != nil {
			return err
		}
	}
	return nil
}

// Timestamp is a verified RFC 3161 timestamp.
type Timestamp struct {
	Time time.Time
	TSA  string
}

// verifyTimestamps checks every RFC 3161 timestamp of the bundle over the
// signature and returns their times.
func (r *TrustedRoot) verifyTimestamps(b *Bundle, sig []byte) ([]time.Time, error) {
	td := b.VerificationMaterial.TimestampData
	if td == nil {
		return nil, nil
	}
	if len(td.RFC3161Timestamps) > maxEntries {
		return nil, fmt.Errorf("%w: %d timestamps, more than %d", ErrMalformed, len(td.RFC3161Timestamps), maxEntries)
	}
	var out []time.Time
	for i, ts := range td.RFC3161Timestamps {
		t, err := r.VerifyTimestamp(ts.SignedTimestamp, sig)
		if err != nil {
			return nil, fmt.Errorf("timestamp %d: %w", i, err)
		}
		out = append(out, t.Time)
	}
	return out, nil
}

// VerifyTimestamp checks a DER RFC 3161 TimeStampResp (or a bare
// TimeStampToken) over data: the
// message imprint is the hash of data, the CMS signature over the signed
// attributes verifies with the TSA's certificate (the one the root pins
// for the TSA, or without one an end-entity certificate embedded in the
// token), which chains to a timestamp authority of the root valid at the
// token's time.
func (r *TrustedRoot) VerifyTimestamp(token, data []byte) (*Timestamp, error) {
	fail := func(format string, args ...any) (*Timestamp, error) {
		return nil, fmt.Errorf("%w: %s", ErrTimestamp, fmt.Sprintf(format, args...))
	}
	var resp struct {
		Status asn1.RawValue
		Token  asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(token, &resp); err == nil && len(rest) == 0 && resp.Status.Tag == asn1.TagSequence && resp.Token.Tag == asn1.TagSequence {
		// A TimeStampResp (as bundles hold): granted (0) or granted
		// with modifications (1), then the token.
		var status int
		if _, err := asn1.Unmarshal(resp.Status.Bytes, &status); err != nil || status > 1 {
			return fail("the TSA did not grant the timestamp (status %d)", status)
		}
		token = resp.Token.FullBytes
	}
	var ci contentInfo
	if rest, err := asn1.Unmarshal(token, &ci); err != nil || len(rest) > 0 || !ci.ContentType.Equal(oidSignedData) {
		return fail("not an RFC 3161 TimeStampResp or CMS SignedData token")
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return fail("SignedData: %v", err)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return fail("content type %v, want TSTInfo", sd.EncapContentInfo.EContentType)
	}
	var info tstInfo
	if err := parseTSTInfo(sd.EncapContentInfo.EContent, &info); err != nil {
		return fail("TSTInfo: %v", err)
	}
	h, ok := hashOf(info.MessageImprint.HashAlgorithm.Algorithm)
	if !ok {
		return fail("message imprint hash %v", info.MessageImprint.HashAlgorithm.Algorithm)
	}
	hh := h.New()
	hh.Write(data)
	if !bytes.Equal(hh.Sum(nil), info.MessageImprint.HashedMessage) {
		return fail("the timestamp is over %x, the signature's %v is %x: it timestamps something else", info.MessageImprint.HashedMessage, h, hh.Sum(nil))
	}
	if len(sd.SignerInfos) != 1 {
		return fail("%d signer infos, want 1", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if len(si.SignedAttrs.Bytes) == 0 {
		return fail("no signed attributes")
	}
	dh, ok := hashOf(si.DigestAlgorithm.Algorithm)
	if !ok {
		return fail("digest algorithm %v", si.DigestAlgorithm.Algorithm)
	}
	// The signature is over the DER of the attributes as a SET.
	signed := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(signed, &attrs, "set"); err != nil {
		return fail("signed attributes: %v", err)
	}
	digest := dh.New()
	digest.Write(sd.EncapContentInfo.EContent)
	var md []byte
	var ctOK bool
	for _, a := range attrs {
		switch {
		case a.Type.Equal(oidMessageDigest):
			if _, err := asn1.Unmarshal(a.Values.Bytes, &md); err != nil {
				return fail("messageDigest: %v", err)
			}
		case a.Type.Equal(oidContentType):
			var ct asn1.ObjectIdentifier
			_, err := asn1.Unmarshal(a.Values.Bytes, &ct)
			ctOK = err == nil && ct.Equal(oidTSTInfo)
		}
	}
	if !ctOK || !bytes.Equal(md, digest.Sum(nil)) {
		return fail("the signed attributes are not about this TSTInfo (content type ok %v, message digest %x, TSTInfo %v %x)", ctOK, md, dh, digest.Sum(nil))
	}
	ah := dh.New()
	ah.Write(signed)
	sum := ah.Sum(nil)

	var errs []error
	for _, tsa := range r.tsas {
		if !tsa.valid.contains(info.GenTime) {
			errs = append(errs, fmt.Errorf("%s is trusted %s", tsa.uri, tsa.valid))
			continue
		}
		for _, cert := range candidates(sd.Certificates.Bytes, tsa) {
			if err := verifyDigest(cert.publicKey, dh, sum, si.Signature); err != nil {
				continue
			}
			if err := tsaSigner(cert); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", tsa.uri, err))
				continue
			}
			if err := timestampingEKU(cert); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", tsa.uri, err))
				continue
			}
			if _, err := tsa.chain(cert, info.GenTime, oidEKUTimeStamping); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", tsa.uri, err))
				continue
			}
			return &Timestamp{Time: info.GenTime, TSA: tsa.uri}, nil
		}
		if len(tsa.leaves) > 0 {
			errs = append(errs, fmt.Errorf("%s: its TSA certificate %q did not sign the timestamp", tsa.uri, tsa.leaves[0].subject()))
		} else {
			errs = append(errs, fmt.Errorf("%s: no certificate embedded in the token signed the timestamp", tsa.uri))
		}
	}
	if len(r.tsas) == 0 {
		errs = append(errs, errors.New("the trusted root has no timestamp authority"))
	}
	return fail("the timestamp of %s is not signed by a timestamp authority of the trusted root: %v; use the trusted root that holds the TSA", info.GenTime.UTC().Format(time.RFC3339), errors.Join(errs...))
}

// tsaSigner checks that cert, embedded in a token, may sign timestamps:
// not a certificate authority (RFC 3161 §2.3: the TSA's own certificate
// signs). A TSA certificate the trusted root pins is the only candidate
// when there is one.
func tsaSigner(cert *certificate) error {
	if cert.isCA {
		return fmt.Errorf("the timestamp is signed by %q, a certificate authority; the TSA's own end-entity certificate must sign (RFC 3161 §2.3)", cert.subject())
	}
	return nil
}

// timestampingEKU requires the critical extended key usage of RFC 3161
// §2.3: time stamping only.
func timestampingEKU(cert *certificate) error {
	for _, e := range cert.extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			if !e.Critical || len(cert.extKeyUsage) != 1 || !cert.extKeyUsage[0].Equal(oidEKUTimeStamping) {
				return fmt.Errorf("the TSA certificate %q must have a critical extended key usage of time stamping only", cert.subject())
			}
			return nil
		}
	}
	return fmt.Errorf("the TSA certificate %q has no extended key usage", cert.subject())
}

// candidates are the certificates that may have signed a token: the
// TSA certificate the authority pins, else those the token embeds. (The
// embedded ones are not even read when one is pinned: each costs a
// signature check, and the token is not yet verified.)
func candidates(embedded []byte, tsa authority) []*certificate {
	if len(tsa.leaves) > 0 {
		return tsa.leaves
	}
	certs, _ := parseCertificates(embedded)
	return certs
}

func verifyDigest(k crypto.PublicKey, h crypto.Hash, sum, sig []byte) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, sum, sig) {
			return errors.New("invalid signature")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, sum, sig)
	case ed25519.PublicKey:
		return errors.New("Ed25519 TSA signatures are not supported")
	}
	return fmt.Errorf("unsupported key %T", k)
}
