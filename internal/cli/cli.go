// Package cli is the command line of bpf2go-signed and of the node tool
// bpf2go-signed-node: one parser, one help format and one implementation
// of each command, shared by both executables. A [Tool] is a set of
// commands; the node commands (prog show, measure and verify; map show,
// hash and verify) are defined here, the build-side ones (generator,
// sign, keygen, ...) in cmd/bpf2go-signed, so that the node tool links
// no build-time code.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Command is one subcommand: its help text, its options and what it runs.
type Command struct {
	// Name is the words that select it, such as "prog verify".
	Name string
	// Synopsis follows the name in its usage line.
	Synopsis string
	// Summary is one line for the overview; Detail follows it in the
	// command's own help.
	Summary, Detail string
	// Examples are command lines; the word bpf2go-signed in them is
	// printed as the tool's name.
	Examples []string
	// Run parses args with the command's own FlagSet ([Command.Flags])
	// and runs it.
	Run func(c *Command, args []string, stdout, stderr io.Writer) error

	tool *Tool
}

// Group is the first word of several commands, such as "prog".
type Group struct {
	Name, Summary string
	// Bare is the command that the group word alone runs (bpftool runs
	// "prog show" for "prog"), or "".
	Bare string
}

// Tool is an executable's command line.
type Tool struct {
	// Name is the executable's name, in usage lines and error messages.
	Name     string
	Groups   []Group
	Commands []*Command
	// Overview writes the help of the tool itself, before the list of
	// commands is printed by it; Footer follows the list.
	Overview, Footer func(w io.Writer)
	// Generate, when set, runs command lines that name no command: the
	// bpf2go-compatible generator ([Tool.Resolve] says which they are).
	Generate func(args []string, stdout io.Writer) error
}

// ErrUsage marks errors in the command line itself (exit status 2).
var ErrUsage = errors.New("usage")

// HelpRequested is returned when -h, -help or --help was given: the
// usage of the command's FlagSet (FS), else the help of Cmd (a group, or
// nil for the tool), is printed to standard output, exit 0.
type HelpRequested struct {
	Cmd *Command
	FS  *flag.FlagSet
}

func (h *HelpRequested) Error() string { return "help requested" }

// usageError is a usage error of one command (nil: of the tool itself).
type usageError struct {
	cmd *Command
	err error
}

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

// UsageErr is a usage error of the tool itself (the generator's flags).
func UsageErr(err error) error { return &usageError{err: err} }

// Run runs a command line and returns the exit status: 0, 1 for errors
// (one line on stderr), 2 for usage errors.
func (t *Tool) Run(args []string, stdout, stderr io.Writer) int {
	cmd, rest, err := t.Resolve(args)
	if err == nil {
		if cmd == nil {
			err = t.Generate(args, stdout)
		} else {
			err = cmd.Run(cmd, rest, stdout, stderr)
		}
	}
	var help *HelpRequested
	var uerr *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		if help.FS != nil {
			help.FS.SetOutput(stdout)
			help.FS.Usage()
			return 0
		}
		if help.Cmd == nil {
			help.Cmd = cmd
		}
		t.printHelp(stdout, help.Cmd)
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "%s: %s\n", t.Name, OneLine(uerr.err))
		t.printShortUsage(stderr, uerr.cmd)
		return 2
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "%s: %s\n", t.Name, OneLine(err))
		t.printShortUsage(stderr, cmd)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %s\n", t.Name, OneLine(err))
		return 1
	}
}

// OneLine keeps an error message on one line.
func OneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// Plural spells a count with its noun: "1 program", "2 programs".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// IsHelpWord reports whether s asks for help wherever a command or
// option may stand.
func IsHelpWord(s string) bool {
	return s == "-h" || s == "-help" || s == "--help"
}

// Find returns the command called name, or nil.
func (t *Tool) Find(name string) *Command {
	for _, c := range t.Commands {
		if c.Name == name {
			c.tool = t
			return c
		}
	}
	return nil
}

func (t *Tool) findGroup(name string) *Group {
	for i := range t.Groups {
		if t.Groups[i].Name == name {
			return &t.Groups[i]
		}
	}
	return nil
}

// groupCommand is the pseudo-command whose help lists a group.
func (t *Tool) groupCommand(g *Group) *Command {
	return &Command{Name: g.Name, Synopsis: "COMMAND [ARGS] [OPTIONS]", Summary: g.Summary, tool: t}
}

// firstWords are the words that select a command rather than the generator.
func (t *Tool) firstWords() []string {
	var w []string
	for _, c := range t.Commands {
		first, _, _ := strings.Cut(c.Name, " ")
		if !slices.Contains(w, first) {
			w = append(w, first)
		}
	}
	return append(w, "help")
}

// Resolve decides what a command line is: a subcommand (with its
// arguments) or, when cmd is nil and err is nil, a generator command line
// (only for a tool with a generator).
//
// bpf2go's command line is [options] <ident> <source> [-- <C flags>]: the
// ident may be any word, including a subcommand's name, so a line whose
// second word names a C source file (ending in .c, or an existing file that
// is not an object) is a generator line even when its first word is
// "map" or "sign".
func (t *Tool) Resolve(args []string) (*Command, []string, error) {
	gen := t.Generate != nil
	if len(args) == 0 {
		return nil, nil, &usageError{err: fmt.Errorf("no command; run %s -h for usage", t.Name)}
	}
	first := args[0]
	switch {
	case IsHelpWord(first):
		return nil, nil, &HelpRequested{}
	case strings.HasPrefix(first, "-") && gen:
		return nil, nil, nil
	case strings.HasPrefix(first, "-"):
		return nil, nil, &usageError{err: fmt.Errorf("%s: options follow the command; run %s -h for usage", first, t.Name)}
	}
	if !slices.Contains(t.firstWords(), first) {
		switch {
		case gen && len(args) >= 2 && looksLikeSource(args[1]):
			return nil, nil, nil
		case t.suggest(first) != "":
			return nil, nil, &usageError{err: fmt.Errorf("unknown command %q, did you mean %q?", first, t.suggest(first))}
		case gen && len(args) >= 2:
			return nil, nil, nil
		case gen:
			return nil, nil, &usageError{err: fmt.Errorf("unknown command %q (a generator command line is <ident> <source>)", first)}
		default:
			return nil, nil, &usageError{err: fmt.Errorf("unknown command %q", first)}
		}
	}
	g := t.findGroup(first)
	if gen && len(args) >= 2 && looksLikeSource(args[1]) && (g == nil || t.Find(first+" "+args[1]) == nil) {
		// "map bpf.c": map is the ident.
		return nil, nil, nil
	}
	if first == "help" {
		return t.resolveHelp(args[1:])
	}
	if g == nil {
		return t.Find(first), args[1:], nil
	}
	if len(args) == 1 || strings.HasPrefix(args[1], "-") && !IsHelpWord(args[1]) {
		if g.Bare != "" {
			return t.Find(g.Bare), args[1:], nil
		}
		return nil, nil, &usageError{cmd: t.groupCommand(g), err: fmt.Errorf("%s needs a command", g.Name)}
	}
	if IsHelpWord(args[1]) || args[1] == "help" {
		return nil, nil, &HelpRequested{Cmd: t.groupCommand(g)}
	}
	if c := t.Find(first + " " + args[1]); c != nil {
		return c, args[2:], nil
	}
	msg := fmt.Sprintf("unknown command %q", first+" "+args[1])
	if s := t.suggest(first + " " + args[1]); s != "" {
		msg += fmt.Sprintf(", did you mean %q?", s)
	}
	return nil, nil, &usageError{cmd: t.groupCommand(g), err: errors.New(msg)}
}

// resolveHelp handles "help [COMMAND...]" as "COMMAND -h".
func (t *Tool) resolveHelp(words []string) (*Command, []string, error) {
	if len(words) == 0 {
		return nil, nil, &HelpRequested{}
	}
	name := strings.Join(words, " ")
	if c := t.Find(name); c != nil {
		return c, []string{"-h"}, nil
	}
	if g := t.findGroup(name); g != nil {
		return nil, nil, &HelpRequested{Cmd: t.groupCommand(g)}
	}
	msg := fmt.Sprintf("no help for unknown command %q", name)
	if s := t.suggest(name); s != "" {
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
func (t *Tool) suggest(name string) string {
	var names []string
	for _, c := range t.Commands {
		names = append(names, c.Name)
	}
	for _, g := range t.Groups {
		names = append(names, g.Name)
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

// Flags returns the FlagSet of command c. Parse errors are usage
// errors, and its usage is c's help: usage line, description, the options
// of this FlagSet and examples.
func (c *Command) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { c.tool.printCommandHelp(fs.Output(), c, fs) }
	return fs
}

// ToolName is the name of the executable running c.
func (c *Command) ToolName() string { return c.tool.Name }

// ParseArgs parses a command's arguments with its FlagSet. As in bpftool,
// options may come before, between or after the command's words (ids,
// paths, files, package patterns); "--" ends them. It returns the words.
// -h, -help or --help asks for the command's usage.
func ParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, &HelpRequested{FS: fs}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrUsage, fs.Name(), err)
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

// TrustFlag defines --trust, the trust directory of every command that
// takes one.
func TrustFlag(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "trust", "", "the trust directory `DIR`: public keys (*.pub) and envelopes (*.intoto.json), searched recursively")
}

// TargetBTFFlag defines --target-btf, repeatable.
func TargetBTFFlag(fs *flag.FlagSet, paths *StringList) {
	fs.Var(paths, "target-btf", "resolve CO-RE and kernel-resolved sites against this kernel BTF `PATH` (a file, or a directory of them; repeatable): one digest per target")
}

// StringList is a repeatable string option.
type StringList []string

func (l *StringList) String() string     { return strings.Join(*l, ",") }
func (l *StringList) Set(v string) error { *l = append(*l, v); return nil }

// Options are the bpftool-style options shared by subcommands.
type Options struct {
	JSON, Pretty, Readback, All bool
	Trust, Accept               string
	TargetBTF                   StringList
}

// Parse parses the arguments of a bpftool-style command: -j/--json,
// -p/--pretty and the options define adds.
func (o *Options) Parse(c *Command, args []string, define func(fs *flag.FlagSet)) ([]string, error) {
	fs := c.Flags()
	fs.BoolVar(&o.JSON, "json", false, "JSON output")
	fs.BoolVar(&o.JSON, "j", false, "")
	fs.BoolVar(&o.Pretty, "pretty", false, "indented JSON output")
	fs.BoolVar(&o.Pretty, "p", false, "")
	if define != nil {
		define(fs)
	}
	words, err := ParseArgs(fs, args)
	o.JSON = o.JSON || o.Pretty
	return words, err
}

// WriteJSON writes v as one line of JSON, or indented when pretty.
func WriteJSON(w io.Writer, v any, pretty bool) error {
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// printHelp writes the usage of the whole tool (c nil), of a group, or of
// a command without its options (its FlagSet's Usage lists them).
func (t *Tool) printHelp(w io.Writer, c *Command) {
	if c == nil {
		t.printOverview(w)
		return
	}
	if g := t.findGroup(c.Name); g != nil {
		fmt.Fprintf(w, "Usage: %s %s COMMAND [ARGS] [OPTIONS]\n\n%s.\n\nCommands:\n", t.Name, g.Name, upperFirst(g.Summary))
		for _, sub := range t.Commands {
			if strings.HasPrefix(sub.Name, g.Name+" ") {
				fmt.Fprintf(w, "  %s %s\n      %s\n", sub.Name, sub.Synopsis, sub.Summary)
			}
		}
		fmt.Fprintf(w, "\nRun \"%s %s COMMAND -h\" for a command's options and examples.\n", t.Name, g.Name)
		return
	}
	t.printCommandHelp(w, c, nil)
}

// printCommandHelp writes the usage of a command, with the options of fs
// when it is not nil.
func (t *Tool) printCommandHelp(w io.Writer, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s %s %s\n\n%s.\n", t.Name, c.Name, c.Synopsis, upperFirst(c.Summary))
	if c.Detail != "" {
		fmt.Fprintf(w, "\n%s\n", c.Detail)
	}
	if fs != nil {
		printFlags(w, fs)
	}
	if len(c.Examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range c.Examples {
			words := strings.Split(e, " ")
			for i, word := range words {
				if word == "bpf2go-signed" {
					words[i] = t.Name
				}
			}
			fmt.Fprintf(w, "  %s\n", strings.Join(words, " "))
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

func (t *Tool) printOverview(w io.Writer) {
	t.Overview(w)
	fmt.Fprint(w, "Commands:\n")
	for _, c := range t.Commands {
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.Name, c.Synopsis, c.Summary)
	}
	fmt.Fprintf(w, `  help [COMMAND]
      this text, or a command's options and examples

Run "%s COMMAND -h" for a command's options and examples.
Errors exit with status 1, usage errors with status 2.
`, t.Name)
	if t.Footer != nil {
		t.Footer(w)
	}
}

// printShortUsage follows a usage error: the command's usage line and where
// to find more.
func (t *Tool) printShortUsage(w io.Writer, c *Command) {
	switch {
	case c == nil && t.Generate != nil:
		fmt.Fprintf(w, "Usage:\n  %[1]s [generator options] <ident> <source> [-- <C flags>]\n  %[1]s COMMAND [ARGS] [OPTIONS]\nRun \"%[1]s -h\" for commands, options and examples.\n", t.Name)
	case c == nil:
		fmt.Fprintf(w, "Usage:\n  %[1]s COMMAND [ARGS] [OPTIONS]\nRun \"%[1]s -h\" for commands, options and examples.\n", t.Name)
	case t.findGroup(c.Name) != nil:
		t.printHelp(w, c)
	default:
		fmt.Fprintf(w, "Usage: %s %s %s\nRun \"%s %s -h\" for options and examples.\n", t.Name, c.Name, c.Synopsis, t.Name, c.Name)
	}
}
