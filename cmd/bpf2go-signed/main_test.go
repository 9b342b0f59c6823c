package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestMeasureObjectBadInput(t *testing.T) {
	dir := t.TempDir()
	obj, err := os.ReadFile(testutil.Testdata("xdp_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "missing.o"), "no such file"},
		{"not ELF", write("text.o", []byte("hello, this is not an object\n")), "not an ELF object"},
		{"empty", write("empty.o", nil), "not an ELF object"},
		{"truncated header", write("trunc1.o", obj[:40]), "truncated ELF object"},
		{"truncated body", write("trunc2.o", obj[:len(obj)/2]), "truncated"},
		{"big-endian", testutil.Testdata("socket_bpfeb.o"), "big-endian object, but this host loads little-endian objects"},
		{"no programs", testutil.Testdata("noprog_bpfel.o"), "object has no programs"},
		{"not BPF", "/proc/self/exe", "not a BPF object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI("measure", "object", tt.path, "-j")
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("wrote to stdout: %q", stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one error line, got %d: %q", len(lines), stderr)
			}
			if !strings.HasPrefix(lines[0], "bpf2go-signed: measure object "+tt.path+": ") {
				t.Errorf("error does not name the file: %q", lines[0])
			}
			if !strings.Contains(lines[0], tt.want) {
				t.Errorf("error %q does not say %q", lines[0], tt.want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"measure"},
		{"measure", "object"},
		{"measure", "object", "a.o", "b.o"},
		{"measure", "object", "a.o", "--frobnicate"},
		{"prog", "measure"},
		{"prog", "measure", "id", "abc"},
		{"prog", "measure", "name", "x"},
		{"sign"},
		{"sign", "--key"},
		{"verify", "x.o"},
		{"keygen", "extra"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, stderr, code := runCLI(args...)
			if code != 2 || !strings.Contains(stderr, "Usage:") {
				t.Errorf("exit %d, stderr %q: want status 2 and usage", code, stderr)
			}
		})
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

type objectJSON struct {
	Programs []struct {
		Name string `json:"name"`
		measure.InsnDigest
	} `json:"programs"`
}

func TestMeasureObjectJSON(t *testing.T) {
	stdout, stderr, code := runCLI("measure", "object", testutil.Testdata("shared_bpfel.o"), "-j")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep objectJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Programs) != 2 {
		t.Fatalf("%d programs, want 2", len(rep.Programs))
	}
	for _, p := range rep.Programs {
		if p.Name == "" || !hex64.MatchString(p.Digest) || !hex16.MatchString(p.Tag) || !hex16.MatchString(p.TagSHA1) {
			t.Errorf("program fields malformed: %+v", p)
		}
		if p.Tag != p.Digest[:16] {
			t.Errorf("tag %s is not the digest's prefix %s", p.Tag, p.Digest)
		}
	}
	again, _, _ := runCLI("measure", "object", testutil.Testdata("shared_bpfel.o"), "-j")
	if again != stdout {
		t.Error("measure object output is not deterministic")
	}
}

func TestProgMeasure(t *testing.T) {
	testutil.RequireBPF(t)
	alg := testutil.TagAlgorithm(t)
	path := testutil.Testdata("xdp_bpfel.o")
	stdout, stderr, code := runCLI("measure", "object", path, "-j")
	if code != 0 {
		t.Fatalf("measure object: exit %d: %s", code, stderr)
	}
	var expected objectJSON
	if err := json.Unmarshal([]byte(stdout), &expected); err != nil {
		t.Fatal(err)
	}

	coll, err := ebpf.LoadCollection(path)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	prog := coll.Programs[expected.Programs[0].Name]
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()

	pin := filepath.Join(testutil.BPFFS(t), "prog")
	if err := prog.Pin(pin); err != nil {
		t.Fatal(err)
	}
	defer prog.Unpin()

	selectors := [][]string{{"id", strconv.Itoa(int(id))}, {"pinned", pin}}
	for _, sel := range selectors {
		args := append([]string{"prog", "measure"}, sel...)
		stdout, stderr, code := runCLI(append(args, "-j")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", sel, code, stderr)
		}
		var got struct {
			ID   uint32 `json:"id"`
			Tag  string `json:"tag"`
			Maps []struct {
				Name string `json:"name"`
			} `json:"maps"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		if want := expected.Programs[0].KernelTag(alg); got.Tag != info.Tag || got.Tag != want {
			t.Errorf("%v: tag %s, bpf_prog_info.tag %s, expected tag(%s) %s", sel, got.Tag, info.Tag, alg, want)
		}
		if got.ID != uint32(id) || len(got.Maps) == 0 {
			t.Errorf("%v: id %d maps %v", sel, got.ID, got.Maps)
		}
		text, _, code := runCLI(args...)
		if code != 0 || !strings.Contains(text, info.Tag) {
			t.Errorf("%v: text output lacks the tag: %q", sel, text)
		}
	}

	_, stderr, code = runCLI("prog", "measure", "id", "4000000000")
	if code != 1 || !strings.Contains(stderr, "id 4000000000") {
		t.Errorf("unknown id: exit %d, %q", code, stderr)
	}
}

// TestMeasureObjectTruncatedEverywhere cuts a real object at many lengths:
// every cut must give exit status 1 and one error line, never a panic.
func TestMeasureObjectTruncatedEverywhere(t *testing.T) {
	obj, err := os.ReadFile(testutil.Testdata("subprog_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.o")
	for n := 0; n < len(obj); n += 61 {
		if err := os.WriteFile(path, obj[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runCLI("measure", "object", path)
		if code != 1 || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("cut at %d bytes: exit %d, stderr %q", n, code, stderr)
		}
	}
}

func TestMapShowAndHash(t *testing.T) {
	testutil.RequireBPF(t)
	path := testutil.Testdata("globals_bpfel.o")
	stdout, _, _ := runCLI("measure", "object", path, "-j")
	var expected struct {
		Programs []struct {
			Maps []struct {
				Name    string `json:"name"`
				Content *struct {
					Hash string `json:"hash"`
				} `json:"content"`
			} `json:"maps"`
		} `json:"programs"`
	}
	if err := json.Unmarshal([]byte(stdout), &expected); err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.LoadCollection(path)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	id := func(m *ebpf.Map) string {
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		i, _ := info.ID()
		return strconv.Itoa(int(i))
	}
	var want string
	for _, m := range expected.Programs[0].Maps {
		if m.Name == ".rodata" {
			want = m.Content.Hash
		}
	}
	out, stderr, code := runCLI("map", "hash", "id", id(coll.Maps[".rodata"]), "-j")
	source := testutil.ArraySource()
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, `"source":"`+source+`"`) {
		t.Fatalf("map hash .rodata: exit %d, %q %q, want %s from %q", code, out, stderr, want, source)
	}
	out, _, code = runCLI("map", "show", "id", id(coll.Maps["tag_hist"]))
	if code != 0 || !strings.Contains(out, "frozen false") {
		t.Fatalf("map show: exit %d, %q", code, out)
	}
	_, stderr, code = runCLI("map", "hash", "id", id(coll.Maps["tag_hist"]))
	if code != 1 || !strings.Contains(stderr, "is not frozen") {
		t.Fatalf("map hash of a mutable map: exit %d, %q", code, stderr)
	}
}

// TestSignKeepsTargets: re-signing an object whose envelope covers CO-RE
// targets without giving them again is refused.
func TestSignKeepsTargets(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	dir := t.TempDir()
	obj, _ := os.ReadFile(testutil.Testdata("corerel_bpfel.o"))
	path := filepath.Join(dir, "corerel_bpfel.o")
	os.WriteFile(path, obj, 0o644)
	t.Setenv("COSIGN_PASSWORD", "")
	t.Chdir(dir)
	if _, stderr, code := runCLI("keygen"); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := runCLI("sign", "--key", "cosign.key", "--target-btf", "/sys/kernel/btf/vmlinux", path); code != 0 {
		t.Fatal(stderr)
	}
	_, stderr, code := runCLI("sign", "--key", "cosign.key", path)
	if code != 1 || !strings.Contains(stderr, "pass --target-btf") {
		t.Fatalf("re-sign without targets: exit %d, %q", code, stderr)
	}
	if _, stderr, code := runCLI("verify", "--key", "cosign.pub", path); code != 0 {
		t.Fatalf("the first envelope must be intact: %s", stderr)
	}
}
