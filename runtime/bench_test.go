package runtime_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

// BenchmarkPlainLoad is the baseline: what bpf2go's loadObjects does.
func BenchmarkPlainLoad(b *testing.B) {
	testutil.RequireBPF(b)
	f := newFixture(b)
	for b.Loop() {
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(f.obj))
		if err != nil {
			b.Fatal(err)
		}
		var objs objects
		if err := spec.LoadAndAssign(&objs, nil); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}

// BenchmarkVerifiedLoad is the generated loadObjectsVerified on the same
// object: seal, load, measure through the kernel, verify the signature.
func BenchmarkVerifiedLoad(b *testing.B) {
	testutil.RequireBPF(b)
	f := newFixture(b)
	o := f.object(b, f.obj, f.manifest, f.key)
	for b.Loop() {
		var objs objects
		if _, err := bpfsigned.Load(o, &objs, nil); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}

// BenchmarkVerifiedLoadCold is BenchmarkVerifiedLoad with the per-process
// caches emptied before every load: the cost of the first load of a
// process.
func BenchmarkVerifiedLoadCold(b *testing.B) {
	testutil.RequireBPF(b)
	f := newFixture(b)
	o := f.object(b, f.obj, f.manifest, f.key)
	for b.Loop() {
		bpfsigned.ResetCaches()
		var objs objects
		if _, err := bpfsigned.Load(o, &objs, nil); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}

// growthSource is a C object with progs socket filters and maps arrays:
// program 0 updates every map, program i > 0 the map i % maps, each with
// its own constant so that every program has its own instructions.
func growthSource(progs, maps int) string {
	var s strings.Builder
	s.WriteString("#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n")
	for m := range maps {
		fmt.Fprintf(&s, "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } m%d SEC(\".maps\");\n", m)
	}
	bump := func(m, c int) string {
		return fmt.Sprintf("\t{ __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&m%d, &k); if (v) __sync_fetch_and_add(v, %d); }\n", m, c)
	}
	for p := range progs {
		fmt.Fprintf(&s, "SEC(\"socket\") int p%d(struct __sk_buff *skb) {\n", p)
		if p == 0 {
			for m := range maps {
				s.WriteString(bump(m, m+1))
			}
		} else {
			s.WriteString(bump(p%maps, p+1))
		}
		s.WriteString("\treturn 0;\n}\n")
	}
	return s.String()
}

// growthObject compiles growthSource with clang-19 and returns the object
// with an envelope signed over its measurement.
func growthObject(b *testing.B, progs, maps int) *bpfsigned.Object {
	b.Helper()
	testutil.RequireTool(b, "clang-19")
	dir := b.TempDir()
	src, obj := filepath.Join(dir, "growth.c"), filepath.Join(dir, "growth.o")
	if err := os.WriteFile(src, []byte(growthSource(progs, maps)), 0o644); err != nil {
		b.Fatal(err)
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[goruntime.GOARCH]
	if out, err := exec.Command("clang-19", "-O2", "-g", "-target", "bpfel", "-I/usr/include/"+arch+"-linux-gnu", "-c", src, "-o", obj).CombinedOutput(); err != nil {
		b.Fatalf("clang: %v\n%s", err, out)
	}
	elf, err := os.ReadFile(obj)
	if err != nil {
		b.Fatal(err)
	}
	m, plan, _, err := build.Measure(elf, build.Source{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	f := newFixture(b)
	f.plan = plan.Encode()
	return f.object(b, elf, m, f.key)
}

// BenchmarkGrowth: plain and verified load (first of the process: caches
// emptied) of one object as it grows in programs (one map) and in maps
// (eight programs), in the same run.
func BenchmarkGrowth(b *testing.B) {
	testutil.RequireBPF(b)
	for _, size := range []struct{ progs, maps int }{{1, 1}, {8, 1}, {64, 1}, {8, 8}, {8, 64}} {
		o := growthObject(b, size.progs, size.maps)
		name := fmt.Sprintf("progs=%d/maps=%d", size.progs, size.maps)
		b.Run(name+"/plain", func(b *testing.B) {
			for b.Loop() {
				spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(o.ELF))
				if err != nil {
					b.Fatal(err)
				}
				coll, err := ebpf.NewCollection(spec)
				if err != nil {
					b.Fatal(err)
				}
				coll.Close()
			}
		})
		b.Run(name+"/verified", func(b *testing.B) {
			for b.Loop() {
				bpfsigned.ResetCaches()
				if _, err := bpfsigned.Load(o, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
