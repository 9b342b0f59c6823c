// Command gen measures code generation: bpf2go-signed with -trust-key (the CI
// flow: sign later with "bpf2go-signed sign") and with -sign-key, against
// plain bpf2go on the same sources and flags, interleaved.
//
// It builds cilium/ebpf's bpf2go and ./cmd/bpf2go-signed with the go
// command, creates a cosign key pair (empty password, as COSIGN_PASSWORD=
// does), and runs the three generators on three example programs of
// e2e/testdata/examples in turn: kprobe, xdp, and tcprtt_sockops (CO-RE,
// with bpf2go's default targets bpfel,bpfeb). Each run is a fresh process
// in a fresh directory, as go generate starts it (go generate's own
// "go run" start is the same for both generators and left out, which makes
// the ratio stricter). It reports the median wall time of each and the
// median ratio of each pair, in wall time and in CPU time (the generator
// and the compilers it runs: on a shared machine the wall time is mostly
// waiting for a core), and the time the -sign-key path spends
// decrypting the cosign key (scrypt + secretbox), measured in process.
//
//	go run ./scripts/bench/gen [-n 20]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

func main() {
	n := flag.Int("n", 20, "rounds (each runs every generator on every example once)")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

type example struct {
	name, source string
	flags        []string
}

func run(n int) error {
	dir, err := os.MkdirTemp("", "bench-gen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bpf2go, signed := filepath.Join(dir, "bpf2go"), filepath.Join(dir, "bpf2go-signed")
	for bin, pkg := range map[string]string{bpf2go: "github.com/cilium/ebpf/cmd/bpf2go", signed: "./cmd/bpf2go-signed"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("build %s (run from the repository root): %v\n%s", pkg, err, out)
		}
	}
	priv, pub, err := signing.GenerateKeyPair(nil)
	if err != nil {
		return err
	}
	keyFile, pubFile := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		return err
	}

	include := "-I/usr/include/" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-linux-gnu"
	examples := []example{
		{"kprobe", "kprobe.c", nil},
		{"xdp", "xdp.c", nil},
		{"tcprtt_sockops (CO-RE)", "tcprtt_sockops.c", []string{"-type", "rtt_event"}},
	}
	variants := []struct {
		name  string
		bin   string
		extra []string
	}{
		{"bpf2go", bpf2go, nil},
		{"signed -trust-key", signed, []string{"-trust-key", pubFile}},
		{"signed -sign-key", signed, []string{"-sign-key", keyFile}},
	}
	// example, variant, run
	times := make([][][]time.Duration, len(examples))
	cpus := make([][][]time.Duration, len(examples))
	for i := range times {
		times[i] = make([][]time.Duration, len(variants))
		cpus[i] = make([][]time.Duration, len(variants))
	}
	env := append(os.Environ(), "GOPACKAGE=main", "COSIGN_PASSWORD=")
	for r := range n {
		for i, ex := range examples {
			src, err := os.ReadFile(filepath.Join("e2e", "testdata", "examples", ex.source))
			if err != nil {
				return err
			}
			for j, v := range variants {
				work := filepath.Join(dir, fmt.Sprintf("r%d-%d-%d", r, i, j))
				if err := os.Mkdir(work, 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(work, ex.source), src, 0o644); err != nil {
					return err
				}
				args := append(append(slices.Clone(v.extra), "-cc", "clang-19"), ex.flags...)
				args = append(args, "bpf", ex.source, "--", include)
				cmd := exec.Command(v.bin, args...)
				cmd.Dir, cmd.Env = work, env
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("%s on %s: %v\n%s", v.name, ex.name, err, out)
				}
				times[i][j] = append(times[i][j], time.Since(start))
				// rusage of the generator and the compilers it waited for
				cpus[i][j] = append(cpus[i][j], cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				os.RemoveAll(work)
			}
		}
	}

	fmt.Printf("%d interleaved rounds, medians\n", n)
	for _, m := range []struct {
		what string
		t    [][][]time.Duration
	}{{"wall", times}, {"cpu (user+sys, with clang and llvm-strip)", cpus}} {
		fmt.Printf("\n%s\n%-24s %10s %17s %8s %14s %8s\n", m.what, "example", "bpf2go", "signed -trust-key", "ratio", "-sign-key", "ratio")
		for i, ex := range examples {
			t := m.t[i]
			fmt.Printf("%-24s %10v %17v %8.2f %14v %8.2f\n", ex.name,
				median(t[0]), median(t[1]), medianRatio(t[1], t[0]), median(t[2]), medianRatio(t[2], t[0]))
		}
	}

	var dec, decCPU []time.Duration
	for range n {
		start, startCPU := time.Now(), cpuTime()
		if _, err := signing.ParsePrivateKey(priv, []byte{}); err != nil {
			return err
		}
		dec = append(dec, time.Since(start))
		decCPU = append(decCPU, cpuTime()-startCPU)
	}
	fmt.Printf("\ncosign key decryption (scrypt + secretbox, in process): %v wall, %v cpu\n", median(dec), median(decCPU))
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Microsecond)
}

// medianRatio is the median of a[k]/b[k]: each pair ran back to back.
func medianRatio(a, b []time.Duration) float64 {
	r := make([]float64, len(a))
	for k := range a {
		r[k] = float64(a[k]) / float64(b[k])
	}
	slices.Sort(r)
	return r[len(r)/2]
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
