// Command keylesssize measures what keyless support adds to a binary: the
// XDP example as committed (key-signed, generated with -sign-key) against
// the same example generated with -trust-identity and -trusted-root.
//
// It copies examples/xdp into two temporary modules (their go.mod replaces
// this module by the working tree), keeps the committed generated files
// in the first, runs the example's go:generate line with
// "-trust-identity ID -trusted-root trusted_root.json" added in the second
// (testdata/trusted_root.json: a fake Sigstore's root, committed so that
// the sizes are reproducible; the generator writes the unsigned
// placeholder bundle, as before CI signs), and builds from each with
// -trimpath, unstripped and with -ldflags=-s -w:
//
//   - loader: loadonce_verified.go and the generated files, the
//     program that loads once as scripts/bench/procload builds it;
//   - example: the whole example (go build .), whose main.go links net.
//
// It prints the sizes and the differences, and with -packages the
// packages whose code and data (go tool nm -size) grew the most. No
// network: the modules resolve from the module cache (GOFLAGS=-mod=mod,
// GOPROXY=off). Needs clang-19 and llvm-strip-19 for the generator. Run it
// from the repository root:
//
//	go run ./scripts/bench/keylesssize [-packages 25] [-keep DIR]
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// identity is who may sign in the keyless variant (the fake Sigstore's
// defaults); its syntax does not change what is linked.
const identity = "issuer=https://token.actions.githubusercontent.com;identity=https://github.com/acme/filters/.github/workflows/release.yml@refs/tags/v1.0.0;github_workflow_repository=acme/filters"

// limit is the growth allowed for keyless support (issue 20).
const limit = 1 << 20

// sources are what is copied from examples/xdp; the generated files are
// those of the committed key-signed example.
var sources = []string{"main.go", "filter.c", "blocked_ports.json", "demo.key", "demo.pub", "loadonce_verified.go",
	"filter_bpfel.go", "filter_bpfel_signed.go", "filter_bpfel.o", "filter_bpfel.o.intoto.json", "filter_bpfel.o.seal.json"}

// loader is what the loadonce program is built from.
var loader = []string{"loadonce_verified.go", "filter_bpfel.go", "filter_bpfel_signed.go"}

func main() {
	pkgs := flag.Int("packages", 0, "list the `N` packages whose symbols grew the most (unstripped example)")
	keep := flag.String("keep", "", "work in `DIR` and keep the modules and binaries")
	flag.Parse()
	if err := run(*pkgs, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "keylesssize:", err)
		os.Exit(1)
	}
}

func run(pkgs int, keep string) error {
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "examples", "xdp", "filter.c")); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	dir := keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "keylesssize"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	keyDir, keylessDir := filepath.Join(dir, "key"), filepath.Join(dir, "keyless")
	for _, d := range []string{keyDir, keylessDir} {
		if err := module(repo, d); err != nil {
			return err
		}
	}
	if err := generateKeyless(repo, keylessDir); err != nil {
		return err
	}

	type build struct {
		name string
		args []string
	}
	builds := []build{{"loader", loader}, {"example", []string{"."}}}
	// sizes[build][variant][stripped]
	sizes := make([][2][2]int64, len(builds))
	bins := map[string]string{}
	for i, b := range builds {
		for v, d := range []string{keyDir, keylessDir} {
			for s, ldflags := range []string{"", "-s -w"} {
				out := filepath.Join(dir, fmt.Sprintf("%s-%s-%d", b.name, filepath.Base(d), s))
				if err := goCmd(d, append([]string{"build", "-trimpath", "-ldflags=" + ldflags, "-o", out}, b.args...)...); err != nil {
					return fmt.Errorf("build %s in %s: %w", b.name, d, err)
				}
				st, err := os.Stat(out)
				if err != nil {
					return err
				}
				sizes[i][v][s] = st.Size()
				bins[fmt.Sprintf("%s-%d-%d", b.name, v, s)] = out
			}
		}
	}

	fmt.Printf("go %s %s/%s, CGO_ENABLED=%s, trusted root %s\n\n", strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH,
		goEnv("CGO_ENABLED"), "scripts/bench/keylesssize/testdata/trusted_root.json")
	fmt.Printf("%-8s %-10s %12s %12s %12s %10s\n", "binary", "", "key-signed", "keyless", "difference", "MiB")
	over := false
	for i, b := range builds {
		for s, name := range []string{"", "-s -w"} {
			d := sizes[i][1][s] - sizes[i][0][s]
			fmt.Printf("%-8s %-10s %12d %12d %+12d %10.3f\n", b.name, name, sizes[i][0][s], sizes[i][1][s], d, float64(d)/(1<<20))
			over = over || d > limit
		}
	}
	if over {
		fmt.Println("\ngoal (at most 1 MiB more for keyless support): NOT MET")
	} else {
		fmt.Println("\ngoal (at most 1 MiB more for keyless support): met")
	}
	if pkgs > 0 {
		return packages(bins["example-0-0"], bins["example-1-0"], pkgs)
	}
	return nil
}

// module writes a module in dir with the example's sources and the
// committed generated files.
func module(repo, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		return err
	}
	gomod := "module example.com/xdp\n\ngo 1.26\n\nrequire github.com/bpf2go-signed/bpf2go-signed v0.0.0\n\nreplace github.com/bpf2go-signed/bpf2go-signed => " + repo + "\n"
	files := map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum}
	for _, name := range sources {
		if files[name], err = os.ReadFile(filepath.Join(repo, "examples", "xdp", name)); err != nil {
			return err
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// generateKeyless runs the example's go:generate line with a trusted
// identity and root added.
func generateKeyless(repo, dir string) error {
	root, err := os.ReadFile(filepath.Join(repo, "scripts", "bench", "keylesssize", "testdata", "trusted_root.json"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), root, 0o644); err != nil {
		return err
	}
	mainGo := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		return err
	}
	const tool = "cmd/bpf2go-signed "
	var out bytes.Buffer
	n := 0
	for line := range strings.Lines(string(src)) {
		if strings.HasPrefix(line, "//go:generate ") {
			i := strings.Index(line, tool)
			if i < 0 {
				return fmt.Errorf("examples/xdp/main.go: go:generate line without %s: %s", tool, line)
			}
			i += len(tool)
			line = line[:i] + "-trust-identity " + strconv.Quote(identity) + " -trusted-root trusted_root.json " + line[i:]
			n++
		}
		out.WriteString(line)
	}
	if n != 1 {
		return fmt.Errorf("examples/xdp/main.go: %d go:generate lines, want 1", n)
	}
	if err := os.WriteFile(mainGo, out.Bytes(), 0o644); err != nil {
		return err
	}
	if err := goCmd(dir, "generate", "."); err != nil {
		return fmt.Errorf("go generate with -trust-identity: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "filter_bpfel.o.sigstore.json")); err != nil {
		return fmt.Errorf("go generate with -trust-identity wrote no bundle: %w", err)
	}
	return nil
}

func goCmd(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func goEnv(name string) string {
	out, _ := exec.Command("go", "env", name).Output()
	return strings.TrimSpace(string(out))
}

// packages prints the n packages whose symbols grew the most from bin0 to
// bin1, by the sizes go tool nm reports (code, data, read-only data; not
// pclntab or DWARF).
func packages(bin0, bin1 string, n int) error {
	p0, err := symbolSizes(bin0)
	if err != nil {
		return err
	}
	p1, err := symbolSizes(bin1)
	if err != nil {
		return err
	}
	all := map[string]bool{}
	for k := range p0 {
		all[k] = true
	}
	for k := range p1 {
		all[k] = true
	}
	names := slices.SortedFunc(maps.Keys(all), func(a, b string) int {
		return cmp.Or(cmp.Compare(p1[b]-p0[b], p1[a]-p0[a]), cmp.Compare(a, b))
	})
	var t0, t1 int64
	for k := range all {
		t0, t1 = t0+p0[k], t1+p1[k]
	}
	fmt.Printf("\nsymbols by package, whole example unstripped (go tool nm -size): %d → %d bytes, %+d\n", t0, t1, t1-t0)
	fmt.Printf("%-50s %10s %10s %10s\n", "package", "key-signed", "keyless", "difference")
	for _, k := range names[:min(n, len(names))] {
		fmt.Printf("%-50s %10d %10d %+10d\n", k, p0[k], p1[k], p1[k]-p0[k])
	}
	return nil
}

// symbolSizes sums the sizes of a binary's symbols by package.
func symbolSizes(bin string) (map[string]int64, error) {
	out, err := exec.Command("go", "tool", "nm", "-size", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool nm %s: %w", bin, err)
	}
	sizes := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// address size type name
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		_, name, _ := strings.Cut(line, " "+f[2]+" ")
		sizes[pkgOf(name)] += size
	}
	return sizes, sc.Err()
}

// pkgOf is the package of a Go symbol name: up to the first dot after the
// last slash, with type and generic decorations removed.
func pkgOf(sym string) string {
	for _, p := range []string{"type:.eq.", "type:.hash.", "go:itab.*", "go:itab.", "type:*", "type:"} {
		if rest, ok := strings.CutPrefix(sym, p); ok {
			if p == "type:" || p == "type:*" {
				// type descriptors count for their package, under a
				// name of their own.
				return pkgOf(strings.TrimLeft(rest, "*[]")) + " (types)"
			}
			sym = rest
			break
		}
	}
	if strings.HasPrefix(sym, "go:") || !strings.Contains(sym, ".") {
		// go:string.*, go:buildinfo, linker symbols.
		if i := strings.Index(sym, "."); i > 0 {
			return sym[:i]
		}
		return sym
	}
	slash := strings.LastIndex(sym[:strings.IndexAny(sym+"[", "[")], "/")
	dot := strings.Index(sym[slash+1:], ".")
	if dot < 0 {
		return sym
	}
	return sym[:slash+1+dot]
}
