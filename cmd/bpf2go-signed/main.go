// Command bpf2go-signed is a drop-in replacement for bpf2go that also
// generates verifying loaders, and a bpftool-style tool to measure, sign and
// verify BPF objects and the programs loaded on a host.
//
//	bpf2go-signed [bpf2go options] <ident> <source> [-- <C flags>]
//	bpf2go-signed measure object FILE.o [-j|-p]
//	bpf2go-signed prog measure (id N | pinned PATH) [-j|-p] [--readback]
//	bpf2go-signed keygen
//	bpf2go-signed sign --key KEY (FILE.o | PATTERN)...
//	bpf2go-signed verify --key PUB FILE.o
//
// Errors are one line on standard error and exit status 1; usage errors exit
// with status 2.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/bpf2go-signed/bpf2go-signed/gen"
)

const usage = `Usage:
  bpf2go-signed [bpf2go options] <ident> <source> [-- <C flags>]
      generate like bpf2go, plus a verifying loader (bpf2go-signed -h lists options)
  bpf2go-signed measure object FILE.o [-j|-p] [--target-btf PATH]...
      print the expected measurement of every program in a BPF object
  bpf2go-signed prog measure (id N | pinned PATH) [-j|-p] [--readback]
      print the kernel's measurement of a loaded program
  bpf2go-signed prog show [id N | pinned PATH] [-j|-p]
      list loaded programs like bpftool prog show
  bpf2go-signed prog verify (id N | pinned PATH | --all) --trust DIR [-j|-p]
      give each program a verdict against the signed envelopes (*.intoto.json)
      and public keys (*.pub) in DIR; exit 0 only when every one is OK
  bpf2go-signed map show|hash (id N | pinned PATH) [-j|-p]
      a map's descriptor, frozen state and content hash
  bpf2go-signed keygen [--output-key-prefix cosign]
      write cosign.key (encrypted with $COSIGN_PASSWORD) and cosign.pub
  bpf2go-signed sign --key KEY [--target-btf PATH]... (FILE.o | PACKAGE PATTERN)...
      sign objects, or every object bpf2go-signed generated in the packages
  bpf2go-signed verify --key PUB FILE.o
      check FILE.o.intoto.json: exit 0 only for a valid signature over FILE.o

Options:
  -j, --json     JSON output
  -p, --pretty   indented JSON output
  --readback     hash frozen maps in user space from contents read back
                 through the kernel, even where the kernel hashes them
  --target-btf PATH  resolve CO-RE relocations against this kernel BTF (a file
                 or a directory of them; repeatable): one digest per target
  --all          every loaded program (prog verify)
  --trust DIR    envelopes and public keys to verify against (prog verify)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in the command line itself.
var errUsage = errors.New("usage")

// options are the bpftool-style options shared by subcommands.
type options struct {
	json, pretty, readback, all bool
	trust                       string
	targetBTF                   []string
}

// parseArgs splits args into positional words and options, which may appear
// anywhere, as in bpftool.
func parseArgs(args []string) ([]string, options, error) {
	var words []string
	var o options
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--all":
			o.all = true
		case "--target-btf", "-target-btf":
			if i+1 >= len(args) {
				return nil, o, fmt.Errorf("%w: --target-btf needs a BTF file or directory", errUsage)
			}
			i++
			o.targetBTF = append(o.targetBTF, args[i])
		case "--trust", "-trust":
			if i+1 >= len(args) {
				return nil, o, fmt.Errorf("%w: --trust needs a directory", errUsage)
			}
			i++
			o.trust = args[i]
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

// subcommands are the first words that select the tool; anything else is
// a bpf2go command line.
var subcommands = []string{"measure", "prog", "map", "keygen", "sign", "verify", "help", "-h", "-help", "--help"}

func run(args []string, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) > 0 && !slices.Contains(subcommands, args[0]):
		err = generate(args, stdout)
		if errors.Is(err, gen.ErrHelp) {
			return 0
		}
	case len(args) > 0 && args[0] == "keygen":
		err = keygen(args[1:], stdout)
	case len(args) > 0 && args[0] == "sign":
		err = sign(args[1:], stdout)
	case len(args) > 0 && args[0] == "verify":
		err = verify(args[1:], stdout)
	default:
		var words []string
		var opts options
		words, opts, err = parseArgs(args)
		if err == nil {
			err = dispatch(words, opts, stdout)
		}
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
	case cmd == "prog show" || (len(words) == 1 && words[0] == "prog"):
		return progShow(words[min(2, len(words)):], opts, stdout)
	case cmd == "prog verify":
		return progVerify(words[2:], opts, stdout)
	case cmd == "map show", cmd == "map hash":
		fd, err := openMap(words[2:])
		if err != nil {
			return err
		}
		return mapShow(fd, words[1] == "hash", opts, stdout)
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(words, " "))
	}
}

// oneLine keeps an error message on one line.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// generate runs the bpf2go-compatible generator.
func generate(args []string, stdout io.Writer) error {
	cfg, err := gen.Parse(args, os.LookupEnv, stdout)
	if err != nil {
		return err
	}
	return gen.Run(context.Background(), cfg, stdout)
}
