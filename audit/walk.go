package audit

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// EachProgram calls fn with the id of every program loaded on the host,
// in id order, and the program opened by that id; fn must not close it.
// Programs unloaded before they could be opened are skipped. The walk stops at fn's first error, which is
// returned wrapped with the program id.
//
// This is not a measured load path: it goes through cilium/ebpf's public
// API (ProgramGetNextID, NewProgramFromID).
func EachProgram(fn func(id uint32, prog *ebpf.Program) error) error {
	return walk("program", ebpf.ProgramGetNextID, ebpf.NewProgramFromID, (*ebpf.Program).Close,
		func(id ebpf.ProgramID, p *ebpf.Program) error { return fn(uint32(id), p) })
}

// eachProgramFD is EachProgram for the verdicts' pass (Trust.All): each
// program is opened with one BPF_PROG_GET_FD_BY_ID, because
// NewProgramFromID also asks the program's info, which the measurement
// asks again (a system call per program that bpftool's listing does not
// make).
func eachProgramFD(fn func(id uint32, fd int) error) error {
	return walk("program", ebpf.ProgramGetNextID,
		func(id ebpf.ProgramID) (int, error) { return bpfsys.ProgFDByID(uint32(id)) },
		func(fd int) error { return unix.Close(fd) },
		func(id ebpf.ProgramID, fd int) error { return fn(uint32(id), fd) })
}

// eachMap is EachProgram for maps.
func eachMap(fn func(m *ebpf.Map) error) error {
	return walk("map", ebpf.MapGetNextID, ebpf.NewMapFromID, (*ebpf.Map).Close,
		func(_ ebpf.MapID, m *ebpf.Map) error { return fn(m) })
}

// walk opens every object of a kind by id, in id order, and calls fn with
// it; objects gone before they could be opened are skipped.
func walk[ID ~uint32, T any](kind string, next func(ID) (ID, error), open func(ID) (T, error), close func(T) error, fn func(ID, T) error) error {
	for id := ID(0); ; {
		n, err := next(id)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("next %s id after %d: %w", kind, id, err)
		}
		id = n
		obj, err := open(id)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s id %d: %w", kind, id, err)
		}
		err = fn(id, obj)
		close(obj)
		if err != nil {
			return fmt.Errorf("%s id %d: %w", kind, id, err)
		}
	}
}
