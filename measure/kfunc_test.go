package measure_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// TestKfuncSites: kfunc calls are measured as sites the kernel resolves by
// BTF id, like CO-RE sites: listed, resolved per target, refused against
// BTF that lacks the function; against the running kernel the resolved
// digest is the kernel's tag.
func TestKfuncSites(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("kfunc_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.Collection(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Program("sum_numbers")
	if len(p.Unsupported) != 0 {
		t.Fatalf("kfunc calls reported unsupported: %v", p.Unsupported)
	}
	var sites []string
	for _, r := range p.Relocations {
		sites = append(sites, r.Relocation)
	}
	if got := strings.Join(sites, ","); got != "kfunc bpf_iter_num_new,kfunc bpf_iter_num_next,kfunc bpf_iter_num_next,kfunc bpf_iter_num_destroy" {
		t.Errorf("sites %s", got)
	}

	// BTF without the kfuncs.
	b, err := btf.NewBuilder([]btf.Type{&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := measure.Relocate(spec.Programs["sum_numbers"], []*btf.Spec{empty}); err == nil || !strings.Contains(err.Error(), "kfunc bpf_iter_num_new is not in the target's BTF") {
		t.Errorf("relocating against BTF without the kfunc: %v", err)
	}

	testutil.RequireBPF(t)
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	var fn *btf.Func
	if err := kernel.TypeByName("bpf_iter_num_new", &fn); err != nil {
		testutil.SkipWithout(t, testutil.FeatureKfunc, fmt.Errorf("no bpf_iter_num_new (Linux 6.4+): %w", err))
	}
	d, fixups, err := measure.RelocateForKernel(spec.Programs["sum_numbers"])
	if err != nil {
		t.Fatal(err)
	}
	if len(fixups) != 4 || !strings.Contains(fixups[0].Fixup, "btf id ") {
		t.Errorf("fixups %+v", fixups)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	info, err := coll.Programs["sum_numbers"].Info()
	if err != nil {
		t.Fatal(err)
	}
	alg, err := measure.TagAlgorithm()
	if err != nil {
		t.Fatal(err)
	}
	want := d.Tag
	if alg == measure.TagSHA1 {
		want = d.TagSHA1
	}
	if info.Tag != want {
		t.Errorf("kernel tag %s, resolved for this kernel %s", info.Tag, want)
	}
	if info.Tag == p.Tag || info.Tag == p.TagSHA1 {
		t.Error("the kernel's tag is the unresolved object's: the test proves nothing")
	}
}
