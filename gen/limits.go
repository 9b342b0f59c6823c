package gen

import (
	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
)

// MaxJSONFile is the largest sealing plan, contents file or envelope read:
// 64 MiB; larger inputs are refused with measure.ErrTooLarge. Objects are
// read up to build.MaxObjectSize.
const MaxJSONFile = 64 << 20

// ReadFile reads a build input named by the operator: a regular file of
// at most max bytes (see [safefs.ReadRegular]).
func ReadFile(path string, max int64) ([]byte, error) { return safefs.ReadRegular(path, max) }
