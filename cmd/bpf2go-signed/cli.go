package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/bpf2go-signed/bpf2go-signed/gen"
)

// command is one subcommand: its help text, its options and what it runs.
type command struct {
	// name is the words that select it, such as "prog verify".
	name string
	// synopsis follows the name in its usage line.
	synopsis string
	// summary is one line for the overview; detail follows it in the
	// command's own help.
	summary, detail string
	examples        []string
	// run parses args with the command's own FlagSet and runs it.
	run func(c *command, args []string, stdout, stderr io.Writer) error
}

// group is the first word of several commands, such as "prog".
type group struct {
	name, summary string
	// bare is the command that the group word alone runs (bpftool runs
	// "prog show" for "prog"), or "".
	bare string
}

var groups = []group{
	{"measure", "expected measurements of BPF objects", ""},
	{"prog", "programs loaded in the kernel: list, measure, give a verdict", "prog show"},
	{"map", "maps loaded in the kernel: descriptor, frozen state, content hash, struct_ops verdicts", ""},
}

var commands = []*command{
	{
		name:     "measure object",
		synopsis: "FILE.o [--target-btf PATH]... [-j|-p]",
		summary:  "print the expected measurement of every program in a BPF object",
		detail: `Measures FILE.o as the loader and the signer do: per program the digest,
the kernel tag it implies, its CO-RE sites and its maps (with the content
hash of sealed maps). The sealing plan FILE.o.seal.json is used when it
exists. With --target-btf, CO-RE relocations are resolved against each
kernel BTF given, one digest per target whose byte order matches the object.`,
		examples: []string{
			"bpf2go-signed measure object bpf_bpfel.o",
			"bpf2go-signed measure object bpf_bpfel.o --target-btf /sys/kernel/btf/vmlinux -p",
		},
		run: runMeasureObject,
	},
	{
		name:     "prog show",
		synopsis: "[id N | pinned PATH] [-j|-p]",
		summary:  "list loaded programs like bpftool prog show",
		detail:   `Without a program, lists every program loaded in the kernel.`,
		examples: []string{
			"bpf2go-signed prog show",
			"bpf2go-signed prog show id 42 -j",
		},
		run: runProgShow,
	},
	{
		name:     "prog measure",
		synopsis: "(id N | pinned PATH) [--readback] [-j|-p]",
		summary:  "print the kernel's measurement of a loaded program",
		detail: `Asks the kernel what it loaded: the program's tag, translated
instructions (when readable) and maps, with the content hash of each
frozen map.`,
		examples: []string{
			"bpf2go-signed prog measure id 42",
			"bpf2go-signed prog measure pinned /sys/fs/bpf/xdp_filter -p",
		},
		run: runProgMeasure,
	},
	{
		name:     "prog verify",
		synopsis: "(id N | pinned PATH | --all) --trust DIR [--accept VERDICTS] [-j|-p]",
		summary:  "give loaded programs a verdict against signed envelopes",
		detail: `DIR holds public keys (*.pub) and signed envelopes (*.intoto.json), in any
subdirectory; the objects themselves may sit next to their envelopes.
Keyless signatures: Sigstore bundles (*.sigstore.json), trusted
identities (*.identity, one a line) and trusted_root.json at the top.
Envelopes are matched to a program by their measurement, never by file
name, so envelopes with the same name in different subdirectories are
fine. Only envelopes of objects for this host's byte order are
considered. Verdicts: OK (matches a signed measurement), PARTIAL (matches
except at CO-RE or kernel-resolved sites whose values this kernel
yields), UNSIGNED (no envelope covers it), BADSIG (it differs from the
envelope that names it, or the signature is not trusted).
Exit status 0 only when every verdict is one --accept names (OK by default,
as the loader's default policy). A PARTIAL verdict needs the signed object
in the trust directory, as the loader has it: it relocates the object's
program for this kernel and compares the kernel's tag; with the envelope
alone such a program is BADSIG, with a hint.`,
		examples: []string{
			"bpf2go-signed prog verify id 42 --trust /etc/bpf2go-signed",
			"bpf2go-signed prog verify --all --trust /etc/bpf2go-signed -p",
		},
		run: runProgVerify,
	},
	{
		name:     "map show",
		synopsis: "(id N | pinned PATH) [--readback] [-j|-p]",
		summary:  "a map's descriptor, frozen state and content hash",
		examples: []string{
			"bpf2go-signed map show id 7",
		},
		run: runMapShow,
	},
	{
		name:     "map hash",
		synopsis: "(id N | pinned PATH) [--readback] [-j|-p]",
		summary:  "the content hash of a frozen map",
		detail: `Only a frozen (sealed) map has a content hash: the kernel's own hash where
it computes one, else a hash of the contents read back.`,
		examples: []string{
			"bpf2go-signed map hash pinned /sys/fs/bpf/config",
		},
		run: runMapShow,
	},
	{
		name:     "map verify",
		synopsis: "(id N | pinned PATH | --all) --trust DIR [--accept VERDICTS] [-j|-p]",
		summary:  "give loaded struct_ops maps a verdict against signed envelopes",
		detail: `A struct_ops map (a TCP congestion control, a sched_ext scheduler) binds
programs to the members of a kernel struct. It is OK when a trusted
envelope measures a struct_ops map of its name whose every member the
kernel's value matches: each function member holds a program whose own
verdict passes against the same envelope, each data member the signed
bytes. --all verifies every struct_ops map on the host. The trust
directory is the one of prog verify.`,
		examples: []string{
			"bpf2go-signed map verify --all --trust /etc/bpf2go-signed",
			"bpf2go-signed map verify pinned /sys/fs/bpf/my_cc --trust /etc/bpf2go-signed -j",
		},
		run: runMapVerify,
	},
	{
		name:     "keygen",
		synopsis: "[--output-key-prefix PREFIX] [--force]",
		summary:  "write cosign.key (encrypted with $COSIGN_PASSWORD) and cosign.pub",
		detail: `Writes a key pair in cosign's format: the private key is encrypted with
the password in $COSIGN_PASSWORD (asked for on a terminal when unset).`,
		examples: []string{
			"COSIGN_PASSWORD=... bpf2go-signed keygen",
			"bpf2go-signed keygen --output-key-prefix release",
		},
		run: keygen,
	},
	{
		name:     "sign",
		synopsis: "--key KEY [--target-btf PATH]... (FILE.o | PACKAGE PATTERN)...",
		summary:  "sign objects, or every object bpf2go-signed generated in the packages",
		detail: `Measures each object and writes its signed envelope FILE.o.intoto.json.
KEY is a cosign or PEM private key file (password in $COSIGN_PASSWORD)
or a KMS URI (see README, "Cloud KMS keys"). With --target-btf, CO-RE
and kernel-resolved sites are resolved against each kernel BTF given,
one acceptable digest per target.`,
		examples: []string{
			"bpf2go-signed sign --key cosign.key ./...",
			"bpf2go-signed sign --key cosign.key --target-btf btf/ internal/probe/bpf_bpfel.o",
		},
		run: sign,
	},
	{
		name:     "statement",
		synopsis: "[--target-btf PATH]... (FILE.o | PACKAGE PATTERN)...",
		summary:  "write FILE.o.statement.json, the statement to sign keylessly with cosign",
		detail: `Measures each object as sign does and writes the exact in-toto statement the
loader expects, for a keyless signature in CI (GitHub Actions with
id-token: write): cosign attest-blob --statement FILE.o.statement.json
--new-bundle-format --bundle FILE.o.sigstore.json. The loader, generated with
-trust-identity and -trusted-root, embeds the bundle; rebuild after signing
(see docs/keyless.md).`,
		examples: []string{
			"bpf2go-signed statement ./...",
			"cosign attest-blob --yes --new-bundle-format --statement bpf_bpfel.o.statement.json --bundle bpf_bpfel.o.sigstore.json",
		},
		run: statement,
	},
	{
		name:     "verify",
		synopsis: "(--key PUB | --identity ID --trusted-root FILE) FILE.o",
		summary:  "check FILE.o.intoto.json (or the keyless FILE.o.sigstore.json): exit 0 only for a valid signature over FILE.o",
		detail: `With --key, checks the envelope FILE.o.intoto.json. With --identity
('issuer=URL;identity=SAN' or identity-regexp=RE, plus optional Fulcio
claims) and --trusted-root, checks the Sigstore bundle FILE.o.sigstore.json
offline: certificate chain at the logged time, SCT, Rekor entry, identity.`,
		examples: []string{
			"bpf2go-signed verify --key cosign.pub bpf_bpfel.o",
			"bpf2go-signed verify --trusted-root trusted_root.json --identity 'issuer=https://token.actions.githubusercontent.com;identity=https://github.com/acme/filters/.github/workflows/release.yml@refs/tags/v1.0.0' bpf_bpfel.o",
		},
		run: verify,
	},
	{
		name:     "agent",
		synopsis: "--trust DIR [--listen ADDR] [--log json|text] [options]",
		summary:  "verify every program loaded on the host as it loads; serve the verdicts to Prometheus",
		detail: `Runs bpf2go-signed-agent, a separate executable found next to
bpf2go-signed or on PATH, with the same arguments. It verifies every program
loaded on the host as the kernel reports the load, with the verdicts of
prog verify against DIR, and serves them on /metrics (and /healthz).
"bpf2go-signed-agent -h" lists all its options. Install it with
go install github.com/bpf2go-signed/bpf2go-signed/agent/cmd/bpf2go-signed-agent@latest.`,
		examples: []string{
			"bpf2go-signed agent --trust /etc/bpf2go-signed/trust",
			"bpf2go-signed agent --trust /etc/bpf2go-signed/trust --listen :9813 --log text",
		},
		run: runAgent,
	},
	{
		name:     "gate",
		synopsis: "--trust DIR [--mode enforce|audit] [--pin DIR] [--poll 1s] | --remove --pin DIR",
		summary:  "kernel gate (BPF LSM): refuse or log every program load not signed in DIR",
		detail: `Loads two BPF-LSM programs (the gate's own, signed, verified before they
attach) that make the kernel refuse with EPERM, at BPF_PROG_LOAD, every
program whose digest (the 8-byte tag before Linux 6.18, the full SHA-256
from 6.18 on) no envelope in DIR signs; refusals are logged on standard
output. --mode audit logs and allows. DIR is the trust directory of prog
verify; changes are picked up every --poll and on SIGHUP, atomically.
--pin DIR (on bpffs) keeps the gate enforcing after the process exits;
a new gate with the same --pin replaces it without a gap; --remove
removes it. Needs the BPF LSM (bpf in /sys/kernel/security/lsm): without
it the command says so and exits 1. See gate/README.md.`,
		examples: []string{
			"bpf2go-signed gate --trust /etc/bpf2go-signed --mode audit",
			"bpf2go-signed gate --trust /etc/bpf2go-signed --pin /sys/fs/bpf/bpf2go-signed-gate",
			"bpf2go-signed gate --remove --pin /sys/fs/bpf/bpf2go-signed-gate",
		},
		run: runGate,
	},
}

// helpWords ask for help wherever a command or option may stand.
func isHelpWord(s string) bool {
	return s == "-h" || s == "-help" || s == "--help"
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func findGroup(name string) *group {
	for i := range groups {
		if groups[i].name == name {
			return &groups[i]
		}
	}
	return nil
}

// groupCommand is the pseudo-command whose help lists a group.
func groupCommand(g *group) *command {
	return &command{name: g.name, synopsis: "COMMAND [ARGS] [OPTIONS]", summary: g.summary}
}

// firstWords are the words that select a command rather than the generator.
func firstWords() []string {
	var w []string
	for _, c := range commands {
		first, _, _ := strings.Cut(c.name, " ")
		if !slices.Contains(w, first) {
			w = append(w, first)
		}
	}
	return append(w, "help")
}

// resolve decides what a command line is: a subcommand (with its
// arguments) or, when cmd is nil and err is nil, a bpf2go command line.
//
// bpf2go's command line is [options] <ident> <source> [-- <C flags>]: the
// ident may be any word, including a subcommand's name, so a line whose
// second word names a C source file (ending in .c, or an existing file that
// is not an object) is a generator line even when its first word is
// "map" or "sign".
func resolve(args []string) (*command, []string, error) {
	if len(args) == 0 {
		return nil, nil, &usageError{err: errors.New("no command; run bpf2go-signed -h for usage")}
	}
	first := args[0]
	switch {
	case isHelpWord(first):
		return nil, nil, &helpRequested{}
	case strings.HasPrefix(first, "-"):
		return nil, nil, nil
	}
	if !slices.Contains(firstWords(), first) {
		switch {
		case len(args) >= 2 && looksLikeSource(args[1]):
			return nil, nil, nil
		case suggest(first) != "":
			return nil, nil, &usageError{err: fmt.Errorf("unknown command %q, did you mean %q?", first, suggest(first))}
		case len(args) >= 2:
			return nil, nil, nil
		default:
			return nil, nil, &usageError{err: fmt.Errorf("unknown command %q (a generator command line is <ident> <source>)", first)}
		}
	}
	g := findGroup(first)
	if len(args) >= 2 && looksLikeSource(args[1]) && (g == nil || findCommand(first+" "+args[1]) == nil) {
		// "map bpf.c": map is the ident.
		return nil, nil, nil
	}
	if first == "help" {
		return resolveHelp(args[1:])
	}
	if g == nil {
		return findCommand(first), args[1:], nil
	}
	if len(args) == 1 || strings.HasPrefix(args[1], "-") && !isHelpWord(args[1]) {
		if g.bare != "" {
			return findCommand(g.bare), args[1:], nil
		}
		return nil, nil, &usageError{cmd: groupCommand(g), err: fmt.Errorf("%s needs a command", g.name)}
	}
	if isHelpWord(args[1]) || args[1] == "help" {
		return nil, nil, &helpRequested{cmd: groupCommand(g)}
	}
	if c := findCommand(first + " " + args[1]); c != nil {
		return c, args[2:], nil
	}
	msg := fmt.Sprintf("unknown command %q", first+" "+args[1])
	if s := suggest(first + " " + args[1]); s != "" {
		msg += fmt.Sprintf(", did you mean %q?", s)
	}
	return nil, nil, &usageError{cmd: groupCommand(g), err: errors.New(msg)}
}

// resolveHelp handles "help [COMMAND...]" as "COMMAND -h".
func resolveHelp(words []string) (*command, []string, error) {
	if len(words) == 0 {
		return nil, nil, &helpRequested{}
	}
	name := strings.Join(words, " ")
	if c := findCommand(name); c != nil {
		return c, []string{"-h"}, nil
	}
	if g := findGroup(name); g != nil {
		return nil, nil, &helpRequested{cmd: groupCommand(g)}
	}
	msg := fmt.Sprintf("no help for unknown command %q", name)
	if s := suggest(name); s != "" {
		msg += fmt.Sprintf(", did you mean %q?", s)
	}
	return nil, nil, &usageError{err: errors.New(msg)}
}

// looksLikeSource reports whether a word in a bpf2go <source> position
// names a C source file rather than a subcommand's argument.
func looksLikeSource(s string) bool {
	if s == "" || strings.HasPrefix(s, "-") || strings.HasSuffix(s, ".o") {
		return false
	}
	if strings.HasSuffix(s, ".c") || strings.HasSuffix(s, ".h") {
		return true
	}
	fi, err := os.Stat(s)
	return err == nil && fi.Mode().IsRegular()
}

// suggest returns the command or group closest to a mistyped name, or "".
func suggest(name string) string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	for _, g := range groups {
		names = append(names, g.name)
	}
	best, bestDist := "", 3
	for _, n := range names {
		if strings.Count(n, " ") != strings.Count(name, " ") {
			continue
		}
		if d := editDistance(name, n); d < bestDist || (d == bestDist && best == "") {
			best, bestDist = n, d
		}
	}
	if bestDist > max(1, len(name)/3) {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance: a swap of two letters counts as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// shortFlags are one-letter aliases of long options, shown together.
var shortFlags = map[string]string{"json": "j", "pretty": "p"}

// newFlags returns the FlagSet of command c. Parse errors are usage
// errors, and its usage is c's help: usage line, description, the options
// of this FlagSet and examples.
func newFlags(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printCommandHelp(fs.Output(), c, fs) }
	return fs
}

// parseArgs parses a command's arguments with its FlagSet. As in bpftool,
// options may come before, between or after the command's words (ids,
// paths, files, package patterns); "--" ends them. It returns the words.
// -h, -help or --help asks for the command's usage.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, &helpRequested{fs: fs}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return words, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(words, rest...), nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

// trustFlag defines --trust, the trust directory of every command that
// takes one.
func trustFlag(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "trust", "", "the trust directory `DIR`: public keys (*.pub) and envelopes (*.intoto.json), searched recursively")
}

// targetBTFFlag defines --target-btf, repeatable.
func targetBTFFlag(fs *flag.FlagSet, paths *stringList) {
	fs.Var(paths, "target-btf", "resolve CO-RE and kernel-resolved sites against this kernel BTF `PATH` (a file, or a directory of them; repeatable): one digest per target")
}

// outputFlags defines -j/--json and -p/--pretty.
func outputFlags(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.json, "json", false, "JSON output")
	fs.BoolVar(&o.json, "j", false, "")
	fs.BoolVar(&o.pretty, "pretty", false, "indented JSON output")
	fs.BoolVar(&o.pretty, "p", false, "")
}

// options are the bpftool-style options shared by subcommands.
type options struct {
	json, pretty, readback, all bool
	trust, accept               string
	targetBTF                   stringList
}

// parse parses the arguments of a bpftool-style command: -j/--json,
// -p/--pretty and the options define adds.
func (o *options) parse(c *command, args []string, define func(fs *flag.FlagSet)) ([]string, error) {
	fs := newFlags(c)
	outputFlags(fs, o)
	if define != nil {
		define(fs)
	}
	words, err := parseArgs(fs, args)
	o.json = o.json || o.pretty
	return words, err
}

func runMeasureObject(c *command, args []string, stdout, stderr io.Writer) error {
	var o options
	words, err := o.parse(c, args, func(fs *flag.FlagSet) {
		targetBTFFlag(fs, &o.targetBTF)
	})
	if err != nil {
		return err
	}
	if len(words) != 1 {
		return fmt.Errorf("%w: measure object takes one FILE.o", errUsage)
	}
	return measureObject(words[0], o, stdout)
}

func runProgShow(c *command, args []string, stdout, stderr io.Writer) error {
	var o options
	words, err := o.parse(c, args, nil)
	if err != nil {
		return err
	}
	return progShow(words, o, stdout)
}

func readbackFlag(o *options) func(fs *flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.BoolVar(&o.readback, "readback", false, "hash frozen maps in user space from contents read back through the kernel, even where the kernel hashes them")
	}
}

func runProgMeasure(c *command, args []string, stdout, stderr io.Writer) error {
	var o options
	words, err := o.parse(c, args, readbackFlag(&o))
	if err != nil {
		return err
	}
	prog, err := openProgram(words)
	if err != nil {
		return err
	}
	defer prog.Close()
	return progMeasure(prog.FD(), o, stdout)
}

func runProgVerify(c *command, args []string, stdout, stderr io.Writer) error {
	var o options
	words, err := o.parse(c, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.all, "all", false, "every loaded program")
		fs.StringVar(&o.accept, "accept", "OK", "the `VERDICTS` that pass, comma-separated, like the loader's policy (OK,PARTIAL accepts CO-RE programs relocated for an unsigned kernel)")
		trustFlag(fs, &o.trust)
	})
	if err != nil {
		return err
	}
	return progVerify(words, o, stdout, stderr)
}

func runMapVerify(c *command, args []string, stdout, stderr io.Writer) error {
	var o options
	words, err := o.parse(c, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.all, "all", false, "every struct_ops map loaded")
		fs.StringVar(&o.accept, "accept", "OK", "the `VERDICTS` that pass, comma-separated")
		trustFlag(fs, &o.trust)
	})
	if err != nil {
		return err
	}
	return mapVerify(words, o, stdout, stderr)
}

func runMapShow(c *command, args []string, stdout, stderr io.Writer) error {
	var o options
	words, err := o.parse(c, args, readbackFlag(&o))
	if err != nil {
		return err
	}
	m, err := openMap(words)
	if err != nil {
		return err
	}
	defer m.Close()
	return mapShow(m.FD(), c.name == "map hash", o, stdout)
}

// printHelp writes the usage of the whole tool (c nil), of a group, or of
// a command without its options (its FlagSet's Usage lists them).
func printHelp(w io.Writer, c *command) {
	if c == nil {
		printOverview(w)
		return
	}
	if g := findGroup(c.name); g != nil {
		fmt.Fprintf(w, "Usage: bpf2go-signed %s COMMAND [ARGS] [OPTIONS]\n\n%s.\n\nCommands:\n", g.name, upperFirst(g.summary))
		for _, sub := range commands {
			if strings.HasPrefix(sub.name, g.name+" ") {
				fmt.Fprintf(w, "  %s %s\n      %s\n", sub.name, sub.synopsis, sub.summary)
			}
		}
		fmt.Fprintf(w, "\nRun \"bpf2go-signed %s COMMAND -h\" for a command's options and examples.\n", g.name)
		return
	}
	printCommandHelp(w, c, nil)
}

// printCommandHelp writes the usage of a command, with the options of fs
// when it is not nil.
func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: bpf2go-signed %s %s\n\n%s.\n", c.name, c.synopsis, upperFirst(c.summary))
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", c.detail)
	}
	if fs != nil {
		printFlags(w, fs)
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// printFlags lists a FlagSet's options in the --long form, with their
// one-letter aliases.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" {
			return // an alias, shown with its long form
		}
		arg, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if s, ok := shortFlags[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		if arg != "" {
			name += " " + arg
		}
		if def := f.DefValue; def != "" && def != "false" && def != "[]" {
			usage += fmt.Sprintf(" (default %q)", def)
		}
		lines = append(lines, fmt.Sprintf("  %s\n      %s\n", name, usage))
	})
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nOptions:\n%s", strings.Join(lines, ""))
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func printOverview(w io.Writer) {
	fmt.Fprint(w, `bpf2go-signed: bpf2go that measures and signs BPF programs and generates
verifying loaders, and a bpftool-style tool to measure, sign and verify BPF
objects and the programs loaded on a host.

Usage:
  bpf2go-signed [generator options] <ident> <source> [-- <C flags>]
  bpf2go-signed COMMAND [ARGS] [OPTIONS]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.name, c.synopsis, c.summary)
	}
	fmt.Fprint(w, `  help [COMMAND]
      this text, or a command's options and examples

Run "bpf2go-signed COMMAND -h" for a command's options and examples.
Errors exit with status 1, usage errors with status 2.

Examples:
  //go:generate go tool bpf2go-signed -sign-key cosign.key -type event bpf probe.c
  bpf2go-signed keygen && bpf2go-signed sign --key cosign.key ./...
  bpf2go-signed prog verify --all --trust /etc/bpf2go-signed

Generator
=========
`)
	gen.Usage(w)
}

// printShortUsage follows a usage error: the command's usage line and where
// to find more.
func printShortUsage(w io.Writer, c *command) {
	switch {
	case c == nil:
		fmt.Fprint(w, "Usage:\n  bpf2go-signed [generator options] <ident> <source> [-- <C flags>]\n  bpf2go-signed COMMAND [ARGS] [OPTIONS]\nRun \"bpf2go-signed -h\" for commands, options and examples.\n")
	case findGroup(c.name) != nil:
		printHelp(w, c)
	default:
		fmt.Fprintf(w, "Usage: bpf2go-signed %s %s\nRun \"bpf2go-signed %s -h\" for options and examples.\n", c.name, c.synopsis, c.name)
	}
}
