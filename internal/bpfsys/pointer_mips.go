//go:build mips

package bpfsys

import "unsafe"

// Pointer is a __aligned_u64 field holding a Go pointer; on 32-bit
// big-endian machines the pointer is the low (second) half.
type Pointer struct {
	_   [4]byte
	ptr unsafe.Pointer
}
