package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CheckGenerated runs the bpf2go-signed go:generate line of goFile (in the
// current directory, package pkg) again in a copy of the inputs and the
// generated files, and fails for every generated file that does not come
// out byte for byte as committed: the generator is reproducible and the
// committed files are current. regenerate is the command the failure
// tells the developer to run.
func CheckGenerated(t *testing.T, goFile, pkg string, inputs, generated []string, regenerate string) {
	t.Helper()
	RequireTool(t, "clang-19", "llvm-strip-19")
	src, err := os.ReadFile(goFile)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate go run github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed "); ok {
			args = strings.Fields(rest)
		}
	}
	if args == nil {
		t.Fatalf("%s has no bpf2go-signed go:generate line", goFile)
	}
	dir := t.TempDir()
	for _, f := range append(append([]string{}, inputs...), generated...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Run the generator in the copy, as go generate would run it in the
	// package directory.
	bin := filepath.Join(t.TempDir(), "bpf2go-signed")
	build := exec.Command("go", "build", "-o", bin, "github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPACKAGE="+pkg, "GOFILE="+goFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	for _, f := range generated {
		want, _ := os.ReadFile(f)
		got, _ := os.ReadFile(filepath.Join(dir, f))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: regenerated file differs from the committed one; run %s and commit", f, regenerate)
		}
	}
}
