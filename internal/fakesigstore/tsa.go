package fakesigstore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"slices"
	"time"
)

var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidPolicy        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}
)

func der(v any, params ...string) []byte {
	b, err := asn1.MarshalWithParams(v, append(params, "")[0])
	if err != nil {
		panic(err)
	}
	return b
}

func tlv(class, tag int, content ...[]byte) []byte {
	return der(asn1.RawValue{Class: class, Tag: tag, IsCompound: true, Bytes: bytes.Join(content, nil)})
}

func seq(c ...[]byte) []byte { return tlv(asn1.ClassUniversal, asn1.TagSequence, c...) }

// set is a DER SET OF: its elements sorted.
func set(c ...[]byte) []byte {
	c = slices.Clone(c)
	slices.SortFunc(c, bytes.Compare)
	return tlv(asn1.ClassUniversal, asn1.TagSet, c...)
}

func algID(oid asn1.ObjectIdentifier) []byte { return seq(der(oid)) }

// timestamp returns an RFC 3161 TimeStampResp with a token over data at t, signed by
// the TSA (or, forged, by a key it does not hold; or, with other, by
// another certificate of the TSA's root).
func (s *Sigstore) timestamp(data []byte, t time.Time, forge bool, other func(*x509.Certificate)) []byte {
	imprint := sha256.Sum256(data)
	serialNo, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tst := seq(
		der(1),
		der(oidPolicy),
		seq(algID(oidSHA256), der(imprint[:])),
		der(serialNo),
		der(t.UTC(), "generalized"),
	)
	tstSum := sha256.Sum256(tst)
	attrs := [][]byte{
		seq(der(oidContentType), set(der(oidTSTInfo))),
		seq(der(oidMessageDigest), set(der(tstSum[:]))),
		seq(der(oidSigningTime), set(der(t.UTC()))),
	}
	signedAttrs := set(attrs...)
	d := sha256.Sum256(signedAttrs)
	k, cert := s.tsaKey, s.tsa
	if forge {
		k = key()
	}
	if other != nil {
		tmpl := tsaTemplate(s.tsa.NotBefore, s.tsa.NotAfter)
		other(tmpl)
		k = key()
		cert = mustCert(tmpl, s.tsaRoot, k.Public(), s.tsaRootKey)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		panic(err)
	}
	// In the SignerInfo the attributes are [0] IMPLICIT.
	implicitAttrs := append([]byte{0xa0}, signedAttrs[1:]...)
	signerInfo := seq(
		der(1),
		seq(cert.RawIssuer, der(cert.SerialNumber)),
		algID(oidSHA256),
		implicitAttrs,
		algID(oidECDSASHA256),
		der(sig),
	)
	signedData := seq(
		der(3),
		set(algID(oidSHA256)),
		seq(der(oidTSTInfo), tlv(asn1.ClassContextSpecific, 0, der(tst))),
		tlv(asn1.ClassContextSpecific, 0, cert.Raw),
		set(signerInfo),
	)
	token := seq(der(oidSignedData), tlv(asn1.ClassContextSpecific, 0, signedData))
	// TimeStampResp: status granted, then the token.
	return seq(seq(der(0)), token)
}
