package measure_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// benchObject is the largest testdata object; its program uses 4 maps
// (.data, .rodata, .bss, tag_hist), one of them sealed.
const benchObject = "globals"

// BenchmarkPlainLoad is the baseline: a plain cilium/ebpf load of the
// object (parse the ELF, create the maps, load the program), then close.
func BenchmarkPlainLoad(b *testing.B) {
	testutil.RequireBPF(b)
	raw, err := os.ReadFile(testutil.Testdata(benchObject + "_bpfel.o"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		coll, err := ebpf.NewCollection(spec)
		if err != nil {
			b.Fatal(err)
		}
		coll.Close()
	}
}

// BenchmarkBuildTimeMeasurement measures every program of the object from
// its parsed spec (what the generator does once per build).
func BenchmarkBuildTimeMeasurement(b *testing.B) {
	spec := loadSpec(b, benchObject)
	for b.Loop() {
		if _, err := measure.Collection(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildTimeMeasurementWithParse includes parsing the ELF.
func BenchmarkBuildTimeMeasurementWithParse(b *testing.B) {
	raw, err := os.ReadFile(testutil.Testdata(benchObject + "_bpfel.o"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := measure.Collection(spec); err != nil {
			b.Fatal(err)
		}
	}
}

func benchKernel(b *testing.B, opts *measure.KernelOptions) {
	testutil.RequireBPF(b)
	spec := loadSpec(b, benchObject)
	coll := loadColl(b, spec, nil)
	var prog *ebpf.Program
	for _, p := range coll.Programs {
		prog = p
	}
	// Warm the cached probes outside the loop.
	if _, err := measure.Kernel(prog, opts); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		kp, err := measure.Kernel(prog, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(kp.Maps) != 4 {
			b.Fatalf("%d maps, want 4", len(kp.Maps))
		}
	}
}

// BenchmarkKernelMeasurement measures a loaded program with 4 maps from
// kernel data, with the kernel's map hash.
func BenchmarkKernelMeasurement(b *testing.B) { benchKernel(b, nil) }

// BenchmarkKernelMeasurementReadback is the same with frozen maps read back
// and hashed in user space.
func BenchmarkKernelMeasurementReadback(b *testing.B) {
	benchKernel(b, &measure.KernelOptions{Readback: true})
}

// BenchmarkKernelMeasurementClosure measures tailcall.c's entry program
// with its closure: its program array's 4 slots read back, the 2 programs
// they hold measured (a cycle), the host's links enumerated, and the
// comparison with the manifest. The ratio to BenchmarkKernelMeasurement is
// the cost of following tail calls.
func BenchmarkKernelMeasurementClosure(b *testing.B) {
	testutil.RequireBPF(b)
	spec := loadSpec(b, "tailcall")
	m, err := measure.CollectionWithOptions(spec, &measure.Options{Sealed: []string{"jmp"}})
	if err != nil {
		b.Fatal(err)
	}
	coll := loadColl(b, spec, nil)
	opts := &measure.KernelOptions{Expected: m.Program("tail_entry"), Manifest: m}
	for b.Loop() {
		kp, err := measure.Kernel(coll.Programs["tail_entry"], opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(kp.TailCalls) != 2 {
			b.Fatalf("%d tail calls, want 2", len(kp.TailCalls))
		}
		m.Compare(opts.Expected, kp)
	}
}

// BenchmarkManifestCheck: Check of a manifest of 1000 small programs
// (the audit's benchmark's), what every reader of an envelope pays once.
func BenchmarkManifestCheck(b *testing.B) {
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{}}
	for i := range 1000 {
		name := fmt.Sprintf("audit_p%d", i)
		spec.Programs[name] = &ebpf.ProgramSpec{Name: name, Type: ebpf.SocketFilter, License: "MIT",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, int32(i)), asm.Return()}}
	}
	m, err := measure.Collection(spec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Check(); err != nil {
			b.Fatal(err)
		}
	}
}
