package measure_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

func rawInsns(bo binary.ByteOrder, insns ...asm.Instruction) []byte {
	var buf bytes.Buffer
	if err := asm.Instructions(insns).Marshal(&buf, bo); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestZeroMapImmediates(t *testing.T) {
	mapFD := asm.LoadMapPtr(asm.R1, 7)
	mapValue := asm.LoadMapValue(asm.R1, 7, 12)
	plain := asm.LoadImm(asm.R1, 0x1122334455667788, asm.DWord)
	tests := []struct {
		name  string
		insns []asm.Instruction
		// zeroed lists the raw instruction indexes whose imm must be zero.
		zeroed []int
		// kept lists raw instruction indexes whose imm must be unchanged.
		kept []int
	}{
		{"map fd", []asm.Instruction{mapFD, asm.Return()}, []int{0, 1}, nil},
		{"map value", []asm.Instruction{mapValue, asm.Return()}, []int{0, 1}, nil},
		{"plain ldimm64", []asm.Instruction{plain, asm.Return()}, nil, []int{0, 1}},
		{"mixed", []asm.Instruction{plain, mapValue, asm.Mov.Imm(asm.R0, 5), asm.Return()}, []int{2, 3}, []int{0, 1, 4}},
	}
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, tt := range tests {
			t.Run(tt.name+"/"+bo.String(), func(t *testing.T) {
				orig := rawInsns(bo, tt.insns...)
				raw := bytes.Clone(orig)
				measure.ZeroMapImmediates(raw, bo)
				imm := func(b []byte, i int) []byte { return b[i*8+4 : i*8+8] }
				for _, i := range tt.zeroed {
					if !bytes.Equal(imm(raw, i), make([]byte, 4)) {
						t.Errorf("insn %d imm %x, want zero", i, imm(raw, i))
					}
				}
				for _, i := range tt.kept {
					if !bytes.Equal(imm(raw, i), imm(orig, i)) {
						t.Errorf("insn %d imm changed from %x to %x", i, imm(orig, i), imm(raw, i))
					}
				}
				for i := 0; i < len(raw); i += 8 {
					if !bytes.Equal(raw[i:i+4], orig[i:i+4]) {
						t.Errorf("insn %d: bytes outside imm changed", i/8)
					}
				}
			})
		}
	}
}

func TestCollectionDeterministic(t *testing.T) {
	for _, name := range append(measurable, "core", "kconfig") {
		a, err := measure.Collection(loadSpec(t, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := measure.Collection(loadSpec(t, name))
		if err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: two measurements differ", name)
		}
		if err := a.Check(); err != nil {
			t.Errorf("%s: fresh manifest does not check: %v", name, err)
		}
	}
}

// TestManifestCheck edits one field of a manifest read back from JSON: every
// edit must be caught by Check, because the derived digests no longer agree.
func TestManifestCheck(t *testing.T) {
	m, err := measure.Collection(loadSpec(t, "globals"))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(m *measure.Manifest)
	}{
		{"digest", func(m *measure.Manifest) { m.Programs[0].Digest = strings.Repeat("0", 64) }},
		{"tag not prefix", func(m *measure.Manifest) { m.Programs[0].Tag = "0000000000000000" }},
		{"tag_sha1", func(m *measure.Manifest) { m.Programs[0].TagSHA1 = "0000000000000000" }},
		{"uppercase hex", func(m *measure.Manifest) { m.Programs[0].TagSHA1 = strings.ToUpper(m.Programs[0].TagSHA1) }},
		{"type", func(m *measure.Manifest) { m.Programs[0].Type++ }},
		{"name", func(m *measure.Manifest) { m.Programs[0].Name += "x" }},
		{"max_entries", func(m *measure.Manifest) { m.Programs[0].Maps[0].MaxEntries++ }},
		{"flags", func(m *measure.Manifest) { m.Programs[0].Maps[0].Flags |= 1 }},
		{"unseal", func(m *measure.Manifest) { m.Programs[0].Maps[1].Sealed = false }},
		{"content hash", func(m *measure.Manifest) { m.Programs[0].Maps[1].Content.Hash = strings.Repeat("a", 64) }},
		{"drop map", func(m *measure.Manifest) { m.Programs[0].Maps = m.Programs[0].Maps[1:] }},
		{"add alternative", func(m *measure.Manifest) {
			m.Programs[0].Alternatives = append(m.Programs[0].Alternatives, m.Programs[0].InsnDigest)
		}},
		{"object digest", func(m *measure.Manifest) { m.Digest = strings.Repeat("1", 64) }},
		{"object digest uppercase", func(m *measure.Manifest) { m.Digest = strings.ToUpper(m.Digest) }},
		{"object meas_id", func(m *measure.Manifest) { m.MeasID = m.Digest[2:18] }},
		{"program measurement", func(m *measure.Manifest) { m.Programs[0].Measurement = m.Digest }},
		{"program measurement uppercase", func(m *measure.Manifest) {
			m.Programs[0].Measurement = strings.ToUpper(m.Programs[0].Measurement)
		}},
		{"program meas_id", func(m *measure.Manifest) { m.Programs[0].MeasID = m.Programs[0].Measurement[2:18] }},
		{"program twice", func(m *measure.Manifest) { m.Programs = append(m.Programs, m.Programs[0]) }},
		{"digest too long", func(m *measure.Manifest) { m.Programs[0].Digest += "00" }},
		{"content hash not hex", func(m *measure.Manifest) { m.Programs[0].Maps[1].Content.Hash = strings.Repeat("g", 64) }},
		{"version", func(m *measure.Manifest) { m.Version = 1 }},
		{"no programs", func(m *measure.Manifest) { m.Programs = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cp measure.Manifest
			if err := json.Unmarshal(blob, &cp); err != nil {
				t.Fatal(err)
			}
			if err := cp.Check(); err != nil {
				t.Fatalf("unedited manifest: %v", err)
			}
			tt.edit(&cp)
			before, _ := json.Marshal(&cp)
			err := cp.Check()
			if !errors.Is(err, measure.ErrBadManifest) {
				t.Fatalf("Check() = %v, want ErrBadManifest", err)
			}
			if after, _ := json.Marshal(&cp); !bytes.Equal(before, after) {
				t.Errorf("Check modified the manifest")
			}
			t.Log(err)
		})
	}
}

// TestTestdataReproducible rebuilds the committed objects with build.sh and
// compares them byte for byte.
func TestTestdataReproducible(t *testing.T) {
	for _, tool := range []string{"clang-19", "llvm-strip-19"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed: .ci/run must install clang-19 and llvm-19", tool)
			}
			t.Skipf("%s not installed (apt-get install clang-19 llvm-19)", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("bash", testutil.Testdata("build.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	built, err := filepath.Glob(filepath.Join(out, "*.o"))
	if err != nil || len(built) == 0 {
		t.Fatalf("build.sh built nothing: %v", err)
	}
	committed, _ := filepath.Glob(testutil.Testdata("*.o"))
	if len(committed) != len(built) {
		t.Errorf("build.sh builds %d objects, %d are committed", len(built), len(committed))
	}
	for _, b := range built {
		want, err := os.ReadFile(testutil.Testdata(filepath.Base(b)))
		if err != nil {
			t.Errorf("%s is built but not committed", filepath.Base(b))
			continue
		}
		got, _ := os.ReadFile(b)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: rebuilt object differs from the committed one (run testdata/build.sh and commit)", filepath.Base(b))
		}
	}
}

// TestUnbound: what the signature does not bind in a program's closure,
// from the manifest alone: an unsealed program array (the program and the
// programs its sealed slots reach), a device or CPU map whose values can
// name a program, referenced or held by a map of maps, a program with
// maps whose map loads were not measured; sealed program arrays and plain
// maps bind everything.
func TestUnbound(t *testing.T) {
	prog := func(name string, maps ...measure.Map) measure.Program {
		var loads []measure.MapLoad
		for i := range maps {
			loads = append(loads, measure.MapLoad{Map: i})
		}
		return measure.Program{Name: name, Maps: maps, MapLoads: measure.FormatMapLoads(loads)}
	}
	open := measure.Map{MapDescriptor: measure.MapDescriptor{Name: "open", Type: uint32(ebpf.ProgramArray), KeySize: 4, ValueSize: 4, MaxEntries: 2}}
	sealed := measure.Map{MapDescriptor: measure.MapDescriptor{Name: "jmp", Type: uint32(ebpf.ProgramArray), KeySize: 4, ValueSize: 4, MaxEntries: 2}, Sealed: true,
		Slots: []measure.Slot{{Key: "00000000", Program: "target"}}}
	devmap := measure.Map{MapDescriptor: measure.MapDescriptor{Name: "tx", Type: uint32(ebpf.DevMap), KeySize: 4, ValueSize: 8, MaxEntries: 4}}
	oldDevmap := measure.Map{MapDescriptor: measure.MapDescriptor{Name: "tx", Type: uint32(ebpf.DevMap), KeySize: 4, ValueSize: 4, MaxEntries: 4}}
	inner := devmap
	outer := measure.Map{MapDescriptor: measure.MapDescriptor{Name: "ports", Type: uint32(ebpf.ArrayOfMaps), KeySize: 4, ValueSize: 4, MaxEntries: 1}, Inner: &inner}
	counts := measure.Map{MapDescriptor: measure.MapDescriptor{Name: "counts", Type: uint32(ebpf.Array), KeySize: 4, ValueSize: 8, MaxEntries: 4}}
	m := &measure.Manifest{Programs: []measure.Program{
		prog("entry", sealed), prog("target", open), prog("plain", counts, oldDevmap), prog("redirect", devmap), prog("inner", outer),
		{Name: "old", Maps: []measure.Map{counts}},
	}}
	tests := []struct {
		prog string
		want []string
	}{
		{"entry", []string{"program target: maps[0](open): tail-call targets not bound"}},
		{"target", []string{"program target: maps[0](open): tail-call targets not bound"}},
		{"plain", nil},
		{"redirect", []string{"programs attached to its entries"}},
		{"inner", []string{"programs attached to the entries of its inner maps"}},
		// A manifest from before map loads were measured.
		{"old", []string{"which map each instruction loads is not in the signed measurement"}},
	}
	for _, tt := range tests {
		got := m.Unbound(m.Program(tt.prog), nil)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %q, want %q", tt.prog, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%s: %q does not say %q", tt.prog, got[i], tt.want[i])
			}
		}
	}
}

// TestManifestCheckSlots: the slots of sealed program arrays and maps of
// maps and the inner-map templates are part of the signed encoding, and a
// slot's measurement must be the measurement of the program it names.
func TestManifestCheckSlots(t *testing.T) {
	tail, err := measure.CollectionWithOptions(loadSpec(t, "tailcall"), &measure.Options{Sealed: []string{"jmp"}})
	if err != nil {
		t.Fatal(err)
	}
	mim, err := measure.CollectionWithOptions(loadSpec(t, "mapinmap"), &measure.Options{Sealed: []string{"policies", "policy"}})
	if err != nil {
		t.Fatal(err)
	}
	jmp := func(m *measure.Manifest) *measure.Map { return &m.Program("tail_entry").Maps[1] }
	outer := func(m *measure.Manifest) *measure.Map { return &m.Program("mim_filter").Maps[0] }
	tests := []struct {
		name string
		m    *measure.Manifest
		edit func(m *measure.Manifest)
	}{
		{"slot program", tail, func(m *measure.Manifest) { jmp(m).Slots[0].Program = "tail_b" }},
		{"programs unsorted", tail, func(m *measure.Manifest) { m.Programs[0], m.Programs[1] = m.Programs[1], m.Programs[0] }},
		{"slot measurement", tail, func(m *measure.Manifest) { jmp(m).Slots[0].Measurement = strings.Repeat("0", 64) }},
		{"slot naming no program", tail, func(m *measure.Manifest) { jmp(m).Slots[0].Program = "nowhere" }},
		{"slot dropped", tail, func(m *measure.Manifest) { jmp(m).Slots = jmp(m).Slots[1:] }},
		{"slots unsorted", tail, func(m *measure.Manifest) { s := jmp(m).Slots; s[0], s[1] = s[1], s[0] }},
		{"slot key size", tail, func(m *measure.Manifest) { jmp(m).Slots[0].Key = "00" }},
		{"slot key uppercase", tail, func(m *measure.Manifest) { jmp(m).Slots[0].Key = strings.ToUpper(jmp(m).Slots[0].Key) + "A" }},
		{"slot key not hex", tail, func(m *measure.Manifest) { jmp(m).Slots[0].Key = "0000000g" }},
		{"program array with a content hash", tail, func(m *measure.Manifest) {
			jmp(m).Content = &measure.Content{Algorithm: measure.AlgArray, Hash: strings.Repeat("0", 64)}
		}},
		{"program array unsealed with slots", tail, func(m *measure.Manifest) { jmp(m).Sealed = false }},
		{"inner map content", mim, func(m *measure.Manifest) { outer(m).Slots[0].Map.Content.Hash = strings.Repeat("0", 64) }},
		{"inner map in a program array slot", mim, func(m *measure.Manifest) { outer(m).Slots[0].Program = "mim_filter" }},
		{"inner template", mim, func(m *measure.Manifest) { outer(m).Inner.MaxEntries++ }},
		{"no inner template", mim, func(m *measure.Manifest) { outer(m).Inner = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob, _ := json.Marshal(tt.m)
			var cp measure.Manifest
			if err := json.Unmarshal(blob, &cp); err != nil {
				t.Fatal(err)
			}
			if err := cp.Check(); err != nil {
				t.Fatalf("unedited manifest: %v", err)
			}
			tt.edit(&cp)
			before, _ := json.Marshal(&cp)
			if err := cp.Check(); !errors.Is(err, measure.ErrBadManifest) {
				t.Fatalf("Check() = %v, want ErrBadManifest", err)
			}
			if after, _ := json.Marshal(&cp); !bytes.Equal(before, after) {
				t.Errorf("Check modified the manifest")
			}
		})
	}
}
