package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric of the agent.
const Namespace = "bpf2go_signed"

// programLabels are the labels of the per-program gauge, in order.
var programLabels = []string{"id", "name", "type", "tag", "verdict", "manifest"}

// Verdicts of the agent beyond those of package runtime: a program whose
// verification failed for another reason than a verdict (an error of the
// kernel or of the measurement).
const verdictError = "ERROR"

type metrics struct {
	program          *prometheus.GaugeVec
	programs         *prometheus.GaugeVec
	verifications    *prometheus.CounterVec
	verifyErrors     prometheus.Counter
	vanished         prometheus.Counter
	latency          *prometheus.HistogramVec
	events           *prometheus.CounterVec
	eventsLost       *prometheus.CounterVec
	resyncs          *prometheus.CounterVec
	pollFallback     prometheus.Gauge
	polls            prometheus.Counter
	trustReloads     prometheus.Counter
	trustErrors      prometheus.Counter
	trustManifests   prometheus.Gauge
	trustSkipped     prometheus.Gauge
	trustLastReload  prometheus.Gauge
	trustLastSuccess prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		program: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "program_info",
			Help: "One series of value 1 per BPF program loaded on the host, labelled with its verdict; removed when the program unloads."},
			programLabels),
		programs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "programs",
			Help: "BPF programs loaded on the host, by verdict."}, []string{"verdict"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "verifications_total",
			Help: "Verifications of loaded programs, by verdict (a program is verified when it loads, again when the trust directory changes and at every periodic rescan)."},
			[]string{"verdict"}),
		verifyErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "verification_errors_total",
			Help: "Verifications that failed with an error instead of a verdict (the program is listed with verdict ERROR)."}),
		vanished: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "programs_vanished_total",
			Help: "Programs that were unloaded before the agent could measure them."}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "verification_latency_seconds",
			Help:    "Time from the kernel's load event (source=event), the poll that found the program (poll), the scan (scan) or the trust directory change (trust) to the verdict.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"source"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "events_total",
			Help: "PERF_RECORD_BPF_EVENT records read, by kind (load, unload)."}, []string{"kind"}),
		eventsLost: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "events_lost_total",
			Help: "Load and unload records lost: dropped by the kernel because a per-CPU ring was full (reason=ring_full) or by the agent because its queue was full (queue_full). Each loss starts a rescan of every loaded program."},
			[]string{"reason"}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "rescans_total",
			Help: "Scans of every loaded program id, by reason (start, lost, periodic, reader_failed)."}, []string{"reason"}),
		pollFallback: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "poll_fallback",
			Help: "1 when the kernel's BPF events are not available and the agent polls BPF_PROG_GET_NEXT_ID instead."}),
		polls: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "polls_total",
			Help: "Polls of the loaded program ids in poll fallback."}),
		trustReloads: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "trust_reloads_total",
			Help: "Successful loads of the trust directory."}),
		trustErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "trust_errors_total",
			Help: "Loads of the trust directory that failed (the previous trust stays in use)."}),
		trustManifests: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "trust_manifests",
			Help: "Signed envelopes in use from the trust directory."}),
		trustSkipped: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "trust_skipped_envelopes",
			Help: "Envelopes of the trust directory that did not verify and are not used."}),
		trustLastReload: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "trust_last_reload_timestamp_seconds",
			Help: "When the trust in use was loaded, in seconds since the epoch."}),
		trustLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "trust_last_reload_success",
			Help: "1 when the last attempt to load the trust directory succeeded, 0 when the agent runs on older trust."}),
	}
	reg.MustRegister(m.program, m.programs, m.verifications, m.verifyErrors, m.vanished, m.latency,
		m.events, m.eventsLost, m.resyncs, m.pollFallback, m.polls,
		m.trustReloads, m.trustErrors, m.trustManifests, m.trustSkipped, m.trustLastReload, m.trustLastSuccess,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that exist from the start, so that rate() and alerts see
	// them before the first increment.
	for _, v := range []string{"OK", "PARTIAL", "UNSIGNED", "BADSIG", verdictError} {
		m.verifications.WithLabelValues(v)
		m.programs.WithLabelValues(v)
	}
	for _, k := range []string{"load", "unload"} {
		m.events.WithLabelValues(k)
	}
	for _, r := range []string{"ring_full", "queue_full"} {
		m.eventsLost.WithLabelValues(r)
	}
	return m
}
