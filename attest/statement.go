package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// ParseStatement decodes a DSSE payload whose signature was checked
// elsewhere (for example by package attest/keyless) as a statement of this
// project's predicate type, with exactly one subject and a well-formed
// manifest. Errors wrap [ErrMalformed].
func ParseStatement(payload []byte) (*Statement, error) { return parseStatement(payload) }

// CheckSubject returns an error wrapping [ErrWrongSubject] unless the
// statement's subject is object.
func (s *Statement) CheckSubject(object []byte) error {
	sum := sha256.Sum256(object)
	if got, want := s.Subject[0].Digest["sha256"], hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("%w: the signed statement is about %s (sha256 %s), the object's sha256 is %s; sign this object again",
			ErrWrongSubject, s.Subject[0].Name, got, want)
	}
	return nil
}
