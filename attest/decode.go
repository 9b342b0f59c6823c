package attest

import (
	"github.com/bpf2go-signed/bpf2go-signed/internal/jsonread"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// The envelope and the statement are read with package internal/jsonread
// rather than encoding/json: loaders then link no JSON decoder and build
// no per-type reflection caches on their first load. Whatever it accepts,
// encoding/json reads the same (FuzzDecodeMatchesEncodingJSON).

var (
	envelopeFields  = []string{"payloadType", "payload", "signatures"}
	signatureFields = []string{"keyid", "sig"}
	statementFields = []string{"_type", "subject", "predicateType", "predicate"}
	subjectFields   = []string{"name", "digest"}
)

// decodeEnvelope reads a DSSE envelope, and nothing after it.
func decodeEnvelope(raw []byte) (*Envelope, error) {
	return jsonread.Document(raw, func(r *jsonread.Reader, env *Envelope) error {
		return r.Object(envelopeFields, false, func(f int) (err error) {
			switch f {
			case 0:
				env.PayloadType, err = r.String()
			case 1:
				env.Payload, err = r.String()
			case 2:
				env.Signatures, err = jsonread.Slice(r, func(s *Signature) error {
					return r.Object(signatureFields, false, func(f int) (err error) {
						if f == 0 {
							s.KeyID, err = r.String()
						} else {
							s.Sig, err = r.String()
						}
						return err
					})
				})
			}
			return err
		})
	})
}

// decodeStatement reads an in-toto statement whose predicate is a
// manifest, and nothing after it. It does not check it.
func decodeStatement(payload []byte) (*Statement, error) {
	return jsonread.Document(payload, func(r *jsonread.Reader, st *Statement) error {
		return r.Object(statementFields, false, func(f int) (err error) {
			switch f {
			case 0:
				st.Type, err = r.String()
			case 1:
				st.Subject, err = jsonread.Slice(r, func(s *Subject) error {
					return r.Object(subjectFields, false, func(f int) (err error) {
						if f == 0 {
							s.Name, err = r.String()
							return err
						}
						if r.Null() {
							s.Digest = nil
							return nil
						}
						s.Digest = map[string]string{}
						return r.Map(func(alg string) (err error) {
							s.Digest[alg], err = r.String()
							return err
						})
					})
				})
			case 2:
				st.PredicateType, err = r.String()
			case 3:
				st.Predicate, err = jsonread.Pointer(r, func(m *measure.Manifest) error { return measure.ReadManifest(r, m) })
			}
			return err
		})
	})
}
