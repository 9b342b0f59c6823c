package sealmap_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

const (
	configFile = `{"entries":[
		{"key":0,"value":{"action":1,"port":443,"enabled":1,"tags":[1,2,3]}},
		{"key":2,"value":{"action":0,"port":80,"enabled":1}}]}`
	portsFile = `{"entries":[{"key":22,"value":"VERDICT_DROP"},{"key":443,"value":"VERDICT_PASS"}]}`
)

func sealedConfig(config string) sealmap.Config {
	return sealmap.Config{
		Seal:     []string{"ports"},
		Contents: map[string][]byte{"config": []byte(config), "ports": []byte(portsFile)},
		Params:   []string{"mode"},
	}
}

// expected is what the generator does at build time: resolve, apply,
// measure.
func expected(t *testing.T, cfg sealmap.Config) (*sealmap.Plan, *measure.Program) {
	t.Helper()
	spec := sealedSpec(t)
	plan, err := build.Resolve(spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(spec); err != nil {
		t.Fatal(err)
	}
	m, err := measure.CollectionWithOptions(spec, plan.MeasureOptions())
	if err != nil {
		t.Fatal(err)
	}
	return plan, m.Program("sealed_filter")
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func mapByName(kp *measure.KernelProgram, name string) *measure.KernelMap {
	for i := range kp.Maps {
		if kp.Maps[i].Name == name {
			return &kp.Maps[i]
		}
	}
	return nil
}

// TestSealedEndToEnd: a sealed config array (kernel hash), a sealed hash map
// (user-space hash) and a .rodata with one parameter match from build time
// to run time.
func TestSealedEndToEnd(t *testing.T) {
	testutil.RequireBPF(t)
	plan, want := expected(t, sealedConfig(configFile))

	spec := sealedSpec(t)
	if err := spec.Variables["mode"].Set(uint32(1)); err != nil {
		t.Fatal(err)
	}
	coll, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()

	kp, err := measure.Kernel(coll.Programs["sealed_filter"], &measure.KernelOptions{Expected: want})
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := measure.Compare(want, kp); len(ms) > 0 {
		t.Fatal(ms)
	}
	if ms := measure.CheckParams(kp, map[string][]byte{"mode": u32(1)}); len(ms) > 0 {
		t.Fatalf("params: %v", ms)
	}

	sources := map[string]string{"config": testutil.ArraySource(), "ports": measure.SourceReadback, ".rodata": measure.SourceReadback}
	for name, src := range sources {
		km := mapByName(kp, name)
		if km == nil || km.Content == nil || !km.Frozen || !strings.HasPrefix(km.Content.Source, src) {
			t.Errorf("map %s: %+v, want frozen with content from %q", name, km, src)
		}
		if km != nil && km.RawFlags&sealmap.FlagRdonlyProg == 0 {
			t.Errorf("map %s lacks BPF_F_RDONLY_PROG: flags %#x", name, km.RawFlags)
		}
	}
	if km := mapByName(kp, "ports"); km != nil && km.Content.Algorithm != measure.AlgKV {
		t.Errorf("ports hashed with %s, want %s", km.Content.Algorithm, measure.AlgKV)
	}
	if km := mapByName(kp, ".rodata"); km == nil || len(km.Params) != 1 || km.Params[0].Name != "mode" || km.Params[0].Value != "01000000" {
		t.Errorf(".rodata params: %+v", km)
	}
	if km := mapByName(kp, "hits"); km == nil || km.Frozen || km.Content != nil {
		t.Errorf("hits is state and must stay mutable: %+v", km)
	}
}

// TestSealedRefusesWrites: once sealed, no system call writes the maps.
func TestSealedRefusesWrites(t *testing.T) {
	testutil.RequireBPF(t)
	plan, _ := expected(t, sealedConfig(configFile))
	coll, err := sealmap.LoadCollection(sealedSpec(t), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()

	tests := []struct {
		name  string
		write func() error
	}{
		{"update array", func() error { return coll.Maps["config"].Put(uint32(0), make([]byte, 10)) }},
		{"update hash", func() error { return coll.Maps["ports"].Put(uint16(22), uint32(0)) }},
		{"delete from hash", func() error { return coll.Maps["ports"].Delete(uint16(22)) }},
		{"insert into hash", func() error { return coll.Maps["ports"].Put(uint16(8080), uint32(1)) }},
		{"update .rodata", func() error { return coll.Maps[".rodata"].Put(uint32(0), make([]byte, 8)) }},
		{"writable mmap of .rodata", func() error {
			b, err := unix.Mmap(coll.Maps[".rodata"].FD(), 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err == nil {
				unix.Munmap(b)
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); !errors.Is(err, unix.EPERM) {
				t.Fatalf("write to a sealed map: %v, want EPERM", err)
			}
		})
	}
	// A read-only mapping stays possible: sealing does not hide contents.
	b, err := unix.Mmap(coll.Maps[".rodata"].FD(), 0, unix.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("read-only mmap of sealed .rodata: %v", err)
	}
	unix.Munmap(b)
}

// TestSealedTamper: each change between build time and run time is caught
// and named.
func TestSealedTamper(t *testing.T) {
	testutil.RequireBPF(t)
	plan, want := expected(t, sealedConfig(configFile))
	otherConfig := strings.Replace(configFile, `"port":443`, `"port":444`, 1)

	tests := []struct {
		name   string
		load   func(t *testing.T) *ebpf.Collection
		params map[string][]byte
		field  string
	}{
		{"different contents file", func(t *testing.T) *ebpf.Collection {
			other, err := build.Resolve(sealedSpec(t), sealedConfig(otherConfig))
			if err != nil {
				t.Fatal(err)
			}
			coll, err := sealmap.LoadCollection(sealedSpec(t), other, nil)
			if err != nil {
				t.Fatal(err)
			}
			return coll
		}, map[string][]byte{"mode": u32(0)}, "maps[0](config).content.hash"},

		{"write before freeze", func(t *testing.T) *ebpf.Collection {
			spec := sealedSpec(t)
			if err := plan.Apply(spec); err != nil {
				t.Fatal(err)
			}
			ms := spec.Maps["config"].Copy()
			ms.Contents = nil
			m, err := ebpf.NewMap(ms)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for _, kv := range spec.Maps["config"].Contents {
				if err := m.Put(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
			// The attacker's write, between fill and freeze.
			if err := m.Put(uint32(3), []byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9}); err != nil {
				t.Fatal(err)
			}
			ports, err := sealmap.Seal(spec.Maps["ports"])
			if err != nil {
				t.Fatal(err)
			}
			defer ports.Close()
			coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
				MapReplacements: map[string]*ebpf.Map{"config": m, "ports": ports},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Freeze(); err != nil {
				t.Fatal(err)
			}
			return coll
		}, map[string][]byte{"mode": u32(0)}, "maps[0](config).content.hash"},

		{"parameter other than reported", func(t *testing.T) *ebpf.Collection {
			return loadWithVariable(t, plan, "mode", 1)
		}, map[string][]byte{"mode": u32(0)}, "params.mode"},

		{"undeclared read-only variable", func(t *testing.T) *ebpf.Collection {
			return loadWithVariable(t, plan, "max_len", 9000)
		}, map[string][]byte{"mode": u32(0)}, "maps[2](.rodata).content.hash"},

		{"not sealed at load", func(t *testing.T) *ebpf.Collection {
			coll, err := ebpf.NewCollection(sealedSpec(t))
			if err != nil {
				t.Fatal(err)
			}
			return coll
		}, map[string][]byte{"mode": u32(0)}, "maps[0](config).flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coll := tt.load(t)
			defer coll.Close()
			kp, err := measure.Kernel(coll.Programs["sealed_filter"], &measure.KernelOptions{Expected: want})
			if err != nil {
				t.Fatal(err)
			}
			ms, _ := measure.Compare(want, kp)
			ms = append(ms, measure.CheckParams(kp, tt.params)...)
			var fields []string
			for _, m := range ms {
				fields = append(fields, m.Field)
				t.Log(m)
			}
			if !slices.Contains(fields, tt.field) {
				t.Fatalf("mismatches %v do not name %s", fields, tt.field)
			}
		})
	}
}

// loadWithVariable loads the sealed object with one read-only variable set
// to value.
func loadWithVariable(t *testing.T, plan *sealmap.Plan, name string, value uint32) *ebpf.Collection {
	t.Helper()
	spec := sealedSpec(t)
	if err := spec.Variables[name].Set(value); err != nil {
		t.Fatal(err)
	}
	coll, err := sealmap.LoadCollection(spec, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	return coll
}

// TestSealedWriteRefused: a program that writes a map it declares sealed
// fails to load, the error names the map, and no fd stays open.
func TestSealedWriteRefused(t *testing.T) {
	testutil.RequireBPF(t)
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("sealed_writer_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := build.Resolve(spec, sealmap.Config{})
	if err != nil {
		t.Fatal(err)
	}
	before := testutil.OpenFDs(t)
	coll, err := sealmap.LoadCollection(spec, plan, nil)
	if err == nil {
		coll.Close()
		t.Fatal("a program writing a sealed map loaded")
	}
	if !errors.Is(err, sealmap.ErrSealedWrite) || !strings.Contains(err.Error(), "program sealed_writer writes sealed map limits") {
		t.Fatalf("error does not name the program and map: %v", err)
	}
	if after := testutil.OpenFDs(t); after != before {
		t.Errorf("%d fds open before the refused load, %d after", before, after)
	}
}

func TestReplacingSealedMapRefused(t *testing.T) {
	testutil.RequireBPF(t)
	plan, _ := expected(t, sealedConfig(configFile))
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 10, MaxEntries: 4, Flags: sealmap.FlagRdonlyProg})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = sealmap.LoadCollection(sealedSpec(t), plan, &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{"config": m}})
	if !errors.Is(err, sealmap.ErrCannotSeal) || !strings.Contains(err.Error(), "config") {
		t.Fatalf("replacing a sealed map: %v", err)
	}
}
