// Package agent verifies every BPF program loaded on a host as it loads,
// with the verdicts of `bpf2go-signed prog verify` (package audit) against
// a trust directory, and exports them as Prometheus metrics.
//
// It learns of loads and unloads from the kernel's PERF_RECORD_BPF_EVENT
// records (package bpfevent, Linux 5.1+). Where those are not available it
// polls BPF_PROG_GET_NEXT_ID instead, and says so in its log and in the
// bpf2go_signed_poll_fallback metric. Programs loaded before it started
// are verified first; a program unloaded before it could be measured is
// counted in bpf2go_signed_programs_vanished_total. When the kernel or the
// agent drops events (a full ring or queue) the loss is counted and every
// loaded program is rescanned, so no program stays unverified.
//
// One goroutine owns the state (the loaded programs and their verdicts);
// a second one reads the kernel's rings into a bounded queue. Memory grows
// with the number of programs loaded, not with the number of events.
package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/agent/bpfevent"
	"github.com/bpf2go-signed/bpf2go-signed/audit"
)

// Event sources of Config.Source.
const (
	// SourceAuto reads the kernel's BPF events and polls where they are
	// not available.
	SourceAuto = "auto"
	// SourcePerf reads the kernel's BPF events and fails where they are
	// not available.
	SourcePerf = "perf"
	// SourcePoll polls the loaded program ids.
	SourcePoll = "poll"
)

// Config configures an Agent. Zero durations and sizes take the defaults.
type Config struct {
	// TrustDir holds *.pub keys and *.intoto.json envelopes, as for
	// `prog verify --trust`.
	TrustDir string
	// Logger receives one line per verdict change; nil discards.
	Logger *slog.Logger
	// Source is SourceAuto (the default), SourcePerf or SourcePoll.
	Source string
	// PollInterval is the period of the poll fallback (1s).
	PollInterval time.Duration
	// RescanInterval is the period of a full rescan that corrects any
	// drift between the agent's state and the kernel (5m).
	RescanInterval time.Duration
	// TrustInterval is how often the trust directory is checked for
	// changes (2s). Reload also reloads it.
	TrustInterval time.Duration
	// RingPages is the size of each CPU's event ring in pages, a power
	// of two (32).
	RingPages int
	// QueueSize bounds the events read but not yet handled (8192).
	QueueSize int
	// Settle is how long a BADSIG verdict on a program just loaded is
	// held, and checked again at growing intervals, when its only
	// mismatches are input maps not frozen yet (100ms): a loader freezes
	// its sealed maps after BPF_PROG_LOAD returns, so a program seen at
	// once can look unsealed. Negative publishes at once.
	Settle time.Duration
}

func (c *Config) defaults() {
	if c.Source == "" {
		c.Source = SourceAuto
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.RescanInterval <= 0 {
		c.RescanInterval = 5 * time.Minute
	}
	if c.TrustInterval <= 0 {
		c.TrustInterval = 2 * time.Second
	}
	if c.RingPages <= 0 {
		c.RingPages = 32
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 8192
	}
	if c.Settle == 0 {
		c.Settle = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// pendingCheck is a program whose BADSIG verdict may still change because
// its loader has not finished sealing its maps: it is checked again, at
// growing intervals, until Config.Settle has passed since it was first
// seen.
type pendingCheck struct {
	res      *audit.Result
	source   string
	since    time.Duration // as passed to verify
	deadline time.Time
	attempt  int
	due      time.Time
}

// program is what the agent knows of one loaded program.
type program struct {
	labels []string // programLabels values
	tag    string
}

func (p *program) verdict() string { return p.labels[4] }

// Agent watches the host's BPF programs. Create it with New, serve
// Handler and call Run.
type Agent struct {
	cfg Config
	log *slog.Logger
	reg *prometheus.Registry
	m   *metrics

	// Owned by the Run goroutine.
	trust      *audit.Trust
	trustPrint [sha256.Size]byte
	progs      map[uint32]*program
	seen       map[uint32]bool
	pending    map[uint32]*pendingCheck // BADSIG verdicts waiting for Settle
	settle     *time.Timer

	events  chan bpfevent.Event
	rescanC chan struct{} // events were lost
	hup     chan struct{}

	running   atomic.Bool
	heartbeat atomic.Int64 // unix nanoseconds of the last loop turn
	source    atomic.Value // string
	mu        sync.Mutex   // guards trustErr
	trustErr  error
}

// New checks the configuration and loads the trust directory: an agent
// does not start without trust.
func New(cfg Config) (*Agent, error) {
	cfg.defaults()
	switch cfg.Source {
	case SourceAuto, SourcePerf, SourcePoll:
	default:
		return nil, fmt.Errorf("event source %q: want %s, %s or %s", cfg.Source, SourceAuto, SourcePerf, SourcePoll)
	}
	if cfg.RingPages&(cfg.RingPages-1) != 0 {
		return nil, fmt.Errorf("ring of %d pages: want a power of two", cfg.RingPages)
	}
	a := &Agent{
		cfg:     cfg,
		log:     cfg.Logger,
		reg:     prometheus.NewRegistry(),
		progs:   map[uint32]*program{},
		seen:    map[uint32]bool{},
		pending: map[uint32]*pendingCheck{},
		settle:  time.NewTimer(time.Hour),
		events:  make(chan bpfevent.Event, cfg.QueueSize),
		rescanC: make(chan struct{}, 1),
		hup:     make(chan struct{}, 1),
	}
	a.settle.Stop()
	a.m = newMetrics(a.reg)
	a.source.Store("")
	print, err := fingerprint(cfg.TrustDir)
	if err != nil {
		return nil, fmt.Errorf("trust directory: %w", err)
	}
	t, err := audit.LoadTrustDir(cfg.TrustDir)
	if err != nil {
		return nil, fmt.Errorf("trust directory: %w", err)
	}
	a.useTrust(t, print)
	return a, nil
}

// Registry is the registry of the agent's metrics.
func (a *Agent) Registry() *prometheus.Registry { return a.reg }

// Reload asks Run to reload the trust directory now (for SIGHUP).
func (a *Agent) Reload() {
	select {
	case a.hup <- struct{}{}:
	default:
	}
}

// Handler serves /metrics and /healthz.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{
		MaxRequestsInFlight: 4, Timeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError)}))
	mux.HandleFunc("/healthz", a.healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "bpf2go-signed agent: /metrics, /healthz")
	})
	return mux
}

// healthz answers 200 while Run turns (at least once per TrustInterval)
// and 503 otherwise, with one line saying why.
func (a *Agent) healthz(w http.ResponseWriter, _ *http.Request) {
	stale := time.Duration(time.Now().UnixNano() - a.heartbeat.Load())
	limit := max(30*time.Second, 10*a.cfg.TrustInterval)
	switch {
	case !a.running.Load():
		http.Error(w, "not running", http.StatusServiceUnavailable)
	case stale > limit:
		http.Error(w, fmt.Sprintf("stuck: no progress for %v", stale.Round(time.Second)), http.StatusServiceUnavailable)
	default:
		a.mu.Lock()
		terr := a.trustErr
		a.mu.Unlock()
		msg := "ok source=" + a.source.Load().(string)
		if terr != nil {
			msg += " trust=stale (" + terr.Error() + ")"
		}
		fmt.Fprintln(w, msg)
	}
}

// Run watches the programs until ctx is done. It returns an error when it
// cannot start (SourcePerf without kernel support).
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("agent already running")
	}
	defer a.running.Store(false)
	a.beat()

	var readerDone chan error
	var cpus int
	if a.cfg.Source != SourcePoll {
		r, err := bpfevent.Open(a.cfg.RingPages)
		switch {
		case err == nil:
			readerDone = make(chan error, 1)
			go a.read(r, readerDone)
			defer func() {
				r.Close()
				<-readerDone
				r.Release()
			}()
			a.source.Store("perf_event")
			cpus = r.CPUs()
		case a.cfg.Source == SourcePerf || !errors.Is(err, bpfevent.ErrNotSupported):
			return err
		default:
			a.log.Warn("the kernel does not report BPF program loads (PERF_RECORD_BPF_EVENT, Linux 5.1+, CAP_PERFMON); polling program ids instead",
				"error", err.Error(), "interval", a.cfg.PollInterval.String())
		}
	}
	var pollC <-chan time.Time
	var poll *time.Ticker
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	startPolling := func() {
		a.m.pollFallback.Set(1)
		a.source.Store("poll")
		poll = time.NewTicker(a.cfg.PollInterval)
		pollC = poll.C
	}
	if readerDone == nil {
		startPolling()
	}

	// Events read from here on are queued: the scan below misses nothing.
	if err := a.rescan("start", "scan"); err != nil {
		return err
	}
	if readerDone != nil {
		a.log.Info("watching BPF program loads", "source", "perf_event", "cpus", cpus, "programs", len(a.progs)+len(a.pending))
	} else {
		a.log.Info("watching BPF program loads", "source", "poll", "interval", a.cfg.PollInterval.String(), "programs", len(a.progs)+len(a.pending))
	}

	rescan := time.NewTicker(a.cfg.RescanInterval)
	defer rescan.Stop()
	trustTick := time.NewTicker(a.cfg.TrustInterval)
	defer trustTick.Stop()
	defer a.settle.Stop()
	for {
		a.beat()
		select {
		case <-a.settle.C:
			a.settlePending()
		case <-ctx.Done():
			return nil
		case ev := <-a.events:
			a.handle(ev)
		case <-a.rescanC:
			a.rescan("lost", "scan")
		case <-pollC:
			a.m.polls.Inc()
			a.rescan("", "poll")
		case <-rescan.C:
			a.rescan("periodic", "scan")
		case <-trustTick.C:
			a.checkTrust(false)
		case <-a.hup:
			a.log.Info("reloading the trust directory", "reason", "signal")
			a.checkTrust(true)
		case err := <-readerDone:
			// The reader stopped on its own: fall back to polling.
			readerDone = nil
			a.log.Error("reading BPF events failed; polling program ids instead", "error", err.Error(), "interval", a.cfg.PollInterval.String())
			a.m.resyncs.WithLabelValues("reader_failed").Inc()
			startPolling()
		}
	}
}

func (a *Agent) beat() { a.heartbeat.Store(time.Now().UnixNano()) }

// read moves the kernel's records to the queue; it never blocks on a full
// queue: the loss is counted and a rescan requested.
func (a *Agent) read(r *bpfevent.Reader, done chan<- error) {
	for {
		ev, err := r.Read()
		if err != nil {
			if errors.Is(err, bpfevent.ErrClosed) {
				err = nil
			}
			done <- err
			return
		}
		if ev.Kind == bpfevent.Lost {
			a.m.eventsLost.WithLabelValues("ring_full").Add(float64(ev.Count))
			a.log.Warn("the kernel dropped BPF events: a per-CPU ring was full; rescanning", "lost", ev.Count, "cpu", ev.CPU)
			a.requestRescan()
			continue
		}
		select {
		case a.events <- ev:
		default:
			a.m.eventsLost.WithLabelValues("queue_full").Inc()
			a.requestRescan()
		}
	}
}

func (a *Agent) requestRescan() {
	select {
	case a.rescanC <- struct{}{}:
	default:
	}
}

func (a *Agent) handle(ev bpfevent.Event) {
	switch ev.Kind {
	case bpfevent.Load:
		a.m.events.WithLabelValues("load").Inc()
		tag := fmt.Sprintf("%x", ev.Tag[:])
		if p := a.progs[ev.ID]; p != nil && p.tag == tag {
			return // found by the scan already
		}
		if a.pending[ev.ID] != nil {
			return
		}
		a.verify(ev.ID, "event", ev.Time, true)
	case bpfevent.Unload:
		a.m.events.WithLabelValues("unload").Inc()
		a.remove(ev.ID)
	}
}

// rescan brings the state in line with the kernel's list of program ids:
// programs not known are verified, programs gone are removed. The
// periodic rescan verifies the known programs again too.
func (a *Agent) rescan(reason, source string) error {
	if reason != "" {
		a.m.resyncs.WithLabelValues(reason).Inc()
	}
	start := bpfevent.Now()
	clear(a.seen)
	for pid := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(pid)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			if errors.Is(err, unix.EPERM) {
				err = fmt.Errorf("%w: listing other processes' programs needs CAP_SYS_ADMIN", err)
			}
			a.log.Error("listing loaded programs (BPF_PROG_GET_NEXT_ID) failed", "error", err.Error())
			return err
		}
		pid = next
		id := uint32(pid)
		a.seen[id] = true
		switch {
		case a.progs[id] == nil && a.pending[id] == nil:
			a.verify(id, source, start, true)
		case reason == "periodic" && a.progs[id] != nil:
			// What can change after a load without a load event
			// (an extension or fentry link, an unsealed program
			// array's slots, a bound map) shows here.
			a.verify(id, source, start, false)
		}
	}
	for id := range a.progs {
		if !a.seen[id] {
			a.remove(id)
		}
	}
	for id := range a.pending {
		if !a.seen[id] {
			a.remove(id)
		}
	}
	return nil
}

// verify gives program id a verdict and publishes it; since is when the
// agent or the kernel first knew of the load. A BADSIG verdict that the
// loader may still turn into OK (an input map not frozen yet) on a program
// seen for the first time (first) waits up to Config.Settle.
func (a *Agent) verify(id uint32, source string, since time.Duration, first bool) {
	res, err := a.trust.ProgramID(id)
	pc := a.pending[id]
	if errors.Is(err, os.ErrNotExist) {
		if pc == nil {
			a.m.vanished.Inc()
			a.log.Info("program unloaded before it could be measured", "id", id, "source", source)
		}
		a.remove(id)
		return
	}
	if err == nil && res.Verdict == "BADSIG" && unsealed(res) && a.cfg.Settle > 0 && (first || pc != nil) {
		now := time.Now()
		if pc == nil {
			pc = &pendingCheck{source: source, since: since, deadline: now.Add(a.cfg.Settle)}
			a.pending[id] = pc
		}
		if now.Before(pc.deadline) {
			pc.res = res
			pc.due = now.Add(min(settleStep<<pc.attempt, pc.deadline.Sub(now)))
			pc.attempt++
			a.armSettle()
			return
		}
	}
	delete(a.pending, id)
	latency := bpfevent.Now() - since
	a.m.latency.WithLabelValues(source).Observe(latency.Seconds())
	if err != nil {
		a.m.verifyErrors.Inc()
		a.m.verifications.WithLabelValues(verdictError).Inc()
		a.log.Error("program could not be verified", "id", id, "error", err.Error())
		a.set(id, &audit.Result{ID: id}, verdictError, latency, source)
		return
	}
	a.m.verifications.WithLabelValues(string(res.Verdict)).Inc()
	a.set(id, res, string(res.Verdict), latency, source)
}

// set publishes a verdict, logging it when it is new or changed.
func (a *Agent) set(id uint32, res *audit.Result, verdict string, latency time.Duration, source string) {
	labels := []string{strconv.FormatUint(uint64(id), 10), res.Name, res.Type, res.Tag, verdict, res.Manifest}
	old := a.progs[id]
	if old != nil {
		if slices.Equal(old.labels, labels) {
			return
		}
		a.m.program.DeleteLabelValues(old.labels...)
		a.m.programs.WithLabelValues(old.verdict()).Dec()
	}
	p := &program{labels: labels, tag: res.Tag}
	a.progs[id] = p
	a.m.program.WithLabelValues(labels...).Set(1)
	a.m.programs.WithLabelValues(verdict).Inc()

	attrs := []any{"id", id, "name", res.Name, "type", res.Type, "tag", res.Tag, "verdict", verdict,
		"source", source, "latency_seconds", latency.Seconds()}
	if old != nil {
		attrs = append(attrs, "previous", old.verdict())
	}
	if res.Manifest != "" {
		attrs = append(attrs, "manifest", res.Manifest, "meas_id", res.MeasID)
	}
	if len(res.Mismatches) > 0 {
		fields := make([]string, len(res.Mismatches))
		for i, m := range res.Mismatches {
			fields[i] = m.Field
		}
		attrs = append(attrs, "mismatches", fields)
	}
	level := slog.LevelInfo
	if verdict != "OK" {
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, "program verdict", attrs...)
}

// settleStep is the first interval of the checks of a pending verdict;
// each next one is twice as long.
const settleStep = 2 * time.Millisecond

// unsealed reports whether every mismatch of a BADSIG result is one a
// loader resolves after BPF_PROG_LOAD returns: a sealed map not frozen yet
// (sealmap freezes after the collection loads) or its contents, hashed
// only once frozen. Mismatches of the instructions, the type or the map
// descriptors cannot change after the load and are published at once.
func unsealed(res *audit.Result) bool {
	if len(res.Mismatches) == 0 {
		return false
	}
	for _, m := range res.Mismatches {
		if !strings.HasPrefix(m.Field, "maps[") || !(strings.HasSuffix(m.Field, ".frozen") || strings.Contains(m.Field, ".content")) {
			return false
		}
	}
	return true
}

// settlePending checks again the pending programs that are due.
func (a *Agent) settlePending() {
	now := time.Now()
	for _, id := range slices.Sorted(maps.Keys(a.pending)) {
		if pc := a.pending[id]; pc != nil && !pc.due.After(now) {
			a.verify(id, pc.source, pc.since, false)
		}
	}
	a.armSettle()
}

// armSettle sets the timer for the earliest pending check.
func (a *Agent) armSettle() {
	var next time.Time
	for _, pc := range a.pending {
		if next.IsZero() || pc.due.Before(next) {
			next = pc.due
		}
	}
	a.settle.Stop()
	if !next.IsZero() {
		a.settle.Reset(max(time.Until(next), 0))
	}
}

func (a *Agent) remove(id uint32) {
	if pc := a.pending[id]; pc != nil {
		// Unloaded while its BADSIG verdict settled: published now,
		// then removed.
		delete(a.pending, id)
		a.m.verifications.WithLabelValues(string(pc.res.Verdict)).Inc()
		a.set(id, pc.res, string(pc.res.Verdict), bpfevent.Now()-pc.since, pc.source)
	}
	p := a.progs[id]
	if p == nil {
		return
	}
	delete(a.progs, id)
	a.m.program.DeleteLabelValues(p.labels...)
	a.m.programs.WithLabelValues(p.verdict()).Dec()
	a.log.Info("program unloaded", "id", id, "name", p.labels[1], "tag", p.tag, "verdict", p.verdict())
}

// checkTrust reloads the trust directory when its files changed (or when
// forced) and verifies every known program again with the new trust.
func (a *Agent) checkTrust(force bool) {
	print, err := fingerprint(a.cfg.TrustDir)
	if err == nil && print == a.trustPrint && !force {
		return
	}
	var t *audit.Trust
	if err == nil {
		t, err = audit.LoadTrustDir(a.cfg.TrustDir)
	}
	if err != nil {
		a.mu.Lock()
		changed := a.trustErr == nil || a.trustErr.Error() != err.Error()
		a.trustErr = err
		a.mu.Unlock()
		if changed || force {
			a.m.trustErrors.Inc()
			a.m.trustLastSuccess.Set(0)
			a.log.Error("loading the trust directory failed; keeping the trust loaded before", "dir", a.cfg.TrustDir, "error", err.Error())
		}
		return
	}
	a.useTrust(t, print)
	now := bpfevent.Now()
	for _, id := range slices.Sorted(maps.Keys(a.progs)) {
		a.verify(id, "trust", now, false)
	}
}

func (a *Agent) useTrust(t *audit.Trust, print [sha256.Size]byte) {
	a.trust, a.trustPrint = t, print
	a.mu.Lock()
	a.trustErr = nil
	a.mu.Unlock()
	a.m.trustReloads.Inc()
	a.m.trustLastSuccess.Set(1)
	a.m.trustManifests.Set(float64(len(t.Manifests)))
	a.m.trustSkipped.Set(float64(len(t.Skipped)))
	a.m.trustLastReload.SetToCurrentTime()
	files := make([]string, len(t.Manifests))
	for i, m := range t.Manifests {
		files[i] = m.File
	}
	a.log.Info("trust directory loaded", "dir", a.cfg.TrustDir, "manifests", files, "skipped", len(t.Skipped))
	for _, s := range t.Skipped {
		a.log.Warn("envelope not trusted", "dir", a.cfg.TrustDir, "reason", s)
	}
	for _, w := range t.Warnings {
		a.log.Warn("trust directory", "dir", a.cfg.TrustDir, "warning", w)
	}
}

// fingerprint hashes the paths, sizes, modes and modification times of
// every file under the trust directory, as audit.LoadTrustDir walks it,
// following symbolic links to files (a Kubernetes ConfigMap volume swaps a
// symbolic link to publish a new version).
func fingerprint(dir string) ([sha256.Size]byte, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(path)
		if err != nil {
			fmt.Fprintf(h, "%s\x00error\x00", path)
			return nil
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00", path, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return [sha256.Size]byte(h.Sum(nil)), nil
}
