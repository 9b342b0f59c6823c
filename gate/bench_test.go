package gate

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// BenchmarkLoad is a plain load (cilium/ebpf NewCollection: create the two
// maps, load one program) of the signed XDP example, with the gate
// enforcing (the program is in its allow set) and without it. The two are
// interleaved, the gate's links attached and detached in between (not
// timed), so that drift on a shared machine hits both alike. Metrics: ns per load without and with the gate, and their
// ratio. The gate's cost is its two LSM hooks on every bpf(2) command of
// the load and one hash lookup at the end; with the kernel's BPF run-time
// statistics on, it is also reported directly: ns spent in the gate's
// programs per gated load (this includes the hook runs of the detach
// between loads, so it is an upper bound).
func BenchmarkLoad(b *testing.B) {
	requireLSM(b)
	spec, err := ebpf.LoadCollectionSpec(xdpExample("filter_bpfel.o"))
	if err != nil {
		b.Fatal(err)
	}
	g, err := Start(Options{TrustDir: benchTrust(b), Mode: Enforce, Poll: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	progs := []*ebpf.Program{g.objs.GateBpf, g.objs.GateProg}
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("BPF run-time statistics: %v", err)
	}
	defer stats.Close()
	hookTime := func() time.Duration {
		var total time.Duration
		for _, p := range progs {
			st, err := p.Stats()
			if err != nil {
				b.Fatal(err)
			}
			total += st.Runtime
		}
		return total
	}
	detach := func() {
		for _, l := range g.links {
			l.Close()
		}
		g.links = nil
	}
	attach := func() {
		for _, p := range progs {
			l, err := link.AttachLSM(link.LSMOptions{Program: p})
			if err != nil {
				b.Fatal(err)
			}
			g.links = append(g.links, l)
		}
	}
	load := func() time.Duration {
		start := time.Now()
		c, err := ebpf.NewCollection(spec)
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
		return d
	}
	var with, without time.Duration
	n := 0
	hooks0 := hookTime()
	// Each phase: switch the gate on or off, one untimed load (the
	// switch's aftermath: trampoline updates, RCU work), one timed load.
	// The order alternates per iteration.
	attached := true
	phase := func(on bool) time.Duration {
		b.StopTimer()
		if on != attached {
			if on {
				attach()
			} else {
				detach()
			}
			attached = on
		}
		load()
		b.StartTimer()
		return load()
	}
	for b.Loop() {
		if n%2 == 0 {
			without += phase(false)
			with += phase(true)
		} else {
			with += phase(true)
			without += phase(false)
		}
		n++
	}
	b.StopTimer()
	if !attached {
		attach()
	}
	st, err := g.Stats()
	if err != nil || st[StatRefused] != 0 || st[StatAllowed] < uint64(2*n) {
		b.Fatalf("stats %v, %v: the gate must have allowed all %d gated loads", st, err, n)
	}
	b.ReportMetric(float64(without.Nanoseconds())/float64(n), "ns/load-without-gate")
	b.ReportMetric(float64(with.Nanoseconds())/float64(n), "ns/load-gate-enforcing")
	b.ReportMetric(float64(with)/float64(without), "gate/without")
	b.ReportMetric(float64((hookTime()-hooks0).Nanoseconds())/float64(2*n), "ns-in-gate-programs/load")
}
