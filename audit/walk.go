package audit

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
)

// EachProgram calls fn with the id of every program loaded on the host,
// in id order, and the program opened by that id; fn must not close it.
// Programs unloaded before they could be opened are skipped. The walk stops at fn's first error, which is
// returned wrapped with the program id.
//
// This is not a measured load path: it goes through cilium/ebpf's public
// API (ProgramGetNextID, NewProgramFromID).
func EachProgram(fn func(id uint32, prog *ebpf.Program) error) error {
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("next program id after %d: %w", id, err)
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("program id %d: %w", id, err)
		}
		err = fn(uint32(id), prog)
		prog.Close()
		if err != nil {
			return fmt.Errorf("program id %d: %w", id, err)
		}
	}
}

// eachMap is EachProgram for maps.
func eachMap(fn func(m *ebpf.Map) error) error {
	for id := ebpf.MapID(0); ; {
		next, err := ebpf.MapGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("next map id after %d: %w", id, err)
		}
		id = next
		m, err := ebpf.NewMapFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("map id %d: %w", id, err)
		}
		err = fn(m)
		m.Close()
		if err != nil {
			return fmt.Errorf("map id %d: %w", id, err)
		}
	}
}
