package jsonread_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/jsonread"
)

// doc is a shape with every kind the readers decode.
type doc struct {
	S   string            `json:"s"`
	U   uint32            `json:"u"`
	U64 uint64            `json:"u64"`
	I   int               `json:"i"`
	B   bool              `json:"b"`
	L   []string          `json:"l"`
	P   *doc              `json:"p"`
	M   map[string]string `json:"m"`
	D   []doc             `json:"d"`
}

var docFields = []string{"s", "u", "u64", "i", "b", "l", "p", "m", "d"}

func readDoc(r *jsonread.Reader, d *doc) error {
	return r.Object(docFields, false, func(f int) (err error) {
		switch f {
		case 0:
			d.S, err = r.String()
		case 1:
			d.U, err = r.Uint32()
		case 2:
			d.U64, err = r.Uint64()
		case 3:
			d.I, err = r.IntValue()
		case 4:
			d.B, err = r.Bool()
		case 5:
			d.L, err = jsonread.Strings(r)
		case 6:
			d.P, err = jsonread.Pointer(r, func(p *doc) error { return readDoc(r, p) })
		case 7:
			if r.Null() {
				d.M = nil
				return nil
			}
			d.M = map[string]string{}
			return r.Map(func(k string) (err error) {
				d.M[k], err = r.String()
				return err
			})
		case 8:
			d.D, err = jsonread.Slice(r, func(e *doc) error { return readDoc(r, e) })
		}
		return err
	})
}

func decode(data []byte) (*doc, error) {
	r := jsonread.New(data)
	var d doc
	err := readDoc(r, &d)
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// checkAgainstJSON fails when the reader accepts data and encoding/json
// does not, or reads it differently; and when encoding/json's own
// encoding of what it read is refused.
func checkAgainstJSON(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	got, err := decode(data)
	var want doc
	jerr := json.Unmarshal(data, &want)
	if err == nil {
		if jerr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, jerr)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("%q: read %+v, encoding/json reads %+v", data, *got, want)
		}
	} else if !errors.Is(err, jsonread.ErrSyntax) {
		t.Fatalf("%q: error does not wrap ErrSyntax: %v", data, err)
	}
	if jerr == nil {
		canonical, merr := json.Marshal(&want)
		if merr != nil {
			t.Fatal(merr)
		}
		again, err := decode(canonical)
		if err != nil {
			t.Fatalf("refused encoding/json's output %s: %v", canonical, err)
		}
		var want2 doc
		if err := json.Unmarshal(canonical, &want2); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*again, want2) {
			t.Fatalf("%s: read %+v, encoding/json read %+v", canonical, *again, want)
		}
	}
	return err == nil
}

func TestReader(t *testing.T) {
	for _, tt := range []struct {
		doc    string
		accept bool
		why    string // in the error when refused
	}{
		{`{}`, true, ""},
		{` {"s":"x","u":4294967295,"u64":18446744073709551615,"i":-9223372036854775808,"b":true} `, true, ""},
		{`{"l":[],"d":[],"m":{},"p":null}`, true, ""},
		{`{"l":null,"d":null,"m":null}`, true, ""},
		{`{"l":["a","b"],"d":[{"s":"y"},{}],"m":{"k":"v","K":"w"},"p":{"p":{"u":1}}}`, true, ""},
		{`{"s":"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00 ü"}`, true, ""},
		{`{"s":"\u0000"}`, true, ""},
		{`{"unknown":{"a":[1,2.5e-3,true,null,"x"]},"s":"x"}`, true, ""},
		{`{"i":-0}`, true, ""},
		{`{"s":"x","s":"y"}`, false, "twice"},
		{`{"S":"x"}`, false, "only in case"},
		{`{"U64":1}`, false, "only in case"},
		{`{"ſ":"x"}`, false, "not ASCII"},
		{`{"m":{"k":"v","k":"w"}}`, false, "twice"},
		{`{"s":"\ud800"}`, false, "surrogate"},
		{`{"s":"\udc00\ud800"}`, false, "surrogate"},
		{"{\"s\":\"\xff\"}", false, "UTF-8"},
		{"{\"s\":\"\xed\xa0\x80\"}", false, "UTF-8"},
		{"{\"s\":\"a\nb\"}", false, "control"},
		{`{"s":"\x"}`, false, "escape"},
		{`{"s":"\u12"}`, false, "escape"},
		{`{"s":"abc`, false, "unterminated"},
		{`{"u":4294967296}`, false, "32-bit"},
		{`{"u":-1}`, false, "unsigned"},
		{`{"u":-0}`, false, "unsigned"},
		{`{"u":1.0}`, false, "unsigned"},
		{`{"u":1e2}`, false, "unsigned"},
		{`{"u":01}`, false, "want ','"},
		{`{"u":"1"}`, false, "number"},
		{`{"u":null}`, false, "number"},
		{`{"s":null}`, false, "string"},
		{`{"b":null}`, false, "true or false"},
		{`{"i":9223372036854775808}`, false, "64-bit"},
		{`{"l":[1]}`, false, "string"},
		{`{"l":["a",]}`, false, "string"},
		{`{"s":"x",}`, false, "string"},
		{`{"s" "x"}`, false, "':'"},
		{`{"s":"x"} x`, false, "after the document"},
		{`{"s":"x"}{}`, false, "after the document"},
		{`[]`, false, "'{'"},
		{`null`, false, "'{'"},
		{``, false, "'{'"},
		{`{"unknown":[` + strings.Repeat("[", jsonread.MaxDepth) + strings.Repeat("]", jsonread.MaxDepth) + `]}`, false, "nested"},
		{`{"unknown":tru}`, false, "value"},
		{`{"unknown":-}`, false, "number"},
		{`{"unknown":1.}`, false, "decimal point"},
		{`{"unknown":1e}`, false, "exponent"},
	} {
		t.Run(tt.doc, func(t *testing.T) {
			accepted := checkAgainstJSON(t, []byte(tt.doc))
			if accepted != tt.accept {
				_, err := decode([]byte(tt.doc))
				t.Fatalf("accepted %v, want %v (%v)", accepted, tt.accept, err)
			}
			if !tt.accept {
				if _, err := decode([]byte(tt.doc)); !strings.Contains(err.Error(), tt.why) {
					t.Fatalf("error %q does not say %q", err, tt.why)
				}
			}
		})
	}
}

// FuzzMatchesEncodingJSON: whatever the reader accepts, encoding/json
// accepts and reads the same; whatever encoding/json writes, the reader
// reads as encoding/json does.
func FuzzMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"s":"x","u":1,"u64":2,"i":-3,"b":false,"l":["a"],"p":{"s":"y"},"m":{"a":"b"},"d":[{"i":1}]}`,
		`{"s":"\u00e9\ud83d\ude00<>&","x":[{"y":null}]}`,
		`{"S":"x"}`, `{"s":"x","s":"y"}`, `{"u":1e2}`, `{"s":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAgainstJSON(t, data) })
}

// TestNumberErrors: a refused number is named in the error, at the
// offset where it starts (after any white space).
func TestNumberErrors(t *testing.T) {
	for _, tt := range []struct{ doc, says string }{
		{`{"i": 1.5}`, `offset 6: want a 64-bit integer, found 1.5`},
		{`{"i":  -9223372036854775809}`, `offset 7: want a 64-bit integer, found -9223372036854775809`},
		{`{"u": 4294967296}`, `offset 6: want an unsigned 32-bit integer, found 4294967296`},
		{`{"u64":	-1}`, `offset 8: want an unsigned 64-bit integer, found -1`},
	} {
		_, err := decode([]byte(tt.doc))
		if err == nil || !strings.HasSuffix(err.Error(), tt.says) {
			t.Errorf("%s: error %v, want one ending %q", tt.doc, err, tt.says)
		}
	}
}
