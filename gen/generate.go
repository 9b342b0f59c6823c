package gen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build/constraint"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	bpfgen "github.com/cilium/ebpf/cmd/bpf2go/gen"

	"github.com/bpf2go-signed/bpf2go-signed/include"
)

// Run generates every target of c. Log lines go to log.
func Run(ctx context.Context, c *Config, log io.Writer) error {
	if _, err := os.Stat(c.Source); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file %s doesn't exist", c.Source)
		}
		return err
	}
	if c.ccDefaulted {
		c.CC = findClang()
	}
	if c.Strip == "" {
		c.Strip = "llvm-strip"
		if rest, ok := strings.CutPrefix(c.CC, "clang"); ok {
			c.Strip += rest
		}
	}
	if !c.NoStrip {
		path, err := exec.LookPath(c.Strip)
		if err != nil {
			return err
		}
		c.Strip = path
	}
	incDir, err := headerDir()
	if err != nil {
		return err
	}
	extras, err := loadExtras(ctx, c)
	if err != nil {
		return err
	}
	targets := make([]bpfgen.Target, 0, len(c.Targets))
	for t := range c.Targets {
		targets = append(targets, t)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Suffix() < targets[j].Suffix() })
	for _, t := range targets {
		if err := c.convert(ctx, t, c.Targets[t], incDir, extras, log); err != nil {
			return err
		}
	}
	return nil
}

// findClang returns "clang" when it is on PATH, else the newest clang-NN.
func findClang() string {
	if _, err := exec.LookPath("clang"); err == nil {
		return "clang"
	}
	best, bestN := "clang", 0
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		matches, _ := filepath.Glob(filepath.Join(dir, "clang-[0-9]*"))
		for _, m := range matches {
			n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(m), "clang-"))
			if err == nil && n > bestN {
				best, bestN = filepath.Base(m), n
			}
		}
	}
	return best
}

// headerDir writes bpf2go_signed.h to a content-addressed directory under
// the user's cache and returns the directory, for -I.
func headerDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256(include.Header)
	dir := filepath.Join(base, "bpf2go-signed", "include-"+hex.EncodeToString(sum[:6]))
	path := filepath.Join(dir, include.HeaderName)
	if b, err := os.ReadFile(path); err == nil && string(b) == string(include.Header) {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", include.HeaderName, err)
	}
	tmp, err := os.CreateTemp(dir, ".hdr")
	if err != nil {
		return "", fmt.Errorf("install %s: %w", include.HeaderName, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(include.Header); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("install %s: %w", include.HeaderName, err)
	}
	return dir, nil
}

func (c *Config) debugf(log io.Writer, format string, args ...any) {
	if c.Verbose {
		fmt.Fprintf(log, format+"\n", args...)
	}
}

// convert does what bpf2go's convert does for one target (compile, write
// the bpf2go binding file and, with -makebase, the .d file), then writes
// the signed outputs.
func (c *Config) convert(ctx context.Context, tgt bpfgen.Target, arches bpfgen.GoArches, incDir string, extras *extras, log io.Writer) (err error) {
	outputStem := c.OutputStem
	if outputStem == "" {
		outputStem = strings.ToLower(c.Ident)
	}
	stem := fmt.Sprintf("%s_%s%s", outputStem, tgt.Suffix(), c.OutputSuffix)
	outDir, err := filepath.Abs(c.OutputDir)
	if err != nil {
		return err
	}
	objFile := filepath.Join(outDir, stem+".o")
	goFile := filepath.Join(outDir, stem+".go")
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	constraints := andExpr(arches.Constraint(), c.Tags)

	if err := c.removeObsolete(outputStem, tgt, log); err != nil {
		return fmt.Errorf("remove obsolete output: %w", err)
	}
	var depFile string
	if c.MakeBase != "" {
		f, err := os.CreateTemp("", "bpf2go-signed")
		if err != nil {
			return err
		}
		depFile = f.Name()
		f.Close()
		defer os.Remove(depFile)
	}
	if err := c.compile(tgt, cwd, incDir, objFile, depFile); err != nil {
		return err
	}
	c.debugf(log, "Compiled object file=%s", objFile)
	if err := c.writeBindings(objFile, goFile, constraints); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(goFile) // as bpf2go does when a later step fails
		}
	}()
	c.debugf(log, "Generated bpf2go binding file=%s", goFile)
	if err := c.writeSigned(ctx, objFile, stem, outputStem, tgt, constraints, extras, log); err != nil {
		return err
	}
	if c.MakeBase == "" {
		return nil
	}
	return c.writeMakeDeps(cwd, depFile, goFile)
}

// compile builds objFile from the source for tgt, with bpf2go_signed.h on
// the include path and, when depFile is set, make dependencies written to
// it.
func (c *Config) compile(tgt bpfgen.Target, cwd, incDir, objFile, depFile string) error {
	cflags := slices.Clone(c.CFlags)
	cflags = append(cflags, "-I"+incDir)
	if depFile != "" {
		cflags = append(cflags, "-MD", "-MP", "-MF"+depFile)
	}
	err := bpfgen.Compile(bpfgen.CompileArgs{
		CC:               c.CC,
		Strip:            c.Strip,
		DisableStripping: c.NoStrip,
		Flags:            cflags,
		Target:           tgt,
		Workdir:          cwd,
		Source:           c.Source,
		Dest:             objFile,
	})
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	return nil
}

// writeBindings writes bpf2go's Go file for objFile to goFile: the named
// maps, variables and programs, and the C types asked for (plus the global
// ones unless -no-global-types). goFile is removed on error.
func (c *Config) writeBindings(objFile, goFile string, constraints constraint.Expr) (err error) {
	spec, err := ebpf.LoadCollectionSpec(objFile)
	if err != nil {
		return fmt.Errorf("can't load BPF from ELF: %w", err)
	}
	var mapNames, varNames, progNames []string
	for name := range spec.Maps {
		if !strings.HasPrefix(name, ".") {
			mapNames = append(mapNames, name)
		}
	}
	for name := range spec.Variables {
		varNames = append(varNames, name)
	}
	for name := range spec.Programs {
		progNames = append(progNames, name)
	}
	var types []btf.Type
	for _, name := range c.Types {
		typ, err := spec.Types.AnyTypeByName(name)
		if err != nil {
			return fmt.Errorf("collect C types: looking up type %s: %w", name, err)
		}
		types = append(types, typ)
	}
	if !c.NoGlobalTypes {
		types = append(types, bpfgen.CollectGlobalTypes(spec)...)
	}

	f, err := os.Create(goFile)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(goFile)
		}
		f.Close()
	}()
	err = bpfgen.Generate(bpfgen.GenerateArgs{
		Package:     c.Package,
		Stem:        c.Ident,
		Constraints: constraints,
		Maps:        mapNames,
		Variables:   varNames,
		Programs:    progNames,
		Types:       types,
		ObjectFile:  filepath.Base(objFile),
		Output:      f,
	})
	if err != nil {
		return fmt.Errorf("can't write %s: %w", goFile, err)
	}
	return nil
}

// writeMakeDeps turns the compiler's dependency file into goFile.d, with
// paths relative to -makebase.
func (c *Config) writeMakeDeps(cwd, depFile, goFile string) error {
	df, err := os.Open(depFile)
	if err != nil {
		return err
	}
	defer df.Close()
	rules, err := readMakeRules(cwd, df)
	if err != nil {
		return fmt.Errorf("can't read dependency information: %w", err)
	}
	out, err := os.Create(goFile + ".d")
	if err != nil {
		return fmt.Errorf("write make dependencies: %w", err)
	}
	defer out.Close()
	rules[0].target = goFile
	if err := writeMakeRules(out, c.MakeBase, rules); err != nil {
		return fmt.Errorf("can't adjust dependency information: %w", err)
	}
	return nil
}

// removeObsolete removes files of bpf2go's old naming scheme.
func (c *Config) removeObsolete(outputStem string, tgt bpfgen.Target, log io.Writer) error {
	suffix := tgt.ObsoleteSuffix()
	if suffix == "" {
		return nil
	}
	for _, ext := range []string{".o", ".go"} {
		name := filepath.Join(c.OutputDir, outputStem+"_"+suffix+ext)
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		} else if err == nil {
			c.debugf(log, "Removed obsolete output file file=%s", name)
		}
	}
	return nil
}

func andExpr(x, y constraint.Expr) constraint.Expr {
	switch {
	case x == nil:
		return y
	case y == nil:
		return x
	}
	return &constraint.AndExpr{X: x, Y: y}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
