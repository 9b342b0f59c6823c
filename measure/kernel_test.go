package measure_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// measurable are the testdata objects measurement v2 fully predicts.
var measurable = []string{
	"xdp", "tc", "socket", "tracepoint", "shared", "subprog", "globals", "maps", "maporder",
}

func loadSpec(tb testing.TB, name string) *ebpf.CollectionSpec {
	tb.Helper()
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata(name + "_bpfel.o"))
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}

func loadColl(tb testing.TB, spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions) *ebpf.Collection {
	tb.Helper()
	if opts == nil {
		opts = &ebpf.CollectionOptions{}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, *opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(coll.Close)
	return coll
}

// TestBuildTimeEqualsKernel is the core promise: for every program in
// testdata, the build-time measurement equals the kernel's measurement of the
// same object loaded with plain cilium/ebpf, with the kernel hash and with
// the user-space readback.
func TestBuildTimeEqualsKernel(t *testing.T) {
	testutil.RequireBPF(t)
	alg := testutil.TagAlgorithm(t)
	for _, name := range measurable {
		t.Run(name, func(t *testing.T) {
			spec := loadSpec(t, name)
			manifest, err := measure.Collection(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := manifest.Unsupported(); err != nil {
				t.Fatal(err)
			}
			coll := loadColl(t, spec, nil)
			for _, p := range manifest.Programs {
				prog := coll.Programs[p.Name]
				if prog == nil {
					t.Fatalf("program %s not loaded", p.Name)
				}
				var held []*ebpf.Map
				for _, m := range coll.Maps {
					held = append(held, m)
				}
				for _, opts := range []*measure.KernelOptions{nil, {Readback: true}, {Maps: held}} {
					kp, err := measure.Kernel(prog, opts)
					if err != nil {
						t.Fatal(err)
					}
					if err := measure.Verify(&p, kp); err != nil {
						t.Errorf("options %+v: %v", opts, err)
					}
					info, err := prog.Info()
					if err != nil {
						t.Fatal(err)
					}
					if want := p.KernelTag(alg); info.Tag != want {
						t.Errorf("%s: predicted tag(%s) %s, bpf_prog_info.tag %s", p.Name, alg, want, info.Tag)
					}
					for _, m := range kp.Maps {
						if m.Frozen && m.Content == nil {
							t.Errorf("frozen map %s has no content hash: %s", m.Name, m.ContentError)
						}
						if m.Content != nil {
							want := testutil.ArraySource()
							if opts != nil && opts.Readback {
								want = measure.SourceReadback
							}
							if m.Content.Source != want {
								t.Errorf("map %s: content source %q, want %q", m.Name, m.Content.Source, want)
							}
						}
					}
				}
			}
		})
	}
}

// TestKernelMapOrder pins down the kernel's order of bpf_prog_info.map_ids:
// first reference in the submitted instructions, not declaration order.
func TestKernelMapOrder(t *testing.T) {
	testutil.RequireBPF(t)
	tests := []struct {
		object, program string
		want            []string
	}{
		{"maporder", "maporder", []string{"map_d", "map_b", "map_e", "map_a", "map_c"}},
		{"globals", "globals_prog", nil},
	}
	for _, tt := range tests {
		t.Run(tt.object, func(t *testing.T) {
			spec := loadSpec(t, tt.object)
			manifest, err := measure.Collection(spec)
			if err != nil {
				t.Fatal(err)
			}
			coll := loadColl(t, spec, nil)
			for _, p := range manifest.Programs {
				if tt.want != nil && p.Name != tt.program {
					continue
				}
				var declared, predicted []string
				for _, m := range p.Maps {
					predicted = append(predicted, m.Name)
				}
				for name := range spec.Maps {
					declared = append(declared, name)
				}
				kp, err := measure.Kernel(coll.Programs[p.Name], nil)
				if err != nil {
					t.Fatal(err)
				}
				var kernel []string
				for _, m := range kp.Maps {
					kernel = append(kernel, m.Name)
				}
				if !slices.Equal(predicted, kernel) {
					t.Errorf("predicted map order %v, kernel order %v", predicted, kernel)
				}
				if tt.want != nil && !slices.Equal(kernel, tt.want) {
					t.Errorf("kernel map order %v, want %v", kernel, tt.want)
				}
				slices.Sort(declared)
				if tt.want != nil && slices.Equal(kernel, declared) {
					t.Errorf("kernel order equals sorted declaration order %v: the test object no longer exercises ordering", declared)
				}
			}
		})
	}
}

// TestTamperDetected changes what gets loaded after the expected measurement
// was computed and checks that the comparison refuses and names the field.
func TestTamperDetected(t *testing.T) {
	testutil.RequireBPF(t)
	tests := []struct {
		name   string
		object string
		tamper func(t *testing.T, spec *ebpf.CollectionSpec)
		field  string
	}{
		{
			name:   "one instruction",
			object: "xdp",
			tamper: func(t *testing.T, spec *ebpf.CollectionSpec) {
				for _, p := range spec.Programs {
					for i, ins := range p.Instructions {
						if ins.OpCode.Class().IsALU() && ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource {
							p.Instructions[i].Constant ^= 1
							return
						}
					}
				}
				t.Fatal("no mov r0, imm to change")
			},
			field: "tag(" + testutil.TagAlgorithm(t) + ")",
		},
		{
			name:   "one .rodata byte",
			object: "globals",
			tamper: func(t *testing.T, spec *ebpf.CollectionSpec) {
				v := spec.Maps[".rodata"].Contents[0].Value.([]byte)
				v = slices.Clone(v)
				v[0] ^= 0xff
				spec.Maps[".rodata"].Contents[0].Value = v
				for _, vs := range spec.Variables {
					if vs.SectionName == ".rodata" && vs.Offset == 0 {
						vs.Value = slices.Clone(vs.Value)
						vs.Value[0] ^= 0xff
					}
				}
			},
			field: "maps[1](.rodata).content.hash",
		},
		{
			name:   "one map's max_entries",
			object: "maps",
			tamper: func(t *testing.T, spec *ebpf.CollectionSpec) {
				spec.Maps["seen_ifaces"].MaxEntries++
			},
			field: "maps[2](seen_ifaces).max_entries",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := loadSpec(t, tt.object)
			manifest, err := measure.Collection(spec)
			if err != nil {
				t.Fatal(err)
			}
			tampered := spec.Copy()
			tt.tamper(t, tampered)
			coll := loadColl(t, tampered, nil)
			var fields []string
			for _, p := range manifest.Programs {
				kp, err := measure.Kernel(coll.Programs[p.Name], nil)
				if err != nil {
					t.Fatal(err)
				}
				err = measure.Verify(&p, kp)
				var me *measure.MismatchError
				if !errors.As(err, &me) || !errors.Is(err, measure.ErrMismatch) {
					t.Fatalf("program %s: tampered load verified: %v", p.Name, err)
				}
				for _, m := range me.Mismatches {
					fields = append(fields, m.Field)
					if m.Expected == m.Found || m.Expected == "" || m.Found == "" {
						t.Errorf("mismatch %s does not show both values: %+v", m.Field, m)
					}
				}
				t.Log(err)
			}
			if !slices.Contains(fields, tt.field) {
				t.Errorf("mismatched fields %v do not name %s", fields, tt.field)
			}
		})
	}
}

// TestUnsupportedDetected: what measurement cannot predict is reported:
// the address of a kfunc loaded as a value (not a __ksym variable, not a
// call). kconfig externs, __ksym addresses and kfunc calls are measured
// (TestKconfigMeasured, TestKsymSites, TestKfuncSites).
func TestUnsupportedDetected(t *testing.T) {
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"p": {
		Name: "p", Type: ebpf.SocketFilter, License: "MIT",
		Instructions: asm.Instructions{
			asm.LoadImm(asm.R1, 0, asm.DWord).WithReference("bpf_some_kfunc"),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	}}}
	manifest, err := measure.Collection(spec)
	if err != nil {
		t.Fatal(err)
	}
	err = manifest.Unsupported()
	if want := `kfunc address "bpf_some_kfunc"`; !errors.Is(err, measure.ErrUnsupported) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Unsupported() = %v, want an error mentioning %q", err, want)
	}
}

func TestProbes(t *testing.T) {
	testutil.RequireBPF(t)
	alg, err := measure.TagAlgorithm()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tag algorithm: %s, map hash: %v", alg, measure.HaveMapHash())
	if alg != measure.TagSHA256 && alg != measure.TagSHA1 {
		t.Fatalf("unknown tag algorithm %q", alg)
	}
	// A feature probe answers nil or ErrNotSupported, and the same twice.
	for name, probe := range map[string]func() error{"map hash": measure.HaveMapHash, "write probe": measure.HaveWriteProbe, "prog digest": measure.HaveProgDigest} {
		err := probe()
		// HaveProgDigest may also find no kernel BTF to read.
		if err != nil && !errors.Is(err, ebpf.ErrNotSupported) && name != "prog digest" {
			t.Errorf("%s probe: %v, want nil or an error wrapping ebpf.ErrNotSupported", name, err)
		}
		if again := probe(); again != err {
			t.Errorf("%s probe: %v, then %v: not memoised", name, err, again)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestReadbackAcrossBatches reads back frozen maps larger than one batch
// lookup and checks the user-space hash against the entries written.
func TestReadbackAcrossBatches(t *testing.T) {
	testutil.RequireBPF(t)
	const valueSize, maxEntries = 4096, 600 // about 2.4 MiB: three batches
	for _, typ := range []ebpf.MapType{ebpf.Array, ebpf.Hash} {
		t.Run(typ.String(), func(t *testing.T) {
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: valueSize, MaxEntries: maxEntries})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var entries []measure.Entry
			for i := uint32(0); i < maxEntries; i++ {
				if typ == ebpf.Hash && i%3 == 0 {
					continue
				}
				key := binary.NativeEndian.AppendUint32(nil, i)
				v := make([]byte, valueSize)
				for j := range v {
					v[j] = byte(i*7 + uint32(j))
				}
				if err := m.Put(key, v); err != nil {
					t.Fatal(err)
				}
				entries = append(entries, measure.Entry{Key: key, Value: v})
			}
			if err := m.Freeze(); err != nil {
				t.Fatal(err)
			}
			want, _, err := measure.HashContents(binary.NativeEndian, typ, 4, valueSize, maxEntries, entries)
			if err != nil {
				t.Fatal(err)
			}
			km, err := measure.KernelMapFD(m.FD(), &measure.KernelOptions{Readback: true})
			if err != nil {
				t.Fatal(err)
			}
			if km.Content == nil || km.Content.Hash != hexOf(want[:]) || km.Content.Source != measure.SourceReadback {
				t.Fatalf("content %+v (%s), want %x read back", km.Content, km.ContentError, want)
			}
		})
	}
}

// TestTagAlgorithmFromBTF checks that the answer read from the kernel's
// BTF (struct bpf_prog has a digest member) is the one a loaded program's
// tag gives.
func TestTagAlgorithmFromBTF(t *testing.T) {
	testutil.RequireBPF(t)
	err := measure.HaveProgDigest()
	if err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	has := err == nil
	loaded, err := measure.ProbeTagAlgorithmByLoad()
	if err != nil {
		t.Fatal(err)
	}
	want := map[bool]string{true: measure.TagSHA256, false: measure.TagSHA1}[has]
	if loaded != want {
		t.Fatalf("struct bpf_prog digest member present=%v says %s, a loaded program's tag says %s", has, want, loaded)
	}
	alg, err := measure.TagAlgorithm()
	if err != nil || alg != loaded {
		t.Fatalf("TagAlgorithm() = %q, %v; want %q", alg, err, loaded)
	}
}

// TestMapHashMatchesArrayAlgorithm checks the kernel's map hash against the
// user-space array algorithm, including padding of odd value sizes.
func TestMapHashMatchesArrayAlgorithm(t *testing.T) {
	testutil.RequireBPF(t)
	if err := measure.HaveMapHash(); err != nil {
		testutil.SkipWithout(t, testutil.FeatureMapHash, err)
	}
	for _, valueSize := range []uint32{1, 4, 5, 8, 13, 64} {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: valueSize, MaxEntries: 7})
		if err != nil {
			t.Fatal(err)
		}
		var entries []measure.Entry
		for i := uint32(0); i < 7; i += 2 {
			v := make([]byte, valueSize)
			for j := range v {
				v[j] = byte(i*31 + uint32(j) + 1)
			}
			key := binary.NativeEndian.AppendUint32(nil, i)
			if err := m.Put(key, v); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, measure.Entry{Key: key, Value: v})
		}
		if err := m.Freeze(); err != nil {
			t.Fatal(err)
		}
		want, err := measure.HashArray(binary.NativeEndian, valueSize, 7, entries)
		if err != nil {
			t.Fatal(err)
		}
		for _, readback := range []bool{false, true} {
			km, err := measure.KernelMapFD(m.FD(), &measure.KernelOptions{Readback: readback})
			if err != nil {
				t.Fatal(err)
			}
			if km.Content == nil || km.Content.Hash != hexOf(want[:]) {
				t.Errorf("value size %d readback=%v: content %+v, want %x", valueSize, readback, km.Content, want)
			}
		}
		m.Close()
	}
}

// TestFrozenStateAgreesWithFdinfo: the frozen state measure reports (write
// probe or kernel hash) agrees with /proc/self/fdinfo for every map kind.
func TestFrozenStateAgreesWithFdinfo(t *testing.T) {
	testutil.RequireBPF(t)
	specs := []*ebpf.MapSpec{
		{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 4, Flags: 1},
	}
	for _, spec := range specs {
		for _, freeze := range []bool{false, true} {
			m, err := ebpf.NewMap(spec)
			if err != nil {
				t.Fatal(err)
			}
			if freeze {
				if err := m.Freeze(); err != nil {
					t.Fatal(err)
				}
			}
			km, err := measure.KernelMapFD(m.FD(), nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := bpfsys.MapFrozen(m.FD())
			if err != nil {
				t.Fatal(err)
			}
			if km.Frozen != want || km.Frozen != freeze {
				t.Errorf("%s frozen=%v: measured %v, fdinfo %v", spec.Type, freeze, km.Frozen, want)
			}
			m.Close()
		}
	}
}

// TestCORE: a program whose CO-RE relocations change its instructions on
// this kernel. The object as built does not match the kernel; resolved
// against the running kernel's BTF as a build-time target, it does; and
// relocating in user space for the running kernel gives the kernel's tag,
// changing only the CO-RE sites.
func TestCORE(t *testing.T) {
	testutil.RequireBPF(t)
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		testutil.SkipWithout(t, testutil.FeatureBTF, err)
	}
	targets, err := measure.LoadTargets([]string{"/sys/kernel/btf/vmlinux"})
	if err != nil {
		t.Fatal(err)
	}
	spec := loadSpec(t, "corerel")
	m, err := measure.CollectionWithOptions(spec, &measure.Options{Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Unsupported(); err != nil {
		t.Fatal(err)
	}
	p := m.Program("corerel_probe")
	if len(p.Relocations) != 2 || len(p.Alternatives) != 1 || !strings.Contains(p.Alternatives[0].Target, "btf-sha256:") {
		t.Fatalf("program %+v", p)
	}
	coll := loadColl(t, spec, nil)
	kp, err := measure.Kernel(coll.Programs["corerel_probe"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if kp.Tag == p.KernelTag(kp.TagAlgorithm) {
		t.Fatal("relocation did not change the instructions: the test object no longer exercises CO-RE")
	}
	ms, matched := measure.Compare(p, kp)
	if len(ms) != 0 || matched == nil || matched.Target == "" {
		t.Fatalf("kernel does not match the target digest: %v", ms)
	}
	d, fixups, err := measure.RelocateForKernel(spec.Programs["corerel_probe"])
	if err != nil {
		t.Fatal(err)
	}
	if d.KernelTag(kp.TagAlgorithm) != kp.Tag || len(fixups) != 2 || fixups[0].Fixup == "" {
		t.Fatalf("user-space relocation: tag(%s) %s (kernel %s), fixups %+v", kp.TagAlgorithm, d.KernelTag(kp.TagAlgorithm), kp.Tag, fixups)
	}
	t.Logf("fixups: %+v", fixups)
}

// TestMeasureMapsWithoutProbes: with both map probes answering "not
// supported", as on kernels before 6.18 or where the write probe cannot
// be trusted, the measurement falls back to fdinfo for the frozen state
// and to reading the contents back for the hash, and reports the same
// frozen state and content hash as with this kernel's probes.
func TestMeasureMapsWithoutProbes(t *testing.T) {
	testutil.RequireBPF(t)
	realHash, realWrite := measure.HaveMapHash(), measure.HaveWriteProbe()
	t.Logf("this kernel: map hash %v, write probe %v", realHash, realWrite)
	specs := []*ebpf.MapSpec{
		{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4},
	}
	for _, spec := range specs {
		for _, freeze := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/frozen=%v", spec.Type, freeze), func(t *testing.T) {
				m, err := ebpf.NewMap(spec)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				var entries []measure.Entry
				if spec.Type != ebpf.PerCPUArray {
					for k := uint32(0); k < 2; k++ {
						key := binary.NativeEndian.AppendUint32(nil, k)
						v := binary.NativeEndian.AppendUint64(nil, uint64(k)*0x0101010101+7)
						if err := m.Put(key, v); err != nil {
							t.Fatal(err)
						}
						entries = append(entries, measure.Entry{Key: key, Value: v})
					}
				}
				if freeze {
					if err := m.Freeze(); err != nil {
						t.Fatal(err)
					}
				}
				withProbes, err := measure.KernelMapFD(m.FD(), nil)
				if err != nil {
					t.Fatal(err)
				}
				var without *measure.KernelMap
				measure.WithoutMapProbes(func() { without, err = measure.KernelMapFD(m.FD(), nil) })
				if err != nil {
					t.Fatal(err)
				}
				for name, km := range map[string]*measure.KernelMap{"with probes": withProbes, "without": without} {
					if km.Frozen != freeze {
						t.Errorf("%s: frozen %v, want %v", name, km.Frozen, freeze)
					}
				}
				if !freeze || spec.Type == ebpf.PerCPUArray {
					return
				}
				want, _, err := measure.HashContents(binary.NativeEndian, spec.Type, spec.KeySize, spec.ValueSize, spec.MaxEntries, entries)
				if err != nil {
					t.Fatal(err)
				}
				if without.Content == nil || without.Content.Source != measure.SourceReadback || without.Content.Hash != hexOf(want[:]) {
					t.Errorf("without probes: content %+v (%s), want %x read back", without.Content, without.ContentError, want)
				}
				if withProbes.Content == nil || withProbes.Content.Hash != hexOf(want[:]) {
					t.Errorf("with probes: content %+v (%s), want %x", withProbes.Content, withProbes.ContentError, want)
				}
				if spec.Type == ebpf.Array && realHash == nil && withProbes.Content.Source != measure.SourceKernel {
					t.Errorf("with the kernel's map hash: content from %q, want %q", withProbes.Content.Source, measure.SourceKernel)
				}
			})
		}
	}
}

// TestFrozenStateReadOnlyFD: the kernel refuses a write through an fd
// without write access with the same EPERM as a write to a frozen map, so
// a map created BPF_F_RDONLY (whose fd is read-only) and never frozen
// must not be measured as frozen, or given a sealed content hash.
func TestFrozenStateReadOnlyFD(t *testing.T) {
	testutil.RequireBPF(t)
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.Array, ebpf.PerCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: unix.BPF_F_RDONLY})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			km, err := measure.KernelMapFD(m.FD(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if km.Frozen || km.Content != nil {
				t.Errorf("a map never frozen, measured through its read-only fd: frozen %v, content %+v", km.Frozen, km.Content)
			}
			// Opened again by id, read-write: the kernel's write
			// check looks at the fd and the frozen state only.
			info, err := m.Info()
			if err != nil {
				t.Fatal(err)
			}
			id, _ := info.ID()
			rw, err := ebpf.NewMapFromID(id)
			if err != nil {
				t.Fatal(err)
			}
			defer rw.Close()
			for _, freeze := range []bool{false, true} {
				if freeze {
					if err := rw.Freeze(); err != nil {
						t.Fatal(err)
					}
				}
				km, err = measure.KernelMapFD(rw.FD(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if km.Frozen != freeze {
					t.Errorf("measured through a read-write fd: frozen %v, want %v", km.Frozen, freeze)
				}
			}
		})
	}
}

// TestKernelFDInfo: a measurement that starts from the caller's info
// answer (the audit's, which read it to find the manifest) is the
// measurement KernelFD makes asking the kernel itself, for every testdata
// program and its maps, with and without an expected program.
func TestKernelFDInfo(t *testing.T) {
	testutil.RequireBPF(t)
	for _, name := range measurable {
		t.Run(name, func(t *testing.T) {
			spec := loadSpec(t, name)
			manifest, err := measure.Collection(spec)
			if err != nil {
				t.Fatal(err)
			}
			coll := loadColl(t, spec, nil)
			for pname, prog := range coll.Programs {
				for _, expected := range []*measure.Program{nil, manifest.Program(pname)} {
					opts := &measure.KernelOptions{Expected: expected, Manifest: manifest, NoLinks: true}
					want, err := measure.KernelFD(prog.FD(), opts)
					if err != nil {
						t.Fatal(err)
					}
					info, ids, err := bpfsys.ProgramInfo(prog.FD())
					if err != nil {
						t.Fatal(err)
					}
					got, err := measure.KernelFDInfo(prog.FD(), info, ids, opts)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s: from the caller's info\n%+v\nasking the kernel\n%+v", pname, got, want)
					}
				}
			}
		})
	}
}

// TestKernelFDInfoOtherProgram: KernelFDInfo refuses an info that is not
// the answer for the program behind fd (another program's, or the answer
// before an fd number was reused for another program) rather than measure
// one program's tag and maps with another's instructions: with the info
// of the signed program and the fd of an unsigned one, the comparison
// would say OK for a program that runs other instructions.
func TestKernelFDInfoOtherProgram(t *testing.T) {
	testutil.RequireBPF(t)
	spec := func(ret int32) *ebpf.CollectionSpec {
		return &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"fdinfo_ret": {
			Name: "fdinfo_ret", Type: ebpf.SocketFilter, License: "MIT",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, ret), asm.Return()},
		}}}
	}
	signedSpec, otherSpec := spec(1), spec(0)
	manifest, err := measure.Collection(signedSpec)
	if err != nil {
		t.Fatal(err)
	}
	signed, other := loadColl(t, signedSpec, nil), loadColl(t, otherSpec, nil)
	expected := manifest.Program("fdinfo_ret")
	opts := &measure.KernelOptions{Expected: expected, Manifest: manifest, NoLinks: true}

	// The signed program, measured from its own info: OK.
	info, ids, err := bpfsys.ProgramInfo(signed.Programs["fdinfo_ret"].FD())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := measure.KernelFDInfo(signed.Programs["fdinfo_ret"].FD(), info, ids, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := manifest.Compare(expected, kp); len(ms) != 0 {
		t.Fatalf("the signed program does not match its own manifest: %v", ms)
	}

	// The other program's fd with the signed program's info.
	before := testutil.OpenFDs(t)
	kp, err = measure.KernelFDInfo(other.Programs["fdinfo_ret"].FD(), info, ids, opts)
	if err == nil {
		ms, _ := manifest.Compare(expected, kp)
		t.Fatalf("KernelFDInfo measured program id %d with the info of program id %d (mismatches: %v)", kp.ID, info.ID, ms)
	}
	if !errors.Is(err, measure.ErrInfoMismatch) {
		t.Fatalf("got %v, want %v", err, measure.ErrInfoMismatch)
	}
	if after := testutil.OpenFDs(t); after != before {
		t.Fatalf("%d fds open after the refusal, %d before", after, before)
	}
}
