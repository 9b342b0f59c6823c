package measure_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestFullDigest reads the kernel's whole SHA-256 of a loaded program with
// the bpf_prog iterator and compares all 256 bits with the build-time
// digest; a program whose digest differs beyond the tag's 64 bits would
// not match. Where the backend is unavailable the probe must say exactly
// why (no 32-byte digest in struct bpf_prog before Linux 6.18, or a kernel
// that refuses the tracing program), and the test skips with that reason.
func TestFullDigest(t *testing.T) {
	testutil.RequireBPF(t)
	if err := measure.FullDigestProbe(); err != nil {
		if !errors.Is(err, measure.ErrNoFullDigest) {
			t.Fatalf("probe error does not wrap ErrNoFullDigest: %v", err)
		}
		known := []string{"struct bpf_prog has no digest member", "load the bpf_prog iterator", "attach the bpf_prog iterator", "no kernel BTF"}
		ok := false
		for _, k := range known {
			ok = ok || strings.Contains(err.Error(), k)
		}
		if !ok {
			t.Fatalf("probe gives no precise reason: %v", err)
		}
		if !strings.Contains(measure.DigestBackend(), "64 bits") {
			t.Errorf("backend description: %s", measure.DigestBackend())
		}
		testutil.SkipWithout(t, testutil.FeatureFullDigest, err)
	}
	spec := &ebpf.ProgramSpec{Name: "full_digest", Type: ebpf.SocketFilter, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 7), asm.Return()}}
	want, err := measure.ProgramDigest(spec)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	digests, err := measure.FullDigests()
	if err != nil {
		t.Fatal(err)
	}
	kp, err := measure.Kernel(prog, &measure.KernelOptions{FullDigests: digests, NoLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	if kp.Digest != want.Digest || kp.TagBits != 256 {
		t.Fatalf("kernel digest %s (%d bits), want %s", kp.Digest, kp.TagBits, want.Digest)
	}
	// A digest that agrees on the tag's 64 bits only is refused.
	forged := measure.Program{Name: "full_digest", Type: uint32(ebpf.SocketFilter), InsnDigest: want}
	forged.Digest = want.Digest[:16] + strings.Repeat("0", 48)
	if ms, _ := measure.Compare(&forged, kp); len(ms) == 0 || !strings.Contains(ms[len(ms)-1].Field, "digest(sha256)") {
		t.Fatalf("a digest equal on 64 bits only was accepted: %v", ms)
	}
}

// TestMalformedFullDigestIgnored: a full digest of the wrong length in
// KernelOptions.FullDigests (a caller's) is not used, and does not panic.
func TestMalformedFullDigestIgnored(t *testing.T) {
	testutil.RequireBPF(t)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "short_digest", Type: ebpf.SocketFilter, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 3), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	for _, d := range []string{"", info.Tag, info.Tag + "00"} {
		kp, err := measure.Kernel(prog, &measure.KernelOptions{FullDigests: map[uint32]string{uint32(id): d}, NoLinks: true})
		if err != nil {
			t.Fatal(err)
		}
		if kp.Digest != "" || kp.TagBits != 64 {
			t.Errorf("full digest %q: used as %q (%d bits)", d, kp.Digest, kp.TagBits)
		}
	}
}
