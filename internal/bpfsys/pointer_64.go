//go:build !(386 || arm || mipsle || mips)

package bpfsys

import "unsafe"

// Pointer is a __aligned_u64 field of a bpf(2) attribute or info struct
// that holds a Go pointer. Keeping it an unsafe.Pointer (not an integer)
// lets the garbage collector see it and lets stack copying adjust it, so
// the memory the kernel writes to is the memory the caller reads.
type Pointer struct {
	ptr unsafe.Pointer
}
