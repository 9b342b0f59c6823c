package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestHelp: -h, -help and --help on the tool, every group and every
// command print usage to stdout and exit 0; so does "help COMMAND".
func TestHelp(t *testing.T) {
	lines := [][]string{{}}
	for _, g := range tool.Groups {
		lines = append(lines, []string{g.Name})
	}
	for _, c := range tool.Commands {
		lines = append(lines, strings.Fields(c.Name))
	}
	for _, words := range lines {
		var variants [][]string
		for _, h := range []string{"-h", "-help", "--help"} {
			variants = append(variants, append(append([]string{}, words...), h))
		}
		variants = append(variants, append([]string{"help"}, words...))
		for _, args := range variants {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				stdout, stderr, code := runCLI(args...)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q: want 0 and nothing on stderr", code, stderr)
				}
				if !strings.Contains(stdout, "Usage") {
					t.Fatalf("no usage on stdout: %q", stdout)
				}
				name := strings.Join(words, " ")
				if c := tool.Find(name); c != nil {
					if !strings.Contains(stdout, "Usage: bpf2go-signed "+name+" ") {
						t.Errorf("help does not show the command's usage line:\n%s", stdout)
					}
					if !strings.Contains(stdout, "Examples:\n  bpf2go-signed") && !strings.Contains(stdout, "Examples:\n  COSIGN") {
						t.Errorf("help has no examples:\n%s", stdout)
					}
					// Every option the synopsis names is described.
					for _, f := range strings.Fields(c.Synopsis) {
						f = strings.Trim(f, "[]()|.")
						if strings.HasPrefix(f, "--") && !strings.Contains(stdout, "  "+f) && !strings.Contains(stdout, ", "+f) {
							t.Errorf("option %s is not described:\n%s", f, stdout)
						}
					}
				}
				if len(words) == 0 {
					// The generator's options are listed too.
					for _, f := range []string{"-sign-key", "-target-btf", "-target string", "-cc", "-seal", "-type"} {
						if !strings.Contains(stdout, "  "+f) {
							t.Errorf("tool help does not list the generator option %s", f)
						}
					}
					for _, c := range tool.Commands {
						if !strings.Contains(stdout, "  "+c.Name+" ") {
							t.Errorf("tool help does not list %q", c.Name)
						}
					}
				}
			})
		}
	}
	// Help after generator options is the generator's help.
	stdout, _, code := runCLI("-cc", "clang-19", "-h")
	if code != 0 || !strings.Contains(stdout, "-sign-key") {
		t.Errorf("-cc clang-19 -h: exit %d, %q", code, stdout)
	}
}

// TestDispatch: a bpf2go command line is never taken for a subcommand,
// whatever its ident, and a mistyped subcommand gets a suggestion.
func TestDispatch(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, f := range []string{"prog.c", "source", "show"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("int x;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		// cmd is the subcommand chosen, "" for the generator.
		cmd string
	}{
		{[]string{"map", "prog.c"}, ""},
		{[]string{"prog", "prog.c"}, ""},
		{[]string{"sign", "prog.c"}, ""},
		{[]string{"verify", "prog.c", "--", "-I."}, ""},
		{[]string{"measure", "prog.c"}, ""},
		{[]string{"keygen", "prog.c"}, ""},
		{[]string{"help", "prog.c"}, ""},
		{[]string{"map", "missing/bpf.c"}, ""},
		{[]string{"sign", "source"}, ""},
		{[]string{"-cc", "clang", "map", "prog.c"}, ""},
		{[]string{"bpf", "prog.c"}, ""},
		{[]string{"bpf", "does-not-exist.c"}, ""},
		{[]string{"prog", "show"}, "prog show"}, // a file named show exists, but prog show is a command
		{[]string{"prog"}, "prog show"},
		{[]string{"prog", "-j"}, "prog show"},
		{[]string{"prog", "verify", "--all", "--trust", "."}, "prog verify"},
		{[]string{"map", "hash", "id", "1"}, "map hash"},
		{[]string{"measure", "object", "x.o"}, "measure object"},
		{[]string{"sign", "--key", "k", "./..."}, "sign"},
		{[]string{"sign", "--key", "k", "x.o"}, "sign"},
		{[]string{"verify", "x.o"}, "verify"},
		{[]string{"keygen"}, "keygen"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c, _, err := tool.Resolve(tt.args)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			got := ""
			if c != nil {
				got = c.Name
			}
			if got != tt.cmd {
				t.Fatalf("dispatched to %q, want %q", got, tt.cmd)
			}
		})
	}
	// The generator really runs for a reserved ident: it fails only for
	// want of a package.
	_, stderr, code := runCLI("map", "prog.c")
	if code != 1 || !strings.Contains(stderr, "missing package") {
		t.Errorf("map prog.c: exit %d, %q: want the generator's missing package error", code, stderr)
	}

	mistyped := []struct {
		args []string
		want string
	}{
		{[]string{"mesure", "object", "x.o"}, `unknown command "mesure", did you mean "measure"?`},
		{[]string{"porg", "verify"}, `did you mean "prog"?`},
		{[]string{"prog", "shwo"}, `unknown command "prog shwo", did you mean "prog show"?`},
		{[]string{"map", "hsah", "id", "1"}, `did you mean "map hash"?`},
		{[]string{"verfy"}, `did you mean "verify"?`},
		{[]string{"singn", "--key", "k", "x.o"}, `did you mean "sign"?`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "prog", "shwo"}, `did you mean "prog show"?`},
	}
	for _, tt := range mistyped {
		_, stderr, code := runCLI(tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Usage") {
			t.Errorf("%v: exit %d, %q: want status 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 programs", 1: "1 program", 2: "2 programs"} {
		if got := cli.Plural(n, "program"); got != want {
			t.Errorf("cli.Plural(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestOptionsAnywhere: every command parses its options with one parser:
// options may come before or after the words, "--" ends them, and a
// malformed option is a usage error naming the command.
func TestOptionsAnywhere(t *testing.T) {
	key := keyPair(t)
	pub := strings.TrimSuffix(key, ".key") + ".pub"
	obj, err := os.ReadFile(testutil.Testdata("xdp_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x_bpfel.o")
	if err := os.WriteFile(path, obj, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := [][]string{
		{"sign", path, "--key", key},
		{"verify", "--key", pub, path},
		{"verify", path, "--key", pub},
		{"measure", "object", "-j", path},
		{"measure", "object", path, "-j"},
	}
	for _, args := range ok {
		if _, stderr, code := runCLI(args...); code != 0 {
			t.Errorf("%q: exit %d, %s", args, code, stderr)
		}
	}
	usage := []struct {
		args []string
		want string
	}{
		{[]string{"sign", "--", "--key", key, path}, "sign --key KEY"},
		{[]string{"sign", "--frobnicate"}, "sign: flag provided but not defined: -frobnicate"},
		{[]string{"verify", path, "--frobnicate"}, "verify: flag provided but not defined: -frobnicate"},
		{[]string{"keygen", "--force", "extra"}, "keygen takes no arguments"},
		{[]string{"gate", "extra", "--trust", "x"}, `gate: unexpected argument "extra"`},
		{[]string{"prog", "verify", "--trust"}, "prog verify: flag needs an argument: -trust"},
	}
	for _, tt := range usage {
		_, stderr, code := runCLI(tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Usage") {
			t.Errorf("%q: exit %d, %q: want status 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

// TestNodeCommandsShared: bpf2go-signed runs internal/cli's node commands
// themselves, which bpf2go-signed-node runs too: one implementation.
func TestNodeCommandsShared(t *testing.T) {
	for _, c := range cli.NodeCommands() {
		if tool.Find(c.Name) != c {
			t.Errorf("bpf2go-signed's %q is not internal/cli's", c.Name)
		}
	}
}
