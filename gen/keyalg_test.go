package gen

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/templates"
)

// TestKeyAlgorithmsFlag: the loader accepts the families of its trusted
// keys, in canonical order, or ECDSA without keys; -key-algorithms
// replaces them but must include the families of the trusted keys.
func TestKeyAlgorithmsFlag(t *testing.T) {
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for name, k := range map[string]crypto.PublicKey{"ec.pub": &ec.PublicKey, "ed.pub": ed, "rsa.pub": &rk.PublicKey} {
		pem, err := attest.MarshalPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = filepath.Join(dir, name)
		if err := os.WriteFile(files[name], pem, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(k string) (string, bool) { return map[string]string{"GOPACKAGE": "p"}[k], k == "GOPACKAGE" }
	for _, tc := range []struct {
		args []string
		want string // the set, or the error
		err  bool
	}{
		{nil, "ecdsa", false},
		{[]string{"-trust-key", "ec.pub"}, "ecdsa", false},
		{[]string{"-trust-key", "ed.pub"}, "ed25519", false},
		{[]string{"-trust-key", "rsa.pub", "-trust-key", "ec.pub"}, "ecdsa,rsa", false},
		{[]string{"-trust-key", "rsa.pub", "-trust-key", "ed.pub", "-trust-key", "rsa.pub"}, "ed25519,rsa", false},
		{[]string{"-trust-key", "ed.pub", "-key-algorithms", "all"}, "ecdsa,ed25519,rsa", false},
		{[]string{"-key-algorithms", "rsa"}, "rsa", false},
		{[]string{"-trust-key", "ec.pub", "-key-algorithms", "rsa,ecdsa"}, "ecdsa,rsa", false},
		{[]string{"-trust-key", "ec.pub", "-key-algorithms", "rsa"}, "ec.pub is an ecdsa key; add ecdsa to the list (-key-algorithms ecdsa,rsa)", true},
		{[]string{"-trust-key", "ec.pub", "-trust-key", "ed.pub", "-key-algorithms", "ecdsa"}, "ed.pub is an ed25519 key", true},
	} {
		args := slices.Clone(tc.args)
		for i, a := range args {
			if f, ok := files[a]; ok {
				args[i] = f
			}
		}
		c, err := Parse(append(args, "bpf", "x.c"), env, nil)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		var trusted []string
		for _, path := range c.Trust {
			raw, _ := os.ReadFile(path)
			trusted = append(trusted, string(raw))
		}
		algs, err := keyAlgorithms(c, trusted)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: %v, %v; want an error saying %q", tc.args, algs, err, tc.want)
			}
			continue
		}
		if err != nil || algs.String() != tc.want {
			t.Errorf("%v: %v, %v; want %s", tc.args, algs, err, tc.want)
		}
	}
	for _, bad := range []string{"", "dsa", "ecdsa,ecdsa", "ECDSA"} {
		if _, err := Parse([]string{"-key-algorithms", bad, "bpf", "x.c"}, env, nil); err == nil {
			t.Errorf("-key-algorithms %q accepted", bad)
		}
	}
}

// TestLoaderImportsKeyFamilies: the generated loader names each accepted
// family and imports the package of each but ECDSA (defined by attest),
// in import path order, and no other.
func TestLoaderImportsKeyFamilies(t *testing.T) {
	for _, tc := range []struct {
		algs    string
		imports []string
		expr    string
	}{
		{"ecdsa", nil, "bpfattest.KeyAlgorithms{bpfattest.ECDSA}"},
		{"rsa", []string{"github.com/bpf2go-signed/bpf2go-signed/attest/rsakey"}, "bpfattest.KeyAlgorithms{bpfrsakey.Algorithm}"},
		{"all", []string{"github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key", "github.com/bpf2go-signed/bpf2go-signed/attest/rsakey"},
			"bpfattest.KeyAlgorithms{bpfattest.ECDSA, bpfed25519key.Algorithm, bpfrsakey.Algorithm}"},
	} {
		algs, err := attest.ParseKeyAlgorithms(tc.algs)
		if err != nil {
			t.Fatal(err)
		}
		data := loaderData{Package: "p", Name: "bpf", ObjectFile: "bpf_bpfel.o", EnvelopeFile: "e", PlanFile: "p"}
		data.setKeyAlgorithms(algs)
		var buf bytes.Buffer
		if err := templates.Loader.Execute(&buf, data); err != nil {
			t.Fatal(err)
		}
		src, err := format.Source(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		var families []string
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(path, "/attest/") {
				families = append(families, path)
			}
		}
		if !slices.Equal(families, tc.imports) {
			t.Errorf("%s: imports %v, want %v", tc.algs, families, tc.imports)
		}
		if !bytes.Contains(src, []byte("KeyAlgorithms: "+tc.expr+",")) {
			t.Errorf("%s: loader does not set KeyAlgorithms: %s\n%s", tc.algs, tc.expr, src)
		}
	}
	// Every family linked into the generator has its code.
	for _, a := range attest.AllKeyAlgorithms() {
		if keyAlgorithmCode[a.String()].Expr == "" {
			t.Errorf("no generated code for key family %s", a)
		}
	}
}
