package attest_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// sameAsEncodingJSON fails when decode accepts data that encoding/json
// refuses or reads differently into a T, or refuses encoding/json's own
// encoding of a T it read.
func sameAsEncodingJSON[T any](t *testing.T, data []byte, decode func([]byte) (*T, error)) {
	t.Helper()
	got, err := decode(data)
	var want T
	jerr := json.Unmarshal(data, &want)
	if err == nil {
		if jerr != nil {
			t.Fatalf("accepted what encoding/json refuses (%v): %q", jerr, data)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("read differently from encoding/json: %q\ngot  %+v\nwant %+v", data, *got, want)
		}
	}
	if jerr != nil {
		return
	}
	canonical, err := json.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	again, err := decode(canonical)
	if err != nil {
		t.Fatalf("refused encoding/json's encoding %s: %v", canonical, err)
	}
	var want2 T
	if err := json.Unmarshal(canonical, &want2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*again, want2) {
		t.Fatalf("read encoding/json's encoding differently: %s", canonical)
	}
}

// decodeSeeds are the envelopes this repository ships and a statement
// with every manifest field set.
func decodeSeeds(t testing.TB) (envelopes, statements [][]byte) {
	matches, _ := filepath.Glob(filepath.Join(testutil.Root(), "examples", "*", "*.intoto.json"))
	gate, _ := filepath.Glob(filepath.Join(testutil.Root(), "gate", "*", "*.intoto.json"))
	for _, path := range append(matches, gate...) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		envelopes = append(envelopes, raw)
		env, err := attest.DecodeEnvelope(raw)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		statements = append(statements, payload)
	}
	if len(envelopes) == 0 {
		t.Fatal("no envelopes in examples/")
	}
	full := &measure.Manifest{Version: 2, Digest: "d", MeasID: "i",
		Programs: []measure.Program{{Name: "p", Type: 1, AttachType: 2, Insns: 3,
			InsnDigest:   measure.InsnDigest{Target: "t", Digest: "d", Tag: "t", TagSHA1: "s"},
			Alternatives: []measure.InsnDigest{{Target: "x"}},
			Maps: []measure.Map{{MapDescriptor: measure.MapDescriptor{Name: "m", Type: 12, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: 128, MapExtra: 1 << 63},
				Sealed: true, Content: &measure.Content{Algorithm: "a", Hash: "h", Source: "s"},
				Params: []measure.Param{{Name: "n", Offset: 1, Size: 2}},
				Inner:  &measure.Map{MapDescriptor: measure.MapDescriptor{Type: 2}},
				Slots:  []measure.Slot{{Key: "00", Program: "p", Measurement: "m", Map: &measure.Map{Slots: []measure.Slot{}}}}}},
			Relocations: []measure.Relocation{{Insn: 7, Relocation: "r"}},
			MapLoads:    "0 1+8", Unsupported: []string{"u"}, Measurement: "m", MeasID: "i"}},
		StructOps: []measure.StructOps{{Name: "o", Type: "t", Flags: 1, Members: []measure.StructOpsMember{{Name: "f", Func: true, Program: "p"}, {Name: "d", Data: "00"}}}}}
	b, err := json.Marshal(&attest.Statement{Type: attest.StatementType, PredicateType: attest.PredicateType,
		Subject: []attest.Subject{{Name: "x.o", Digest: map[string]string{"sha256": "00"}}}, Predicate: full})
	if err != nil {
		t.Fatal(err)
	}
	statements = append(statements, b)
	return envelopes, statements
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	envelopes, statements := decodeSeeds(t)
	for _, raw := range envelopes {
		sameAsEncodingJSON(t, raw, attest.DecodeEnvelope)
	}
	for _, raw := range statements {
		sameAsEncodingJSON(t, raw, attest.DecodeStatement)
	}
	// What encoding/json reads leniently is refused, not read otherwise.
	for _, raw := range []string{
		`{"_type":"a","_TYPE":"b"}`,
		`{"predicateType":"a","predicateType":"b"}`,
		`{"subject":[{"name":"x","digest":{"sha256":"a","sha256":"b"}}]}`,
		`{"predicate":{"programs":[{"name":"p","Name":"q"}]}}`,
		`{"predicate":{"programs":[{"maps":[{"sealed":true,"SEALED":false}]}]}}`,
		`{"predicate":{"version":2.0}}`,
		`{"predicate":{"programs":[{"type":-1}]}}`,
		`{"_type":"\udead"}`,
	} {
		if _, err := attest.DecodeStatement([]byte(raw)); err == nil {
			t.Errorf("accepted %s", raw)
		}
		sameAsEncodingJSON(t, []byte(raw), attest.DecodeStatement)
	}
}

// FuzzDecodeMatchesEncodingJSON: the envelope and statement readers accept
// nothing encoding/json refuses or reads otherwise, and read everything
// encoding/json writes.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	envelopes, statements := decodeSeeds(f)
	for _, raw := range append(envelopes, statements...) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsEncodingJSON(t, raw, attest.DecodeEnvelope)
		sameAsEncodingJSON(t, raw, attest.DecodeStatement)
	})
}

// BenchmarkDecodeStatement: the statement of examples/xdp read by the
// reader loaders use and, as the baseline in the same run, by
// encoding/json into the same types.
func BenchmarkDecodeStatement(b *testing.B) {
	_, statements := decodeSeeds(b)
	payload := statements[0]
	b.Run("jsonread", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := attest.DecodeStatement(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			var st attest.Statement
			if err := json.Unmarshal(payload, &st); err != nil {
				b.Fatal(err)
			}
		}
	})
}
