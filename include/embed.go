// Package include ships the C header of bpf2go-signed, bpf2go_signed.h, so
// that the generator can put it on the compiler's include path.
package include

import _ "embed"

// Header is the contents of bpf2go_signed.h.
//
//go:embed bpf2go_signed.h
var Header []byte

// HeaderName is the header's file name.
const HeaderName = "bpf2go_signed.h"

// SealedTag is the BTF declaration tag that __sealed puts on a map.
const SealedTag = "bpf2go_signed:sealed"
