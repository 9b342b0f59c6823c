package measure_test

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestStructOpsMeasured: a struct_ops map is part of the manifest's
// digest: which program each function member holds and each data
// member's bytes; a manifest whose struct_ops part was edited fails Check.
func TestStructOpsMeasured(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("structops_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.Collection(spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.StructOps) != 1 {
		t.Fatalf("struct_ops %+v", m.StructOps)
	}
	so := m.StructOps[0]
	got := map[string]string{}
	for _, mem := range so.Members {
		got[mem.Name] = mem.Program + mem.Data
	}
	want := map[string]string{"ssthresh": "signed_ssthresh", "cong_avoid": "signed_cong_avoid", "undo_cwnd": "signed_undo_cwnd", "name": "62706632676f5f7369676e6564000000"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("member %s: %q, want %q", k, got[k], v)
		}
	}
	if so.Name != "signed_cc" || so.Type != "tcp_congestion_ops" || so.Flags != 0x2000 {
		t.Errorf("struct_ops %s %s %#x", so.Name, so.Type, so.Flags)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(*measure.Manifest){
		"program swapped": func(m *measure.Manifest) {
			m.StructOps[0].Members[0].Program, m.StructOps[0].Members[2].Program = m.StructOps[0].Members[2].Program, m.StructOps[0].Members[0].Program
		},
		"data changed":       func(m *measure.Manifest) { m.StructOps[0].Members[3].Data = "00" + m.StructOps[0].Members[3].Data[2:] },
		"unknown program":    func(m *measure.Manifest) { m.StructOps[0].Members[0].Program = "other" },
		"struct_ops dropped": func(m *measure.Manifest) { m.StructOps = nil },
	}
	for name, edit := range edits {
		cp := *m
		cp.StructOps = []measure.StructOps{so}
		cp.StructOps[0].Members = append([]measure.StructOpsMember{}, so.Members...)
		edit(&cp)
		if err := cp.Check(); !errors.Is(err, measure.ErrBadManifest) {
			t.Errorf("%s: Check() = %v", name, err)
		}
	}
}
