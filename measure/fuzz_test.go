package measure_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// FuzzManifest feeds untrusted manifests (the predicate of an envelope) to
// Check: no panic, and a manifest that checks keeps its digest through a
// JSON round trip.
func FuzzManifest(f *testing.F) {
	for _, name := range []string{"globals", "maps", "subprog"} {
		m, err := measure.Collection(loadSpec(f, name))
		if err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	// Slots of a sealed program array (tail calls in a cycle) and of a
	// map of maps holding a sealed map.
	for name, sealed := range map[string][]string{"tailcall": {"jmp"}, "mapinmap": {"policies", "policy"}} {
		m, err := measure.CollectionWithOptions(loadSpec(f, name), &measure.Options{Sealed: sealed})
		if err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte(`{"version":2,"programs":[{"name":"p","maps":[{"sealed":true,"params":[{"name":"x","offset":4294967295,"size":2}]}]}]}`))
	f.Add([]byte(`{"version":2,"programs":[{"name":"p","maps":[{"type":3,"key_size":4,"sealed":true,"slots":[{"key":"00000000","program":"p"},{"key":"00000000","program":"p"}]}]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// ParseManifest accepts nothing encoding/json refuses or reads
		// otherwise, and reads what encoding/json writes.
		var m measure.Manifest
		jerr := json.Unmarshal(raw, &m)
		if got, err := measure.ParseManifest(raw); err == nil {
			if jerr != nil || !reflect.DeepEqual(*got, m) {
				t.Fatalf("ParseManifest: %+v, encoding/json: %+v (%v)", *got, m, jerr)
			}
		} else if !errors.Is(err, measure.ErrBadManifest) {
			t.Fatalf("ParseManifest error does not wrap ErrBadManifest: %v", err)
		}
		if jerr != nil {
			return
		}
		if canonical, err := json.Marshal(&m); err != nil {
			t.Fatal(err)
		} else {
			var want measure.Manifest
			got, err := measure.ParseManifest(canonical)
			if json.Unmarshal(canonical, &want) != nil || err != nil || !reflect.DeepEqual(*got, want) {
				t.Fatalf("ParseManifest of encoding/json's %s: %v", canonical, err)
			}
		}
		if m.Check() != nil {
			return
		}
		b, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		var again measure.Manifest
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatal(err)
		}
		if err := again.Check(); err != nil || again.Digest != m.Digest {
			t.Fatalf("round trip: %v, digest %s → %s", err, m.Digest, again.Digest)
		}
	})
}
