package runtime_test

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// BenchmarkPlainLoad is the baseline: what bpf2go's loadObjects does.
func BenchmarkPlainLoad(b *testing.B) {
	testutil.RequireBPF(b)
	f := newFixture(b)
	for b.Loop() {
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(f.obj))
		if err != nil {
			b.Fatal(err)
		}
		var objs objects
		if err := spec.LoadAndAssign(&objs, nil); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}

// BenchmarkVerifiedLoad is the generated loadObjectsVerified on the same
// object: seal, load, measure through the kernel, verify the signature.
func BenchmarkVerifiedLoad(b *testing.B) {
	testutil.RequireBPF(b)
	f := newFixture(b)
	o := f.object(b, f.obj, f.manifest, f.key)
	for b.Loop() {
		var objs objects
		if _, err := bpfsigned.Load(o, nil, &objs, nil, nil); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}

// BenchmarkVerifiedLoadCold is BenchmarkVerifiedLoad with the per-process
// caches emptied before every load: the cost of the first load of a
// process.
func BenchmarkVerifiedLoadCold(b *testing.B) {
	testutil.RequireBPF(b)
	f := newFixture(b)
	o := f.object(b, f.obj, f.manifest, f.key)
	for b.Loop() {
		bpfsigned.ResetCaches()
		var objs objects
		if _, err := bpfsigned.Load(o, nil, &objs, nil, nil); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}
