package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// FuzzMeasureObject feeds untrusted files to "measure object": exit status
// 0 or 1, one error line, never a panic.
func FuzzMeasureObject(f *testing.F) {
	for _, name := range []string{"xdp_bpfel.o", "subprog_bpfel.o", "socket_bpfeb.o", "noprog_bpfel.o"} {
		b, err := os.ReadFile(testutil.Testdata(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x7fELF"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		path := filepath.Join(dir, "in.o")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCLI("measure", "object", path, "-j")
		switch code {
		case 0:
			if stderr != "" || !strings.HasPrefix(stdout, "{") {
				t.Fatalf("success with stderr %q stdout %q", stderr, stdout)
			}
		case 1:
			if strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Fatalf("failure output: stdout %q stderr %q", stdout, stderr)
			}
		default:
			t.Fatalf("exit status %d: %s", code, stderr)
		}
	})
}
