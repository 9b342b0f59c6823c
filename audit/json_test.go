package audit_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// FuzzResultAppendJSON: AppendJSON writes the bytes json.Marshal writes,
// whatever the strings (kernel names are any bytes) and whatever else a
// result reports.
func FuzzResultAppendJSON(f *testing.F) {
	f.Add(uint32(7), "SocketFilter", "audit_p1", "0123456789abcdef", "OK", "many.o.intoto.json#audit_p1", "0011223344556677", "", 256, uint8(0))
	f.Add(uint32(0), "", "", "", "", "", "", "", 0, uint8(0))
	f.Add(uint32(1<<31), "XDP", "<a&b>\"\\\n\t\x00\x7f", "é", "\xff\xfe", "\u2028\u2029", "日本", "hint: put the object there", 64, uint8(1))
	f.Add(uint32(3), "Kprobe", "p", "t", "BADSIG", "m#p", "id", "", 64, uint8(0xff))
	f.Fuzz(func(t *testing.T, id uint32, typ, name, tag, verdict, manifest, measID, hint string, tagBits int, extra uint8) {
		r := audit.Result{ID: id, Type: typ, Name: name, Tag: tag, Verdict: bpfsigned.Verdict(verdict),
			Manifest: manifest, MeasID: measID, Hint: hint, TagBits: tagBits}
		if extra&1 != 0 {
			r.Mismatches = []measure.Mismatch{{Field: name, Expected: tag, Found: hint}}
		}
		if extra&2 != 0 {
			r.TailCalls = []uint32{id}
		}
		if extra&4 != 0 {
			r.Unbound = []string{manifest}
		}
		if extra&8 != 0 {
			r.Links = []measure.KernelLink{{ID: id}}
		}
		if extra&16 != 0 {
			r.BoundMaps = []measure.BoundMap{{ID: id, Name: name}}
		}
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("AppendJSON\n%s\njson.Marshal\n%s", got, want)
		}
	})
}
