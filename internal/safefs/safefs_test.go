package safefs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
)

// tree is a directory with a regular file, a link to it, a dangling link,
// a link leaving the tree, a FIFO, a subdirectory and a link to it.
func tree(t *testing.T) (dir, outside string) {
	t.Helper()
	dir, outside = t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("contents"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "target"), []byte("outside"), 0o644))
	must(os.Symlink("file", filepath.Join(dir, "link")))
	must(os.Symlink("missing", filepath.Join(dir, "dangling")))
	must(os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "escape")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "file"), []byte("deep"), 0o644))
	must(os.Symlink(outside, filepath.Join(dir, "sublink")))
	return dir, outside
}

func TestReadFile(t *testing.T) {
	dir, _ := tree(t)
	d, err := safefs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if b, err := d.ReadFile("file", 100); err != nil || string(b) != "contents" {
		t.Fatalf("regular file: %q, %v", b, err)
	}
	tests := []struct {
		name string
		want error
	}{
		{"link", safefs.ErrSymlink},
		{"dangling", safefs.ErrSymlink},
		{"escape", safefs.ErrSymlink},
		{"fifo", safefs.ErrNotRegular},
		{"sub", safefs.ErrNotRegular},
		{"missing", fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.ReadFile(tt.name, 100)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), filepath.Join(dir, tt.name)) {
				t.Fatalf("%v, want %v naming the path", err, tt.want)
			}
		})
	}
	if _, err := d.ReadFile("file", 3); !errors.Is(err, safefs.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	for _, name := range []string{"", ".", "..", "sub/file", "../x"} {
		if _, err := d.ReadFile(name, 100); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

func TestSub(t *testing.T) {
	dir, _ := tree(t)
	d, err := safefs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sub, err := d.Sub("sub")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := sub.ReadFile("file", 100); err != nil || string(b) != "deep" {
		t.Fatalf("%q %v", b, err)
	}
	sub.Close()
	for _, rel := range []string{"sublink", "link", "sub/../sublink"} {
		if _, err := d.Sub(rel); err == nil {
			t.Errorf("Sub(%q) followed a link or a file", rel)
		}
	}
	if _, err := d.Sub("sublink"); !errors.Is(err, safefs.ErrSymlink) {
		t.Errorf("Sub through a link: %v", err)
	}
	if _, err := d.Sub("../x"); err == nil {
		t.Error("Sub above the directory")
	}
}

func TestWriteFile(t *testing.T) {
	dir, outside := tree(t)
	d, err := safefs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// New and replaced regular files.
	for _, name := range []string{"new", "file"} {
		if err := d.WriteFile(name, []byte("written"), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != "written" {
			t.Fatalf("%s: %q", name, b)
		}
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{"escape", safefs.ErrSymlink},
		{"dangling", safefs.ErrSymlink},
		{"fifo", safefs.ErrNotRegular},
		{"sub", safefs.ErrNotRegular},
	} {
		if err := d.WriteFile(tt.name, []byte("evil"), 0o644); !errors.Is(err, tt.want) {
			t.Errorf("write %s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "target")); string(b) != "outside" {
		t.Errorf("the link's target was written: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(outside, "missing")); err == nil {
		t.Error("the dangling link's target was created")
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); err == nil {
		t.Error("the dangling link's target was created")
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left %s", e.Name())
		}
	}
}

func TestCreateExclusive(t *testing.T) {
	dir, outside := tree(t)
	d, err := safefs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if err := d.CreateExclusive("key", []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "key"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode())
	}
	for _, name := range []string{"key", "file", "dangling", "escape", "fifo"} {
		if err := d.CreateExclusive(name, []byte("secret"), 0o600); !errors.Is(err, fs.ErrExist) {
			t.Errorf("create over %s: %v, want ErrExist", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); err == nil {
		t.Error("created the dangling link's target")
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "target")); string(b) != "outside" {
		t.Errorf("wrote through a link: %q", b)
	}
}

// TestReadRegular: an operator-named path may be a link, but must lead to
// a regular file of bounded size; FIFOs and devices are refused without
// blocking or reading forever.
func TestReadRegular(t *testing.T) {
	dir, _ := tree(t)
	if b, err := safefs.ReadRegular(filepath.Join(dir, "link"), 100); err != nil || string(b) != "contents" {
		t.Fatalf("through a link: %q %v", b, err)
	}
	for _, p := range []string{filepath.Join(dir, "fifo"), "/dev/zero", dir} {
		if _, err := safefs.ReadRegular(p, 100); !errors.Is(err, safefs.ErrNotRegular) {
			t.Errorf("%s: %v, want ErrNotRegular", p, err)
		}
	}
	if _, err := safefs.ReadRegular(filepath.Join(dir, "file"), 3); !errors.Is(err, safefs.ErrTooLarge) || strings.Contains(err.Error(), "\n") {
		t.Errorf("over the limit: %v", err)
	}
}
