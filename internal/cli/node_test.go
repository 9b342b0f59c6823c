package cli

import (
	"bytes"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// TestWriteVerifyReport: prog verify's JSON report is the bytes
// encoding/json writes for it, with the programs written by
// audit.Result.AppendJSON or not, pretty or not.
func TestWriteVerifyReport(t *testing.T) {
	trust := &audit.Trust{Dir: "/etc/trust<&>", Keys: 1, Envelopes: 2, FullDigest: true,
		Manifests: []*audit.Manifest{{File: "a.o.intoto.json", ObjectChecked: true}},
		Skipped:   []string{"b.o.intoto.json: bad signature"}, Warnings: []string{"é\u2028"}}
	results := []audit.Result{
		{ID: 1, Type: "SocketFilter", Name: "p", Tag: "0011223344556677", Verdict: bpfsigned.OK, Manifest: "a.o.intoto.json#p", MeasID: "8899aabbccddeeff", TagBits: 256},
		{ID: 2, Type: "XDP", Name: "\xff<x>", Tag: "0011223344556677", Verdict: bpfsigned.Unsigned, TagBits: 64},
		{ID: 3, Type: "Kprobe", Name: "q", Verdict: bpfsigned.BadSig, Manifest: "a.o.intoto.json#q", Hint: "put the object \"there\"", TagBits: 64,
			Mismatches: []measure.Mismatch{{Field: "tag", Expected: "a", Found: "b"}}, TailCalls: []uint32{4}},
	}
	reports := map[string]verifyReport{
		"results":    {Trust: trust, Accept: []bpfsigned.Verdict{bpfsigned.OK}, Programs: results},
		"no results": {Trust: trust, Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}, Programs: []audit.Result{}},
		"nil":        {},
	}
	for name, rep := range reports {
		for _, pretty := range []bool{false, true} {
			var want, got bytes.Buffer
			if err := WriteJSON(&want, rep, pretty); err != nil {
				t.Fatal(err)
			}
			if err := writeVerifyReport(&got, rep, pretty); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%s (pretty %v):\n%s\nencoding/json:\n%s", name, pretty, got.Bytes(), want.Bytes())
			}
		}
	}
}
