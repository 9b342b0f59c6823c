package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"

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

// FuzzSignInputs feeds Go source to the discovery of what "sign" signs:
// never a panic, one-line errors, and every object found is a plain
// NAME.o in the loader's directory whose envelope and plan the loader
// embeds. Memory stays bounded by the source.
func FuzzSignInputs(f *testing.F) {
	real, err := os.ReadFile(filepath.Join(testutil.Root(), "examples", "xdp", "filter_bpfel_signed.go"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	f.Add([]byte(generatedHeader + "\npackage p\n\n//go:embed a.o.intoto.json a.o.seal.json\nvar x []byte\n"))
	f.Add([]byte(generatedHeader + "\npackage p\n\n//go:embed \"../up.o.intoto.json\" `../up.o.seal.json`\nvar x []byte\n"))
	f.Add([]byte(generatedHeader + "\npackage p\n\n//go:embed *.o.intoto.json\nvar x embed.FS\n"))
	f.Add([]byte("package p\n\n//go:embed a.o.intoto.json a.o.seal.json\nvar x []byte\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		objs, err := signedObjects(src)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		patterns, _, _ := embedPatterns(src)
		for _, o := range objs {
			if !plainName(o) || !strings.HasSuffix(o, ".o") || filepath.Base(o) != o {
				t.Fatalf("object %q is not a plain NAME.o", o)
			}
			if !slices.Contains(patterns, o+attest.Suffix) || !slices.Contains(patterns, o+build.PlanSuffix) {
				t.Fatalf("object %q without its envelope and plan in %q", o, patterns)
			}
		}
		again, _ := signedObjects(src)
		if !slices.Equal(objs, again) {
			t.Fatalf("not deterministic: %q then %q", objs, again)
		}
	})
}
