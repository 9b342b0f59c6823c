package sealmap_test

import (
	"encoding/binary"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

// FuzzContents feeds untrusted contents files to ParseContents for a
// struct-valued array and an enum-valued hash map: no panic; what parses
// fits the map and round-trips through EncodeContents.
func FuzzContents(f *testing.F) {
	f.Add([]byte(configFile))
	f.Add([]byte(portsFile))
	f.Add([]byte(`{"entries":[{"key_hex":"00000000","value_hex":"01000000bb0101000000"}]}`))
	f.Add([]byte(`{"entries":[{"key":"0x1","value":{"tags":"ab","port":-1}}]}`))
	spec := sealedSpec(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, name := range []string{"config", "ports"} {
			ms := spec.Maps[name]
			entries, err := build.ParseContents(raw, ms, binary.NativeEndian)
			if err != nil {
				continue
			}
			if uint32(len(entries)) > ms.MaxEntries {
				t.Fatalf("%d entries for max_entries %d", len(entries), ms.MaxEntries)
			}
			for _, e := range entries {
				if uint32(len(e.Key)) != ms.KeySize || uint32(len(e.Value)) != ms.ValueSize {
					t.Fatalf("entry of %d/%d bytes", len(e.Key), len(e.Value))
				}
			}
			again, err := build.ParseContents(sealmap.EncodeContents(entries), ms, binary.NativeEndian)
			if err != nil || len(again) != len(entries) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

// FuzzPlan feeds untrusted sealing plans (embedded in generated code) to
// DecodePlan: no panic, and what decodes re-encodes to a plan that decodes
// the same.
func FuzzPlan(f *testing.F) {
	spec := sealedSpec(f)
	plan, err := build.Resolve(spec, sealedConfig(configFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plan.Encode())
	f.Add([]byte(`{"version":1,"sealed":["config"],"params":[],"contents":{}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := sealmap.DecodePlan(raw, sealedSpec(t))
		if err != nil {
			return
		}
		again, err := sealmap.DecodePlan(p.Encode(), sealedSpec(t))
		if err != nil || string(again.Encode()) != string(p.Encode()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
