// Command bpf2go-signed measures, signs and verifies BPF programs built with
// bpf2go, and the programs loaded on a host, in the style of bpftool.
//
//	bpf2go-signed measure object FILE.o [-j|-p]
//	bpf2go-signed prog measure (id N | pinned PATH) [-j|-p] [--readback]
//
// Errors are one line on standard error and exit status 1; usage errors exit
// with status 2.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `Usage:
  bpf2go-signed measure object FILE.o [-j|-p]
      print the expected measurement of every program in a BPF object
  bpf2go-signed prog measure (id N | pinned PATH) [-j|-p] [--readback]
      print the kernel's measurement of a loaded program

Options:
  -j, --json     JSON output
  -p, --pretty   indented JSON output
  --readback     hash frozen maps in user space from contents read back
                 through the kernel, even where the kernel hashes them
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in the command line itself.
var errUsage = errors.New("usage")

// options are the bpftool-style options shared by subcommands.
type options struct {
	json, pretty, readback bool
}

// parseArgs splits args into positional words and options, which may appear
// anywhere, as in bpftool.
func parseArgs(args []string) ([]string, options, error) {
	var words []string
	var o options
	for i, a := range args {
		switch a {
		case "-j", "--json":
			o.json = true
		case "-p", "--pretty":
			o.json, o.pretty = true, true
		case "--readback":
			o.readback = true
		case "--":
			return append(words, args[i+1:]...), o, nil
		default:
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				return nil, o, fmt.Errorf("%w: unknown option %s", errUsage, a)
			}
			words = append(words, a)
		}
	}
	return words, o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	words, opts, err := parseArgs(args)
	if err == nil {
		err = dispatch(words, opts, stdout)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "bpf2go-signed: %s\n%s", oneLine(err), usage)
		return 2
	default:
		fmt.Fprintf(stderr, "bpf2go-signed: %s\n", oneLine(err))
		return 1
	}
}

func dispatch(words []string, opts options, stdout io.Writer) error {
	cmd := strings.Join(words[:min(2, len(words))], " ")
	switch {
	case len(words) == 0 || words[0] == "help" || words[0] == "-h" || words[0] == "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case cmd == "measure object":
		if len(words) != 3 {
			return fmt.Errorf("%w: measure object takes one FILE.o", errUsage)
		}
		return measureObject(words[2], opts, stdout)
	case cmd == "prog measure":
		fd, err := openProgram(words[2:])
		if err != nil {
			return err
		}
		return progMeasure(fd, opts, stdout)
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(words, " "))
	}
}

// oneLine keeps an error message on one line.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
