// Command xdp-filter is the bpf2go-signed example: an XDP filter that drops
// TCP and UDP traffic to the ports listed in a sealed map. It loads the
// program through the generated verifying loader, prints the verdict, and
// attaches the program only when the verdict passes the policy. Then it
// prints the counters every second until interrupted, and detaches.
//
//	xdp-filter -iface eth0 [-count-only] [-trust-key KEY.pub] [-json]
//
// Exit status: 0 after a clean detach, 1 on errors, 3 when the verified
// load is refused (nothing is attached then).
package main

//go:generate go run github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed -target bpfel -sign-key demo.key -seal-contents blocked_ports=blocked_ports.json -param mode filter filter.c -- -I/usr/include/x86_64-linux-gnu

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

func main() {
	os.Exit(run())
}

func run() int {
	iface := flag.String("iface", "", "network interface to attach to (required)")
	countOnly := flag.Bool("count-only", false, "count blocked traffic instead of dropping it (run-time parameter mode=1)")
	trust := flag.String("trust-key", "", "trust this PEM public key instead of the one embedded at generate time")
	asJSON := flag.Bool("json", false, "print the verdict report as JSON")
	interval := flag.Duration("interval", time.Second, "how often to print the counters")
	flag.Parse()
	if *iface == "" {
		fmt.Fprintln(os.Stderr, "xdp-filter: -iface is required")
		flag.Usage()
		return 1
	}
	ifc, err := net.InterfaceByName(*iface)
	if err != nil {
		fmt.Fprintf(os.Stderr, "xdp-filter: interface %s: %v\n", *iface, err)
		return 1
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		fmt.Fprintf(os.Stderr, "xdp-filter: %v\n", err)
		return 1
	}

	var policy *bpfsigned.Policy
	if *trust != "" {
		raw, err := os.ReadFile(*trust)
		if err == nil {
			var k crypto.PublicKey
			// Keys of the families the loader accepts (and links).
			if k, err = _FilterSignedObject().KeyAlgorithms.ParsePublicKey(raw); err == nil {
				policy = &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{k}, IgnoreEmbeddedKeys: true}
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "xdp-filter: -trust-key %s: %v\n", *trust, err)
			return 1
		}
	}

	params := &filterParams{Mode: 0}
	if *countOnly {
		params.Mode = 1
	}
	var objs filterObjects
	report, err := loadFilterObjectsVerifiedWithParams(&objs, nil, policy, params)
	if report != nil {
		if *asJSON {
			fmt.Println(string(report.JSON()))
		} else {
			fmt.Printf("Verdict: %s\n", report)
		}
	}
	var refused *bpfsigned.Error
	if errors.As(err, &refused) {
		fmt.Fprintf(os.Stderr, "xdp-filter: %v\n", err)
		fmt.Fprintln(os.Stderr, "xdp-filter: nothing was attached")
		return 3
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "xdp-filter: %v\n", err)
		return 1
	}
	defer objs.Close()

	// Measure once more right before attaching.
	if _, err := recheckFilterObjects(&objs, report); err != nil {
		fmt.Fprintf(os.Stderr, "xdp-filter: recheck before attach: %v\nxdp-filter: nothing was attached\n", err)
		return 3
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: objs.PortFilter, Interface: ifc.Index})
	if err != nil {
		fmt.Fprintf(os.Stderr, "xdp-filter: attach to %s: %v\n", *iface, err)
		return 1
	}
	mode := "enforcing"
	if *countOnly {
		mode = "counting only"
	}
	fmt.Printf("Attached to %s (%s). Ctrl-C to detach.\n", *iface, mode)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		c, err := readCounters(&objs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "xdp-filter: %v\n", err)
			break
		}
		if *asJSON {
			b, _ := json.Marshal(c)
			fmt.Println(string(b))
		} else {
			fmt.Printf("pass %d  drop %d  matched (count only) %d\n", c.Pass, c.Drop, c.Match)
		}
	}
	if err := l.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "xdp-filter: detach: %v\n", err)
		return 1
	}
	fmt.Printf("Detached from %s.\n", *iface)
	return 0
}

// counters are the per-CPU counters summed over CPUs.
type counters struct {
	Pass  uint64 `json:"pass"`
	Drop  uint64 `json:"drop"`
	Match uint64 `json:"match"`
}

func readCounters(objs *filterObjects) (counters, error) {
	var c counters
	for i, dst := range []*uint64{&c.Pass, &c.Drop, &c.Match} {
		var perCPU []uint64
		if err := objs.Counters.Lookup(uint32(i), &perCPU); err != nil {
			return c, fmt.Errorf("read counter %d: %w", i, err)
		}
		for _, n := range perCPU {
			*dst += n
		}
	}
	return c, nil
}
