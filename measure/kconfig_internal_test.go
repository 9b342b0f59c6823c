package measure

import (
	"encoding/hex"
	"testing"
)

// TestPutConfigValue: kernel config values written into externs of each
// size, as cilium/ebpf and libbpf write them, and the values they refuse.
func TestPutConfigValue(t *testing.T) {
	le := NativeOrder.PutUint32
	u32 := func(v uint32) string { b := make([]byte, 4); le(b, v); return hex.EncodeToString(b) }
	tests := []struct {
		value string
		size  int
		want  string // hex, "" for an error
	}{
		{"y", 1, "01"}, {"n", 1, "00"}, {"m", 1, ""},
		{"y", 4, u32(1)}, {"m", 4, u32(2)}, {"n", 4, u32(0)}, {"y", 2, ""},
		{`"abc"`, 5, "6162630000"}, {`"abcdef"`, 3, "616263"}, {`"abc`, 4, ""},
		{"250", 4, u32(250)}, {"0x10", 4, u32(16)}, {"-1", 1, "ff"}, {"7", 3, ""}, {"x1", 4, ""},
	}
	for _, tt := range tests {
		data := make([]byte, tt.size)
		err := putConfigValue(data, tt.value)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s into %d bytes: %x, want an error", tt.value, tt.size, data)
		case tt.want != "" && err != nil:
			t.Errorf("%s into %d bytes: %v", tt.value, tt.size, err)
		case tt.want != "" && hex.EncodeToString(data) != tt.want:
			t.Errorf("%s into %d bytes: %x, want %s", tt.value, tt.size, data, tt.want)
		}
	}
}
