package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestMain lets tests run this package's command in a child process: with
// BPF2GO_SIGNED_CHILD=cli the test binary is bpf2go-signed, with
// BPF2GO_SIGNED_CHILD=alloc it allocates and touches the given number of
// MiB (the control for memory limits).
func TestMain(m *testing.M) {
	switch os.Getenv("BPF2GO_SIGNED_CHILD") {
	case "cli":
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	case "alloc":
		var mib int
		fmt.Sscan(os.Args[1], &mib)
		b := make([]byte, mib<<20)
		for i := range b {
			b[i] = 1
		}
		runtime.KeepAlive(b)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childLimit runs this test binary in mode with args under a data segment
// limit (RLIMIT_DATA, "ulimit -d": the heap a process may commit) of
// limitMiB, with GOMEMLIMIT at half of it, and returns its output, exit
// status and peak resident size. "ulimit -v" (RLIMIT_AS) is not used: the
// Go runtime reserves address space it never commits, and under an
// address-space limit it fails at random points unrelated to the input.
func childLimit(t *testing.T, limitMiB int, mode string, args ...string) (stdout, stderr string, code int, maxRSSMiB int64) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`ulimit -d %d && exec "$0" "$@"`, limitMiB<<10)
	cmd := exec.Command("sh", append([]string{"-c", script, exe}, args...)...)
	cmd.Env = append(os.Environ(), "BPF2GO_SIGNED_CHILD="+mode, "GOMEMLIMIT="+fmt.Sprint(limitMiB/2)+"MiB")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return out.String(), errb.String(), cmd.ProcessState.ExitCode(), ru.Maxrss >> 10
}

// TestHostileObjectsUnderMemoryLimit measures hostile objects in a child
// process whose heap is limited to 192 MiB: each gives exit status 1 and
// one line naming what is too large, never "out of memory". A valid
// object with a 768 MiB sealed array is hashed as a stream within the
// limit. A control shows that the limit does stop a 768 MiB allocation.
func TestHostileObjectsUnderMemoryLimit(t *testing.T) {
	const limit = 192
	// The Go runtime dies in more than one way when the kernel refuses it
	// memory ("out of memory", or a fault); any death will do.
	if _, stderr, code, _ := childLimit(t, limit, "alloc", "768"); code == 0 {
		t.Fatalf("control: allocating 768 MiB under a %d MiB limit succeeded (%q); the limit does not work here", limit, stderr)
	}
	tests := []struct {
		object, want string
	}{
		{"hugemap_bpfel.o", "map huge: too large: an array of 4294967295 × 1048576-byte values holds 4.0 PiB, more than the 1 GiB measurement v2 hashes"},
		{"hugebss_bpfel.o", "too large: section .bss declares 4294967280 zero bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.object, func(t *testing.T) {
			path := testutil.Testdata(tt.object)
			stdout, stderr, code, rss := childLimit(t, limit, "cli", "measure", "object", path)
			if code != 1 || stdout != "" || strings.Contains(stderr, "fatal error") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q: want status 1 and one line saying %q", code, stdout, stderr, tt.want)
			}
			t.Logf("%s (peak RSS %d MiB)", strings.TrimSpace(stderr), rss)
		})
	}
	t.Run("bigmap_bpfel.o", func(t *testing.T) {
		stdout, stderr, code, rss := childLimit(t, limit, "cli", "measure", "object", testutil.Testdata("bigmap_bpfel.o"), "-j")
		if code != 0 || !strings.Contains(stdout, `"sealed":true`) {
			t.Fatalf("exit %d, stderr %q, stdout %.200q", code, stderr, stdout)
		}
		if rss > limit {
			t.Errorf("peak RSS %d MiB over the %d MiB limit", rss, limit)
		}
		t.Logf("768 MiB sealed array measured with a peak RSS of %d MiB", rss)
	})
}
