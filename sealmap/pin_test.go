package sealmap_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

// pinnedCfg fills the three sealed maps of pinned.c.
var pinnedCfg = sealmap.Config{Contents: map[string][]byte{
	"pin_config":   []byte(`{"entries":[{"key":0,"value":{"action":1,"port":443,"enabled":1}}]}`),
	"pin_ports":    []byte(`{"entries":[{"key":22,"value":1},{"key":443,"value":0}]}`),
	"pin_prefixes": []byte(`{"entries":[{"key":{"prefixlen":32,"addr":16777343},"value":1},{"key":{"prefixlen":24,"addr":167772160},"value":2}]}`),
}}

var pinnedSealed = []string{"pin_config", "pin_ports", "pin_prefixes"}

func pinnedSpec(tb testing.TB) *ebpf.CollectionSpec {
	tb.Helper()
	spec, err := ebpf.LoadCollectionSpec(testutil.Testdata("pinned_bpfel.o"))
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}

// pinnedExpected is what the generator signs for pinned.c.
func pinnedExpected(t *testing.T) (*sealmap.Plan, *measure.Program) {
	t.Helper()
	spec := pinnedSpec(t)
	plan, err := build.Resolve(spec, pinnedCfg)
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
	return plan, m.Program("pinned_filter")
}

// start loads pinned.c with its maps pinned under dir, as one start of a
// program does, and returns the kernel's measurement; the collection is
// closed (the pins keep the maps).
func start(t *testing.T, dir string, plan *sealmap.Plan, want *measure.Program) (*measure.KernelProgram, error) {
	t.Helper()
	return startWith(t, dir, plan, want, false, nil)
}

// startWith is start where reused pins are checked by read-back when
// readback is set, and beforePin runs before each fresh pin (see
// sealmap.LoadCollectionTesting).
func startWith(t *testing.T, dir string, plan *sealmap.Plan, want *measure.Program, readback bool, beforePin func(string)) (*measure.KernelProgram, error) {
	t.Helper()
	coll, err := sealmap.LoadCollectionTesting(pinnedSpec(t), plan, &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: dir}}, readback, beforePin)
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	kp, err := measure.Kernel(coll.Programs["pinned_filter"], &measure.KernelOptions{Expected: want})
	if err != nil {
		t.Fatal(err)
	}
	return kp, nil
}

// TestPinnedTwoStarts: the first start creates, fills, freezes and then
// pins the sealed maps; the second reuses the very same maps (same ids),
// and both get the signed measurement. On kernels with the map hash the
// check of the reused array uses it; the read-back path (kernels before
// 6.18) is run too. No descriptor is left open.
func TestPinnedTwoStarts(t *testing.T) {
	testutil.RequireBPF(t)
	plan, want := pinnedExpected(t)
	for _, readback := range []bool{false, true} {
		t.Run(fmt.Sprintf("readback=%v", readback), func(t *testing.T) {
			dir := testutil.BPFFS(t)
			fds := testutil.OpenFDs(t)
			first, err := startWith(t, dir, plan, want, readback, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range append(pinnedSealed, "pin_hits") {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("%s is not pinned after the first start: %v", name, err)
				}
			}
			second, err := startWith(t, dir, plan, want, readback, nil)
			if err != nil {
				t.Fatalf("second start: %v", err)
			}
			for _, kp := range []*measure.KernelProgram{first, second} {
				if ms, _ := measure.Compare(want, kp); len(ms) > 0 {
					t.Fatalf("verdict: %v", ms)
				}
			}
			for i := range first.Maps {
				a, b := first.Maps[i], second.Maps[i]
				if a.ID != b.ID {
					t.Errorf("map %s: id %d then %d: the pinned map was not reused", a.Name, a.ID, b.ID)
				}
				if (a.Content == nil) != (b.Content == nil) || a.Content != nil && *a.Content != *b.Content {
					t.Errorf("map %s: content %+v then %+v", a.Name, a.Content, b.Content)
				}
			}
			if got := testutil.OpenFDs(t); got != fds {
				t.Errorf("%d descriptors open after two starts, %d before", got, fds)
			}
		})
	}
}

// replacePin has another process (a shell running bpftool) remove the
// pin of a sealed map and pin a map of its own there.
func replacePin(t *testing.T, path, script string) {
	t.Helper()
	testutil.RequireTool(t, "bpftool")
	cmd := exec.Command("sh", "-e", "-c", "rm -f \"$P\"\n"+script)
	cmd.Env = append(os.Environ(), "P="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("replace %s: %v\n%s", path, err, out)
	}
}

func bpftoolBytes(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return "hex " + strings.Join(parts, " ")
}

// TestPinnedReplaced: after a first start, another process replaces a
// pin with a map of its own; the second start refuses it with a message
// naming the pin and what to do, closes every descriptor it opened, and
// leaves the pin alone.
func TestPinnedReplaced(t *testing.T) {
	testutil.RequireBPF(t)
	plan, want := pinnedExpected(t)
	fill := func(name string) string {
		var s string
		for _, e := range plan.Contents[name] {
			s += fmt.Sprintf("bpftool map update pinned \"$P\" key %s value %s\n", bpftoolBytes(e.Key), bpftoolBytes(e.Value))
		}
		return s
	}
	other := func(name string) string {
		e := plan.Contents[name][0]
		v := append([]byte{}, e.Value...)
		v[0] ^= 0xff
		return fmt.Sprintf("bpftool map update pinned \"$P\" key %s value %s\n", bpftoolBytes(e.Key), bpftoolBytes(v))
	}
	const (
		portsMap    = "bpftool map create \"$P\" type hash key 2 value 4 entries 16 name pin_ports flags "
		configMap   = "bpftool map create \"$P\" type array key 4 value 8 entries 1 name pin_config flags "
		prefixesMap = "bpftool map create \"$P\" type lpm_trie key 8 value 4 entries 8 name pin_prefixes flags "
		freeze      = "bpftool map freeze pinned \"$P\"\n"
	)
	tests := []struct {
		name, pin, script, want string
		readback                bool
	}{
		{"array with other contents (kernel hash)", "pin_config", configMap + "0x80\n" + other("pin_config") + freeze, "(" + testutil.ArraySource() + "), the signed contents hash to", false}, // the kernel's hash where it has one (6.18+)
		{"array with other contents (read back)", "pin_config", configMap + "0x80\n" + other("pin_config") + freeze, "(user-space readback), the signed contents hash to", true},
		{"hash with other contents (read back)", "pin_ports", portsMap + "0x80\n" + fill("pin_ports") + other("pin_ports") + freeze, "holds other contents", false},
		{"hash missing an entry", "pin_ports", portsMap + "0x80\n" + fill("pin_ports") + "bpftool map delete pinned \"$P\" key " + bpftoolBytes(plan.Contents["pin_ports"][0].Key) + "\n" + freeze, "holds other contents", false},
		{"LPM trie with other contents", "pin_prefixes", prefixesMap + "0x81\n" + fill("pin_prefixes") + other("pin_prefixes") + freeze, "holds other contents", false},
		{"same contents, not frozen", "pin_ports", portsMap + "0x80\n" + fill("pin_ports"), "is not frozen", false},
		{"same contents, without BPF_F_RDONLY_PROG", "pin_config", configMap + "0\n" + fill("pin_config") + freeze, "without BPF_F_RDONLY_PROG", false},
		{"other max_entries", "pin_ports", strings.Replace(portsMap, "entries 16", "entries 17", 1) + "0x80\n" + fill("pin_ports") + freeze, "max_entries 17", false},
		{"other type", "pin_ports", "bpftool map create \"$P\" type lru_hash key 2 value 4 entries 16 name pin_ports flags 0x80\n" + fill("pin_ports") + freeze, "is LRUHash", false},
		{"other name", "pin_config", strings.Replace(configMap, "name pin_config", "name evil", 1) + "0x80\n" + fill("pin_config") + freeze, `name "evil"`, false},
		{"a program pinned there", "pin_ports", "bpftool prog load " + testutil.Testdata("socket_bpfel.o") + " \"$P\"\n", "cannot open it as a map", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testutil.BPFFS(t)
			if _, err := start(t, dir, plan, want); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tt.pin)
			replacePin(t, path, tt.script)
			fds := testutil.OpenFDs(t)
			_, err := startWith(t, dir, plan, want, tt.readback, nil)
			if !errors.Is(err, sealmap.ErrPinned) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "rm "+path) {
				t.Fatalf("second start: %v; want ErrPinned saying %q and naming rm %s", err, tt.want, path)
			}
			t.Log(err)
			if got := testutil.OpenFDs(t); got != fds {
				t.Errorf("%d descriptors open after the refusal, %d before", got, fds)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("the refused pin was removed: %v", err)
			}
		})
	}
}

// TestPinnedDuringLoad: when another process pins a map at the path while
// this start creates its own, the start refuses rather than replace it,
// removes the pins it made, and closes everything.
func TestPinnedDuringLoad(t *testing.T) {
	testutil.RequireBPF(t)
	plan, want := pinnedExpected(t)
	dir := testutil.BPFFS(t)
	beforePin := func(path string) {
		if filepath.Base(path) == "pin_ports" {
			replacePin(t, path, "bpftool map create \"$P\" type hash key 2 value 4 entries 16 name pin_ports flags 0x80\n")
		}
	}
	fds := testutil.OpenFDs(t)
	_, err := startWith(t, dir, plan, want, false, beforePin)
	if !errors.Is(err, sealmap.ErrPinned) || !strings.Contains(err.Error(), "another process pinned a map there during this load") {
		t.Fatalf("%v", err)
	}
	t.Log(err)
	if got := testutil.OpenFDs(t); got != fds {
		t.Errorf("%d descriptors open, %d before", got, fds)
	}
	for _, name := range []string{"pin_config", "pin_prefixes"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s stayed pinned after the refused start", name)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "pin_ports")); err != nil {
		t.Errorf("the other process's pin was removed: %v", err)
	}
}

// TestPinnedMultiElementArray: where the verifier cannot load programs
// against frozen read-only arrays of several elements (Linux 6.18), a
// pinned sealed array of several elements is refused at the first start
// already, since no second start could reuse it; where it can, two starts
// work.
func TestPinnedMultiElementArray(t *testing.T) {
	testutil.RequireBPF(t)
	plan, _ := expected(t, sealedConfig(configFile))
	dir := testutil.BPFFS(t)
	load := func() error {
		spec := sealedSpec(t)
		spec.Maps["config"].Pinning = ebpf.PinByName
		coll, err := sealmap.LoadCollection(spec, plan, &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: dir}})
		if err == nil {
			coll.Close()
		}
		return err
	}
	fds := testutil.OpenFDs(t)
	if probe := sealmap.FrozenArraysReadable(); probe != nil {
		err := load()
		if !errors.Is(err, sealmap.ErrPinned) || !strings.Contains(err.Error(), "one-element array") {
			t.Fatalf("first start: %v, want a refusal saying how to fix it", err)
		}
		t.Log(err)
		if _, err := os.Lstat(filepath.Join(dir, "config")); err == nil {
			t.Error("the refused map was pinned")
		}
	} else {
		for i := range 2 {
			if err := load(); err != nil {
				t.Fatalf("start %d: %v", i+1, err)
			}
		}
	}
	if got := testutil.OpenFDs(t); got != fds {
		t.Errorf("%d descriptors open, %d before", got, fds)
	}
}

// TestPinnedDataSection: a data section pinned by a spec built in Go is
// refused: its contents are set at every start.
func TestPinnedDataSection(t *testing.T) {
	testutil.RequireBPF(t)
	plan, _ := expected(t, sealedConfig(configFile))
	spec := sealedSpec(t)
	spec.Maps[".rodata"].Pinning = ebpf.PinByName
	dir := testutil.BPFFS(t)
	fds := testutil.OpenFDs(t)
	_, err := sealmap.LoadCollection(spec, plan, &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: dir}})
	if !errors.Is(err, sealmap.ErrPinned) || !strings.Contains(err.Error(), "data sections cannot be pinned") {
		t.Fatalf("%v", err)
	}
	if got := testutil.OpenFDs(t); got != fds {
		t.Errorf("%d descriptors open, %d before", got, fds)
	}
}
