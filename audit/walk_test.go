package audit_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestEachProgram: the walk reaches a program loaded here, closes every fd
// it opened, and stops at fn's first error, naming the program id.
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

	before := testutil.OpenFDs(t)
	found := false
	err = audit.EachProgram(func(id uint32, prog *ebpf.Program) error {
		pi, err := prog.Info()
		if err != nil {
			t.Errorf("program id %d: %v", id, err)
		} else if got, _ := pi.ID(); uint32(got) != id {
			t.Errorf("program id %d: the program is id %d", id, got)
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
	err = audit.EachProgram(func(uint32, *ebpf.Program) error { calls++; return stop })
	var id uint32
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("after %d calls: %v", calls, err)
	}
	if _, serr := fmt.Sscanf(err.Error(), "program id %d: stop", &id); serr != nil || id == 0 {
		t.Fatalf("error %q does not name the program id: %v", err, serr)
	}
}
