package measure_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestKsymSites: a __ksym address is a site whose value the loader takes
// from /proc/kallsyms: listed, never given a per-target digest (the
// address changes with every boot), and resolved for the running kernel to
// the tag the kernel computes.
func TestKsymSites(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("ksym_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	ps := spec.Programs["ksym_prog"]
	m, err := measure.Collection(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Program("ksym_prog")
	if len(p.Unsupported) != 0 || len(p.Relocations) != 1 || p.Relocations[0].Relocation != "ksym schedule" {
		t.Fatalf("unsupported %v, sites %v", p.Unsupported, p.Relocations)
	}
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	if _, _, _, err := measure.Relocate(ps, []*btf.Spec{kernel}); !errors.Is(err, measure.ErrKsymNoTarget) {
		t.Errorf("relocating for a target: %v, want ErrKsymNoTarget", err)
	}
	m, err = measure.CollectionWithOptions(spec, &measure.Options{Targets: []measure.Target{{Name: "k", SHA256: strings.Repeat("0", 64), Spec: kernel}}})
	if err != nil || len(m.Program("ksym_prog").Alternatives) != 0 {
		t.Fatalf("measuring with a target: %v, alternatives %v", err, m.Program("ksym_prog").Alternatives)
	}

	testutil.RequireBPF(t)
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Skipf("cilium/ebpf cannot load the ksym program here (kallsyms addresses hidden?): %v", err)
	}
	defer coll.Close()
	d, fixups, err := measure.RelocateForKernel(ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(fixups) != 1 || !strings.HasPrefix(fixups[0].Fixup, "address 0x") {
		t.Errorf("fixups %+v", fixups)
	}
	info, err := coll.Programs["ksym_prog"].Info()
	if err != nil {
		t.Fatal(err)
	}
	alg, _ := measure.TagAlgorithm()
	want := d.Tag
	if alg == measure.TagSHA1 {
		want = d.TagSHA1
	}
	if info.Tag != want || info.Tag == p.Tag || info.Tag == p.TagSHA1 {
		t.Errorf("kernel tag %s, resolved %s, unresolved %s", info.Tag, want, p.Tag)
	}
}
