// Package testutil holds helpers shared by the project's tests.
package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// RequireBPF stops the test when the process cannot load BPF programs: it
// fails under CI (where the machine must support it) and skips elsewhere,
// naming what is missing either way.
func RequireBPF(tb testing.TB) {
	tb.Helper()
	_ = rlimit.RemoveMemlock()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "MIT",
	})
	if err == nil {
		prog.Close()
		return
	}
	msg := "needs BPF_PROG_LOAD (root or CAP_BPF+CAP_PERFMON on Linux): " + err.Error()
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// Root returns the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Testdata returns the path of a file in the repository's testdata/.
func Testdata(name string) string {
	return filepath.Join(Root(), "testdata", name)
}

// OpenFDs counts the process's open file descriptors.
func OpenFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents)
}

// RequireTool stops the test when a command is missing: it fails under CI,
// where .ci/run installs it, and skips elsewhere.
func RequireTool(tb testing.TB, names ...string) {
	tb.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			msg := name + " is not installed (make deps installs it)"
			if os.Getenv("CI") != "" {
				tb.Fatal(msg)
			}
			tb.Skip(msg)
		}
	}
}

// BPFFS returns a directory on a bpf filesystem for pinning: a fresh bpffs
// mounted on a temporary directory, unmounted when the test ends.
func BPFFS(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		msg := "mount bpffs (needs CAP_SYS_ADMIN): " + err.Error()
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	tb.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// Kernel features a test may need and a kernel may lack. Each is a short
// name: the one that BPF2GO_SIGNED_ALLOW_SKIP lists and that skip messages
// carry as "[kernel-feature:NAME]".
const (
	// FeatureTracing: tracing programs (fentry/fexit, iterators), BPF_PROG_TYPE_TRACING.
	FeatureTracing = "tracing"
	// FeatureExtension: extension programs (freplace), BPF_PROG_TYPE_EXT.
	FeatureExtension = "extension"
	// FeatureLSM: the BPF LSM, active (bpf in /sys/kernel/security/lsm).
	FeatureLSM = "lsm"
	// FeatureMapHash: bpf_map_info.hash of frozen arrays (Linux 6.18+).
	FeatureMapHash = "map-hash"
	// FeatureBTF: kernel BTF, /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF).
	FeatureBTF = "btf"
	// FeatureStructOps: the struct_ops type the test fills (e.g.
	// tcp_congestion_ops, Linux 5.6+).
	FeatureStructOps = "struct-ops"
	// FeatureKfunc: the kfunc the test calls (e.g. bpf_iter_num_new, Linux 6.4+).
	FeatureKfunc = "kfunc"
	// FeatureTCX: tcx attachment (Linux 6.6+).
	FeatureTCX = "tcx"
	// FeatureTracefs: tracefs mounted (kprobe and syscall events).
	FeatureTracefs = "tracefs"
	// FeatureFullDigest: the whole SHA-256 of a program, struct
	// bpf_prog.digest (Linux 6.18+), read by a bpf_prog iterator.
	FeatureFullDigest = "full-digest"
)

var featureNames = map[string]string{
	FeatureTracing:    "tracing programs (fentry/fexit, iterators)",
	FeatureExtension:  "extension programs (freplace)",
	FeatureLSM:        "an active BPF LSM",
	FeatureMapHash:    "bpf_map_info.hash (Linux 6.18+)",
	FeatureBTF:        "kernel BTF (CONFIG_DEBUG_INFO_BTF)",
	FeatureStructOps:  "the struct_ops type the test fills",
	FeatureKfunc:      "the kfunc the test calls",
	FeatureTCX:        "tcx attachment (Linux 6.6+)",
	FeatureTracefs:    "tracefs",
	FeatureFullDigest: "struct bpf_prog.digest read by a bpf_prog iterator (Linux 6.18+, tracing programs)",
}

// MissingFeature is a probe's answer that the kernel lacks Feature (one of
// the Feature names); tests pass it to [SkipMissing].
type MissingFeature struct {
	Feature string
	Err     error
}

func (e *MissingFeature) Error() string { return featureNames[e.Feature] + ": " + e.Err.Error() }
func (e *MissingFeature) Unwrap() error { return e.Err }

// Lacks wraps a probe's error as a [MissingFeature]; nil stays nil.
func Lacks(feature string, err error) error {
	if err == nil {
		return nil
	}
	return &MissingFeature{feature, err}
}

// SkipMissing skips for a probe's error: through [SkipWithout] when it is
// a [MissingFeature], with a plain skip otherwise (not a kernel feature,
// e.g. the architecture; CI fails on those in the VMs).
func SkipMissing(tb testing.TB, err error) {
	tb.Helper()
	var mf *MissingFeature
	if errors.As(err, &mf) {
		SkipWithout(tb, mf.Feature, mf.Err)
	}
	tb.Skip(err)
}

// HostOnlyTag marks the skip of a kernel-independent test inside the
// kernel matrix's VMs (see [HostOnly]); scripts/vm/table.go accepts it.
const HostOnlyTag = "[host-only]"

// HostOnly skips a test inside the VMs of make test-kernels
// (BPF2GO_SIGNED_VM set) when its cost is kernel-independent work: the
// generator, clang and go build of user modules, which are 13–35× slower
// under QEMU's TCG and give the same answer on every kernel. The host run
// of make test runs them; the VMs run every test that asks the kernel
// something. why names the work that is kernel-independent.
func HostOnly(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("BPF2GO_SIGNED_VM") != "" {
		tb.Skipf("kernel-independent (%s): runs on the host, not in the kernel VMs %s", why, HostOnlyTag)
	}
}

// SkipWithFeature skips a test written for kernels that lack feature (it
// checks what happens without it) on a kernel that has it, naming the
// feature with a "[kernel-has:NAME]" tag. Such a skip is never a test
// that should have run: the kernel matrix accepts it on every kernel, and
// the same test runs on the kernels without the feature.
func SkipWithFeature(tb testing.TB, feature string) {
	tb.Helper()
	what := featureNames[feature]
	if what == "" {
		tb.Fatalf("SkipWithFeature: unknown kernel feature %q (add it to internal/testutil)", feature)
	}
	tb.Skipf("kernel has %s; this test is for kernels without it [kernel-has:%s]", what, feature)
}

// DefaultAllowedSkips are the kernel features CI tolerates missing when
// BPF2GO_SIGNED_ALLOW_SKIP is not set: those the CI host refuses (it loads
// no tracing, extension or LSM programs). scripts/vm/test-kernels sets the
// variable for the kernels it boots.
const DefaultAllowedSkips = FeatureTracing + "," + FeatureExtension + "," + FeatureLSM

// SkipWithout stops a test that needs a kernel feature the running kernel
// lacks; feature is one of the Feature names and err says how its probe
// failed. It skips, naming the feature. Under CI it fails instead, unless
// the feature is listed in BPF2GO_SIGNED_ALLOW_SKIP (comma-separated;
// default [DefaultAllowedSkips]): a CI machine must have every other
// feature, so a skip there would hide a test that never ran.
func SkipWithout(tb testing.TB, feature string, err error) {
	tb.Helper()
	what := featureNames[feature]
	if what == "" {
		tb.Fatalf("SkipWithout: unknown kernel feature %q (add it to internal/testutil)", feature)
	}
	msg := fmt.Sprintf("kernel lacks %s [kernel-feature:%s]: %v", what, feature, err)
	if os.Getenv("CI") != "" && !SkipAllowed(feature) {
		tb.Fatalf("%s; under CI only skips for %s are allowed (BPF2GO_SIGNED_ALLOW_SKIP)", msg, allowedSkips())
	}
	tb.Skip(msg)
}

// SkipAllowed reports whether CI tolerates a skip for the missing feature.
func SkipAllowed(feature string) bool {
	return slices.Contains(strings.Split(allowedSkips(), ","), feature)
}

func allowedSkips() string {
	if v, ok := os.LookupEnv("BPF2GO_SIGNED_ALLOW_SKIP"); ok {
		return v
	}
	return DefaultAllowedSkips
}

// TagAlgorithm is the running kernel's bpf_prog_info.tag algorithm as the
// project's probe reports it: measure.TagSHA256 on Linux 6.18+,
// measure.TagSHA1 before. Tests that compare tags use it (with
// measure.InsnDigest.KernelTag) instead of assuming one kernel.
func TagAlgorithm(tb testing.TB) string {
	tb.Helper()
	alg, err := measure.TagAlgorithm()
	if err != nil {
		tb.Fatal(err)
	}
	return alg
}

// ArraySource is the content source the kernel measurement reports for a
// frozen array with default options: measure.SourceKernel where the probe
// finds bpf_map_info.hash (Linux 6.18+), measure.SourceReadback before.
func ArraySource() string {
	if measure.HaveMapHash() == nil {
		return measure.SourceKernel
	}
	return measure.SourceReadback
}

// RequireStructOpsLink skips, naming the feature, unless the kernel has the
// struct_ops type bpf_struct_ops_<ops> and struct_ops links (the
// .struct_ops.link maps that cilium/ebpf creates with BPF_F_LINK, Linux
// 6.4+: struct bpf_struct_ops_link in the kernel's BTF). It returns the
// kernel's BTF.
func RequireStructOpsLink(tb testing.TB, ops string) *btf.Spec {
	tb.Helper()
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		SkipWithout(tb, FeatureBTF, err)
	}
	var s *btf.Struct
	if err := kernel.TypeByName("bpf_struct_ops_"+ops, &s); err != nil {
		SkipWithout(tb, FeatureStructOps, fmt.Errorf("no struct_ops for %s: %w", ops, err))
	}
	if err := kernel.TypeByName("bpf_struct_ops_link", &s); err != nil {
		SkipWithout(tb, FeatureStructOps, fmt.Errorf("no struct_ops links (BPF_F_LINK, Linux 6.4+): %w", err))
	}
	return kernel
}
