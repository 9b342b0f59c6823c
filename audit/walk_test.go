package audit_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestEachProgram: both walks (EachProgram, and Trust.All's over raw
// fds) reach a program loaded here, each with its own id, close every fd
// they opened, and stop at fn's first error, naming the program id.
func TestEachProgram(t *testing.T) {
	testutil.RequireBPF(t)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		License:      "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := info.ID()

	walks := map[string]func(fn func(id uint32, fd int) error) error{
		"EachProgram": func(fn func(uint32, int) error) error {
			return audit.EachProgram(func(id uint32, p *ebpf.Program) error { return fn(id, p.FD()) })
		},
		"EachProgramFD": audit.EachProgramFD,
	}
	for name, each := range walks {
		t.Run(name, func(t *testing.T) {
			before := testutil.OpenFDs(t)
			found := false
			err := each(func(id uint32, fd int) error {
				pi, _, err := bpfsys.ProgramInfo(fd)
				if err != nil {
					t.Errorf("program id %d: %v", id, err)
				} else if pi.ID != id {
					t.Errorf("program id %d: the program is id %d", id, pi.ID)
				}
				found = found || ebpf.ProgramID(id) == want
				return nil
			})
			if err != nil || !found {
				t.Fatalf("walk: %v, found program id %d: %v", err, want, found)
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Fatalf("open fds: %d before the walk, %d after", before, after)
			}

			stop := errors.New("stop")
			calls := 0
			err = each(func(uint32, int) error { calls++; return stop })
			var id uint32
			if !errors.Is(err, stop) || calls != 1 {
				t.Fatalf("after %d calls: %v", calls, err)
			}
			if _, serr := fmt.Sscanf(err.Error(), "program id %d: stop", &id); serr != nil || id == 0 {
				t.Fatalf("error %q does not name the program id: %v", err, serr)
			}
		})
	}
}
