package gate

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

// The child process of the pinned-gate tests: the test binary run again
// with these variables set starts a pinned gate, prints "ready" and waits.
const (
	envChildTrust = "BPF2GO_SIGNED_GATE_CHILD_TRUST"
	envChildPin   = "BPF2GO_SIGNED_GATE_CHILD_PIN"
)

func TestMain(m *testing.M) {
	if trust := os.Getenv(envChildTrust); trust != "" {
		os.Exit(child(trust, os.Getenv(envChildPin)))
	}
	os.Exit(m.Run())
}

func child(trust, pin string) int {
	var mu sync.Mutex
	logf := func(s string) { mu.Lock(); fmt.Println(s); mu.Unlock() }
	g, err := Start(Options{TrustDir: trust, Mode: Enforce, PinDir: pin, Log: logf, Poll: -1})
	if err != nil {
		fmt.Println("start:", err)
		return 1
	}
	logf("ready")
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
	g.Close()
	return 0
}

// requireLSM stops a test that needs a running BPF LSM.
func requireLSM(t testing.TB) {
	t.Helper()
	testutil.RequireBPF(t)
	if err := Probe(); err != nil {
		t.Skipf("needs the BPF LSM (bpf in %s; the Debian 6.1 and 6.12 kernels of the VM matrix have it): %v", LSMFile, err)
	}
}

// logs collects a gate's log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

// wait returns the first line containing every part, waiting for it.
func (l *logs) wait(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, line := range l.lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no gate log line with %q; log:\n%s", parts, strings.Join(l.lines, "\n"))
	return ""
}

func xdpExample(name string) string {
	return filepath.Join(testutil.Root(), "examples", "xdp", name)
}

// trustDir makes a trust directory holding the XDP example's key, object
// and signed envelope.
func trustDir(t *testing.T) string { return benchTrust(t) }

func benchTrust(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"demo.pub", "filter_bpfel.o", "filter_bpfel.o.intoto.json"} {
		b, err := os.ReadFile(xdpExample(f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// compile builds a C file of testdata with clang.
func compile(t *testing.T, name string) string {
	t.Helper()
	testutil.RequireTool(t, "clang-19")
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".c")+"_bpfel.o")
	cmd := exec.Command("clang-19", "-O2", "-g", "-target", "bpfel", "-I/usr/include/x86_64-linux-gnu",
		"-c", filepath.Join("testdata", name), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, b)
	}
	return out
}

// signInto signs the object with a fresh key and puts the object, its
// envelope and the key's public half into dir.
func signInto(t *testing.T, obj, dir string) {
	t.Helper()
	raw, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	m, _, _, err := build.Measure(raw, build.Source{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.FromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(obj)
	env, err := s.Sign(context.Background(), attest.NewStatement(base, raw, m))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := attest.MarshalPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// Object and envelope first, the key last: the gate may read the
	// directory in between and must then skip, not half-trust, the build.
	for _, f := range []struct {
		name string
		b    []byte
	}{{base, raw}, {base + attest.Suffix, env}, {strings.TrimSuffix(base, ".o") + ".pub", pub}} {
		tmp := filepath.Join(dir, "."+f.name+".tmp")
		if err := os.WriteFile(tmp, f.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			t.Fatal(err)
		}
	}
}

// settledFDs fails when the process holds more fds than before: the
// gate's own goroutines (the trust directory poll) open files for a
// moment, so a count above is checked again before it counts as a leak.
func settledFDs(t *testing.T, before int) {
	t.Helper()
	after := 0
	for range 100 {
		if after = testutil.OpenFDs(t); after <= before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("open fds %d after the refused load, %d before", after, before)
}

func isEPERM(err error) bool { return errors.Is(err, unix.EPERM) }

// loadUnsignedProg loads a two-instruction socket filter with a name the
// log can be searched for.
func loadUnsignedProg(name string) (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: name, Type: ebpf.SocketFilter, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
}

// TestNoBPFLSM runs where the BPF LSM is missing (the development host):
// the gate must say so, load nothing and leave no fd open, and the command
// must exit non-zero.
func TestNoBPFLSM(t *testing.T) {
	if Probe() == nil {
		testutil.SkipWithFeature(t, testutil.FeatureLSM)
	}
	before := testutil.OpenFDs(t)
	g, err := Start(Options{TrustDir: trustDir(t), Mode: Enforce})
	if !errors.Is(err, ErrNoBPFLSM) {
		if g != nil {
			g.Close()
		}
		t.Fatalf("Start() = %v, want ErrNoBPFLSM", err)
	}
	if !strings.Contains(err.Error(), LSMFile) {
		t.Errorf("error %q does not name %s", err, LSMFile)
	}
	if after := testutil.OpenFDs(t); after != before {
		t.Errorf("open fds %d after the refused start, %d before", after, before)
	}
}

func TestProbeList(t *testing.T) {
	for _, tt := range []struct {
		list string
		ok   bool
	}{
		{"lockdown,capability,landlock,yama,apparmor,tomoyo,bpf,ipe,ima,evm\n", true}, // Debian 6.12
		{"bpf", true},
		{"capability,selinux\n", false},
		{"capability,bpfx,ebpf", false},
		{"", false},
	} {
		err := probeList(tt.list)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrNoBPFLSM)) {
			t.Errorf("probeList(%q) = %v", tt.list, err)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Mode
		err  bool
	}{{"enforce", Enforce, false}, {"audit", Audit, false}, {"", 0, true}, {"permissive", 0, true}} {
		m, err := ParseMode(tt.in)
		if (err != nil) != tt.err || m != tt.want {
			t.Errorf("ParseMode(%q) = %v, %v", tt.in, m, err)
		}
	}
}

// TestEnforce is the gate in enforce mode, in this process: the signed XDP
// example loads and attaches; unsigned, modified, extension and tail-call
// programs are refused with EPERM at load and logged; bpftool and the
// audit still list every program; a trust-directory update admits a newly
// signed build without a restart.
func TestEnforce(t *testing.T) {
	requireLSM(t)
	trust := trustDir(t)
	unsignedObj := compile(t, "unsigned.c")
	newObj := compile(t, "newbuild.c")
	unsignedSpec, err := ebpf.LoadCollectionSpec(unsignedObj)
	if err != nil {
		t.Fatal(err)
	}
	// A program loaded before the gate: the target of freplace, with
	// its program array.
	before := unsignedSpec.Copy()
	delete(before.Programs, "gate_tail")
	delete(before.Programs, "gate_ext")
	coll, err := ebpf.NewCollection(before)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	target := coll.Programs["gate_target"]

	var l logs
	g, err := Start(Options{TrustDir: trust, Mode: Enforce, Log: l.add, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	t.Logf("allow set: %s", g.KeyKind())
	l.wait(t, "loaded before the gate", "gate_target")
	l.wait(t, "the gate's own program", "gate_prog")

	t.Run("signed XDP example loads and attaches", func(t *testing.T) {
		o := &bpfsigned.Object{Name: "filter_bpfel.o"}
		for _, f := range []struct {
			p    *[]byte
			name string
		}{{&o.ELF, "filter_bpfel.o"}, {&o.Envelope, "filter_bpfel.o.intoto.json"}, {&o.Plan, "filter_bpfel.o.seal.json"}} {
			if *f.p, err = os.ReadFile(xdpExample(f.name)); err != nil {
				t.Fatal(err)
			}
		}
		pub, err := os.ReadFile(xdpExample("demo.pub"))
		if err != nil {
			t.Fatal(err)
		}
		o.TrustedKeys = []string{string(pub)}
		var objs struct {
			Prog *ebpf.Program `ebpf:"port_filter"`
		}
		report, err := bpfsigned.Load(o, &objs, nil)
		if err != nil {
			t.Fatalf("verified load of the signed example under the gate: %v", err)
		}
		defer objs.Prog.Close()
		if report.Verdict != bpfsigned.OK {
			t.Fatalf("verdict %s", report.Verdict)
		}
		lnk, err := link.AttachXDP(link.XDPOptions{Program: objs.Prog, Interface: 1, Flags: link.XDPGenericMode})
		if err != nil {
			t.Fatalf("attach to lo: %v", err)
		}
		lnk.Close()
	})

	refused := []struct {
		name string
		load func() (func(), error)
		log  string
	}{
		{"unsigned program", func() (func(), error) {
			p, err := loadUnsignedProg("gate_unsigned")
			return closer(p), err
		}, "gate_unsigned"},
		{"one instruction changed", func() (func(), error) {
			spec, err := ebpf.LoadCollectionSpec(xdpExample("filter_bpfel.o"))
			if err != nil {
				return nil, err
			}
			ps := spec.Programs["port_filter"]
			changed := false
			for i := len(ps.Instructions) - 1; i >= 0 && !changed; i-- {
				ins := &ps.Instructions[i]
				if ins.OpCode.Class().IsALU() && ins.OpCode.Source() == asm.ImmSource && ins.Dst == asm.R0 {
					ins.Constant ^= 1
					changed = true
				}
			}
			if !changed {
				return nil, errors.New("no r0 = imm instruction to change")
			}
			c, err := ebpf.NewCollection(spec)
			if err != nil {
				return nil, err
			}
			return c.Close, nil
		}, "port_filter"},
		{"tail-call target", func() (func(), error) {
			p, err := ebpf.NewProgram(unsignedSpec.Programs["gate_tail"])
			return closer(p), err
		}, "gate_tail"},
		{"extension (freplace)", func() (func(), error) {
			ps := unsignedSpec.Programs["gate_ext"].Copy()
			ps.AttachTarget = target
			p, err := ebpf.NewProgram(ps)
			return closer(p), err
		}, "gate_ext"},
		{"not yet signed build", func() (func(), error) {
			spec, err := ebpf.LoadCollectionSpec(newObj)
			if err != nil {
				return nil, err
			}
			p, err := ebpf.NewProgram(spec.Programs["gate_newbuild"])
			return closer(p), err
		}, "gate_newbuild"},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			before := testutil.OpenFDs(t)
			done, err := tt.load()
			if err == nil {
				done()
				t.Fatal("loaded, want EPERM")
			}
			if !isEPERM(err) {
				t.Fatalf("load: %v, want EPERM", err)
			}
			l.wait(t, "refused load (EPERM)", fmt.Sprintf("name %q", tt.log))
			settledFDs(t, before)
		})
	}

	t.Run("bpftool and prog verify --all list everything", func(t *testing.T) {
		testutil.RequireTool(t, "bpftool")
		out, err := exec.Command("bpftool", "-j", "prog", "show").Output()
		if err != nil {
			t.Fatalf("bpftool prog show: %v", err)
		}
		var progs []struct {
			ID   uint32 `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(out, &progs); err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, p := range progs {
			names[p.Name] = true
		}
		for _, n := range []string{"gate_bpf", "gate_prog", "gate_target"} {
			if !names[n] {
				t.Errorf("bpftool prog show misses %s", n)
			}
		}
		tr, err := audit.LoadTrustDir(trust)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tr.All()
		if err != nil {
			t.Fatalf("prog verify --all under the gate: %v", err)
		}
		verdicts := map[string]bpfsigned.Verdict{}
		for _, r := range res {
			verdicts[r.Name] = r.Verdict
		}
		if verdicts["gate_target"] != bpfsigned.Unsigned || verdicts["gate_prog"] == "" {
			t.Errorf("audit verdicts %v: want gate_target UNSIGNED and the gate's programs listed", verdicts)
		}
	})

	t.Run("trust update admits a newly signed build", func(t *testing.T) {
		signInto(t, newObj, trust)
		l.wait(t, "trust reloaded")
		spec, err := ebpf.LoadCollectionSpec(newObj)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ebpf.NewProgram(spec.Programs["gate_newbuild"])
		if err != nil {
			t.Fatalf("newly signed build after the trust update: %v", err)
		}
		p.Close()
		// The rest stays refused.
		if p, err := loadUnsignedProg("gate_unsigned2"); !isEPERM(err) {
			closer(p)()
			t.Fatalf("unsigned load after the update: %v, want EPERM", err)
		}
	})

	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: allowed %d refused %d", st[StatAllowed], st[StatRefused])
	if misses, err := g.RecursionMisses(); err != nil || misses != 0 {
		t.Errorf("recursion misses %d, %v: hook runs were skipped, loads went unchecked", misses, err)
	}
	if st[StatRefused] < uint64(len(refused)) || st[StatAllowed] < 2 {
		t.Errorf("stats %v: want at least %d refused and 2 allowed", st, len(refused))
	}
}

func closer(c interface{ Close() error }) func() {
	return func() {
		if c != nil && !isNil(c) {
			c.Close()
		}
	}
}

func isNil(c any) bool {
	switch v := c.(type) {
	case *ebpf.Program:
		return v == nil
	}
	return false
}

// TestAudit: audit mode logs a load it would refuse and lets it pass.
func TestAudit(t *testing.T) {
	requireLSM(t)
	var l logs
	g, err := Start(Options{TrustDir: trustDir(t), Mode: Audit, Log: l.add, Poll: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	p, err := loadUnsignedProg("gate_audited")
	if err != nil {
		t.Fatalf("unsigned load in audit mode: %v, want it allowed", err)
	}
	p.Close()
	l.wait(t, "audit: would refuse load", `name "gate_audited"`)
}

// startChild runs a pinned gate in another process and waits until it is
// ready.
func startChild(t *testing.T, trust, pin string) (*exec.Cmd, *logs) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildTrust+"="+trust, envChildPin+"="+pin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var l logs
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			l.add(s.Text())
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	l.wait(t, "ready")
	return cmd, &l
}

func linkDetach(fd int) error {
	attr := struct{ fd uint32 }{uint32(fd)}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_LINK_DETACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return errno
	}
	return nil
}

// objGet opens a pinned object with a raw BPF_OBJ_GET: the gate's hooks
// are tested on the system calls themselves, not through cilium/ebpf.
func objGet(path string) (int, error) {
	name, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	attr := struct {
		pathname  uint64
		bpfFD     uint32
		fileFlags uint32
	}{pathname: uint64(uintptr(unsafe.Pointer(name)))}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_OBJ_GET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(name)
	if errno != 0 {
		return -1, fmt.Errorf("open pinned %s: %w", path, errno)
	}
	return int(fd), nil
}

// TestPinned: a pinned gate refuses changes to its links and maps from
// other processes, keeps enforcing after its process is killed, is
// replaced by a new gate without a gap, and goes away when its pins are
// removed.
func TestPinned(t *testing.T) {
	requireLSM(t)
	pin := filepath.Join(testutil.BPFFS(t), "gate")
	trust := trustDir(t)
	child, clog := startChild(t, trust, pin)

	t.Run("refuses detach of its link from another process", func(t *testing.T) {
		for _, name := range []string{"link_bpf", "link_bpf_prog"} {
			fd, err := objGet(filepath.Join(pin, name))
			if err != nil {
				t.Fatal(err)
			}
			err = linkDetach(fd)
			unix.Close(fd)
			if !isEPERM(err) {
				t.Fatalf("BPF_LINK_DETACH of %s: %v, want EPERM", name, err)
			}
		}
		clog.wait(t, "refused BPF_LINK_DETACH on the gate's own object")
	})
	t.Run("refuses writes to its maps from another process", func(t *testing.T) {
		cfg, err := ebpf.LoadPinnedMap(filepath.Join(pin, "map_config"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cfg.Close()
		if err := cfg.Put(uint32(0), gateConfig{Mode: uint32(Audit)}); !isEPERM(err) {
			t.Errorf("config update: %v, want EPERM", err)
		}
		if err := cfg.Freeze(); !isEPERM(err) {
			t.Errorf("config freeze: %v, want EPERM", err)
		}
		allow, err := ebpf.LoadPinnedMap(filepath.Join(pin, "map_allow"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer allow.Close()
		if err := allow.Delete(uint32(0)); !isEPERM(err) {
			t.Errorf("allow slot delete: %v, want EPERM", err)
		}
		// The inner allow map, reached by id.
		var innerID uint32
		if err := allow.Lookup(uint32(0), &innerID); err != nil {
			t.Fatal(err)
		}
		inner, err := ebpf.NewMapFromID(ebpf.MapID(innerID))
		if err != nil {
			t.Fatal(err)
		}
		defer inner.Close()
		var k [keySize]byte
		k[0] = 0xaa
		if err := inner.Put(k[:], uint32(1)); !isEPERM(err) {
			t.Errorf("inner allow map update: %v, want EPERM", err)
		}
		clog.wait(t, "refused BPF_MAP_UPDATE_ELEM on the gate's own object")
	})

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	t.Run("keeps enforcing after its process is killed", func(t *testing.T) {
		if p, err := loadUnsignedProg("gate_after_kill"); !isEPERM(err) {
			closer(p)()
			t.Fatalf("unsigned load after the gate process died: %v, want EPERM", err)
		}
	})
	t.Run("a new gate replaces the pinned one", func(t *testing.T) {
		child2, clog2 := startChild(t, trust, pin)
		clog2.wait(t, "replaced pin")
		if p, err := loadUnsignedProg("gate_after_handover"); !isEPERM(err) {
			closer(p)()
			t.Fatalf("unsigned load after the handover: %v, want EPERM", err)
		}
		child2.Process.Signal(syscall.SIGKILL)
		child2.Wait()
	})
	t.Run("removing the pins ends enforcement", func(t *testing.T) {
		if err := RemovePins(pin); err != nil {
			t.Fatal(err)
		}
		// The links go when their last reference does (after an RCU
		// grace period).
		var err error
		for range 200 {
			var p *ebpf.Program
			if p, err = loadUnsignedProg("gate_after_removal"); err == nil {
				p.Close()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("unsigned load after removing the pins: %v", err)
	})
}

// TestGeneratedUpToDate runs this package's go:generate line again in a
// copy of the package: the committed gate object, envelope and loaders are
// the generator's output, byte for byte.
func TestGeneratedUpToDate(t *testing.T) {
	testutil.CheckGenerated(t, "doc.go", "gate", []string{"gate.c", "gate.key"},
		[]string{"gate_bpfel.go", "gate_bpfel.o", "gate_bpfel.o.intoto.json", "gate_bpfel.o.seal.json", "gate_bpfel_signed.go"},
		"go generate ./gate")
}

// TestGateLinksLittle: the gate is run-time code; like the runtime it
// links no compiler side, no go/packages, no sigstore and no KMS provider.
func TestGateLinksLittle(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/bpf2go-signed/bpf2go-signed/gate").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"golang.org/x/tools", "sigstore", "/kms", "cmd/bpf2go", "bpf2go-signed/gen", "bpf2go-signed/signing", "aws", "cloud.google.com", "azure", "vault"} {
			if strings.Contains(dep, banned) {
				t.Errorf("gate links %s", dep)
			}
		}
	}
}
