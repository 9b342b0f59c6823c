package runtime

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestLinkVerdicts: a link mismatch is annotated with the attaching
// program's standing, found by the kernel id of the object's programs
// (two real programs loaded here); other mismatches are left alone, and
// a report without link mismatches is returned as it is.
func TestLinkVerdicts(t *testing.T) {
	testutil.RequireBPF(t)
	progs := map[string]*ebpf.Program{}
	ids := map[string]uint32{}
	for _, name := range []string{"first", "second"} {
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         name,
			Type:         ebpf.SocketFilter,
			License:      "MIT",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, ok := info.ID()
		if !ok {
			t.Fatal("the kernel reports no program id")
		}
		progs[name], ids[name] = p, uint32(id)
	}
	foreign := ids["first"] + ids["second"] + 1 // neither of ours
	kp := &measure.KernelProgram{
		Links: []measure.KernelLink{{ID: 7001, ProgID: ids["second"]}},
		TailCalls: []measure.KernelProgram{
			{Links: []measure.KernelLink{{ID: 7002, ProgID: foreign}}},
		},
	}
	r := &Report{Object: "obj.o"}
	for _, tt := range []struct {
		name  string
		field string
		want  string // suffix of Found; "" means unchanged
	}{
		{"own program", "links[id 7001]", "; the attaching program is second of this object, itself bound by this report"},
		{"foreign program, through a tail call", "tail_calls[0].links[id 7002]", fmt.Sprintf("; the attaching program's verdict: %s (not a program of obj.o)", Unsigned)},
		{"no such link", "links[id 7003]", ""},
		{"not a link", "tag", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := r.linkVerdicts([]measure.Mismatch{{Field: tt.field, Expected: "e", Found: "f"}}, kp, progs)
			if len(ms) != 1 {
				t.Fatalf("%d mismatches, want 1", len(ms))
			}
			if got := strings.TrimPrefix(ms[0].Found, "f"); got != tt.want {
				t.Fatalf("Found %q, want %q", ms[0].Found, "f"+tt.want)
			}
		})
	}
	if ms := r.linkVerdicts(nil, kp, progs); ms != nil {
		t.Fatalf("no mismatches in, %v out", ms)
	}
}
