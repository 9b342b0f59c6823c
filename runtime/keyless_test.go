package runtime_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	bpfkeyless "github.com/bpf2go-signed/bpf2go-signed/runtime/keyless"
)

var ghIdentity = "issuer=" + fakesigstore.GitHubIssuer + ";identity=" + fakesigstore.DefaultIdent + ";github_workflow_repository=" + fakesigstore.DefaultRepo

// keylessObject is the fixture's object with an unsigned envelope and a
// bundle of the fake Sigstore over its statement (nil: the placeholder),
// its trusted root and ghIdentity embedded.
func (f *fixture) keylessObject(t testing.TB, s *fakesigstore.Sigstore, opts *fakesigstore.Options) *bpfsigned.Object {
	t.Helper()
	o := f.object(t, f.obj, f.manifest, nil)
	payload, err := attest.NewStatement("sealed_bpfel.o", f.obj, f.manifest).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		o.Bundle, err = keyless.UnsignedPlaceholder(attest.PayloadType, payload)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		o.Bundle = s.Sign(attest.PayloadType, payload, *opts)
	}
	o.TrustedRoot = s.TrustedRoot()
	o.Identities = []string{ghIdentity}
	o.Keyless = bpfkeyless.Verifier{}
	return o
}

// TestLoadKeyless: a bundle of the fake Sigstore, verified offline by the
// loader, hands out the programs with the signer in the report; with
// Rekor v2 and a timestamp too.
func TestLoadKeyless(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	s := fakesigstore.New()
	for _, opts := range []fakesigstore.Options{{}, {RekorV2: true}} {
		var objs objects
		rep, err := bpfsigned.Load(f.keylessObject(t, s, &opts), &objs, nil)
		if err != nil {
			t.Fatal(err)
		}
		objs.Close()
		if rep.Verdict != bpfsigned.OK || rep.Signature.Key != "" || !strings.Contains(rep.Signature.Identity, fakesigstore.DefaultIdent) {
			t.Fatalf("report %s, signature %+v", rep, rep.Signature)
		}
	}
	// A refreshed trusted root in the policy replaces the embedded one.
	other := fakesigstore.New()
	o := f.keylessObject(t, other, &fakesigstore.Options{})
	o.TrustedRoot = s.TrustedRoot()
	var objs objects
	if _, err := bpfsigned.Load(o, &objs, &bpfsigned.LoadOptions{Policy: &bpfsigned.Policy{TrustedRoot: other.TrustedRoot()}}); err != nil {
		t.Fatalf("policy trusted root: %v", err)
	}
	objs.Close()
}

// TestLoadKeylessRefuses: each keyless refusal reaches the loader's
// verdict, says what to do, and leaves no fd open.
func TestLoadKeylessRefuses(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	s, other := fakesigstore.New(), fakesigstore.New()
	email := keyless.Identity{Issuer: "https://accounts.example", Subject: "dev@example.org"}
	for _, tt := range []struct {
		name    string
		obj     *bpfsigned.Object
		policy  *bpfsigned.Policy
		verdict bpfsigned.Verdict
		cause   error
	}{
		{"placeholder", f.keylessObject(t, s, nil), nil, bpfsigned.Unsigned, attest.ErrUnsigned},
		{"wrong issuer", f.keylessObject(t, s, &fakesigstore.Options{Issuer: "https://accounts.example"}), nil, bpfsigned.BadSig, keyless.ErrIdentity},
		{"wrong workflow", f.keylessObject(t, s, &fakesigstore.Options{Claims: map[int]string{5: "evil/filters"}}), nil, bpfsigned.BadSig, keyless.ErrIdentity},
		{"embedded identity ignored", f.keylessObject(t, s, &fakesigstore.Options{}), &bpfsigned.Policy{IgnoreEmbeddedKeys: true, Identities: []keyless.Identity{email}}, bpfsigned.BadSig, keyless.ErrIdentity},
		{"untrusted Sigstore", f.keylessObject(t, other, &fakesigstore.Options{}), &bpfsigned.Policy{TrustedRoot: s.TrustedRoot()}, bpfsigned.BadSig, keyless.ErrTlog},
		{"forged SET", f.keylessObject(t, s, &fakesigstore.Options{ForgeSET: true}), nil, bpfsigned.BadSig, keyless.ErrTlog},
		{"expired certificate", f.keylessObject(t, s, &fakesigstore.Options{LogDelay: 3600e9}), nil, bpfsigned.BadSig, keyless.ErrCertificate},
		{"missing SCT", f.keylessObject(t, s, &fakesigstore.Options{NoSCT: true}), nil, bpfsigned.BadSig, keyless.ErrSCT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.OpenFDs(t)
			var objs objects
			rep, err := bpfsigned.Load(tt.obj, &objs, &bpfsigned.LoadOptions{Policy: tt.policy})
			if !errors.Is(err, bpfsigned.ErrRefused) || !errors.Is(err, tt.cause) {
				objs.Close()
				t.Fatalf("Load() = %v, want a refusal for %v", err, tt.cause)
			}
			if rep.Verdict != tt.verdict || rep.Accepted || objs.Filter != nil {
				t.Errorf("report %s", rep)
			}
			if !strings.Contains(err.Error(), "what to do") {
				t.Errorf("no advice: %v", err)
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds before the refused load, %d after", before, after)
			}
		})
	}
	// The wrong object: the bundle is for the original bytes.
	o := f.keylessObject(t, s, &fakesigstore.Options{})
	o.ELF = tamperRodata(t, f.obj)
	if _, err := bpfsigned.Load(o, &objects{}, nil); !errors.Is(err, attest.ErrWrongSubject) {
		t.Errorf("bundle for another object: %v", err)
	}
}

// TestLoadKeylessNotLinked: a loader without the keyless verifier (one
// generated with keys only) refuses, before loading anything, a policy or
// object that asks for keyless verification, and says to regenerate with
// -trust-identity, even when the key signature is valid.
func TestLoadKeylessNotLinked(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	s := fakesigstore.New()
	email := keyless.Identity{Issuer: "https://accounts.example", Subject: "dev@example.org"}
	bundled := f.keylessObject(t, s, &fakesigstore.Options{})
	bundled.Keyless = nil
	for _, tt := range []struct {
		name   string
		obj    *bpfsigned.Object
		policy *bpfsigned.Policy
		says   string
	}{
		{"policy identities", f.object(t, f.obj, f.manifest, f.key), &bpfsigned.Policy{Identities: []keyless.Identity{email}}, "Policy.Identities"},
		{"policy identities only", f.object(t, f.obj, f.manifest, f.key), &bpfsigned.Policy{IgnoreEmbeddedKeys: true, Identities: []keyless.Identity{email}}, "Policy.Identities"},
		{"policy trusted root", f.object(t, f.obj, f.manifest, f.key), &bpfsigned.Policy{TrustedRoot: s.TrustedRoot()}, "Policy.TrustedRoot"},
		{"embedded bundle", bundled, nil, "embeds a Sigstore bundle"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.OpenFDs(t)
			var objs objects
			rep, err := bpfsigned.Load(tt.obj, &objs, &bpfsigned.LoadOptions{Policy: tt.policy})
			if !errors.Is(err, bpfsigned.ErrNoKeyless) || rep != nil || objs.Filter != nil {
				objs.Close()
				t.Fatalf("Load() = %v, %v, want ErrNoKeyless", rep, err)
			}
			for _, want := range []string{tt.says, "what to do", "-trust-identity"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds before the refused load, %d after", before, after)
			}
		})
	}
	// Keys only, no keyless asked: the same loader loads.
	var objs objects
	if _, err := bpfsigned.Load(f.object(t, f.obj, f.manifest, f.key), &objs, &bpfsigned.LoadOptions{Policy: &bpfsigned.Policy{}}); err != nil {
		t.Fatalf("key-signed load without keyless: %v", err)
	}
	objs.Close()
}

// TestShippedBinaryKeylessOnStdlib: the keyless verifier that loaders
// generated with -trust-identity link (runtime/keyless) is on the
// standard library: nothing of sigstore (sigstore-go, its dependencies,
// or the fake Sigstore of tests).
func TestShippedBinaryKeylessOnStdlib(t *testing.T) {
	deps := goListDeps(t, "github.com/bpf2go-signed/bpf2go-signed/runtime/keyless")
	if !slices.Contains(deps, "github.com/bpf2go-signed/bpf2go-signed/attest/keyless") {
		t.Error("runtime/keyless does not link attest/keyless")
	}
	for _, dep := range deps {
		for _, banned := range []string{"sigstore", "in-toto", "protobuf", "go-openapi", "transparency-dev", "certificate-transparency", "theupdateframework", "digitorus"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the keyless loader links %s", dep)
			}
		}
	}
}

// TestKeySignedLoaderLinksNoKeyless: the XDP example, generated with
// -trust-key (keys only), links no keyless verifier, no crypto/x509 and no
// regexp; its loader alone (the generated files and a main that loads
// once, as scripts/bench/procload builds it) no net either, so it is a
// static binary even with cgo.
func TestKeySignedLoaderLinksNoKeyless(t *testing.T) {
	keyless := []string{"github.com/bpf2go-signed/bpf2go-signed/attest/keyless", "github.com/bpf2go-signed/bpf2go-signed/runtime/keyless", "crypto/x509", "regexp"}
	for _, tc := range []struct {
		args   []string
		banned []string
	}{
		// main.go asks net for the interface to attach to.
		{[]string{"."}, keyless},
		{[]string{"loadonce_verified.go", "filter_bpfel.go", "filter_bpfel_signed.go"}, append(keyless, "net")},
	} {
		deps := goListDeps(t, tc.args...)
		if !slices.Contains(deps, "github.com/bpf2go-signed/bpf2go-signed/runtime") {
			t.Fatalf("%v: does not link the runtime: %v", tc.args, deps)
		}
		for _, banned := range tc.banned {
			if slices.Contains(deps, banned) {
				t.Errorf("examples/xdp %v links %s", tc.args, banned)
			}
		}
	}
}

// goListDeps is "go list -deps" of args in examples/xdp.
func goListDeps(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps"}, args...)...)
	cmd.Dir = filepath.Join(testutil.Root(), "examples", "xdp")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// TestLoaderLinksNoJSON: the verifying loader reads the envelope, the
// statement and the plan with internal/jsonread, so the linker drops
// encoding/json's decoder and encoder (and their reflection caches) from
// it. Only the package's initialiser stays (other packages import it for
// build-side code).
func TestLoaderLinksNoJSON(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "loadonce")
	build := exec.Command("go", "build", "-o", bin, "loadonce_verified.go", "filter_bpfel.go", "filter_bpfel_signed.go")
	build.Dir = filepath.Join(testutil.Root(), "examples", "xdp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool nm: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "internal/jsonread.") {
		t.Fatal("the loader does not link internal/jsonread: is the test building the right program?")
	}
	for _, sym := range []string{"encoding/json.Unmarshal", "encoding/json.(*decodeState)", "encoding/json.typeFields", "encoding/json.Marshal"} {
		if strings.Contains(string(out), sym) {
			t.Errorf("the verifying loader links %s", sym)
		}
	}
}
