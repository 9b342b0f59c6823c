// Command procload measures the first verified load of a process against
// plain bpf2go as whole processes, and the size of both binaries.
//
// It builds two programs from examples/xdp with the go command: one that
// loads the XDP example with bpf2go's generated loadFilterObjects and
// exits, and one that loads it with the generated verifying loader and
// exits. It runs copies of both written with write(2), as installed
// binaries are (see copyFile). Then it starts each -n times, alternating
// (each round in a shuffled order), and reports the median wall time and
// CPU time (user + system, from the process's rusage) of both and their
// ratio. Needs root (or CAP_BPF) like the example.
//
// With -also NAME=PATH (repeatable), prebuilt binaries (for example the
// verified loader built from an earlier commit, kept with -keep) run in
// the same alternation and are reported with their ratio to plain too,
// so that a change is measured before and after under the same
// conditions.
//
//	go run ./scripts/bench/procload [-n 200] [-keep DIR] [-also before=/tmp/old/v1-0]
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 200, "runs of each binary, alternating")
	keep := flag.String("keep", "", "build the binaries into DIR and keep them")
	var also []*variant
	flag.Func("also", "NAME=PATH: also run this prebuilt binary in the alternation (repeatable)", func(s string) error {
		name, path, ok := strings.Cut(s, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("want NAME=PATH, got %q", s)
		}
		also = append(also, &variant{name: name, bin: path})
		return nil
	})
	flag.Parse()
	if err := run(*n, *keep, also); err != nil {
		fmt.Fprintln(os.Stderr, "procload:", err)
		os.Exit(1)
	}
}

type variant struct {
	name  string
	files []string
	bin   string
}

func run(n int, keep string, also []*variant) error {
	dir := keep
	if dir == "" {
		d, err := os.MkdirTemp("", "procload")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	vs := []*variant{
		{name: "plain bpf2go", files: []string{"loadonce_plain.go", "filter_bpfel.go"}},
		{name: "verified", files: []string{"loadonce_verified.go", "filter_bpfel.go", "filter_bpfel_signed.go"}},
	}
	fmt.Printf("%-14s %12s %12s\n", "binary", "size", "size -s -w")
	var sizes [2][2]int64
	for i, v := range vs {
		for j, ldflags := range []string{"", "-s -w"} {
			out := filepath.Join(dir, fmt.Sprintf("v%d-%d", i, j))
			args := append([]string{"build", "-trimpath", "-ldflags=" + ldflags, "-o", out}, v.files...)
			cmd := exec.Command("go", args...)
			cmd.Dir = "examples/xdp"
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("build %s (run from the repository root): %w", v.name, err)
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			sizes[i][j] = st.Size()
			if j == 0 {
				v.bin = out + "-run"
				if err := copyFile(out, v.bin); err != nil {
					return err
				}
			}
		}
		fmt.Printf("%-14s %12d %12d\n", v.name, sizes[i][0], sizes[i][1])
	}
	fmt.Printf("%-14s %+12d %+12d  (%.2f MiB, %.2f MiB)\n", "difference",
		sizes[1][0]-sizes[0][0], sizes[1][1]-sizes[0][1],
		float64(sizes[1][0]-sizes[0][0])/(1<<20), float64(sizes[1][1]-sizes[0][1])/(1<<20))

	for _, v := range also {
		run := filepath.Join(dir, "also-"+v.name)
		if err := copyFile(v.bin, run); err != nil {
			return err
		}
		v.bin = run
	}
	vs = append(vs, also...)
	wall, cpu := make([][]time.Duration, len(vs)), make([][]time.Duration, len(vs))
	// Each round runs the binaries in another order (a seeded shuffle): a
	// process can pay for kernel work the one before it left behind
	// (freeing its programs and maps), so no binary may always follow the
	// same one.
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		for _, i := range rng.Perm(len(vs)) {
			v := vs[i]
			start := time.Now()
			cmd := exec.Command(v.bin)
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			wall[i] = append(wall[i], time.Since(start))
			cpu[i] = append(cpu[i], cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
	}
	fmt.Printf("\n%d alternating runs each, medians (quartiles)\n", n)
	fmt.Printf("%-14s %28s %28s\n", "binary", "wall", "cpu (user+sys)")
	for i, v := range vs {
		fmt.Printf("%-14s %28s %28s\n", v.name, quart(wall[i]), quart(cpu[i]))
	}
	for i, v := range vs[1:] {
		name := "ratio"
		if len(vs) > 2 {
			name = "ratio " + v.name
		}
		fmt.Printf("%-14s %28.3f %28.3f\n", name, ratio(wall[0], wall[i+1]), ratio(cpu[0], cpu[i+1]))
	}
	return nil
}

func quart(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("%v (%v–%v)", q(0.5).Round(10*time.Microsecond), q(0.25).Round(10*time.Microsecond), q(0.75).Round(10*time.Microsecond))
}

// copyFile writes a copy of the binary src to dst with write(2), as an
// installed binary is written. The file the Go linker leaves (it writes
// its output through a memory mapping) starts measurably slower on this
// 6.18 host: about 1 ms more user time for the 8 MB verified loader, and
// 0.6 ms for the plain one, with as many page faults and no huge pages in
// either (why is not established). A copy measures what an installed
// binary costs.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	// Plain reads and writes (no copy_file_range or reflink sharing the
	// source's page cache).
	if _, err := io.Copy(struct{ io.Writer }{out}, struct{ io.Reader }{in}); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// ratio is the median of the per-round ratios of a binary to plain: each
// round ran them back to back, so a slow phase of the machine affects
// both.
func ratio(plain, other []time.Duration) float64 {
	r := make([]float64, len(plain))
	for i := range r {
		r[i] = float64(other[i]) / float64(plain[i])
	}
	slices.Sort(r)
	return r[len(r)/2]
}
