// Command bpf2go-signed-agent verifies every BPF program loaded on the host
// as it loads, with the verdicts of `bpf2go-signed prog verify`, and
// exports them to Prometheus. `bpf2go-signed agent ...` runs it.
//
//	bpf2go-signed-agent --trust DIR [--listen ADDR] [--log json|text]
//
// It needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (program lookups by id),
// or root. SIGHUP reloads the trust directory; SIGINT and SIGTERM stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cilium/ebpf/rlimit"

	"github.com/bpf2go-signed/bpf2go-signed/agent"
)

const usage = `Usage: bpf2go-signed agent --trust DIR [options]

Verifies every BPF program loaded on this host as it loads, against the
signed envelopes (*.intoto.json) and public keys (*.pub) in DIR, with the
verdicts of "bpf2go-signed prog verify", and serves them to Prometheus.
SIGHUP reloads DIR (it is also reloaded when its files change).

Options:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bpf2go-signed agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	trust := fs.String("trust", "", "trust directory: *.pub keys and *.intoto.json envelopes (required)")
	listen := fs.String("listen", "127.0.0.1:9813", "address of the HTTP server for /metrics and /healthz")
	logFormat := fs.String("log", "json", "log format: json or text")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	source := fs.String("source", agent.SourceAuto, "how loads are learnt: auto (kernel events, polling where missing), perf (kernel events only) or poll")
	pollInterval := fs.Duration("poll-interval", time.Second, "period of the poll fallback")
	rescanInterval := fs.Duration("rescan-interval", 5*time.Minute, "period of a full rescan of the loaded programs")
	trustInterval := fs.Duration("trust-interval", 2*time.Second, "how often the trust directory is checked for changes")
	ringPages := fs.Int("ring-pages", 32, "pages of each CPU's event ring (a power of two)")
	queueSize := fs.Int("queue-size", 8192, "events read but not yet handled; beyond, events are dropped, counted and a rescan made")
	settle := fs.Duration("settle", 100*time.Millisecond, "how long a BADSIG verdict on a program just loaded waits for its loader to seal its maps before it is checked again and published")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *trust == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "bpf2go-signed agent: --trust DIR is required and no arguments are taken")
		fs.Usage()
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "bpf2go-signed agent: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	var handler slog.Handler
	switch *logFormat {
	case "json":
		handler = slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})
	case "text":
		handler = slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: level})
	default:
		fmt.Fprintf(stderr, "bpf2go-signed agent: --log %q: want json or text\n", *logFormat)
		return 2
	}
	log := slog.New(handler)
	fail := func(err error) int {
		log.Error("agent stopped", "error", err.Error())
		fmt.Fprintf(stderr, "bpf2go-signed agent: %v\n", err)
		return 1
	}

	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		log.Warn("could not raise RLIMIT_MEMLOCK", "error", err.Error())
	}
	a, err := agent.New(agent.Config{
		TrustDir: *trust, Logger: log, Source: *source, PollInterval: *pollInterval,
		RescanInterval: *rescanInterval, TrustInterval: *trustInterval, RingPages: *ringPages, Settle: *settle,
		QueueSize: *queueSize,
	})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(fmt.Errorf("listen: %w", err))
	}
	log.Info("serving metrics", "address", ln.Addr().String())
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			a.Reload()
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	select {
	case err = <-runErr:
	case err = <-serveErr:
		stop()
		<-runErr
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fail(err)
	}
	log.Info("agent stopped")
	return 0
}
