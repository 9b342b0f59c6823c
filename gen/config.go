package gen

import (
	"errors"
	"flag"
	"fmt"
	"go/build/constraint"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	bpfgen "github.com/cilium/ebpf/cmd/bpf2go/gen"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
)

// Config is one generator invocation: bpf2go's options and this project's.
type Config struct {
	Verbose bool
	// Source is the absolute path of the C file.
	Source string
	// Ident is the stem of generated Go names.
	Ident string
	// OutputDir is the absolute directory written to.
	OutputDir string
	// OutputStem replaces the lowercased Ident in file names.
	OutputStem string
	// OutputSuffix, such as "_test", ends generated file names.
	OutputSuffix string
	// Package is the Go package of generated files.
	Package string
	// Targets to build, with the Go architectures each serves.
	Targets map[bpfgen.Target]bpfgen.GoArches
	// CC is the compiler binary; CFlags start with the rest of -cc's words.
	CC     string
	CFlags []string
	// Strip is the DWARF stripping binary.
	Strip   string
	NoStrip bool
	// Tags are Go build constraints added to generated files.
	Tags constraint.Expr
	// MakeBase enables .d dependency files relative to it.
	MakeBase string
	// Types are C types to declare in Go; NoGlobalTypes skips map and
	// variable types.
	Types         []string
	NoGlobalTypes bool

	// SignKey signs the measurement: a key file or a KMS URI.
	SignKey string
	// Trust are public key files embedded as trusted (-trust-key, or its
	// older name -trust).
	Trust []string
	// KeyAlgorithms are the key families the loader accepts and links the
	// verification of (-key-algorithms); nil means those of the trusted
	// keys (Trust, else the public half of SignKey), or ECDSA when there
	// are none.
	KeyAlgorithms attest.KeyAlgorithms
	// TrustIdentity are identities that may sign keylessly (see
	// keyless.ParseIdentity); TrustedRoot is the trusted_root.json file
	// pinned for them.
	TrustIdentity []string
	TrustedRoot   string
	// Seal names maps to seal; SealContents maps a map to its contents
	// file; Params names run-time parameters.
	Seal         []string
	SealContents map[string]string
	Params       []string
	// UnsealedProgArrays names program arrays accepted unsealed
	// (-unsealed-prog-array): the verdict is then at best PARTIAL.
	UnsealedProgArrays []string
	// TargetBTF are kernel BTF files or directories that CO-RE relocations
	// are resolved against, each giving an acceptable digest.
	TargetBTF []string

	ccDefaulted bool
}

// Env reads an environment variable; [os.LookupEnv] in production.
type Env func(string) (string, bool)

func (e Env) get(key, def string) string {
	if v, ok := e(key); ok {
		return v
	}
	return def
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type tagsFlag struct{ expr constraint.Expr }

func (t *tagsFlag) String() string {
	if t.expr == nil {
		return ""
	}
	return t.expr.String()
}

func (t *tagsFlag) Set(v string) error {
	e, err := constraint.Parse("// +build " + v)
	if err != nil {
		return err
	}
	t.expr = e
	return nil
}

var validCType = regexp.MustCompile(`(?i)^[a-z0-9_]+$`)

type typesFlag []string

func (t *typesFlag) String() string { return fmt.Sprint(*t) }

func (t *typesFlag) Set(v string) error {
	if !validCType.MatchString(v) {
		return fmt.Errorf("%q contains characters outside of [a-z0-9_]", v)
	}
	i, found := slices.BinarySearch(*t, v)
	if found {
		return fmt.Errorf("duplicate type %q", v)
	}
	*t = slices.Insert(*t, i, v)
	return nil
}

const usage = `Usage: %s [options] <ident> <source file> [-- <C flags>]

A drop-in replacement for bpf2go: change "bpf2go" to "bpf2go-signed" in a
//go:generate line. It writes bpf2go's outputs unchanged and, per target,
<stem>.o.intoto.json (the signed measurement, or an unsigned placeholder),
<stem>.o.seal.json (the sealing plan) and <stem>_signed.go with
load<Ident>ObjectsVerified. Use it via go generate (GOPACKAGE is read from
the environment).

Options:
`

// ErrHelp is returned by [Parse] when help was asked for.
var ErrHelp = flag.ErrHelp

// Parse reads a bpf2go-compatible command line and the environment
// variables bpf2go reads (BPF2GO_CC, BPF2GO_STRIP, BPF2GO_CFLAGS,
// BPF2GO_MAKEBASE, GOPACKAGE, GOFILE, V).
func Parse(args []string, env Env, out io.Writer) (*Config, error) {
	c := &Config{SealContents: map[string]string{}}
	if out == nil {
		out = io.Discard
	}
	fs, f := c.flagSet(env, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := c.setOutput(f, env); err != nil {
		return nil, err
	}
	if err := c.setCompiler(f, fs.Args()); err != nil {
		return nil, err
	}
	if err := c.setTargets(f.target); err != nil {
		return nil, err
	}
	c.Tags, c.Types = f.tags.expr, f.types
	c.Trust, c.Seal, c.Params, c.TargetBTF, c.TrustIdentity = f.trust, f.seal, f.params, f.targetBTF, f.identities
	c.UnsealedProgArrays = f.openArrays
	if err := c.setSealContents(f.contents); err != nil {
		return nil, err
	}
	return c, nil
}

// rawFlags are the flag values Parse checks and converts before they go
// into a Config.
type rawFlags struct {
	cc, cflags, target, outDir, pkg                                  string
	tags                                                             tagsFlag
	types                                                            typesFlag
	trust, seal, contents, params, targetBTF, identities, openArrays listFlag
}

// flagSet defines bpf2go's flags (with its defaults from env) and this
// project's, writing to c where no conversion is needed and to the
// returned rawFlags otherwise.
func (c *Config) flagSet(env Env, out io.Writer) (*flag.FlagSet, *rawFlags) {
	f := &rawFlags{}
	fs := flag.NewFlagSet("bpf2go-signed", flag.ContinueOnError)
	fs.SetOutput(out)
	verbose, _ := strconv.ParseBool(env.get("V", "false"))
	fs.BoolVar(&c.Verbose, "verbose", verbose, "enable verbose logging ($V)")
	fs.StringVar(&f.cc, "cc", env.get("BPF2GO_CC", ""), "`binary` used to compile C to BPF ($BPF2GO_CC; default clang, else the newest clang-NN)")
	fs.StringVar(&c.Strip, "strip", env.get("BPF2GO_STRIP", ""), "`binary` used to strip DWARF from compiled BPF ($BPF2GO_STRIP)")
	fs.BoolVar(&c.NoStrip, "no-strip", false, "disable stripping of DWARF")
	fs.StringVar(&f.cflags, "cflags", env.get("BPF2GO_CFLAGS", ""), "flags passed to the compiler, may contain quoted arguments ($BPF2GO_CFLAGS)")
	fs.Var(&f.tags, "tags", "comma-separated list of Go build tags to include in generated files")
	fs.StringVar(&f.target, "target", "bpfel,bpfeb", "clang target(s) to compile for (comma separated)")
	fs.StringVar(&c.MakeBase, "makebase", env.get("BPF2GO_MAKEBASE", ""), "write make compatible depinfo files relative to `directory` ($BPF2GO_MAKEBASE)")
	fs.Var(&f.types, "type", "`Name` of a type to generate a Go declaration for, may be repeated")
	fs.BoolVar(&c.NoGlobalTypes, "no-global-types", false, "skip generating types for map keys and values, etc.")
	fs.StringVar(&c.OutputStem, "output-stem", "", "alternative stem for names of generated files (defaults to ident)")
	suffix := ""
	if strings.HasSuffix(env.get("GOFILE", ""), "_test.go") {
		suffix = "_test"
	}
	fs.StringVar(&c.OutputSuffix, "output-suffix", suffix, "suffix in generated file names such as _test (default based on $GOFILE)")
	fs.StringVar(&f.outDir, "output-dir", "", "target directory of generated files (defaults to current directory)")
	fs.StringVar(&f.pkg, "go-package", "", "package for output go file (default as ENV GOPACKAGE)")

	fs.StringVar(&c.SignKey, "sign-key", "", "sign the measurement with this `key`: a cosign or PEM private key file (password in $COSIGN_PASSWORD) or a KMS URI; without it an unsigned placeholder is written")
	fs.Var(&f.identities, "trust-identity", "trust keyless Sigstore signatures by this `IDENTITY`: 'issuer=URL;identity=SAN' or identity-regexp=RE, optionally with Fulcio claims such as github_workflow_repository=OWNER/REPO (repeatable; needs -trusted-root; see docs/keyless.md)")
	fs.StringVar(&c.TrustedRoot, "trusted-root", "", "pin this trusted_root.json `FILE` (Fulcio CAs, Rekor, CT and TSA keys) in the loader, for -trust-identity")
	fs.Var(&f.targetBTF, "target-btf", "resolve CO-RE relocations against this kernel BTF `PATH` (a file such as a copy of /sys/kernel/btf/vmlinux, or a directory of them; repeatable), signing one acceptable digest per target")
	fs.Var(&f.trust, "trust-key", "embed this PEM public `key` as trusted by the loader (repeatable; default: the -sign-key's public key)")
	fs.Var(&f.trust, "trust", "the older name of -trust-key (a key `file`; a trust directory is --trust only for prog verify, map verify, gate and agent)")
	fs.Func("key-algorithms", "the key families the loader accepts and links the verification code of: a comma-separated `LIST` of ecdsa, ed25519, rsa, or all (default: the families of the -trust-key keys, else of the -sign-key; ecdsa without keys); run-time keys (Policy.TrustedKeys) of other families are refused", func(v string) (err error) {
		c.KeyAlgorithms, err = attest.ParseKeyAlgorithms(v)
		return err
	})
	fs.Var(&f.seal, "seal", "seal the map `NAME` (repeatable; like __sealed in C)")
	fs.Var(&f.contents, "seal-contents", "fill sealed map NAME with the contents `NAME=FILE` (JSON, see docs/sealing.md; repeatable)")
	fs.Var(&f.params, "param", "declare the read-only global `VAR` a run-time parameter (repeatable)")
	fs.Var(&f.openArrays, "unsealed-prog-array", "accept the program array `NAME` unsealed: its slots are filled at run time and not signed, and the verdict is at best PARTIAL (\"tail-call targets not bound\"; repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), usage, fs.Name())
		fs.PrintDefaults()
	}
	return fs, f
}

// setOutput sets the output directory (default: the working directory)
// and the Go package (default: $GOPACKAGE).
func (c *Config) setOutput(f *rawFlags, env Env) error {
	c.OutputDir = f.outDir
	if c.OutputDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		c.OutputDir = wd
	}
	if c.Package = f.pkg; c.Package == "" {
		c.Package = env.get("GOPACKAGE", "")
	}
	if c.Package == "" {
		return errors.New("missing package, you should either set the go-package flag or the GOPACKAGE env")
	}
	return nil
}

// setCompiler sets the compiler and its flags (the words after the first
// of -cc, then -cflags, then what follows "--"), the identifier and the
// source file from the positional arguments, and -makebase made absolute;
// it checks the output stem and suffix (in bpf2go's order of checks).
func (c *Config) setCompiler(f *rawFlags, args []string) error {
	cc := f.cc
	if cc == "" {
		cc, c.ccDefaulted = "clang", true
	}
	ccWords := strings.Fields(cc)
	if len(ccWords) == 0 {
		return errors.New("no compiler specified")
	}
	c.CC = ccWords[0]

	positional, extra := splitAtDoubleDash(args)
	if f.cflags != "" {
		words, err := splitQuoted(f.cflags)
		if err != nil {
			return err
		}
		extra = append(words, extra...)
	}
	for _, w := range extra {
		if strings.HasPrefix(w, "-M") {
			return fmt.Errorf("use -makebase instead of %q", w)
		}
	}
	c.CFlags = append(ccWords[1:], extra...)

	if len(positional) < 2 {
		return errors.New("expected at least two arguments")
	}
	c.Ident = positional[0]
	var err error
	if c.Source, err = filepath.Abs(positional[1]); err != nil {
		return err
	}
	if c.MakeBase != "" {
		if c.MakeBase, err = filepath.Abs(c.MakeBase); err != nil {
			return err
		}
	}
	if strings.ContainsRune(c.OutputStem, filepath.Separator) {
		return fmt.Errorf("-output-stem %q must not contain path separation characters", c.OutputStem)
	}
	if strings.ContainsRune(c.OutputSuffix, filepath.Separator) {
		return fmt.Errorf("-output-suffix %q must not contain path separation characters", c.OutputSuffix)
	}
	return nil
}

// setTargets resolves the comma-separated -target list.
func (c *Config) setTargets(list string) error {
	c.Targets = map[bpfgen.Target]bpfgen.GoArches{}
	for _, t := range strings.Split(list, ",") {
		tgt, arches, err := bpfgen.FindTarget(t)
		if err != nil {
			return err
		}
		c.Targets[tgt] = arches
	}
	if len(c.Targets) == 0 {
		return errors.New("no targets specified")
	}
	return nil
}

// setSealContents reads the NAME=FILE pairs of -seal-contents.
func (c *Config) setSealContents(pairs []string) error {
	for _, kv := range pairs {
		name, file, ok := strings.Cut(kv, "=")
		if !ok || name == "" || file == "" {
			return fmt.Errorf("-seal-contents %q: want NAME=FILE", kv)
		}
		if _, dup := c.SealContents[name]; dup {
			return fmt.Errorf("-seal-contents: two files for map %s", name)
		}
		c.SealContents[name] = file
	}
	return nil
}

// Usage writes the generator's usage and options to w, as -h prints them.
func Usage(w io.Writer) {
	_, _ = Parse([]string{"-h"}, func(string) (string, bool) { return "", false }, w)
}
