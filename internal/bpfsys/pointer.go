package bpfsys

import "unsafe"

// newPointer returns a Pointer to the first byte of b, or a null Pointer.
func newPointer(b []byte) Pointer {
	if len(b) == 0 {
		return Pointer{}
	}
	return Pointer{ptr: unsafe.Pointer(&b[0])}
}
