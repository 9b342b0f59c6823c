package runtime_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

type coreObjects struct {
	Probe *ebpf.Program `ebpf:"corerel_probe"`
}

func (o *coreObjects) Close() { o.Probe.Close() }

// coreObject is testdata/corerel.c, measured with the given CO-RE targets
// and signed.
func coreObject(t *testing.T, targetBTF []string) *bpfsigned.Object {
	t.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	obj, err := os.ReadFile(testutil.Testdata("corerel_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	targets, err := measure.LoadTargets(targetBTF)
	if err != nil {
		t.Fatal(err)
	}
	m, plan, _, err := build.Measure(obj, build.Source{}, targets)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := signing.FromPrivateKey(key)
	env, err := s.Sign(context.Background(), attest.NewStatement("corerel_bpfel.o", obj, m))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := attest.MarshalPublicKey(key.Public())
	return &bpfsigned.Object{Name: "corerel_bpfel.o", ELF: obj, Envelope: env, Plan: plan.Encode(), TrustedKeys: []string{string(pub)}}
}

// fakeKernelTypes is BTF where task_struct's fields are elsewhere: loading
// against it makes cilium/ebpf resolve the CO-RE sites to other offsets
// than the running kernel's.
func fakeKernelTypes(t *testing.T) *btf.Spec {
	t.Helper()
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	task := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{
		{Name: "pid", Type: i32, Offset: 8 * 8},
		{Name: "tgid", Type: i32, Offset: 12 * 8},
	}}
	b, err := btf.NewBuilder([]btf.Type{task}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestCORE: with the running kernel's BTF as a signed target the verdict is
// OK; without targets the program is the signed one with its CO-RE sites
// resolved for this kernel: PARTIAL, refused by default, accepted by a
// policy that says so, every site listed; resolved against other types
// than the kernel's, BADSIG.
func TestCORE(t *testing.T) {
	testutil.RequireBPF(t)
	tests := []struct {
		name    string
		targets []string
		policy  *bpfsigned.Policy
		opts    func(t *testing.T) *ebpf.CollectionOptions
		verdict bpfsigned.Verdict
		refused bool
		tamper  func(t *testing.T, spec *ebpf.CollectionSpec)
	}{
		{"signed for this kernel", []string{"/sys/kernel/btf/vmlinux"}, nil, nil, bpfsigned.OK, false, nil},
		{"no target, default policy", nil, nil, nil, bpfsigned.Partial, true, nil},
		{"no target, PARTIAL accepted", nil, &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}}, nil, bpfsigned.Partial, false, nil},
		{"CO-RE sites resolved against other types", nil, &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}}, func(t *testing.T) *ebpf.CollectionOptions {
			return &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: fakeKernelTypes(t)}}
		}, bpfsigned.BadSig, true, nil},
		{"signed target, other types at load", []string{"/sys/kernel/btf/vmlinux"}, nil, func(t *testing.T) *ebpf.CollectionOptions {
			return &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: fakeKernelTypes(t)}}
		}, bpfsigned.BadSig, true, nil},
		{"instruction outside the CO-RE sites edited", nil, &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}}, nil, bpfsigned.BadSig, true, func(t *testing.T, spec *ebpf.CollectionSpec) {
			// The program's return value: the last "mov r0, imm".
			p := spec.Programs["corerel_probe"]
			for i := len(p.Instructions) - 1; i >= 0; i-- {
				ins := p.Instructions[i]
				if ins.OpCode.Class().IsALU() && ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource && ins.Dst == asm.R0 && btf.CORERelocationMetadata(&ins) == nil {
					p.Instructions[i].Constant ^= 1
					return
				}
			}
			t.Fatal("no instruction to edit")
		}},
		{"CO-RE relocation dropped from a signed site", nil, &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}}, nil, bpfsigned.BadSig, true, func(t *testing.T, spec *ebpf.CollectionSpec) {
			// The instructions stay the signed base; the site that reads
			// tgid loses its relocation, so the kernel gets the local
			// offset there (another field of the real task_struct) and
			// the other site resolved: only CO-RE sites differ from the
			// base, and the kernel's tag is the tampered relocation's.
			p := spec.Programs["corerel_probe"]
			var sites []int
			for i := range p.Instructions {
				if btf.CORERelocationMetadata(&p.Instructions[i]) != nil {
					sites = append(sites, i)
				}
			}
			if len(sites) != 2 {
				t.Fatalf("%d CO-RE sites, want 2", len(sites))
			}
			p.Instructions[sites[1]].Metadata = asm.Metadata{}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := coreObject(t, tt.targets)
			var opts *ebpf.CollectionOptions
			if tt.opts != nil {
				opts = tt.opts(t)
			}
			before := testutil.OpenFDs(t)
			var objs coreObjects
			lo := &bpfsigned.LoadOptions{Collection: opts, Policy: tt.policy}
			var rep *bpfsigned.Report
			var err error
			if tt.tamper != nil {
				rep, err = bpfsigned.LoadTampered(o, &objs, lo, func(spec *ebpf.CollectionSpec) { tt.tamper(t, spec) })
			} else {
				rep, err = bpfsigned.Load(o, &objs, lo)
			}
			var refused *bpfsigned.Error
			if tt.refused != errors.As(err, &refused) {
				objs.Close()
				t.Fatalf("Load() = %v, refused want %v", err, tt.refused)
			}
			if rep.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s\n%s", rep.Verdict, tt.verdict, rep)
			}
			p := rep.Programs[0]
			switch tt.verdict {
			case bpfsigned.OK:
				if !strings.Contains(p.Target, "btf-sha256:") {
					t.Errorf("OK without naming the target: %+v", p)
				}
			case bpfsigned.Partial:
				if len(p.Relocations) != 2 || p.Relocations[0].Fixup == "" || !strings.Contains(p.Relocations[0].Relocation.Relocation, "task_struct") {
					t.Errorf("PARTIAL does not list the relocated sites: %+v", p.Relocations)
				}
			case bpfsigned.BadSig:
				if len(p.Mismatches) == 0 || !(strings.Contains(p.Mismatches[0].Expected, "relocated for this kernel") || p.Mismatches[0].Field == "co-re.base_digest" || p.Mismatches[0].Field == "co-re.sites") {
					t.Errorf("BADSIG mismatches %+v", p.Mismatches)
				}
			}
			if tt.verdict == bpfsigned.Partial && err != nil && !strings.Contains(err.Error(), "-target-btf") {
				t.Errorf("PARTIAL refusal does not say what to do: %v", err)
			}
			if err == nil {
				if again, err := bpfsigned.Recheck(&objs, rep); err != nil || again.Verdict != tt.verdict {
					t.Errorf("recheck: %v %v", again, err)
				}
				objs.Close()
			} else if objs.Probe != nil {
				t.Error("refused load handed out the program")
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds before, %d after", before, after)
			}
			t.Log(rep)
		})
	}
}
