// Package e2e tests bpf2go-signed the way a user meets it: a Go module with
// a //go:generate line, go generate, go build, and the binary run as root.
package e2e

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

const mainGo = `package main

//go:generate go run github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed -cc clang-19 -target bpfel KEYFLAG -seal ports -seal-contents config=config.json -param mode bpf filter.c -- -I/usr/include/ARCH-linux-gnu

import (
	"encoding/json"
	"os"
)

func fds() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"="+l)
	}
	return out
}

func main() {
	// Start Go's netpoller (an epoll fd and an eventfd that live as long as
	// the process) so that they are not mistaken for a leak.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	out := map[string]any{"fds_before": fds()}
	var objs bpfObjects
	rep, err := loadBpfObjectsVerifiedWithParams(&objs, nil, nil, &bpfParams{Mode: 1})
	out["report"] = rep
	code := 0
	if err != nil {
		out["error"] = err.Error()
		code = 3
	} else {
		if _, err := recheckBpfObjects(&objs, rep); err != nil {
			out["recheck_error"] = err.Error()
			code = 4
		}
		objs.Close()
	}
	out["fds_after"] = fds()
	json.NewEncoder(os.Stdout).Encode(out)
	os.Exit(code)
}
`

const configJSON = `{"entries":[{"key":0,"value":{"action":1,"port":443,"enabled":1}}]}`

type result struct {
	FDsBefore []string `json:"fds_before"`
	FDsAfter  []string `json:"fds_after"`
	Error     string   `json:"error"`
	Recheck   string   `json:"recheck_error"`
	Report    struct {
		Verdict  string `json:"verdict"`
		Programs []struct {
			Name    string `json:"name"`
			Verdict string `json:"verdict"`
			Params  []struct {
				Name, Value string
			} `json:"params"`
			Mismatches []struct{ Field, Expected, Found string } `json:"mismatches"`
		} `json:"programs"`
	} `json:"report"`
}

func run(t *testing.T, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// userModule lays out a module as a user would write it; keyFlag is how
// its go:generate line signs ("-sign-key cosign.key") or trusts
// ("-trust-key cosign.pub", or its older name "-trust").
func userModule(t *testing.T, keyFlag string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(testutil.Testdata("sealed.c"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(testutil.Root(), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	gomod := "module example.com/filter\n\ngo 1.26\n\nrequire github.com/bpf2go-signed/bpf2go-signed v0.0.0\n\nreplace github.com/bpf2go-signed/bpf2go-signed => " + testutil.Root() + "\n"
	for name, data := range map[string][]byte{
		"go.mod":      []byte(gomod),
		"go.sum":      sum,
		"filter.c":    append([]byte("//go:build ignore\n\n"), src...),
		"config.json": []byte(configJSON),
		"main.go":     []byte(strings.NewReplacer("ARCH", arch, "KEYFLAG", keyFlag).Replace(mainGo)),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// linked is "go list -deps" of the user module's package.
func linked(t *testing.T, dir string, env []string) []string {
	t.Helper()
	return strings.Fields(string(run(t, dir, env, "go", "list", "-deps", ".")))
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func runBinary(t *testing.T, bin string) (result, int) {
	t.Helper()
	cmd := exec.Command(bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("binary output: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return r, code
}

// flipRodataByte changes one byte of the .rodata section of an object.
func flipRodataByte(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".rodata")
	f.Close()
	if sec == nil || sec.Size < 8 {
		t.Fatal("object has no .rodata to tamper with")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The last byte of .rodata: a constant, not the parameter at offset 0.
	raw[sec.Offset+sec.Size-1] ^= 0x01
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUserWorkflow: go generate with a signing key, go build, run as root
// → OK; go generate twice → identical files; one .rodata byte changed in the
// generated object and rebuilt → refused, with no fd left open.
func TestUserWorkflow(t *testing.T) {
	testutil.HostOnly(t, "go generate and go build of user modules")
	testutil.RequireBPF(t)
	testutil.RequireTool(t, "clang-19", "llvm-strip-19")
	dir := userModule(t, "-sign-key cosign.key")
	env := []string{"COSIGN_PASSWORD=e2e-secret", "GOFLAGS=-mod=mod"}
	run(t, dir, env, "go", "run", "github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed", "keygen")
	run(t, dir, env, "go", "generate", "./...")
	first := snapshot(t, dir)
	run(t, dir, env, "go", "generate", "./...")
	second := snapshot(t, dir)
	for name, b := range first {
		if name == "go.mod" || name == "go.sum" {
			continue // the go command's, not generated
		}
		if !bytes.Equal(second[name], b) {
			t.Errorf("go generate is not reproducible: %s changed", name)
		}
	}
	for _, want := range []string{"bpf_bpfel.go", "bpf_bpfel.o", "bpf_bpfel.o.intoto.json", "bpf_bpfel.o.seal.json", "bpf_bpfel_signed.go"} {
		if first[want] == nil {
			t.Errorf("go generate did not write %s", want)
		}
	}

	// The private key appears in no generated file.
	block := first["cosign.key"]
	body := strings.Join(strings.Split(string(block), "\n")[1:3], "")
	for name, b := range first {
		if name != "cosign.key" && (bytes.Contains(b, block) || strings.Contains(string(b), body)) {
			t.Errorf("%s contains the private key", name)
		}
	}

	// Signed with a key: the loader links no keyless verifier (nor
	// crypto/x509 and net, which would make it dynamically linked).
	deps := linked(t, dir, env)
	for _, banned := range []string{"github.com/bpf2go-signed/bpf2go-signed/attest/keyless", "github.com/bpf2go-signed/bpf2go-signed/runtime/keyless", "crypto/x509", "net"} {
		if slices.Contains(deps, banned) {
			t.Errorf("the key-signed loader links %s", banned)
		}
	}

	bin := filepath.Join(dir, "filter")
	run(t, dir, env, "go", "build", "-o", bin, ".")
	r, code := runBinary(t, bin)
	if code != 0 || r.Report.Verdict != "OK" {
		t.Fatalf("signed build: exit %d, verdict %s, error %s, recheck %s", code, r.Report.Verdict, r.Error, r.Recheck)
	}
	if len(r.Report.Programs) != 1 || len(r.Report.Programs[0].Params) != 1 || r.Report.Programs[0].Params[0].Value != "01000000" {
		t.Errorf("report does not show mode=1: %+v", r.Report.Programs)
	}

	flipRodataByte(t, filepath.Join(dir, "bpf_bpfel.o"))
	run(t, dir, env, "go", "build", "-o", bin, ".")
	r, code = runBinary(t, bin)
	if code != 3 || r.Report.Verdict != "BADSIG" {
		t.Fatalf("tampered build: exit %d, verdict %s, want a refusal (exit 3, BADSIG)", code, r.Report.Verdict)
	}
	if strings.Join(r.FDsBefore, " ") != strings.Join(r.FDsAfter, " ") {
		t.Errorf("refused load left fds open: before %v, after %v", r.FDsBefore, r.FDsAfter)
	}
	if !strings.Contains(r.Error, ".rodata") || !strings.Contains(r.Error, "content.hash") {
		t.Errorf("refusal does not name the .rodata content hash: %s", r.Error)
	}
	t.Logf("refused as expected: %s", r.Error)
}

// TestReleaseWorkflow: developers generate with only the public key
// trusted (an unsigned placeholder, refused as UNSIGNED); the release
// pipeline signs every generated object with "sign ./..."; the rebuilt
// binary loads OK; "verify" and, where installed, cosign accept the
// envelope.
func TestReleaseWorkflow(t *testing.T) {
	testutil.HostOnly(t, "go generate and go build of user modules")
	testutil.RequireBPF(t)
	testutil.RequireTool(t, "clang-19", "llvm-strip-19")
	dir := userModule(t, "-trust-key cosign.pub")
	env := []string{"COSIGN_PASSWORD=", "GOFLAGS=-mod=mod"}
	tool := []string{"run", "github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed"}
	run(t, dir, env, "go", append(tool, "keygen")...)
	run(t, dir, env, "go", "generate", "./...")
	bin := filepath.Join(dir, "filter")
	run(t, dir, env, "go", "build", "-o", bin, ".")
	r, code := runBinary(t, bin)
	if code != 3 || r.Report.Verdict != "UNSIGNED" || !strings.Contains(r.Error, "bpf2go-signed sign") {
		t.Fatalf("unsigned build: exit %d, verdict %s, error %q", code, r.Report.Verdict, r.Error)
	}

	out := run(t, dir, env, "go", append(tool, "sign", "--key", "cosign.key", "./...")...)
	if !strings.Contains(string(out), "signed "+filepath.Join(dir, "bpf_bpfel.o")) {
		t.Fatalf("sign ./... did not sign the generated object: %s", out)
	}
	run(t, dir, env, "go", append(tool, "verify", "--key", "cosign.pub", "bpf_bpfel.o")...)
	run(t, dir, env, "go", "build", "-o", bin, ".")
	r, code = runBinary(t, bin)
	if code != 0 || r.Report.Verdict != "OK" {
		t.Fatalf("signed build: exit %d, verdict %s, error %s", code, r.Report.Verdict, r.Error)
	}

	// A second key pair: verify refuses the envelope with its public key.
	other := t.TempDir()
	run(t, other, env, "go", "-C", dir, "run", "github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed", "keygen", "--output-key-prefix", filepath.Join(other, "other"))
	cmd := exec.Command("go", append(tool, "verify", "--key", filepath.Join(other, "other.pub"), "bpf_bpfel.o")...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no signature verifies with a trusted key") {
		t.Fatalf("verify with another key: %v\n%s", err, out)
	}

	cosign := cosignBinary()
	if cosign == "" {
		t.Log("cosign not installed: skipping the cosign cross-check (go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5)")
		return
	}
	// cosign looks up its trust root on the network first; run it in a
	// network namespace of its own so that nothing leaves the machine.
	args := []string{"--net", cosign, "verify-blob-attestation", "--key", "cosign.pub", "--signature", "bpf_bpfel.o.intoto.json",
		"--type", "https://github.com/bpf2go-signed/bpf2go-signed/measurement/v1", "--insecure-ignore-tlog", "bpf_bpfel.o"}
	cmd = exec.Command("unshare", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("cosign verify-blob-attestation: %v\n%s", err, out)
	}
	// The key pair from "bpf2go-signed keygen" works with cosign's
	// sign-blob and verify-blob.
	cmd = exec.Command("unshare", "--net", cosign, "sign-blob", "--key", "cosign.key", "--tlog-upload=false", "--yes",
		"--output-signature", "blob.sig", "go.mod")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "COSIGN_PASSWORD=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign sign-blob with our key: %v\n%s", err, out)
	}
	cmd = exec.Command("unshare", "--net", cosign, "verify-blob", "--key", "cosign.pub", "--signature", "blob.sig", "--insecure-ignore-tlog", "go.mod")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("cosign verify-blob with our key: %v\n%s", err, out)
	}

	flipRodataByte(t, filepath.Join(dir, "bpf_bpfel.o"))
	cmd = exec.Command("unshare", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("cosign accepted the envelope for a changed object:\n%s", out)
	}
}

// cosignBinary finds cosign on PATH or in GOPATH/bin.
func cosignBinary() string {
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", "cosign")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// TestToolDirective: the generator runs through Go's tool directive
// (`go tool bpf2go-signed`), as the README describes.
func TestToolDirective(t *testing.T) {
	testutil.HostOnly(t, "go generate and go build of user modules")
	testutil.RequireTool(t, "clang-19", "llvm-strip-19")
	dir := userModule(t, "-trust cosign.pub")
	env := []string{"COSIGN_PASSWORD=", "GOFLAGS=-mod=mod"}
	main := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("//go:generate go run github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed "), []byte("//go:generate go tool bpf2go-signed "), 1)
	if err := os.WriteFile(main, src, 0o644); err != nil {
		t.Fatal(err)
	}
	// What "go get -tool" does, without asking the proxy for this
	// unpublished module.
	run(t, dir, env, "go", "mod", "edit", "-tool", "github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed")
	run(t, dir, env, "go", "mod", "tidy")
	run(t, dir, env, "go", "tool", "bpf2go-signed", "keygen")
	run(t, dir, env, "go", "generate", "./...")
	run(t, dir, env, "go", "build", "-o", filepath.Join(dir, "filter"), ".")
	if _, err := os.Stat(filepath.Join(dir, "bpf_bpfel_signed.go")); err != nil {
		t.Fatal(err)
	}
}
