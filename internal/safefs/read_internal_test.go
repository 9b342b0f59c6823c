package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadBoundedGrown: a file that grew after Stat is read whole when it
// stays within the limit, and refused when it grew past it; the buffer
// sized from Stat is no limit of its own.
func TestReadBoundedGrown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		size, max int64
		ok        bool
	}{
		{5000, 5000, true},
		{10, 5000, true}, // grew after Stat, within the limit
		{0, 5000, true},
		{10, 4999, false}, // grew past the limit
		{5000, 4999, false},
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := readBounded(f, path, tt.size, tt.max)
		f.Close()
		switch {
		case tt.ok && (err != nil || len(b) != 5000):
			t.Errorf("size %d, max %d: %d bytes, %v", tt.size, tt.max, len(b), err)
		case !tt.ok && !errors.Is(err, ErrTooLarge):
			t.Errorf("size %d, max %d: %v, want ErrTooLarge", tt.size, tt.max, err)
		}
	}
}
