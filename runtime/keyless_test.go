package runtime_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/internal/fakesigstore"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
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
		rep, err := bpfsigned.Load(f.keylessObject(t, s, &opts), nil, &objs, nil, nil)
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
	if _, err := bpfsigned.Load(o, nil, &objs, nil, &bpfsigned.Policy{TrustedRoot: other.TrustedRoot()}); err != nil {
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
			rep, err := bpfsigned.Load(tt.obj, nil, &objs, nil, tt.policy)
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
	if _, err := bpfsigned.Load(o, nil, &objects{}, nil, nil); !errors.Is(err, attest.ErrWrongSubject) {
		t.Errorf("bundle for another object: %v", err)
	}
}

// TestShippedBinaryKeylessOnStdlib: the example loader, a shipped binary,
// links the keyless verifier and nothing of sigstore (sigstore-go, its
// dependencies, or the fake Sigstore of tests).
func TestShippedBinaryKeylessOnStdlib(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./examples/xdp")
	cmd.Dir = testutil.Root()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/bpf2go-signed/bpf2go-signed/attest/keyless") {
		t.Error("the example does not link attest/keyless")
	}
	for _, dep := range deps {
		for _, banned := range []string{"sigstore", "in-toto", "protobuf", "go-openapi", "transparency-dev", "certificate-transparency", "theupdateframework", "digitorus"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the shipped example links %s", dep)
			}
		}
	}
}
