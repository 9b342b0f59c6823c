package measure

import (
	"errors"
	"testing"
)

// TestParseMapLoads: only what FormatMapLoads writes is accepted.
func TestParseMapLoads(t *testing.T) {
	good := []string{"", "0", "0 1+8 0 2+0", "1+4294967295"}
	for _, s := range good {
		loads, err := ParseMapLoads(s, 3)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got := FormatMapLoads(loads); got != s {
			t.Errorf("%q: formats back as %q", s, got)
		}
	}
	bad := []string{" ", "0 ", " 0", "0  1", "3", "-1", "+1", "01", "0+", "0+08", "0+-1", "0+4294967296", "a", "0+1+2", "1 2 3"}
	for _, s := range bad {
		if _, err := ParseMapLoads(s, 3); !errors.Is(err, ErrBadMapLoads) {
			t.Errorf("%q: %v, want %v", s, err, ErrBadMapLoads)
		}
	}
}

// TestLoadsSubsequence: the kernel's loads may lack some of the signed
// ones (dead code), never add, reorder or change one.
func TestLoadsSubsequence(t *testing.T) {
	signed := []MapLoad{{Map: 0}, {Map: 1, Value: true, Off: 8}, {Map: 0}, {Map: 2, Value: true}}
	tests := []struct {
		found []MapLoad
		ok    bool
	}{
		{signed, true},
		{nil, true},
		{[]MapLoad{{Map: 0}, {Map: 2, Value: true}}, true},
		{[]MapLoad{{Map: 1, Value: true, Off: 8}, {Map: 0}}, true},
		{[]MapLoad{{Map: 0}, {Map: 1, Value: true, Off: 0}, {Map: 0}, {Map: 2, Value: true}}, false}, // offset changed
		{[]MapLoad{{Map: 0}, {Map: 2, Value: true, Off: 8}, {Map: 0}, {Map: 2, Value: true}}, false}, // map changed
		{[]MapLoad{{Map: 0}, {Map: 1, Value: false, Off: 8}}, false},                                 // kind changed
		{[]MapLoad{{Map: 2, Value: true}, {Map: 0}}, false},                                          // reordered
		{append(signed, MapLoad{Map: 0}), false},                                                     // added
	}
	for i, tt := range tests {
		if got := loadsSubsequence(tt.found, signed); got != tt.ok {
			t.Errorf("case %d: %s against %s: %v, want %v", i, FormatMapLoads(tt.found), FormatMapLoads(signed), got, tt.ok)
		}
	}
}
