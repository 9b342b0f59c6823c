package measure_test

import (
	"encoding/json"
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
	f.Add([]byte(`{"version":1,"programs":[{"name":"p","maps":[{"sealed":true,"params":[{"name":"x","offset":4294967295,"size":2}]}]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m measure.Manifest
		if json.Unmarshal(raw, &m) != nil || m.Check() != nil {
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
