package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestGeneratedUpToDate runs this package's go:generate line again in a
// copy of the package and checks that every generated file comes out byte
// for byte as committed: the generator is reproducible and the committed
// files are current.
func TestGeneratedUpToDate(t *testing.T) {
	testutil.RequireTool(t, "clang-19", "llvm-strip-19")
	src, err := os.ReadFile("main.go")
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
		t.Fatal("no go:generate line")
	}
	generated := []string{"filter_bpfel.go", "filter_bpfel.o", "filter_bpfel.o.intoto.json", "filter_bpfel.o.seal.json", "filter_bpfel_signed.go"}
	dir := t.TempDir()
	for _, f := range append([]string{"filter.c", "blocked_ports.json", "demo.key"}, generated...) {
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
	cmd.Env = append(os.Environ(), "GOPACKAGE=main", "GOFILE=main.go")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	for _, f := range generated {
		want, _ := os.ReadFile(f)
		got, _ := os.ReadFile(filepath.Join(dir, f))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: regenerated file differs from the committed one; run go generate ./examples/xdp and commit", f)
		}
	}
}
