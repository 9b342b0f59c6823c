package measure

import (
	"fmt"
	"strings"
)

// Verify and MismatchError are for this package's tests: loaders and the
// audit take the mismatches from [Compare] and build their own verdicts.

// MismatchError is returned by Verify. It wraps [ErrMismatch].
type MismatchError struct {
	Program    string
	Mismatches []Mismatch
}

// Error lists every mismatch of the program.
func (e *MismatchError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = m.String()
	}
	return fmt.Sprintf("program %s: %s", e.Program, strings.Join(parts, "; "))
}

// Unwrap makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Verify compares like [Compare] and returns a *MismatchError when they
// differ.
func Verify(expected *Program, found *KernelProgram) error {
	if ms, _ := Compare(expected, found); len(ms) > 0 {
		return &MismatchError{Program: expected.Name, Mismatches: ms}
	}
	return nil
}
