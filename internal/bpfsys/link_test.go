package bpfsys_test

import (
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestLinks checks the link calls against cilium/ebpf's on the running
// kernel: an iterator attached through AttachIter is found by the
// NextLinkID walk, which lists what link.Iterator lists, and its info
// names its type and program.
func TestLinks(t *testing.T) {
	testutil.RequireBPF(t)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "b2gs_link_test", Type: ebpf.Tracing, AttachType: ebpf.AttachTraceIter, AttachTo: "bpf_prog",
		License: "GPL", Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		testutil.SkipWithout(t, testutil.FeatureTracing, err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	progID, _ := info.ID()

	ours, err := bpfsys.AttachIter(prog.FD())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ours)
	theirs, err := link.AttachIter(link.IterOptions{Program: prog})
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()

	li, err := bpfsys.LinkInformation(ours)
	if err != nil {
		t.Fatal(err)
	}
	if li.Type != unix.BPF_LINK_TYPE_ITER || li.ProgID != uint32(progID) {
		t.Fatalf("link info %+v, want type %d (iter) and program %d", li, unix.BPF_LINK_TYPE_ITER, progID)
	}
	theirInfo, err := theirs.Info()
	if err != nil {
		t.Fatal(err)
	}

	var walked []uint32
	for id := uint32(0); ; {
		next, err := bpfsys.NextLinkID(id)
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		walked, id = append(walked, next), next
	}
	// cilium/ebpf's walk stops at a link another process is creating
	// (EAGAIN): walk again.
	var listed []uint32
	for attempt := 0; ; attempt++ {
		listed = listed[:0]
		it := new(link.Iterator)
		for it.Next() {
			listed = append(listed, uint32(it.ID))
		}
		err := it.Err()
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) || attempt == 50 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, id := range []uint32{li.ID, uint32(theirInfo.ID)} {
		if !slices.Contains(walked, id) || !slices.Contains(listed, id) {
			t.Fatalf("link %d: in the walk %v, in cilium/ebpf's %v", id, walked, listed)
		}
	}

	fd, err := bpfsys.LinkFDByID(li.ID)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if _, err := bpfsys.LinkFDByID(^uint32(0)); !errors.Is(err, unix.ENOENT) {
		t.Errorf("a link id that does not exist: %v, want ENOENT", err)
	}

	// A pass of the iterator: this program writes nothing.
	pass, err := bpfsys.IterCreate(ours)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(pass), "iter")
	defer f.Close()
	if b, err := io.ReadAll(f); err != nil || len(b) != 0 {
		t.Fatalf("iterator pass: %d bytes, %v", len(b), err)
	}
}
