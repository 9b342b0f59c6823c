// Package testutil holds helpers shared by the project's tests.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
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
