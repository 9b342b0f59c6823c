package sealmap

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
)

// sameAsEncodingJSON fails when decode accepts data that encoding/json,
// refusing unknown fields, refuses or reads differently.
func sameAsEncodingJSON[T any](t *testing.T, data []byte, decode func([]byte) (*T, error)) {
	t.Helper()
	got, err := decode(data)
	if err != nil {
		return
	}
	var want T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	jerr := dec.Decode(&want)
	if jerr == nil {
		if _, end := dec.Token(); end != io.EOF {
			jerr = end
		}
	}
	if jerr != nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("%q: read %+v, encoding/json %+v (%v)", data, *got, want, jerr)
	}
}

var jsonSeeds = []string{
	`{"version":1,"sealed":["config"],"params":["config.x"],"contents":{"config":{"entries":[{"key_hex":"00000000","value_hex":"01"}]}},"unsealed_prog_arrays":["jmp"]}`,
	`{"version":1,"sealed":[],"params":null,"contents":{"a":null,"b":{"entries":[]}}}`,
	`{"entries":[{"key":{"a":[1,2]},"value":"x","key_hex":null},{"value_hex":"00"}]}`,
	`{"entries":null}`,
	`{"Entries":[]}`, `{"version":1,"Version":2}`, `{"contents":{"a":{},"a":{}}}`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSeeds {
		sameAsEncodingJSON(t, []byte(s), decodePlan)
		sameAsEncodingJSON(t, []byte(s), decodeContents)
	}
	for _, s := range jsonSeeds[4:] {
		if _, err := decodePlan([]byte(s)); err == nil {
			t.Errorf("plan reader accepted %s", s)
		}
		if _, err := decodeContents([]byte(s)); err == nil {
			t.Errorf("contents reader accepted %s", s)
		}
	}
}

// FuzzDecodeMatchesEncodingJSON: the plan and contents readers accept
// nothing encoding/json refuses or reads otherwise.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsEncodingJSON(t, data, decodePlan)
		sameAsEncodingJSON(t, data, decodeContents)
	})
}
