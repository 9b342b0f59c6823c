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
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bpf2go-signed/bpf2go-signed/gen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in the command line itself.
var errUsage = errors.New("usage")

// helpRequested is returned when -h, -help or --help was given: the
// usage of the command's FlagSet (fs), else the help of cmd (a group, or
// nil for the tool), is printed to standard output, exit 0.
type helpRequested struct {
	cmd *command
	fs  *flag.FlagSet
}

func (h *helpRequested) Error() string { return "help requested" }

// usageError is a usage error of one command (nil: of the tool itself).
type usageError struct {
	cmd *command
	err error
}

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func run(args []string, stdout, stderr io.Writer) int {
	cmd, rest, err := resolve(args)
	if err == nil {
		if cmd == nil {
			err = generate(args, stdout)
		} else {
			err = cmd.run(cmd, rest, stdout, stderr)
		}
	}
	var help *helpRequested
	var uerr *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		if help.fs != nil {
			help.fs.SetOutput(stdout)
			help.fs.Usage()
			return 0
		}
		if help.cmd == nil {
			help.cmd = cmd
		}
		printHelp(stdout, help.cmd)
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "bpf2go-signed: %s\n", oneLine(uerr.err))
		printShortUsage(stderr, uerr.cmd)
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "bpf2go-signed: %s\n", oneLine(err))
		printShortUsage(stderr, cmd)
		return 2
	default:
		fmt.Fprintf(stderr, "bpf2go-signed: %s\n", oneLine(err))
		return 1
	}
}

// oneLine keeps an error message on one line.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// generate runs the bpf2go-compatible generator.
func generate(args []string, stdout io.Writer) error {
	var out bytes.Buffer
	cfg, err := gen.Parse(args, os.LookupEnv, &out)
	if errors.Is(err, gen.ErrHelp) {
		printHelp(stdout, nil)
		return nil
	}
	if err != nil {
		if out.Len() > 0 {
			// The flag package explained a malformed generator flag.
			return &usageError{err: err}
		}
		return err
	}
	return gen.Run(context.Background(), cfg, stdout)
}

// plural spells a count with its noun: "1 program", "2 programs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
