package measure_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestUntargetedLinks: before Linux 5.13 the kernel reports a tracing
// link's attach type but not its target (bpf_link_info's target ids stay
// zero). A link that could target a program (an extension, fentry, fexit,
// fmod_ret) then makes every program's link closure unknown: a verified
// program is at best PARTIAL, never OK. Links that attach only to the
// kernel (LSM, tp_btf) and links whose target is known do not. The kernels
// of this suite all report targets, so the links are described here as
// the old kernels describe them, and the program is real.
func TestUntargetedLinks(t *testing.T) {
	testutil.RequireBPF(t)
	spec := &ebpf.ProgramSpec{Name: "untargeted", Type: ebpf.SocketFilter, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	want, err := measure.Collection(&ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"untargeted": spec}})
	if err != nil {
		t.Fatal(err)
	}

	ext := measure.KernelLink{ID: 7, Type: "tracing", AttachType: ebpf.AttachNone.String(), ProgID: 70, ProgName: "replacer", ProgType: ebpf.Extension.String()}
	link := func(id uint32, at ebpf.AttachType, target uint32) measure.KernelLink {
		return measure.KernelLink{ID: id, Type: "tracing", AttachType: at.String(), ProgID: id * 10, ProgName: "tracer", ProgType: ebpf.Tracing.String(), TargetProgID: target}
	}
	tests := []struct {
		name    string
		links   []measure.KernelLink
		unknown []uint32 // link ids the error must name; none: no error
	}{
		{"extension without target", []measure.KernelLink{ext}, []uint32{7}},
		{"fentry without target", []measure.KernelLink{link(1, ebpf.AttachTraceFEntry, 0)}, []uint32{1}},
		{"fexit without target", []measure.KernelLink{link(2, ebpf.AttachTraceFExit, 0)}, []uint32{2}},
		{"fmod_ret without target", []measure.KernelLink{link(3, ebpf.AttachModifyReturn, 0)}, []uint32{3}},
		{"lsm and tp_btf only hook the kernel", []measure.KernelLink{link(4, ebpf.AttachLSMMac, 0), link(5, ebpf.AttachTraceRawTp, 0)}, nil},
		{"target known: another program", []measure.KernelLink{link(6, ebpf.AttachTraceFEntry, 0xffffff)}, nil},
		{"one unknown among known", []measure.KernelLink{link(6, ebpf.AttachTraceFEntry, 0xffffff), link(8, ebpf.AttachTraceFExit, 0)}, []uint32{8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			links := measure.LinksOf(tt.links...)
			kp, err := measure.Kernel(prog, &measure.KernelOptions{Links: links})
			if err != nil {
				t.Fatal(err)
			}
			unbound := want.Unbound(want.Program("untargeted"), kp)
			if len(tt.unknown) == 0 {
				if links.Err != nil || kp.LinksError != "" || len(unbound) != 0 {
					t.Fatalf("closure unknown without reason: %v; %q", links.Err, unbound)
				}
				return
			}
			if !errors.Is(links.Err, measure.ErrLinkTargetUnknown) {
				t.Fatalf("links error %v, want %v", links.Err, measure.ErrLinkTargetUnknown)
			}
			if len(unbound) != 1 || !strings.Contains(unbound[0], "Linux 5.13") {
				t.Fatalf("unbound %q: want one entry naming the kernel fact", unbound)
			}
			for _, id := range tt.unknown {
				if !strings.Contains(unbound[0], fmt.Sprintf(" %d (", id)) {
					t.Errorf("unbound %q does not name link id %d", unbound[0], id)
				}
			}
		})
	}
}
