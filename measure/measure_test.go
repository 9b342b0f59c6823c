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
			err := cp.Check()
			if !errors.Is(err, measure.ErrBadManifest) {
				t.Fatalf("Check() = %v, want ErrBadManifest", err)
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
