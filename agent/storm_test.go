package agent_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStorm: rounds of 2000 program loads and unloads from 4 processes at
// once. Every program gets a verdict or is recorded as unloaded before it
// could be measured, unless a loss counter accounts for it; the programs
// kept loaded until the end of the round all get a verdict; all leave
// /metrics when unloaded. The agent's memory, descriptors and goroutines
// stay flat from round to round.
//
// Run a second time with rings of one page and a queue of 16 events, so
// that the kernel and the agent drop events: the losses are counted and
// rescans find every kept program.
func TestStorm(t *testing.T) {
	t.Run("default", func(t *testing.T) { storm(t, false) })
	t.Run("small rings", func(t *testing.T) { storm(t, true) })
}

func storm(t *testing.T, small bool) {
	rounds := 4
	if n, err := strconv.Atoi(os.Getenv("AGENT_STORM_ROUNDS")); err == nil && n >= 3 {
		rounds = n // to watch memory over a longer run
	}
	const (
		processes = 4
		perProc   = 500
		keepEvery = 25 // 20 programs per process live until the round ends
	)
	args := []string{"--trust", trustDir(t)}
	if small {
		args = append(args, "--ring-pages", "1", "--queue-size", "16")
	}
	a := startAgent(t, args...)
	type sample struct{ rss, heap, fds, goroutines float64 }
	var samples []sample
	var lostBefore float64
	for round := range rounds {
		start := time.Now()
		loaders := make([]*loaderProc, processes)
		var wg sync.WaitGroup
		for i := range loaders {
			wg.Go(func() { loaders[i] = startLoader(t, "storm", strconv.Itoa(perProc), strconv.Itoa(keepEvery)) })
		}
		wg.Wait()
		loadTime := time.Since(start)

		// The kept programs all reach /metrics with a verdict.
		var kept, all []uint32
		for _, l := range loaders {
			for _, p := range l.progs {
				all = append(all, p.ID)
				if p.Kept {
					kept = append(kept, p.ID)
				}
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			progs := programs(a.scrape(t))
			missing := 0
			for _, id := range kept {
				if progs[id]["verdict"] != "UNSIGNED" {
					missing++
				}
			}
			if missing == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d of %d kept programs without an UNSIGNED verdict in /metrics", round, missing, len(kept))
			}
			time.Sleep(20 * time.Millisecond)
		}
		settled := time.Since(start)
		for _, l := range loaders {
			l.stop(t)
		}
		// All gone from /metrics.
		deadline = time.Now().Add(30 * time.Second)
		for {
			progs := programs(a.scrape(t))
			left := 0
			for _, id := range all {
				if progs[id] != nil {
					left++
				}
			}
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d programs still in /metrics after unload", round, left)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// Every program has a verdict or a vanished line, unless counted
		// as lost.
		mf := a.scrape(t)
		lost := value(mf, "bpf2go_signed_events_lost_total")
		var verdicts, vanished, unaccounted int
		for _, id := range all {
			var v, gone bool
			for _, l := range a.logFor(id) {
				v = v || l.Msg == "program verdict"
				gone = gone || l.Msg == "program unloaded before it could be measured"
			}
			switch {
			case v:
				verdicts++
			case gone:
				vanished++
			default:
				unaccounted++
			}
		}
		if float64(unaccounted) > lost-lostBefore {
			t.Errorf("round %d: %d programs neither verified nor recorded as vanished, %v events counted lost", round, unaccounted, lost-lostBefore)
		}
		lostBefore = lost
		s := sample{
			rss:  value(mf, "process_resident_memory_bytes"),
			heap: value(mf, "go_memstats_heap_inuse_bytes"),
		}
		// Descriptors and goroutines at rest: the least of a few scrapes
		// (each scrape is a connection and a goroutine of its own, and
		// the previous one may still be closing).
		s.fds, s.goroutines = value(mf, "process_open_fds"), value(mf, "go_goroutines")
		for range 5 {
			time.Sleep(20 * time.Millisecond)
			mf := a.scrape(t)
			s.fds, s.goroutines = min(s.fds, value(mf, "process_open_fds")), min(s.goroutines, value(mf, "go_goroutines"))
		}
		samples = append(samples, s)
		t.Logf("round %d: %d loads+unloads from %d processes in %v, kept programs verified after %v; %d verdicts, %d vanished, %d unaccounted, %v lost; agent rss %.1f MiB heap %.1f MiB fds %v goroutines %v",
			round, len(all), processes, loadTime.Round(time.Millisecond), settled.Round(time.Millisecond), verdicts, vanished, unaccounted, lost,
			s.rss/(1<<20), s.heap/(1<<20), s.fds, s.goroutines)
	}
	// Round 0 warms up (first allocations, the HTTP server); from then on
	// nothing grows. Descriptors and goroutines at rest after the last
	// round are compared with the most seen after any earlier round: a
	// goroutine the agent starts only when it first needs it (a rescan,
	// a reader restarted after losses) can be absent from the first
	// rounds' samples, while a leak grows with every round of 2000 loads.
	first, last := samples[1], samples[len(samples)-1]
	var baseFDs, baseGoroutines float64
	for _, s := range samples[:len(samples)-1] {
		baseFDs, baseGoroutines = max(baseFDs, s.fds), max(baseGoroutines, s.goroutines)
	}
	if last.fds > baseFDs {
		t.Errorf("open fds at most %v after rounds 0 to %d, %v after round %d", baseFDs, rounds-2, last.fds, rounds-1)
	}
	if last.goroutines > baseGoroutines {
		t.Errorf("goroutines at most %v after rounds 0 to %d, %v after round %d", baseGoroutines, rounds-2, last.goroutines, rounds-1)
	}
	if growth := last.rss - first.rss; growth > 8<<20 {
		t.Errorf("resident memory grew by %.1f MiB from round 1 to round %d", growth/(1<<20), rounds-1)
	}
	if mf := a.scrape(t); small && (value(mf, "bpf2go_signed_events_lost_total") == 0 || value(mf, "bpf2go_signed_rescans_total", "reason", "lost") == 0) {
		t.Errorf("small rings and queue: %v events lost, %v rescans for losses", value(mf, "bpf2go_signed_events_lost_total"),
			value(mf, "bpf2go_signed_rescans_total", "reason", "lost"))
	}
	if os.Getenv("AGENT_STORM_LOG") != "" {
		fmt.Fprintln(os.Stderr, strings.TrimSpace(a.rawLog()))
	}
}
