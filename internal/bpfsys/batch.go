package bpfsys

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

type batchAttr struct {
	inBatch   Pointer
	outBatch  Pointer
	keys      Pointer
	values    Pointer
	count     uint32
	mapFD     uint32
	elemFlags uint64
	flags     uint64
}

type elemAttr struct {
	mapFD uint32
	_     uint32
	key   Pointer
	value Pointer
	flags uint64
}

// errENOTSUPP is the kernel-internal ENOTSUPP (524) that batch operations
// return for map types without them.
const errENOTSUPP = unix.Errno(524)

// ErrBatchUnsupported is returned when the kernel or the map type has no
// batch operations (before Linux 5.6, or e.g. LPM tries).
var ErrBatchUnsupported = errors.New("batch map operations not supported")

func batchErr(op string, err error) error {
	if errors.Is(err, unix.EINVAL) || errors.Is(err, errENOTSUPP) || errors.Is(err, unix.ENOTSUP) {
		return fmt.Errorf("%s: %w (%w)", op, ErrBatchUnsupported, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// LookupBatch reads up to count entries with BPF_MAP_LOOKUP_BATCH (5.6+).
// in is the position token from the previous call, nil for the first; out
// receives the next token (at least 4 bytes and the key size). It returns
// the number of entries copied and done=true when the map has no more.
func LookupBatch(fd int, in, out, keys, values []byte, count uint32) (n uint32, done bool, err error) {
	attr := batchAttr{inBatch: newPointer(in), outBatch: newPointer(out), keys: newPointer(keys), values: newPointer(values), count: count, mapFD: uint32(fd)}
	_, err = bpf(unix.BPF_MAP_LOOKUP_BATCH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if errors.Is(err, unix.ENOENT) {
		return attr.count, true, nil
	}
	if err != nil {
		return 0, false, batchErr("BPF_MAP_LOOKUP_BATCH", err)
	}
	return attr.count, false, nil
}

// LookupElem reads one value with BPF_MAP_LOOKUP_ELEM.
func LookupElem(fd int, key, value []byte) error {
	attr := elemAttr{mapFD: uint32(fd), key: newPointer(key), value: newPointer(value)}
	_, err := bpf(unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return fmt.Errorf("BPF_MAP_LOOKUP_ELEM: %w", err)
	}
	return nil
}

// NextKey writes the key after key (nil: the first key) into next with
// BPF_MAP_GET_NEXT_KEY. It returns false when there is no next key.
func NextKey(fd int, key, next []byte) (bool, error) {
	attr := elemAttr{mapFD: uint32(fd), key: newPointer(key), value: newPointer(next)}
	_, err := bpf(unix.BPF_MAP_GET_NEXT_KEY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("BPF_MAP_GET_NEXT_KEY: %w", err)
	}
	return true, nil
}

// WriteProbe asks whether the map behind fd (opened read-write) accepts
// writes from system calls, without writing: it issues BPF_MAP_UPDATE_ELEM
// with BPF_F_LOCK and no key. Linux checks write permission first, and a
// frozen map answers EPERM; a writable map then fails the flag or key check
// (EINVAL or EFAULT) before anything is copied. Callers must confirm this
// order with a probe on a known frozen and a known writable map before
// relying on it, and take only EINVAL or EFAULT as an answer (not
// frozen): a read-only fd, a seccomp filter or a BPF LSM program denying
// the update answer EPERM as well.
func WriteProbe(fd int) error {
	attr := elemAttr{mapFD: uint32(fd), flags: unix.BPF_F_LOCK}
	_, err := bpf(unix.BPF_MAP_UPDATE_ELEM, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}
