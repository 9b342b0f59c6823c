//go:build 386 || arm || mipsle

package bpfsys

import "unsafe"

// Pointer is a __aligned_u64 field holding a Go pointer; on 32-bit
// little-endian machines the pointer is the low (first) half.
type Pointer struct {
	ptr unsafe.Pointer
	_   [4]byte
}
