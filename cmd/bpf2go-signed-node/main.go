// Command bpf2go-signed-node is the node side of bpf2go-signed: the
// commands an operator runs on a host against the programs and maps its
// kernel has loaded, and nothing else.
//
//	bpf2go-signed-node prog show [id N | pinned PATH] [-j|-p]
//	bpf2go-signed-node prog measure (id N | pinned PATH) [--readback] [-j|-p]
//	bpf2go-signed-node prog verify (id N | pinned PATH | --all) --trust DIR [--accept VERDICTS] [-j|-p]
//	bpf2go-signed-node map show|hash (id N | pinned PATH) [--readback] [-j|-p]
//	bpf2go-signed-node map verify (id N | pinned PATH | --all) --trust DIR [--accept VERDICTS] [-j|-p]
//
// These are bpf2go-signed's own commands of the same names (one
// implementation, package internal/cli): same options, output and exit
// status (0, 1 for errors or a verdict outside --accept, 2 for usage
// errors). The executable links the audit, measurement and signature
// verification only: not the generator, go/packages, sigstore or the
// signing code, nor net (so it is a static executable), which makes it
// smaller and faster to start than bpf2go-signed.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
)

var tool = &cli.Tool{
	Name:     "bpf2go-signed-node",
	Groups:   cli.NodeGroups,
	Commands: cli.NodeCommands(),
	Overview: func(w io.Writer) {
		fmt.Fprint(w, `bpf2go-signed-node: the node side of bpf2go-signed. Lists, measures and
verifies the BPF programs and maps loaded on this host against signed
envelopes, with bpf2go-signed's commands of the same names.

Usage:
  bpf2go-signed-node COMMAND [ARGS] [OPTIONS]

`)
	},
}

func main() {
	// The commands run for milliseconds to seconds and keep little alive
	// (a trust directory's manifests, a result per program): the
	// collector runs at four times the live heap rather than twice
	// (GOGC=400), a few megabytes more for a third of the collections
	// (prog verify --all over 1000 programs: about 5 % of its CPU time).
	// GOGC in the environment still decides.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	os.Exit(tool.Run(os.Args[1:], os.Stdout, os.Stderr))
}
