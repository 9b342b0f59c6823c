package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// The example's sealed config (blocked_ports.json) blocks 9090 and 5353.
const (
	serverIP = "169.254.78.2"
	clientIP = "169.254.78.1"
)

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func build(t *testing.T, dir, pkg string, extra ...string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", append(append([]string{"build"}, extra...), "-o", out, pkg)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// netns creates a client and a server namespace joined by a veth pair; the
// namespaces go away when the test ends, passed or failed.
func netns(t *testing.T) (client, server string) {
	t.Helper()
	testutil.RequireTool(t, "ip")
	client = fmt.Sprintf("b2gs-test-c-%d", os.Getpid())
	server = fmt.Sprintf("b2gs-test-s-%d", os.Getpid())
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", client).Run()
		exec.Command("ip", "netns", "del", server).Run()
	})
	sh(t, "ip", "netns", "add", client)
	sh(t, "ip", "netns", "add", server)
	sh(t, "ip", "link", "add", "veth-c", "netns", client, "type", "veth", "peer", "name", "veth-s", "netns", server)
	sh(t, "ip", "-n", client, "addr", "add", clientIP+"/24", "dev", "veth-c")
	sh(t, "ip", "-n", server, "addr", "add", serverIP+"/24", "dev", "veth-s")
	for _, ns := range []string{client, server} {
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "-n", client, "link", "set", "veth-c", "up")
	sh(t, "ip", "-n", server, "link", "set", "veth-s", "up")
	return client, server
}

// output collects a child's output; the test reads it while it runs.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func start(t *testing.T, ns string, out *output, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func waitFor(t *testing.T, buf *output, re string) {
	t.Helper()
	r := regexp.MustCompile(re)
	for range 100 {
		if r.MatchString(buf.String()) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %q in:\n%s", re, buf.String())
}

func xdpAttached(t *testing.T, ns string) bool {
	return strings.Contains(sh(t, "ip", "-n", ns, "link", "show", "veth-s"), "xdp")
}

// TestFilterEndToEnd attaches the verified filter in a network namespace and
// checks that what passes and what is dropped match the sealed config, in
// both modes.
func TestFilterEndToEnd(t *testing.T) {
	testutil.RequireBPF(t)
	dir := t.TempDir()
	filter := build(t, dir, "github.com/bpf2go-signed/bpf2go-signed/examples/xdp")
	traffic := build(t, dir, "github.com/bpf2go-signed/bpf2go-signed/examples/xdp/trafficgen")
	client, server := netns(t)
	var serveOut output
	start(t, server, &serveOut, traffic, "serve", "-tcp", "8080,9090", "-udp", "6000,5353")
	waitFor(t, &serveOut, "serving")

	tests := []struct {
		name  string
		args  []string
		probe string
		// counter that counts the blocked traffic
		blocked string
	}{
		{"enforce", nil, "tcp 8080 answered\ntcp 9090 no answer\nudp 6000 answered\nudp 5353 no answer\n", "drop"},
		{"count only", []string{"-count-only"}, "tcp 8080 answered\ntcp 9090 answered\nudp 6000 answered\nudp 5353 answered\n", "match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out output
			cmd := start(t, server, &out, filter, append([]string{"-iface", "veth-s", "-json", "-interval", "100ms"}, tt.args...)...)
			waitFor(t, &out, `"verdict": "OK"`)
			if !xdpAttached(t, server) {
				t.Fatal("no XDP program attached after an OK verdict")
			}
			got := sh(t, "ip", "netns", "exec", client, traffic, "probe", "-host", serverIP, "-tcp", "8080,9090", "-udp", "6000,5353", "-timeout", "500ms")
			if got != tt.probe {
				t.Errorf("traffic:\n%s\nwant:\n%s", got, tt.probe)
			}
			time.Sleep(300 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("filter: %v\n%s", err, out.String())
			}
			if xdpAttached(t, server) {
				t.Error("XDP program still attached after detach")
			}
			var last map[string]uint64
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, `{"pass"`) {
					json.Unmarshal([]byte(line), &last)
				}
			}
			if last[tt.blocked] < 2 || last["pass"] < 2 {
				t.Errorf("counters %v: want at least 2 %s and 2 pass", last, tt.blocked)
			}
			for _, other := range []string{"drop", "match"} {
				if other != tt.blocked && last[other] != 0 {
					t.Errorf("counters %v: %s should be 0", last, other)
				}
			}
		})
	}
}

// TestTamperedBuildsRefused: a build with a changed object, envelope or
// sealing plan is refused and attaches nothing.
func TestTamperedBuildsRefused(t *testing.T) {
	testutil.RequireBPF(t)
	dir := t.TempDir()
	_, server := netns(t)
	here, _ := os.Getwd()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(here, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flip := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		b[at] ^= 1
		return b
	}
	env := read("filter_bpfel.o.intoto.json")
	var e struct {
		Signatures []struct{ Sig string } `json:"signatures"`
	}
	json.Unmarshal(env, &e)
	sig := e.Signatures[0].Sig
	badSig := strings.Replace(string(env), sig, sig[:10]+string(rune(sig[10]^1))+sig[11:], 1)

	tests := []struct {
		name, file string
		data       []byte
		says       string
	}{
		{"object", "filter_bpfel.o", flip(read("filter_bpfel.o"), len(read("filter_bpfel.o"))-9), "envelope is for another object"},
		{"envelope signature", "filter_bpfel.o.intoto.json", []byte(badSig), "no signature verifies with a trusted key"},
		{"empty envelope", "filter_bpfel.o.intoto.json", []byte{}, "malformed envelope"},
		{"sealed contents", "filter_bpfel.o.seal.json", bytes.Replace(read("filter_bpfel.o.seal.json"), []byte(`"8223"`), []byte(`"8323"`), 1), "maps[1](blocked_ports).content.hash"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repl := filepath.Join(dir, strconv.Itoa(i))
			if err := os.WriteFile(repl, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			overlay := filepath.Join(dir, strconv.Itoa(i)+".json")
			b, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(here, tt.file): repl}})
			os.WriteFile(overlay, b, 0o644)
			bin := build(t, filepath.Join(dir, "b"+strconv.Itoa(i)), "github.com/bpf2go-signed/bpf2go-signed/examples/xdp", "-overlay", overlay)
			cmd := exec.Command("ip", "netns", "exec", server, bin, "-iface", "veth-s")
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Fatalf("tampered %s: %v, want exit 3\n%s", tt.file, err, out)
			}
			if !strings.Contains(string(out), tt.says) || !strings.Contains(string(out), "nothing was attached") {
				t.Errorf("refusal does not say %q:\n%s", tt.says, out)
			}
			if xdpAttached(t, server) {
				t.Error("an XDP program is attached after a refusal")
			}
		})
	}
}
