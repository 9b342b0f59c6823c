package runtime_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

type pinnedObjects struct {
	Filter *ebpf.Program `ebpf:"pinned_filter"`
	Hits   *ebpf.Map     `ebpf:"pin_hits"`
}

func (o *pinnedObjects) Close() {
	o.Filter.Close()
	o.Hits.Close()
}

// pinnedObject is pinned.c built and signed with the given port table.
func pinnedObject(t *testing.T, key *ecdsa.PrivateKey, ports string) *bpfsigned.Object {
	t.Helper()
	obj, err := os.ReadFile(testutil.Testdata("pinned_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sealmap.Config{Contents: map[string][]byte{
		"pin_config":   []byte(`{"entries":[{"key":0,"value":{"action":1,"port":443,"enabled":1}}]}`),
		"pin_ports":    []byte(ports),
		"pin_prefixes": []byte(`{"entries":[{"key":{"prefixlen":32,"addr":16777343},"value":1}]}`),
	}}
	m, plan, _, err := build.Measure(obj, build.Declared(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.FromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Sign(context.Background(), attest.NewStatement("pinned_bpfel.o", obj, m))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := attest.MarshalPublicKey(key.Public())
	return &bpfsigned.Object{Name: "pinned_bpfel.o", ELF: obj, Envelope: env, Plan: plan.Encode(), TrustedKeys: []string{string(pub)}}
}

const pinnedPorts = `{"entries":[{"key":22,"value":1},{"key":443,"value":0}]}`

// comparable is a report without what differs between two loads of the
// same program: the program's id.
func comparable(t *testing.T, r *bpfsigned.Report) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.JSON(), &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range v["programs"].([]any) {
		delete(p.(map[string]any), "id")
	}
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// TestPinnedSealedTwoStarts: two starts of a program whose sealed maps
// are pinned by name; the second reuses the pinned maps and gets the same
// report (verdict OK, same maps, same content hashes and sources) as the
// first, which created them.
func TestPinnedSealedTwoStarts(t *testing.T) {
	testutil.RequireBPF(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	o := pinnedObject(t, key, pinnedPorts)
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: testutil.BPFFS(t)}}
	var reports []*bpfsigned.Report
	for i := range 2 {
		var objs pinnedObjects
		rep, err := bpfsigned.Load(o, &objs, &bpfsigned.LoadOptions{Collection: opts})
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		objs.Close()
		if rep.Verdict != bpfsigned.OK || !rep.Accepted {
			t.Fatalf("start %d: %s", i+1, rep)
		}
		reports = append(reports, rep)
	}
	if a, b := comparable(t, reports[0]), comparable(t, reports[1]); a != b {
		t.Fatalf("the reused maps get another report:\nfirst %s\nsecond %s", a, b)
	}
	sealed := 0
	for _, m := range reports[1].Programs[0].Maps {
		if m.Sealed {
			sealed++
			if !m.Frozen || m.Content == nil {
				t.Errorf("reused sealed map %+v", m)
			}
		}
	}
	if sealed != 3 {
		t.Errorf("%d sealed maps in the report, want 3", sealed)
	}
}

// TestPinnedSealedRefused: the second start is refused, with every
// descriptor closed and nothing handed out, when another process replaced
// a pin with a map of its own, and when a new build seals other contents
// than those the pinned map holds.
func TestPinnedSealedRefused(t *testing.T) {
	testutil.RequireBPF(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name    string
		between func(t *testing.T, dir string) *bpfsigned.Object
		want    string
	}{
		{"pin replaced by another process", func(t *testing.T, dir string) *bpfsigned.Object {
			testutil.RequireTool(t, "bpftool")
			path := filepath.Join(dir, "pin_ports")
			script := `rm "$P"
bpftool map create "$P" type hash key 2 value 4 entries 16 name pin_ports flags 0x80
bpftool map update pinned "$P" key hex 16 00 value hex 00 00 00 00
bpftool map update pinned "$P" key hex bb 01 value hex 00 00 00 00
bpftool map freeze pinned "$P"`
			cmd := exec.Command("sh", "-e", "-c", script)
			cmd.Env = append(os.Environ(), "P="+path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			return pinnedObject(t, key, pinnedPorts)
		}, "holds other contents"},
		{"new build with other sealed contents", func(t *testing.T, dir string) *bpfsigned.Object {
			return pinnedObject(t, key, `{"entries":[{"key":22,"value":1},{"key":8080,"value":1}]}`)
		}, "holds other contents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testutil.BPFFS(t)
			opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: dir}}
			var objs pinnedObjects
			if _, err := bpfsigned.Load(pinnedObject(t, key, pinnedPorts), &objs, &bpfsigned.LoadOptions{Collection: opts}); err != nil {
				t.Fatal(err)
			}
			objs.Close()
			o := tt.between(t, dir)
			fds := testutil.OpenFDs(t)
			var second pinnedObjects
			rep, err := bpfsigned.Load(o, &second, &bpfsigned.LoadOptions{Collection: opts})
			if !errors.Is(err, sealmap.ErrPinned) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "rm "+filepath.Join(dir, "pin_ports")) {
				t.Fatalf("second start: %v (report %v); want a refusal naming the pin", err, rep)
			}
			t.Log(err)
			if second.Filter != nil || second.Hits != nil {
				t.Error("objects handed out after a refusal")
			}
			if got := testutil.OpenFDs(t); got != fds {
				t.Errorf("%d descriptors open after the refusal, %d before", got, fds)
			}
		})
	}
}
