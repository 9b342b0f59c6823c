package gen_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

// buildTools builds bpf2go v0.22.0 (from the module cache, the version
// go.mod pins) and bpf2go-signed into dir.
func buildTools(t *testing.T) (bpf2go, signed string) {
	t.Helper()
	testutil.RequireTool(t, "clang-19", "llvm-strip-19")
	dir := t.TempDir()
	bpf2go, signed = filepath.Join(dir, "bpf2go"), filepath.Join(dir, "bpf2go-signed")
	for out, pkg := range map[string]string{bpf2go: "github.com/cilium/ebpf/cmd/bpf2go", signed: "./cmd/bpf2go-signed"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = testutil.Root()
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return bpf2go, signed
}

func includeFlags() string {
	return multiarchInclude() + " -I" + filepath.Join(testutil.Root(), "include")
}

// multiarchInclude is the -I flag for Debian's multiarch headers (asm/).
func multiarchInclude() string {
	return "-I/usr/include/" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-linux-gnu"
}

// runIn copies sources into a fresh directory and runs tool there like go
// generate would.
func runIn(t *testing.T, tool string, sources []string, env []string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range sources {
		b, err := os.ReadFile(testutil.Testdata(s))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPACKAGE=main")
	cmd.Env = append(cmd.Env, env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(tool), strings.Join(args, " "), err, b)
	}
	return dir
}

func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestBpf2goByteForByte runs bpf2go v0.22.0 and bpf2go-signed with the same
// command lines and environment: every file bpf2go writes, bpf2go-signed
// writes with the same bytes.
func TestBpf2goByteForByte(t *testing.T) {
	testutil.HostOnly(t, "clang and the generator")
	bpf2go, signed := buildTools(t)
	inc := includeFlags()
	tests := []struct {
		name    string
		sources []string
		env     []string
		args    []string
	}{
		{"defaults", []string{"globals.c"}, []string{"BPF2GO_CC=clang-19"}, []string{"Bpf", "globals.c", "--", multiarchInclude()}},
		{"flags", []string{"sealed.c"}, nil, []string{"-cc", "clang-19", "-target", "bpfel", "-type", "verdict", "-output-stem", "custom", "-tags", "linux && !foo", "-go-package", "other", "-cflags", inc + ` -DLABEL="a b" -g`, "filter", "sealed.c"}},
		{"env and test suffix", []string{"xdp.c"}, []string{"BPF2GO_CC=clang-19", "BPF2GO_STRIP=llvm-strip-19", "BPF2GO_CFLAGS=" + inc, "GOFILE=gen_test.go"}, []string{"-no-global-types", "-target", "amd64", "Xdp", "xdp.c"}},
		{"makebase", []string{"sealed.c"}, []string{"BPF2GO_CC=clang-19", "BPF2GO_MAKEBASE=."}, []string{"-target", "bpfel,bpfeb", "sealed", "sealed.c", "--", multiarchInclude(), "-I" + filepath.Join(testutil.Root(), "include")}},
		{"no strip", []string{"socket.c"}, []string{"BPF2GO_CC=clang-19"}, []string{"-no-strip", "-target", "bpfel", "Sock", "socket.c", "--", multiarchInclude()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := files(t, runIn(t, bpf2go, tt.sources, tt.env, tt.args...))
			got := files(t, runIn(t, signed, tt.sources, tt.env, tt.args...))
			if len(want) <= len(tt.sources) {
				t.Fatalf("bpf2go wrote nothing: %v", want)
			}
			for name, b := range want {
				if !bytes.Equal(got[name], b) {
					t.Errorf("%s differs from bpf2go's (%d bytes, bpf2go %d)", name, len(got[name]), len(b))
				}
			}
			var extra []string
			for name := range got {
				if _, ok := want[name]; !ok {
					extra = append(extra, name)
				}
			}
			// Per target: the envelope, the plan and the loader.
			objects := 0
			for name := range want {
				if strings.HasSuffix(name, ".o") {
					objects++
					for _, suffix := range []string{".intoto.json", ".seal.json"} {
						if got[name+suffix] == nil {
							t.Errorf("no %s%s", name, suffix)
						}
					}
				}
			}
			if len(extra) != 3*objects {
				t.Errorf("%d objects, but extra files %v", objects, extra)
			}
			t.Logf("bpf2go wrote %v; bpf2go-signed also wrote %v", keys(want), extra)
		})
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestMeasureKernelFacts: programs that read kconfig externs, load
// __ksym addresses or call kfuncs are measured (their kernel-dependent
// sites listed), not refused.
func TestMeasureKernelFacts(t *testing.T) {
	for obj, site := range map[string]string{"kconfig_bpfel.o": "", "ksym_bpfel.o": "ksym schedule", "kfunc_bpfel.o": "kfunc bpf_iter_num_new"} {
		raw, err := os.ReadFile(testutil.Testdata(obj))
		if err != nil {
			t.Fatal(err)
		}
		m, _, _, err := build.Measure(raw, build.Source{}, nil)
		if err != nil {
			t.Fatalf("Measure(%s) = %v", obj, err)
		}
		p := m.Programs[0]
		if site != "" && (len(p.Relocations) == 0 || p.Relocations[0].Relocation != site) {
			t.Errorf("%s: sites %v, want %s first", obj, p.Relocations, site)
		}
		if site == "" && !p.Maps[0].IsKconfig() {
			t.Errorf("%s: maps %v, want .kconfig first", obj, p.Maps)
		}
	}
}

// TestTargetBTFDefaultTargets: -target-btf with bpf2go's default targets
// (bpfel,bpfeb) and a little-endian kernel's BTF: the bpfel object gets a
// per-target digest, the bpfeb object none, and the generator says so
// instead of failing.
func TestTargetBTFDefaultTargets(t *testing.T) {
	testutil.HostOnly(t, "clang and the generator")
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	if measure.NativeOrder != binary.LittleEndian {
		t.Skip("the test reads this host's BTF as the little-endian target")
	}
	_, signed := buildTools(t)
	dir := t.TempDir()
	src, err := os.ReadFile(testutil.Testdata("corerel.c"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "corerel.c"), src, 0o644)
	cmd := exec.Command(signed, "-cc", "clang-19", "-target-btf", "/sys/kernel/btf/vmlinux", "bpf", "corerel.c", "--", multiarchInclude(), "-I"+filepath.Join(testutil.Root(), "include"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPACKAGE=main")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("bpf_bpfeb.o: no per-target digest for ")) || bytes.Contains(out, []byte("bpf_bpfel.o: no per-target")) {
		t.Errorf("the generator does not say which object got no per-target digest:\n%s", out)
	}
	for obj, want := range map[string]int{"bpf_bpfel.o": 1, "bpf_bpfeb.o": 0} {
		raw, err := os.ReadFile(filepath.Join(dir, obj+".intoto.json"))
		if err != nil {
			t.Fatal(err)
		}
		_, st, err := attest.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range st.Predicate.Programs {
			if len(p.Alternatives) != want {
				t.Errorf("%s program %s: %d per-target digests, want %d", obj, p.Name, len(p.Alternatives), want)
			}
		}
	}
}

// TestGenerateProgramArrays runs the generator on C sources with program
// arrays: one initialised in C is sealed without a flag (the plan lists
// it, the envelope records its slots); one filled at run time is refused,
// naming -unsealed-prog-array, and accepted with it (the plan records the
// choice).
func TestGenerateProgramArrays(t *testing.T) {
	_, signed := buildTools(t)
	base := []string{"-target", "bpfel"}
	dir := runIn(t, signed, []string{"tailcall.c"}, nil, append(base, "tail", "tailcall.c", "--", multiarchInclude())...)
	plan, err := os.ReadFile(filepath.Join(dir, "tail_bpfel.o"+build.PlanSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plan, []byte(`"jmp"`)) {
		t.Errorf("plan does not seal jmp:\n%s", plan)
	}

	src := t.TempDir()
	b, err := os.ReadFile(testutil.Testdata("tailcall_open.c"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "tailcall_open.c"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(signed, append(base, "open", "tailcall_open.c", "--", multiarchInclude())...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOPACKAGE=main")
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("-unsealed-prog-array dispatch")) || !bytes.Contains(out, []byte("unsealed program array dispatch")) {
		t.Fatalf("open program array without the flag: %v\n%s", err, out)
	}
	dir = runIn(t, signed, []string{"tailcall_open.c"}, nil, append(base, "-unsealed-prog-array", "dispatch", "open", "tailcall_open.c", "--", multiarchInclude())...)
	plan, err = os.ReadFile(filepath.Join(dir, "open_bpfel.o"+build.PlanSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plan, []byte(`"unsealed_prog_arrays": [`)) {
		t.Errorf("plan does not record the unsealed program array:\n%s", plan)
	}
}
