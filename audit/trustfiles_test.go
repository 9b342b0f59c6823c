package audit_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
)

// TestTrustDirFileLimits: a trust directory's files are read bounded and
// only when regular; a FIFO or an oversized file fails the load with an
// error naming it instead of blocking or filling memory.
func TestTrustDirFileLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
		want error
	}{
		// A FIFO itself is not listed (only regular files and links
		// are); a link to one is followed and refused.
		{"fifo key", func(t *testing.T, p string) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(fifo, p); err != nil {
				t.Fatal(err)
			}
		}, safefs.ErrNotRegular},
		{"huge key", func(t *testing.T, p string) { sparse(t, p, audit.MaxKeyFile+1) }, safefs.ErrTooLarge},
		{"huge envelope", func(t *testing.T, p string) { sparse(t, p, audit.MaxEnvelopeFile+1) }, safefs.ErrTooLarge},
		{"huge object", func(t *testing.T, p string) { sparse(t, p, audit.MaxObjectFile+1) }, safefs.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := trustDir(t)
			name := map[string]string{"fifo key": "other.pub", "huge key": "other.pub",
				"huge envelope": "other.o.intoto.json", "huge object": "other.o"}[tc.name]
			path := filepath.Join(dir, name)
			tc.make(t, path)
			done := make(chan error, 1)
			go func() { _, err := audit.LoadTrustDir(dir); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), name) {
					t.Fatalf("LoadTrustDir: %v, want %v naming %s", err, tc.want, name)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("LoadTrustDir blocked on", name)
			}
		})
	}
}

// sparse makes a file of size bytes without writing them.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}
