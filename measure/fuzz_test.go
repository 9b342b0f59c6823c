package measure_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// sealedAsIs is what Check means, written the plain way: a manifest
// checks when sealing a deep copy of it changes nothing (Seal sorts the
// programs and computes every derived field) and it has something to
// measure. Check computes the same without a copy and without encoding
// hex; FuzzCheckIsSealedAsIs holds the two together.
func sealedAsIs(m *measure.Manifest) error {
	if len(m.Programs) == 0 && len(m.StructOps) == 0 {
		return measure.ErrNoPrograms
	}
	before, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var cp measure.Manifest
	if err := json.Unmarshal(before, &cp); err != nil {
		return err
	}
	if err := cp.Seal(); err != nil {
		return err
	}
	after, err := json.Marshal(&cp)
	if err != nil {
		return err
	}
	if !bytes.Equal(before, after) {
		return fmt.Errorf("sealing changes it")
	}
	return nil
}

func checkSeeds(f *testing.F) {
	for name, sealed := range map[string][]string{"globals": nil, "maps": nil, "subprog": nil, "tailcall": {"jmp"}, "mapinmap": {"policies", "policy"}} {
		m, err := measure.CollectionWithOptions(loadSpec(f, name), &measure.Options{Sealed: sealed})
		if err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(m)
		f.Add(b)
		// The same with a derived field off by one digit, one at a time.
		for _, s := range []*string{&m.Digest, &m.MeasID, &m.Programs[0].Measurement, &m.Programs[0].MeasID} {
			old := *s
			*s = "0" + old[1:]
			if *s == old {
				*s = "1" + old[1:]
			}
			b, _ := json.Marshal(m)
			f.Add(b)
			*s = old
		}
	}
	f.Add([]byte(`{"version":2,"programs":[{"name":"b"},{"name":"a"}]}`))
	f.Add([]byte(`{"version":2,"programs":[{"name":"p","maps":[{"type":3,"key_size":4,"sealed":true,"slots":[{"key":"00000000","program":"p"}]}]}]}`))
}

// FuzzCheckIsSealedAsIs: Check accepts exactly the manifests that sealing
// leaves as they are (and that measure something).
func FuzzCheckIsSealedAsIs(f *testing.F) {
	checkSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m measure.Manifest
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		before, _ := json.Marshal(&m)
		got, want := m.Check(), sealedAsIs(&m)
		if (got == nil) != (want == nil) {
			t.Fatalf("Check: %v; sealing a copy: %v\n%s", got, want, raw)
		}
		if after, _ := json.Marshal(&m); !bytes.Equal(before, after) {
			t.Fatalf("Check modified the manifest")
		}
	})
}
