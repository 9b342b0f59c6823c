package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bpf2go-signed/bpf2go-signed/agent/bpfevent"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
)

// The test binary doubles as the processes that load programs: with
// helperEnv set it runs a loader instead of the tests.
const helperEnv = "BPF2GO_SIGNED_AGENT_TEST_LOADER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(loader(strings.Fields(mode)))
	}
	os.Exit(m.Run())
}

var exampleDir = filepath.Join(testutil.Root(), "examples", "xdp")

// loaded is what a loader prints for each program.
type loaded struct {
	ID uint32 `json:"id"`
	// Before and After bracket the load, on CLOCK_MONOTONIC.
	Before time.Duration `json:"before"`
	After  time.Duration `json:"after"`
	Kept   bool          `json:"kept"`
}

// loader loads programs, prints one loaded line each, and unloads the kept
// ones when its standard input closes.
//
//	signed | tampered | unsigned    one program, kept
//	storm N K                       N programs, every Kth kept, the others closed at once
func loader(args []string) int {
	_ = rlimit.RemoveMemlock()
	out := json.NewEncoder(os.Stdout)
	var keep []interface{ Close() }
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "loader:", err)
		return 1
	}
	switch args[0] {
	case "signed", "tampered", "unsigned", "lateseal", "unsealed", "bindmap":
		before := bpfevent.Now()
		kind := args[0]
		if kind == "bindmap" {
			kind = "signed"
		}
		coll, prog, err := loadExample(kind)
		after := bpfevent.Now()
		if err != nil {
			return fail(err)
		}
		keep = append(keep, coll)
		info, err := prog.Info()
		if err != nil {
			return fail(err)
		}
		id, _ := info.ID()
		out.Encode(loaded{ID: uint32(id), Before: before, After: after, Kept: true})
		if args[0] == "bindmap" {
			// 300ms later, another map bound to the loaded program
			// (BPF_PROG_BIND_MAP): no load event says so.
			extra, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
			if err != nil {
				return fail(err)
			}
			keep = append(keep, closer(func() { extra.Close() }))
			time.AfterFunc(300*time.Millisecond, func() {
				if err := prog.BindMap(extra); err != nil {
					fmt.Fprintln(os.Stderr, "loader: bind map:", err)
				}
			})
		}
	case "storm":
		n, _ := strconv.Atoi(args[1])
		k, _ := strconv.Atoi(args[2])
		for i := range n {
			before := bpfevent.Now()
			p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, License: "MIT", Name: "agent_storm",
				Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, int32(i)), asm.Return()}})
			after := bpfevent.Now()
			if err != nil {
				return fail(err)
			}
			info, err := p.Info()
			if err != nil {
				return fail(err)
			}
			id, _ := info.ID()
			kept := k > 0 && i%k == 0
			if kept {
				keep = append(keep, closer(func() { p.Close() }))
			} else {
				p.Close()
			}
			out.Encode(loaded{ID: uint32(id), Before: before, After: after, Kept: kept})
		}
	default:
		return fail(fmt.Errorf("unknown mode %q", args[0]))
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range keep {
		c.Close()
	}
	return 0
}

// loadExample loads the XDP example as its generated loader does (signed),
// with one instruction changed (tampered), with its input map frozen late
// (lateseal) or never (unsealed), or a program no envelope describes
// (unsigned).
func loadExample(kind string) (*ebpf.Collection, *ebpf.Program, error) {
	if kind == "unsigned" {
		coll, err := ebpf.LoadCollection(testutil.Testdata("socket_bpfel.o"))
		if err != nil {
			return nil, nil, err
		}
		return coll, coll.Programs["socket_count"], nil
	}
	spec, err := ebpf.LoadCollectionSpec(filepath.Join(exampleDir, "filter_bpfel.o"))
	if err != nil {
		return nil, nil, err
	}
	raw, err := os.ReadFile(filepath.Join(exampleDir, "filter_bpfel.o.seal.json"))
	if err != nil {
		return nil, nil, err
	}
	plan, err := sealmap.DecodePlan(raw, spec)
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case "lateseal", "unsealed":
		// Sealed maps filled but frozen 20ms after the load (lateseal),
		// or never (unsealed).
		if err := plan.Apply(spec); err != nil {
			return nil, nil, err
		}
		coll, err := ebpf.NewCollection(spec)
		if err != nil {
			return nil, nil, err
		}
		if kind == "lateseal" {
			time.Sleep(20 * time.Millisecond)
			for _, name := range plan.Sealed {
				if err := coll.Maps[name].Freeze(); err != nil {
					coll.Close()
					return nil, nil, err
				}
			}
		}
		return coll, coll.Programs["port_filter"], nil
	}
	if kind == "tampered" {
		p := spec.Programs["port_filter"]
		changed := false
		for i, ins := range p.Instructions {
			if ins.OpCode.Class().IsALU() && ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource && ins.Constant == 2 {
				p.Instructions[i].Constant = 1 // XDP_PASS instead of XDP_DROP
				changed = true
				break
			}
		}
		if !changed {
			return nil, nil, fmt.Errorf("no XDP_DROP in port_filter to tamper with")
		}
	}
	coll, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		return nil, nil, err
	}
	return coll, coll.Programs["port_filter"], nil
}

type closer func()

func (c closer) Close() { c() }

// loaderProc is a running loader.
type loaderProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	progs []loaded
}

// startLoader runs a loader and waits until it has loaded its programs.
func startLoader(t testing.TB, args ...string) *loaderProc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(args, " "))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &loaderProc{cmd: cmd, stdin: stdin}
	t.Cleanup(func() { l.stop(t) })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "ready" {
			return l
		}
		var p loaded
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("loader %v: %q: %v", args, sc.Text(), err)
		}
		l.progs = append(l.progs, p)
	}
	cmd.Wait()
	t.Fatalf("loader %v failed", args)
	return nil
}

// stop makes the loader unload its programs and exit.
func (l *loaderProc) stop(t testing.TB) {
	if l.stdin == nil {
		return
	}
	l.stdin.Close()
	l.stdin = nil
	if err := l.cmd.Wait(); err != nil {
		t.Errorf("loader: %v", err)
	}
}

// agentBinary builds the agent once per test binary; with AGENT_TEST_RACE
// set, with the race detector (a race makes the agent exit 66 and the
// test fail).
var agentBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bpf2go-signed-agent")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bpf2go-signed-agent")
	args := []string{"build", "-o", bin}
	if os.Getenv("AGENT_TEST_RACE") != "" {
		args = append(args, "-race") // the agent under the race detector
	}
	cmd := exec.Command("go", append(args, "./cmd/bpf2go-signed-agent")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// logLine is one line of the agent's JSON log.
type logLine struct {
	Msg      string  `json:"msg"`
	Level    string  `json:"level"`
	ID       uint32  `json:"id"`
	Verdict  string  `json:"verdict"`
	Previous string  `json:"previous"`
	Manifest string  `json:"manifest"`
	Source   string  `json:"source"`
	Latency  float64 `json:"latency_seconds"`
	Address  string  `json:"address"`
}

// agentProc is a running agent.
type agentProc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs []logLine
	raw  strings.Builder
	done chan struct{}
}

// startAgent runs the agent on a loopback port and waits until it serves
// metrics and watches loads.
func startAgent(t testing.TB, args ...string) *agentProc {
	t.Helper()
	return startAgentAs(t, nil, args...)
}

// startAgentAs runs the agent under a wrapper command (such as setpriv).
func startAgentAs(t testing.TB, wrapper []string, args ...string) *agentProc {
	t.Helper()
	testutil.RequireBPF(t)
	bin, err := agentBinary()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append(wrapper, bin, "--listen", "127.0.0.1:0", "--log", "json"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(a.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		var watching, serving, signalled bool
		for sc.Scan() {
			var l logLine
			json.Unmarshal(sc.Bytes(), &l)
			a.mu.Lock()
			a.logs = append(a.logs, l)
			a.raw.Write(sc.Bytes())
			a.raw.WriteByte('\n')
			if l.Msg == "serving metrics" {
				a.addr, serving = l.Address, true
			}
			a.mu.Unlock()
			if l.Msg == "watching BPF program loads" {
				watching = true
			}
			if watching && serving && !signalled {
				close(ready)
				signalled = true
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		<-a.done
		cmd.Wait()
		if strings.Contains(stderr.String(), "DATA RACE") {
			t.Errorf("the race detector found a race in the agent")
		}
		if t.Failed() {
			t.Logf("agent log:\n%s\nstderr:\n%s", a.rawLog(), stderr.String())
		}
	})
	select {
	case <-ready:
	case <-a.done:
		t.Fatalf("agent exited: %s", stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not start")
	}
	return a
}

func (a *agentProc) rawLog() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raw.String()
}

// logFor returns the agent's log lines about program id.
func (a *agentProc) logFor(id uint32) []logLine {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []logLine
	for _, l := range a.logs {
		if l.ID == id {
			out = append(out, l)
		}
	}
	return out
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// scrape reads the agent's /metrics.
func (a *agentProc) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := client.Get("http://" + a.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// programs maps program ids to the labels of their program_info series.
func programs(mf map[string]*dto.MetricFamily) map[uint32]map[string]string {
	out := map[uint32]map[string]string{}
	f := mf["bpf2go_signed_program_info"]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		id, _ := strconv.ParseUint(labels["id"], 10, 32)
		out[uint32(id)] = labels
	}
	return out
}

// value sums the samples of a family whose labels include match.
func value(mf map[string]*dto.MetricFamily, name string, match ...string) float64 {
	f := mf[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(match); i += 2 {
			ok := false
			for _, l := range m.Label {
				ok = ok || (l.GetName() == match[i] && l.GetValue() == match[i+1])
			}
			if !ok {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

// trustDir holds the example's object, its signed envelope and demo.pub.
func trustDir(t testing.TB, files ...string) string {
	t.Helper()
	if files == nil {
		files = []string{"filter_bpfel.o", "filter_bpfel.o.intoto.json", "demo.pub"}
	}
	dir := t.TempDir()
	for _, f := range files {
		copyFile(t, filepath.Join(exampleDir, f), filepath.Join(dir, f))
	}
	return dir
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback address nobody listens on.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
