package gen

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
)

// TestWriteIfChangedRefusesLinks: the generator's own outputs (envelope,
// plan, verifying loader) are never written through a link planted in
// the tree, dangling or not.
func TestWriteIfChangedRefusesLinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	os.Symlink(victim, filepath.Join(dir, "x.o.intoto.json"))
	os.Symlink(filepath.Join(outside, "new"), filepath.Join(dir, "x.o.seal.json"))
	for _, name := range []string{"x.o.intoto.json", "x.o.seal.json"} {
		if err := writeIfChanged(filepath.Join(dir, name), []byte("generated")); !errors.Is(err, safefs.ErrSymlink) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("written through the link: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(outside, "new")); err == nil {
		t.Error("the dangling link's target was created")
	}
	// Regular files are written, and left alone when unchanged.
	p := filepath.Join(dir, "x_signed.go")
	for range 2 {
		if err := writeIfChanged(p, []byte("generated")); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "generated" {
		t.Fatalf("%q", b)
	}
}
