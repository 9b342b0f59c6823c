package sealmap_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

func sealedSpec(tb testing.TB) *ebpf.CollectionSpec {
	tb.Helper()
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("sealed_bpfel.o"))
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}

// config value: struct config { u32 action; u16 port; u8 enabled; u8 tags[3]; } packed, 10 bytes.
func configValue(action uint32, port uint16, enabled uint8, tags ...byte) string {
	b := binary.NativeEndian.AppendUint32(nil, action)
	b = binary.NativeEndian.AppendUint16(b, port)
	b = append(b, enabled)
	t := make([]byte, 3)
	copy(t, tags)
	return hex.EncodeToString(append(b, t...))
}

func TestParseContents(t *testing.T) {
	spec := sealedSpec(t)
	key := func(i uint32) string { return hex.EncodeToString(binary.NativeEndian.AppendUint32(nil, i)) }
	port := func(p uint16) string { return hex.EncodeToString(binary.NativeEndian.AppendUint16(nil, p)) }
	tests := []struct {
		name, mapName, file string
		// want is key_hex=value_hex pairs, in file order.
		want []string
		err  string
	}{
		{"typed struct", "config", `{"entries":[{"key":0,"value":{"action":1,"port":443,"enabled":1,"tags":[7,8]}}]}`,
			[]string{key(0) + "=" + configValue(1, 443, 1, 7, 8)}, ""},
		{"hex", "config", `{"entries":[{"key_hex":"` + key(3) + `","value_hex":"` + configValue(0, 80, 0) + `"}]}`,
			[]string{key(3) + "=" + configValue(0, 80, 0)}, ""},
		{"typed key, hex value", "config", `{"entries":[{"key":2,"value_hex":"` + configValue(5, 5, 5) + `"}]}`,
			[]string{key(2) + "=" + configValue(5, 5, 5)}, ""},
		{"hex integer string", "config", `{"entries":[{"key":"0x1","value":{"port":"0x50"}}]}`,
			[]string{key(1) + "=" + configValue(0, 80, 0)}, ""},
		{"enum by name", "ports", `{"entries":[{"key":22,"value":"VERDICT_DROP"},{"key":80,"value":0}]}`,
			[]string{port(22) + "=01000000", port(80) + "=00000000"}, ""},
		{"empty", "ports", `{"entries":[]}`, nil, ""},

		{"not JSON", "config", `entries: 1`, nil, "want '{'"},
		{"truncated", "config", `{"entries":[{"key":0,`, nil, "the end of the document"},
		{"no entries", "config", `{}`, nil, `no "entries" array`},
		{"unknown field", "config", `{"entries":[],"extra":1}`, nil, `unknown field "extra"`},
		{"trailing data", "config", `{"entries":[]} {}`, nil, "data after the document"},
		{"index out of range", "config", `{"entries":[{"key":4,"value_hex":"` + configValue(0, 0, 0) + `"}]}`, nil, "index 4 out of range"},
		{"too many entries", "config", `{"entries":[{"key":0,"value":{}},{"key":1,"value":{}},{"key":2,"value":{}},{"key":3,"value":{}},{"key":0,"value":{}}]}`, nil, "at most 4 (max_entries)"},
		{"duplicate key", "ports", `{"entries":[{"key":22,"value":1},{"key":22,"value":0}]}`, nil, "same key as entries[0]"},
		{"value hex too short", "config", `{"entries":[{"key":0,"value_hex":"0102"}]}`, nil, "value_hex has 2 bytes, the map's value size is 10"},
		{"key hex too long", "ports", `{"entries":[{"key_hex":"010203","value":0}]}`, nil, "key_hex has 3 bytes, the map's key size is 2"},
		{"bad hex", "ports", `{"entries":[{"key_hex":"zz","value":0}]}`, nil, "key_hex"},
		{"both forms", "ports", `{"entries":[{"key":1,"key_hex":"0100","value":0}]}`, nil, "both key and key_hex"},
		{"missing value", "ports", `{"entries":[{"key":1}]}`, nil, "no value"},
		{"integer overflow", "ports", `{"entries":[{"key":65536,"value":0}]}`, nil, "does not fit a 2-byte unsigned integer"},
		{"negative unsigned", "ports", `{"entries":[{"key":-1,"value":0}]}`, nil, "does not fit"},
		{"unknown member", "config", `{"entries":[{"key":0,"value":{"speed":1}}]}`, nil, `no member "speed" (members: action, port, enabled, tags)`},
		{"unknown enum", "ports", `{"entries":[{"key":1,"value":"VERDICT_MAYBE"}]}`, nil, `"VERDICT_MAYBE" is not a value of enum verdict`},
		{"array too long", "config", `{"entries":[{"key":0,"value":{"tags":[1,2,3,4]}}]}`, nil, "4 elements do not fit an array of 3"},
		{"wrong shape", "config", `{"entries":[{"key":0,"value":[1,2]}]}`, nil, "want a JSON object for struct config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := build.ParseContents([]byte(tt.file), spec.Maps[tt.mapName], binary.NativeEndian)
			if tt.err != "" {
				if !errors.Is(err, sealmap.ErrBadContents) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want ErrBadContents saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, hex.EncodeToString(e.Key)+"="+hex.EncodeToString(e.Value))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			// The raw form the generator embeds reads back to the same entries.
			again, err := build.ParseContents(sealmap.EncodeContents(entries), spec.Maps[tt.mapName], binary.NativeEndian)
			if err != nil || len(again) != len(entries) {
				t.Fatalf("EncodeContents does not round-trip: %v", err)
			}
		})
	}
}
