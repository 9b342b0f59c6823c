package gate

import (
	"testing"

	"github.com/cilium/ebpf"
)

// BenchmarkLoad is a plain load (cilium/ebpf NewCollection: create the two
// maps, load one program) of the signed XDP example, without a gate and
// with the gate enforcing (the load is in its allow set): the gate's cost
// is the two LSM hooks on every bpf(2) command of the load.
func BenchmarkLoad(b *testing.B) {
	requireLSM(b)
	spec, err := ebpf.LoadCollectionSpec(xdpExample("filter_bpfel.o"))
	if err != nil {
		b.Fatal(err)
	}
	load := func(b *testing.B) {
		for b.Loop() {
			c, err := ebpf.NewCollection(spec)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	}
	b.Run("without-gate", load)
	b.Run("gate-enforcing", func(b *testing.B) {
		g, err := Start(Options{TrustDir: benchTrust(b), Mode: Enforce, Poll: -1})
		if err != nil {
			b.Fatal(err)
		}
		defer g.Close()
		load(b)
		if st, err := g.Stats(); err != nil || st[StatRefused] != 0 {
			b.Fatalf("stats %v, %v: the benchmark's loads must be allowed", st, err)
		}
	})
}
