package measure

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// FuzzLowerHex: lowerHex accepts exactly the strings that are n bytes in
// lowercase hex, and decodes them as encoding/hex does.
func FuzzLowerHex(f *testing.F) {
	for _, s := range []string{"", "00", "0a", "0A", "0g", "abcdef0123456789", "ABCDEF0123456789", "0", "000"} {
		f.Add(s, 1)
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 64 {
			return
		}
		want, err := hex.DecodeString(s)
		ok := err == nil && len(want) == n && strings.ToLower(s) == s
		got := make([]byte, n)
		if lowerHex(got, s) != ok {
			t.Fatalf("lowerHex(%q, %d bytes) = %v, want %v", s, n, !ok, ok)
		}
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("lowerHex(%q) = %x, want %x", s, got, want)
		}
		if ok != isHexOf(s, got) && ok {
			t.Fatalf("isHexOf(%q, %x) = false", s, got)
		}
	})
}
