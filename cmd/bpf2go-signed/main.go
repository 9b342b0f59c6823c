// Command bpf2go-signed is a drop-in replacement for bpf2go that also
// generates verifying loaders, and a bpftool-style tool to measure, sign and
// verify BPF objects and the programs loaded on a host.
//
//	bpf2go-signed [bpf2go options] <ident> <source> [-- <C flags>]
//	bpf2go-signed measure object FILE.o [-j|-p]
//	bpf2go-signed prog show|measure|verify ...
//	bpf2go-signed map show|hash ...
//	bpf2go-signed keygen
//	bpf2go-signed sign --key KEY (FILE.o | PATTERN)...
//	bpf2go-signed verify --key PUB FILE.o
//	bpf2go-signed statement (FILE.o | PATTERN)...
//	bpf2go-signed verify --identity ID --trusted-root FILE FILE.o
//	bpf2go-signed gate --trust DIR [--mode enforce|audit] [--pin DIR]
//
// "bpf2go-signed -h" and "bpf2go-signed COMMAND -h" print usage with
// examples. Errors are one line on standard error and exit status 1; usage
// errors exit with status 2.
package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"

	"github.com/bpf2go-signed/bpf2go-signed/gen"
	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs a command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return tool.Run(args, stdout, stderr)
}

// generate runs the bpf2go-compatible generator.
func generate(args []string, stdout io.Writer) error {
	var out bytes.Buffer
	cfg, err := gen.Parse(args, os.LookupEnv, &out)
	if errors.Is(err, gen.ErrHelp) {
		return &cli.HelpRequested{}
	}
	if err != nil {
		if out.Len() > 0 {
			// The flag package explained a malformed generator flag.
			return cli.UsageErr(err)
		}
		return err
	}
	return gen.Run(context.Background(), cfg, stdout)
}
