package measure

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckOwnDigest: the full-digest backend is refused unless the
// iterator reports, for its own program, 32 bytes that begin with the tag
// the kernel gave for it (wrong offsets in struct bpf_prog would read
// other bytes).
func TestCheckOwnDigest(t *testing.T) {
	const tag = "0123456789abcdef"
	good := tag + strings.Repeat("ab", 24)
	tests := []struct {
		name    string
		digests map[uint32]string
		ok      bool
	}{
		{"own digest", map[uint32]string{7: good, 8: strings.Repeat("00", 32)}, true},
		{"own program missing", map[uint32]string{8: good}, false},
		{"other tag", map[uint32]string{7: "fedcba9876543210" + good[16:]}, false},
		{"tag bytes elsewhere", map[uint32]string{7: good[16:] + tag}, false},
		{"short", map[uint32]string{7: tag}, false},
		{"empty", map[uint32]string{7: ""}, false},
		{"no read", nil, false},
	}
	for _, tt := range tests {
		err := checkOwnDigest(tt.digests, 7, tag)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil && !errors.Is(err, ErrNoFullDigest) {
			t.Errorf("%s: %v does not wrap ErrNoFullDigest", tt.name, err)
		}
	}
}
