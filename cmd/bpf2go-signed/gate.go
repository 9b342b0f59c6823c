package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/gate"
	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
)

// gateSignals are the signals runGate waits for; a test replaces them.
var gateSignals = func() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// runGate is "bpf2go-signed gate": it starts the kernel gate and logs its
// events to stdout until SIGINT or SIGTERM; SIGHUP reloads the trust
// directory at once.
func runGate(c *cli.Command, args []string, stdout, _ io.Writer) error {
	fs := c.Flags()
	var trust string
	cli.TrustFlag(fs, &trust)
	mode := fs.String("mode", "enforce", "enforce (refuse unsigned loads) or audit (log them)")
	pin := fs.String("pin", "", "bpffs directory to pin the gate in, so that it outlives this process")
	poll := fs.Duration("poll", time.Second, "how often to check the trust directory for changes")
	remove := fs.Bool("remove", false, "remove the pinned gate in --pin and exit")
	words, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(words) > 0 {
		return fmt.Errorf("%w: gate: unexpected argument %q", cli.ErrUsage, words[0])
	}
	if *remove {
		if *pin == "" {
			return fmt.Errorf("%w: gate --remove needs --pin DIR", cli.ErrUsage)
		}
		return gate.RemovePins(*pin)
	}
	if trust == "" {
		return fmt.Errorf("%w: gate needs --trust DIR", cli.ErrUsage)
	}
	m, err := gate.ParseMode(*mode)
	if err != nil {
		return fmt.Errorf("%w: gate --mode: %v", cli.ErrUsage, err)
	}
	var mu sync.Mutex
	logf := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "%s gate: %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
	}
	g, err := gate.Start(gate.Options{TrustDir: trust, Mode: m, PinDir: *pin, Log: logf, Poll: *poll})
	if err != nil {
		if errors.Is(err, gate.ErrNoBPFLSM) {
			return fmt.Errorf("gate: not enforcing anything: %w", err)
		}
		return err
	}
	logf("ready: " + m.String())
	sig, stop := gateSignals()
	defer stop()
	for s := range sig {
		if s == syscall.SIGHUP {
			if _, err := g.Reload(); err != nil {
				logf("trust reload failed, previous allow set kept: " + err.Error())
			}
			continue
		}
		break
	}
	st, _ := g.Stats()
	misses, _ := g.RecursionMisses()
	logf(fmt.Sprintf("stopping: allowed %d refused %d audited %d self-refused %d lost-events %d recursion-misses %d",
		st[gate.StatAllowed], st[gate.StatRefused], st[gate.StatAudited], st[gate.StatSelf], st[gate.StatLost], misses))
	if *pin != "" {
		logf("pinned in " + *pin + ": the kernel keeps enforcing; remove with: bpf2go-signed gate --remove --pin " + *pin)
	}
	return g.Close()
}
