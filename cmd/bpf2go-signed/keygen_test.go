package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withPasswordHook makes keygen's password prompt run plant first: what
// another process could do while the prompt waits.
func withPasswordHook(t *testing.T, plant func()) {
	t.Helper()
	old := keygenPassword
	keygenPassword = func() ([]byte, error) {
		plant()
		return []byte("pw"), nil
	}
	t.Cleanup(func() { keygenPassword = old })
}

func lstatMode(path string) (fs.FileMode, bool) {
	st, err := os.Lstat(path)
	if err != nil {
		return 0, false
	}
	return st.Mode(), true
}

// TestKeygenModes: a fresh pair is created with mode 0600 for the private
// key; an existing pair is refused, and replaced with --force.
func TestKeygenModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	t.Setenv("COSIGN_PASSWORD", "pw")
	prefix := filepath.Join(t.TempDir(), "k")
	if _, stderr, code := runCLI("keygen", "--output-key-prefix", prefix); code != 0 {
		t.Fatal(stderr)
	}
	if m, _ := lstatMode(prefix + ".key"); m != 0o600 {
		t.Errorf("private key mode %v, want 0600", m)
	}
	if m, _ := lstatMode(prefix + ".pub"); m != 0o644 {
		t.Errorf("public key mode %v, want 0644", m)
	}
	first, _ := os.ReadFile(prefix + ".key")
	if _, stderr, code := runCLI("keygen", "--output-key-prefix", prefix); code != 1 || !strings.Contains(stderr, "exists") {
		t.Fatalf("second keygen: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(prefix + ".key"); string(b) != string(first) {
		t.Fatal("the existing key was overwritten without --force")
	}
	// --force replaces regular files, also one with looser permissions,
	// and the private key ends with mode 0600.
	os.Chmod(prefix+".key", 0o666)
	if _, stderr, code := runCLI("keygen", "--force", "--output-key-prefix", prefix); code != 0 {
		t.Fatal(stderr)
	}
	if b, _ := os.ReadFile(prefix + ".key"); string(b) == string(first) {
		t.Error("--force did not replace the key")
	}
	if m, _ := lstatMode(prefix + ".key"); m != 0o600 {
		t.Errorf("replaced private key mode %v, want 0600", m)
	}
}

// TestKeygenRefusesLinks: a link (dangling or not) at either name is
// refused, with or without --force, and nothing is written through it.
func TestKeygenRefusesLinks(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "pw")
	for _, name := range []string{"k.key", "k.pub"} {
		for _, force := range []bool{false, true} {
			for _, dangling := range []bool{false, true} {
				dir, outside := t.TempDir(), t.TempDir()
				target := filepath.Join(outside, "target")
				if !dangling {
					os.WriteFile(target, []byte("precious"), 0o644)
				}
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
				args := []string{"keygen", "--output-key-prefix", filepath.Join(dir, "k")}
				if force {
					args = append(args, "--force")
				}
				_, stderr, code := runCLI(args...)
				if code != 1 || strings.Count(stderr, "\n") != 1 {
					t.Errorf("%s link (force %v, dangling %v): exit %d, %q", name, force, dangling, code, stderr)
				}
				b, err := os.ReadFile(target)
				switch {
				case dangling && !errors.Is(err, fs.ErrNotExist):
					t.Errorf("%s: the dangling link's target was created", name)
				case !dangling && string(b) != "precious":
					t.Errorf("%s: written through the link: %q", name, b)
				}
				for _, n := range []string{"k.key", "k.pub"} {
					if m, ok := lstatMode(filepath.Join(dir, n)); ok && n != name && m.IsRegular() {
						t.Errorf("%s link: %s was written anyway", name, n)
					}
				}
			}
		}
	}
}

// TestKeygenPromptRace: files and links created while the password
// prompt waits are never written to: keygen creates its files with O_EXCL
// and O_NOFOLLOW after the prompt, and leaves no half pair.
func TestKeygenPromptRace(t *testing.T) {
	tests := []struct {
		name  string
		force bool
		plant func(dir, outside string) error
		check func(t *testing.T, dir, outside string)
	}{
		{"regular private key file", false, func(dir, _ string) error {
			return os.WriteFile(filepath.Join(dir, "k.key"), []byte("attacker"), 0o666)
		}, func(t *testing.T, dir, _ string) {
			if b, _ := os.ReadFile(filepath.Join(dir, "k.key")); string(b) != "attacker" {
				t.Errorf("the planted file received %q", b)
			}
		}},
		{"link for the private key", false, func(dir, outside string) error {
			return os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(dir, "k.key"))
		}, nil},
		{"link for the public key", false, func(dir, outside string) error {
			return os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(dir, "k.pub"))
		}, nil},
		{"link for the private key, --force", true, func(dir, outside string) error {
			return os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(dir, "k.key"))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			withPasswordHook(t, func() {
				if err := tt.plant(dir, outside); err != nil {
					t.Error(err)
				}
			})
			args := []string{"keygen", "--output-key-prefix", filepath.Join(dir, "k")}
			if tt.force {
				args = append(args, "--force")
			}
			_, stderr, code := runCLI(args...)
			if code != 1 || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, %q: want a refusal", code, stderr)
			}
			t.Log(strings.TrimSpace(stderr))
			if _, err := os.Lstat(filepath.Join(outside, "stolen")); err == nil {
				t.Error("a key was written through the planted link")
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if e.Type().IsRegular() && e.Name() != "k.key" || strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("left %s behind", e.Name())
				}
			}
			if tt.check != nil {
				tt.check(t, dir, outside)
			}
		})
	}
}
