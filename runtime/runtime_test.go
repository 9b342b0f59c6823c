package runtime_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

var sealCfg = sealmap.Config{
	Seal:     []string{"ports"},
	Contents: map[string][]byte{"config": []byte(`{"entries":[{"key":0,"value":{"action":1,"port":443,"enabled":1}}]}`)},
	Params:   []string{"mode"},
}

type objects struct {
	Filter *ebpf.Program `ebpf:"sealed_filter"`
	Hits   *ebpf.Map     `ebpf:"hits"`
}

func (o *objects) Close() {
	o.Filter.Close()
	o.Hits.Close()
}

type fixture struct {
	name     string
	obj      []byte
	plan     []byte
	manifest *measure.Manifest
	key      *ecdsa.PrivateKey
	pubPEM   string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureFor(t, "sealed_bpfel.o", sealCfg)
}

// newFixtureFor measures a testdata object with a sealing configuration
// and makes a key to sign it with.
func newFixtureFor(t testing.TB, name string, cfg sealmap.Config) *fixture {
	t.Helper()
	obj, err := os.ReadFile(testutil.Testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	m, plan, _, err := build.Measure(obj, build.Declared(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, err := attest.MarshalPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{name: name, obj: obj, plan: plan.Encode(), manifest: m, key: key, pubPEM: string(pub)}
}

// object returns the embedded object, with the envelope over the
// statement (name, object bytes, manifest) signed by key (nil: unsigned).
func (f *fixture) object(t testing.TB, obj []byte, m *measure.Manifest, key *ecdsa.PrivateKey) *bpfsigned.Object {
	t.Helper()
	st := attest.NewStatement(f.name, obj, m)
	var env []byte
	var err error
	if key == nil {
		env, err = attest.Unsigned(st)
	} else {
		var s *signing.Signer
		if s, err = signing.FromPrivateKey(key); err == nil {
			env, err = s.Sign(context.Background(), st)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return &bpfsigned.Object{Name: f.name, ELF: obj, Envelope: env, Plan: f.plan, TrustedKeys: []string{f.pubPEM}}
}

func tamperRodata(t testing.TB, obj []byte) []byte {
	t.Helper()
	f, err := elf.NewFile(strings.NewReader(string(obj)))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".rodata")
	out := slices.Clone(obj)
	out[sec.Offset+sec.Size-1] ^= 1
	return out
}

func TestLoadOK(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	var objs objects
	rep, err := bpfsigned.Load(f.object(t, f.obj, f.manifest, f.key), &objs, &bpfsigned.LoadOptions{Params: map[string]any{"mode": uint32(1)}})
	if err != nil {
		t.Fatal(err)
	}
	defer objs.Close()
	if rep.Verdict != bpfsigned.OK || !rep.Accepted || rep.Signature.Verdict != bpfsigned.OK || objs.Filter == nil || objs.Hits == nil {
		t.Fatalf("report %s", rep)
	}
	var decoded map[string]any
	if err := json.Unmarshal(rep.JSON(), &decoded); err != nil || decoded["verdict"] != "OK" {
		t.Fatalf("report JSON: %v %v", err, decoded)
	}
	p := rep.Programs[0]
	if p.Tag == "" || p.TagAlgorithm == "" || p.MeasID != f.manifest.Programs[0].MeasID || len(p.Params) != 1 || p.Params[0].Value != "01000000" {
		t.Errorf("program report %+v", p)
	}
	for _, m := range p.Maps {
		if m.Sealed && (m.Content == nil || m.Content.Source == "" || !m.Frozen) {
			t.Errorf("sealed map %s reported without its source: %+v", m.Name, m)
		}
	}
	again, err := bpfsigned.Recheck(&objs, rep)
	if err != nil || again.Verdict != bpfsigned.OK {
		t.Fatalf("recheck: %v %v", again, err)
	}
}

// TestLoadRefuses: each verification path refuses, names why, says what to
// do, and leaves no fd open.
func TestLoadRefuses(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tampered := tamperRodata(t, f.obj)
	tests := []struct {
		name    string
		obj     *bpfsigned.Object
		params  map[string]any
		policy  *bpfsigned.Policy
		verdict bpfsigned.Verdict
		cause   error
		says    []string
	}{
		{"unsigned", f.object(t, f.obj, f.manifest, nil), nil, nil, bpfsigned.Unsigned, attest.ErrUnsigned, []string{"UNSIGNED", "bpf2go-signed sign"}},
		{"untrusted key", f.object(t, f.obj, f.manifest, other), nil, nil, bpfsigned.BadSig, attest.ErrBadSignature, []string{"trusted"}},
		{"embedded key ignored", f.object(t, f.obj, f.manifest, f.key), nil, &bpfsigned.Policy{IgnoreEmbeddedKeys: true}, bpfsigned.BadSig, attest.ErrNoTrustedKeys, []string{"no trusted keys"}},
		{"object changed after signing", f.object(t, f.obj, f.manifest, f.key), nil, nil, bpfsigned.BadSig, attest.ErrWrongSubject, nil},
		{"signed manifest does not match the kernel", f.object(t, tampered, f.manifest, f.key), nil, nil, bpfsigned.BadSig, nil, []string{"maps[2](.rodata).content.hash: expected", "rebuild"}},
		{"verdict outside the policy", f.object(t, f.obj, f.manifest, f.key), nil, &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.Partial}}, bpfsigned.OK, nil, []string{"the policy accepts PARTIAL"}},
	}
	// The object bytes differ from the ones signed.
	tests[3].obj.ELF = tampered

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.OpenFDs(t)
			var objs objects
			rep, err := bpfsigned.Load(tt.obj, &objs, &bpfsigned.LoadOptions{Policy: tt.policy, Params: tt.params})
			var refused *bpfsigned.Error
			if !errors.As(err, &refused) || !errors.Is(err, bpfsigned.ErrRefused) {
				objs.Close()
				t.Fatalf("Load() = %v, want a refusal", err)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("error does not wrap %v: %v", tt.cause, err)
			}
			if rep == nil || refused.Report != rep || rep.Verdict != tt.verdict || rep.Accepted {
				t.Errorf("report %v, want verdict %s, not accepted", rep, tt.verdict)
			}
			if objs.Filter != nil || objs.Hits != nil {
				t.Error("refused load assigned objects")
			}
			for _, s := range append(tt.says, "what to do") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q: %v", s, err)
				}
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds before the refused load, %d after", before, after)
			}
		})
	}
}

func TestPolicyAccepts(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name    string
		obj     *bpfsigned.Object
		policy  *bpfsigned.Policy
		verdict bpfsigned.Verdict
	}{
		{"unsigned accepted for development", f.object(t, f.obj, f.manifest, nil), &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Unsigned}}, bpfsigned.Unsigned},
		{"key trusted at run time", f.object(t, f.obj, f.manifest, other), &bpfsigned.Policy{TrustedKeys: []crypto.PublicKey{other.Public()}}, bpfsigned.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs objects
			rep, err := bpfsigned.Load(tt.obj, &objs, &bpfsigned.LoadOptions{Policy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			defer objs.Close()
			if rep.Verdict != tt.verdict || !rep.Accepted || objs.Filter == nil {
				t.Fatalf("report %s", rep)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	tests := []struct {
		name   string
		mutate func(o *bpfsigned.Object)
		params map[string]any
		want   string
	}{
		{"unknown parameter", nil, map[string]any{"max_len": uint32(1)}, `"max_len" is not a parameter`},
		{"parameter of the wrong size", nil, map[string]any{"mode": uint64(1)}, "parameter mode"},
		{"bad embedded key", func(o *bpfsigned.Object) { o.TrustedKeys = []string{"junk"} }, nil, "embedded trusted key 0"},
		{"bad plan", func(o *bpfsigned.Object) { o.Plan = []byte(`{"version":1,"sealed":["nosuch"]}`) }, nil, "sealing plan"},
		{"not an ELF", func(o *bpfsigned.Object) { o.ELF = []byte("junk") }, nil, "load sealed_bpfel.o"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.object(t, f.obj, f.manifest, f.key)
			if tt.mutate != nil {
				tt.mutate(o)
			}
			before := testutil.OpenFDs(t)
			_, err := bpfsigned.Load(o, &objects{}, &bpfsigned.LoadOptions{Params: tt.params})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() = %v, want an error saying %q", err, tt.want)
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds before, %d after", before, after)
			}
		})
	}
}

// TestConcurrentLoads: 16 verified loads at once all pass.
func TestConcurrentLoads(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	o := f.object(t, f.obj, f.manifest, f.key)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var objs objects
			rep, err := bpfsigned.Load(o, &objs, nil)
			if err == nil && rep.Verdict != bpfsigned.OK {
				err = errors.New(rep.String())
			}
			objs.Close()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestRuntimeLinksLittle: shipped binaries link no compiler side, no
// go/packages, no sigstore and no KMS provider; the runtime without
// runtime/keyless (key-signed loaders) links no keyless verifier, no
// crypto/x509, no net and no regexp, and no key family but ECDSA (see
// TestP256LoaderLinksOnlyECDSA).
func TestRuntimeLinksLittle(t *testing.T) {
	buildTime := []string{"golang.org/x/tools", "sigstore", "/kms", "cmd/bpf2go", "bpf2go-signed/gen", "bpf2go-signed/sealmap/build", "bpf2go-signed/signing", "aws", "cloud.google.com", "azure", "vault"}
	for _, tc := range []struct {
		pkg    string
		banned []string
		exact  []string
	}{
		{"github.com/bpf2go-signed/bpf2go-signed/runtime", buildTime, []string{"github.com/bpf2go-signed/bpf2go-signed/attest/keyless", "crypto/x509", "net", "regexp", "github.com/cilium/ebpf/link",
			"crypto/rsa", "crypto/ed25519", "github.com/bpf2go-signed/bpf2go-signed/attest/rsakey", "github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key"}},
		{"github.com/bpf2go-signed/bpf2go-signed/runtime/keyless", buildTime, nil},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		deps := strings.Fields(string(out))
		for _, dep := range deps {
			for _, banned := range tc.banned {
				if strings.Contains(dep, banned) {
					t.Errorf("%s links %s", tc.pkg, dep)
				}
			}
		}
		for _, banned := range tc.exact {
			if slices.Contains(deps, banned) {
				t.Errorf("%s links %s", tc.pkg, banned)
			}
		}
	}
}

func ebpfObject(t testing.TB, name string) ([]byte, error) {
	t.Helper()
	return os.ReadFile(testutil.Testdata(name))
}
