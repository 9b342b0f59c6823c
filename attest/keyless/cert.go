package keyless

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// Fulcio certificate extensions (github.com/sigstore/fulcio
// docs/oid-info.md), under 1.3.6.1.4.1.57264.1.
var (
	oidFulcio = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1}
	// oidIssuerV1 holds the OIDC issuer as raw bytes (deprecated);
	// oidIssuerV2 holds it as a DER UTF8String.
	oidIssuerV1 = fulcioOID(1)
	oidIssuerV2 = fulcioOID(8)
	// oidOtherName is the otherName SAN type of Fulcio usernames.
	oidOtherName = fulcioOID(7)
	oidSAN       = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidSCTList is the embedded SCT list extension of RFC 6962 §3.3.
	oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
)

func fulcioOID(n int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, oidFulcio...), n)
}

// Claims names the Fulcio extensions, by the last arc of their OID under
// 1.3.6.1.4.1.57264.1. The deprecated GitHub workflow extensions (2 to 6)
// hold raw strings; the others (8 on) DER UTF8Strings.
var Claims = map[string]int{
	"github_workflow_trigger":                 2,
	"github_workflow_sha":                     3,
	"github_workflow_name":                    4,
	"github_workflow_repository":              5,
	"github_workflow_ref":                     6,
	"issuer":                                  8,
	"build_signer_uri":                        9,
	"build_signer_digest":                     10,
	"runner_environment":                      11,
	"source_repository_uri":                   12,
	"source_repository_digest":                13,
	"source_repository_ref":                   14,
	"source_repository_identifier":            15,
	"source_repository_owner_uri":             16,
	"source_repository_owner_identifier":      17,
	"build_config_uri":                        18,
	"build_config_digest":                     19,
	"build_trigger":                           20,
	"run_invocation_uri":                      21,
	"source_repository_visibility_at_signing": 22,
}

// certClaims returns the Fulcio extensions of a certificate by name (see
// [Claims]) and its identity: its one Fulcio otherName, URI or email SAN.
// Certificates that readers could read two ways are refused: issuer
// extensions that differ, more than one identity.
func certClaims(cert *certificate) (map[string]string, []string, error) {
	claims := map[string]string{}
	names := map[int]string{}
	for n, arc := range Claims {
		names[arc] = n
	}
	var issuerV1 *string
	for _, e := range cert.extensions {
		switch {
		case e.Id.Equal(oidIssuerV1):
			v := string(e.Value)
			issuerV1 = &v
		case len(e.Id) == len(oidFulcio)+1 && e.Id[:len(oidFulcio)].Equal(oidFulcio):
			arc := e.Id[len(oidFulcio)]
			name, ok := names[arc]
			if !ok {
				continue
			}
			if arc < 8 {
				claims[name] = string(e.Value)
				continue
			}
			var s string
			if rest, err := asn1.UnmarshalWithParams(e.Value, &s, "utf8"); err != nil || len(rest) > 0 {
				err = cmp.Or(err, errTrailing)
				return nil, nil, fmt.Errorf("%w: Fulcio extension %s (%v) is not a UTF8String: %v", ErrCertificate, name, e.Id, err)
			}
			claims[name] = s
		}
	}
	// Readers differ on which issuer extension wins (sigstore-go reads
	// the last one): when both are there, they must agree.
	v2, ok := claims["issuer"]
	if ok && issuerV1 != nil && *issuerV1 != v2 {
		return nil, nil, fmt.Errorf("%w: the certificate's issuer extensions differ: %q (%v) and %q (%v); Fulcio writes the same issuer in both", ErrIdentity, *issuerV1, oidIssuerV1, v2, oidIssuerV2)
	}
	if !ok && issuerV1 != nil && *issuerV1 != "" {
		claims["issuer"] = *issuerV1
	}
	// Fulcio certifies one identity. With more, readers differ on which
	// one signed (sigstore-go reads the first URI, else email, else
	// username; cosign any): refuse rather than pick.
	sans := append(append(slices.Clip(cert.otherNames), cert.uris...), cert.emails...)
	if len(sans) > 1 {
		return nil, nil, fmt.Errorf("%w: the certificate names %d identities %q where Fulcio certifies one; which one signed is ambiguous", ErrIdentity, len(sans), sans)
	}
	return claims, sans, nil
}

// verifyChain checks that leaf chains, for code signing, to a certificate
// authority of the root that is valid at t, with every certificate valid
// at t. It returns the leaf's issuer.
func (r *TrustedRoot) verifyChain(leaf *certificate, t time.Time) (*certificate, error) {
	var errs []string
	for _, ca := range r.cas {
		if !ca.valid.contains(t) {
			errs = append(errs, fmt.Sprintf("%s is trusted %s", ca.uri, ca.valid))
			continue
		}
		chain, err := ca.chain(leaf, t, oidEKUCodeSigning)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", ca.uri, err))
			continue
		}
		return chain[1], nil
	}
	return nil, fmt.Errorf("%w: the certificate (issuer %q, valid %s to %s) does not chain to a Fulcio CA of the trusted root valid at the signing time %s: %v; check that the trusted root is the one of the Sigstore instance that signed (refresh it if the CA rotated)",
		ErrCertificate, leaf.issuer(), leaf.notBefore.UTC().Format(time.RFC3339), leaf.notAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339), errs)
}

// verifySCT checks that leaf carries an SCT (RFC 6962 §3.2) by a CT log
// of the root, over the precertificate: leaf's TBSCertificate without the
// SCT list extension, issued by issuer.
func (r *TrustedRoot) verifySCT(leaf, issuer *certificate) error {
	var list []byte
	for _, e := range leaf.extensions {
		if e.Id.Equal(oidSCTList) {
			if rest, err := asn1.Unmarshal(e.Value, &list); err != nil || len(rest) > 0 {
				err = cmp.Or(err, errTrailing)
				return fmt.Errorf("%w: SCT list extension is not an OCTET STRING: %v", ErrSCT, err)
			}
		}
	}
	if list == nil {
		return fmt.Errorf("%w: the certificate has no embedded SCT (extension %v); expected one from a CT log of the trusted root (%s): was it issued by Fulcio?",
			ErrSCT, oidSCTList, describeLogs(r.ctlogs))
	}
	tbs, err := precertTBS(leaf.rawTBS)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSCT, err)
	}
	keyHash := sha256.Sum256(issuer.rawSPKI)
	scts, err := parseSCTList(list)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSCT, err)
	}
	var found []string
	for _, s := range scts {
		log := findLog(r.ctlogs, s.logID[:])
		if log == nil {
			found = append(found, fmt.Sprintf("SCT from unknown log %x", s.logID))
			continue
		}
		ts := time.UnixMilli(int64(s.timestamp))
		if !log.valid.contains(ts) {
			found = append(found, fmt.Sprintf("SCT from %s at %s, outside its validity %s", log.baseURL, ts.UTC().Format(time.RFC3339), log.valid))
			continue
		}
		var signed bytes.Buffer
		signed.Write([]byte{0, 0}) // v1, certificate_timestamp
		binary.Write(&signed, binary.BigEndian, s.timestamp)
		signed.Write([]byte{0, 1}) // precert_entry
		signed.Write(keyHash[:])
		signed.Write([]byte{byte(len(tbs) >> 16), byte(len(tbs) >> 8), byte(len(tbs))})
		signed.Write(tbs)
		binary.Write(&signed, binary.BigEndian, uint16(len(s.extensions)))
		signed.Write(s.extensions)
		if err := verifyDigitallySigned(log.key, s.hashAlg, s.sigAlg, signed.Bytes(), s.sig); err != nil {
			found = append(found, fmt.Sprintf("SCT from %s: %v", log.baseURL, err))
			continue
		}
		return nil
	}
	return fmt.Errorf("%w: expected an SCT signed by a CT log of the trusted root (%s), found %v; the certificate was not logged by a trusted CT log, or was altered",
		ErrSCT, describeLogs(r.ctlogs), found)
}

type sct struct {
	logID           [32]byte
	timestamp       uint64
	extensions      []byte
	hashAlg, sigAlg byte
	sig             []byte
}

// parseSCTList decodes a TLS SignedCertificateTimestampList.
func parseSCTList(b []byte) ([]sct, error) {
	body, rest, err := vec16(b)
	if err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("SCT list: bad length")
	}
	var out []sct
	for len(body) > 0 {
		var one []byte
		if one, body, err = vec16(body); err != nil {
			return nil, fmt.Errorf("SCT list: %v", err)
		}
		if len(one) < 1+32+8 || one[0] != 0 {
			return nil, fmt.Errorf("SCT: not a v1 SCT")
		}
		var s sct
		copy(s.logID[:], one[1:33])
		s.timestamp = binary.BigEndian.Uint64(one[33:41])
		r := one[41:]
		if s.extensions, r, err = vec16(r); err != nil {
			return nil, fmt.Errorf("SCT extensions: %v", err)
		}
		if len(r) < 2 {
			return nil, fmt.Errorf("SCT: no signature")
		}
		s.hashAlg, s.sigAlg = r[0], r[1]
		if s.sig, r, err = vec16(r[2:]); err != nil || len(r) > 0 {
			return nil, fmt.Errorf("SCT signature: bad length")
		}
		out = append(out, s)
	}
	return out, nil
}

func vec16(b []byte) (body, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("short vector")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, fmt.Errorf("vector of %d bytes, %d left", n, len(b)-2)
	}
	return b[2 : 2+n], b[2+n:], nil
}

// precertTBS removes the SCT list extension from a DER TBSCertificate.
func precertTBS(tbs []byte) ([]byte, error) {
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(tbs, &outer); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("TBSCertificate is not DER")
	}
	var fields []byte
	for rest := outer.Bytes; len(rest) > 0; {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, fmt.Errorf("TBSCertificate field: %v", err)
		}
		if f.Class != asn1.ClassContextSpecific || f.Tag != 3 {
			fields = append(fields, f.FullBytes...)
			continue
		}
		var exts asn1.RawValue
		if _, err := asn1.Unmarshal(f.Bytes, &exts); err != nil {
			return nil, fmt.Errorf("extensions: %v", err)
		}
		var kept []byte
		for er := exts.Bytes; len(er) > 0; {
			var e asn1.RawValue
			if er, err = asn1.Unmarshal(er, &e); err != nil {
				return nil, fmt.Errorf("extension: %v", err)
			}
			var ext pkix.Extension
			if _, err := asn1.Unmarshal(e.FullBytes, &ext); err == nil && ext.Id.Equal(oidSCTList) {
				continue
			}
			kept = append(kept, e.FullBytes...)
		}
		seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: kept})
		if err != nil {
			return nil, err
		}
		wrapped, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 3, IsCompound: true, Bytes: seq})
		if err != nil {
			return nil, err
		}
		fields = append(fields, wrapped...)
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: fields})
}
