package audit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

// loadMany loads n small socket filters, each with its own instructions,
// and writes a trust directory with one signed manifest covering them all.
func loadMany(b *testing.B, n int) (string, []*ebpf.Program) {
	b.Helper()
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{}}
	for i := range n {
		name := fmt.Sprintf("audit_p%d", i)
		spec.Programs[name] = &ebpf.ProgramSpec{Name: name, Type: ebpf.SocketFilter, License: "MIT",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, int32(i)), asm.Return()}}
	}
	m, err := measure.Collection(spec)
	if err != nil {
		b.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := signing.FromPrivateKey(key)
	env, err := s.Sign(context.Background(), attest.NewStatement("many.o", []byte("n/a"), m))
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := attest.MarshalPublicKey(key.Public())
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "many.o.intoto.json"), env, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pub"), pub, 0o644)
	var progs []*ebpf.Program
	for _, ps := range spec.Programs {
		p, err := ebpf.NewProgram(ps)
		if err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	b.Cleanup(func() {
		for _, p := range progs {
			p.Close()
		}
	})
	return dir, progs
}

// BenchmarkAudit: "prog verify --all" over N loaded programs, by
// bpf2go-signed-node (the node tool) and bpf2go-signed (the full CLI),
// against "bpftool prog show -j" listing the same set, in the same run,
// each as a separate process.
func BenchmarkAudit(b *testing.B) {
	testutil.RequireBPF(b)
	testutil.RequireTool(b, "bpftool")
	full, err := cli()
	if err != nil {
		b.Fatal(err)
	}
	node, err := nodeCLI()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range auditSizes(b) {
		dir, progs := loadMany(b, n)
		// Sanity: every one of ours is OK (another process may hold
		// programs with the same instructions, OK too).
		trust, err := audit.LoadTrustDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		results, err := trust.All()
		if err != nil {
			b.Fatal(err)
		}
		ok := 0
		for _, r := range results {
			if r.Verdict == bpfsigned.OK {
				ok++
			}
		}
		if ok < n {
			b.Fatalf("%d of %d programs verified OK", ok, n)
		}
		// Every verdict is accepted: other programs on the host (other
		// tests, the system's own) must not fail the run.
		verify := []string{"prog", "verify", "--all", "--trust", dir, "-j", "--accept", "OK,PARTIAL,UNSIGNED,BADSIG"}
		for _, tool := range []struct{ name, bin string }{{"bpf2go-signed-node", node}, {"bpf2go-signed", full}} {
			b.Run(fmt.Sprintf("N=%d/%s", n, tool.name), func(b *testing.B) {
				for b.Loop() {
					out, err := exec.Command(tool.bin, verify...).Output()
					var res struct{ Programs []json.RawMessage }
					if json.Unmarshal(out, &res); len(res.Programs) < n {
						b.Fatalf("%d results: %v", len(res.Programs), err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("N=%d/bpftool", n), func(b *testing.B) {
			for b.Loop() {
				out, err := exec.Command("bpftool", "prog", "show", "-j").Output()
				var res []json.RawMessage
				if json.Unmarshal(out, &res); len(res) < n {
					b.Fatalf("%d results: %v", len(res), err)
				}
			}
		})
		// The three in turn in every iteration: the ratio of each round
		// is what the machine's load changes least. Reported: the median
		// of the per-round wall-time ratios to bpftool, and the ratio of
		// the summed CPU times (user + system, from wait4).
		b.Run(fmt.Sprintf("N=%d/interleaved", n), func(b *testing.B) {
			var nodeWall, fullWall []float64
			var nodeCPU, fullCPU, toolCPU time.Duration
			for b.Loop() {
				tw, tc := timeRun(b, "bpftool", "prog", "show", "-j")
				nw, nc := timeRun(b, node, verify...)
				fw, fc := timeRun(b, full, verify...)
				nodeWall = append(nodeWall, float64(nw)/float64(tw))
				fullWall = append(fullWall, float64(fw)/float64(tw))
				nodeCPU, fullCPU, toolCPU = nodeCPU+nc, fullCPU+fc, toolCPU+tc
			}
			b.ReportMetric(median(nodeWall), "node/bpftool")
			b.ReportMetric(median(fullWall), "cli/bpftool")
			if toolCPU > 0 {
				b.ReportMetric(float64(nodeCPU)/float64(toolCPU), "node-cpu/bpftool-cpu")
				b.ReportMetric(float64(fullCPU)/float64(toolCPU), "cli-cpu/bpftool-cpu")
			}
		})
		for _, p := range progs {
			p.Close()
		}
	}
}

// timeRun runs a command to completion and returns its wall and CPU time.
func timeRun(b *testing.B, name string, args ...string) (wall, cpu time.Duration) {
	cmd := exec.Command(name, args...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	wall = time.Since(start)
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var auditN = flag.String("audit.n", "100,1000", "comma-separated numbers of programs BenchmarkAudit loads")

func auditSizes(b *testing.B) []int {
	var out []int
	for _, f := range strings.Split(*auditN, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("-audit.n: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out
}
