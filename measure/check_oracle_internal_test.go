package measure

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// The implementation of Manifest.Check before Seal and Check shared derive
// (main b5c5e62), kept here as the oracle of FuzzCheckOracle: the shared
// computation must accept exactly the manifests the old one accepted.
// Error texts are not compared, only the verdict.

func oracleDecodeHex(s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n || strings.ToLower(s) != s {
		return nil, ErrBadManifest
	}
	return b, nil
}

func oracleEncodeDigest(d *InsnDigest, e *encoder) error {
	sum, err := oracleDecodeHex(d.Digest, sha256.Size)
	if err != nil {
		return err
	}
	if d.Tag != d.Digest[:2*tagSize] {
		return ErrBadManifest
	}
	sha1Tag, err := oracleDecodeHex(d.TagSHA1, tagSize)
	if err != nil {
		return err
	}
	e.str(d.Target)
	e.bytes(sum)
	e.bytes(sha1Tag)
	return nil
}

func oracleCanonical(p *Program) ([]byte, error) {
	e := &encoder{}
	e.buf = append(e.buf, programDomain...)
	e.str(p.Name)
	e.u32(p.Type)
	e.u32(p.AttachType)
	e.u32(uint32(p.Insns))
	digests := p.Digests()
	e.u32(uint32(len(digests)))
	for i := range digests {
		if err := oracleEncodeDigest(&digests[i], e); err != nil {
			return nil, err
		}
	}
	e.u32(uint32(len(p.Maps)))
	for i := range p.Maps {
		if err := oracleEncodeMap(&p.Maps[i], e); err != nil {
			return nil, err
		}
	}
	e.u32(uint32(len(p.Unsupported)))
	for _, u := range p.Unsupported {
		e.str(u)
	}
	e.u32(uint32(len(p.Relocations)))
	for _, r := range p.Relocations {
		e.u32(uint32(r.Insn))
		e.str(r.Relocation)
	}
	if p.MapLoads != "" {
		if _, err := ParseMapLoads(p.MapLoads, len(p.Maps)); err != nil {
			return nil, err
		}
		e.str("map_loads")
		e.str(p.MapLoads)
	}
	return e.buf, nil
}

func oracleEncodeMap(m *Map, e *encoder) error {
	m.encodeDescriptor(e)
	if m.IsMapOfMaps() {
		if m.Inner == nil {
			return ErrBadManifest
		}
		e.u8(1)
		m.Inner.encodeDescriptor(e)
	} else {
		if m.Inner != nil {
			return ErrBadManifest
		}
		e.u8(0)
	}
	if !m.Sealed {
		if m.Content != nil || len(m.Params) > 0 || len(m.Slots) > 0 {
			return ErrBadManifest
		}
		e.u8(0)
		return nil
	}
	e.u8(1)
	if m.holdsObjects() {
		if m.Content != nil || len(m.Params) > 0 {
			return ErrBadManifest
		}
		e.str(AlgSlots)
		e.u32(uint32(len(m.Slots)))
		for j := range m.Slots {
			sl := &m.Slots[j]
			key, err := hex.DecodeString(sl.Key)
			if err != nil || uint32(len(key)) != m.KeySize || strings.ToLower(sl.Key) != sl.Key {
				return ErrBadManifest
			}
			if j > 0 && m.Slots[j-1].Key >= sl.Key {
				return ErrBadManifest
			}
			e.bytes(key)
			switch {
			case m.IsProgramArray() && sl.Program != "" && sl.Map == nil:
				e.u8(1)
				e.str(sl.Program)
			case m.IsMapOfMaps() && sl.Map != nil && sl.Program == "" && sl.Measurement == "":
				if sl.Map.holdsObjects() {
					return ErrBadManifest
				}
				e.u8(2)
				if err := oracleEncodeMap(sl.Map, e); err != nil {
					return err
				}
			default:
				return ErrBadManifest
			}
		}
		return nil
	}
	if len(m.Slots) > 0 {
		return ErrBadManifest
	}
	if m.Content == nil {
		return ErrBadManifest
	}
	sum, err := oracleDecodeHex(m.Content.Hash, sha256.Size)
	if err != nil {
		return err
	}
	e.str(m.Content.Algorithm)
	e.bytes(sum)
	e.u32(uint32(len(m.Params)))
	end := uint64(0)
	for _, prm := range m.Params {
		if uint64(prm.Offset) < end || prm.Size == 0 || uint64(prm.Offset)+uint64(prm.Size) > uint64(m.ValueSize) {
			return ErrBadManifest
		}
		end = uint64(prm.Offset) + uint64(prm.Size)
		e.str(prm.Name)
		e.u32(prm.Offset)
		e.u32(prm.Size)
	}
	return nil
}

func oracleSeal(m *Manifest) error {
	if m.Version != Version {
		return ErrBadManifest
	}
	sort.Slice(m.Programs, func(i, j int) bool { return m.Programs[i].Name < m.Programs[j].Name })
	e := &encoder{}
	e.buf = append(e.buf, objectDomain...)
	e.u32(uint32(len(m.Programs)))
	for i := range m.Programs {
		p := &m.Programs[i]
		if i > 0 && m.Programs[i-1].Name == p.Name {
			return ErrBadManifest
		}
		enc, err := oracleCanonical(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(enc)
		p.Measurement = hex.EncodeToString(sum[:])
		p.MeasID = p.Measurement[:2*tagSize]
		e.bytes(sum[:])
	}
	if err := encodeStructOps(e, m.StructOps, m.Programs); err != nil {
		return err
	}
	for i := range m.Programs {
		p := &m.Programs[i]
		for j := range p.Maps {
			mp := &p.Maps[j]
			for k := range mp.Slots {
				sl := &mp.Slots[k]
				if sl.Program == "" {
					continue
				}
				target := m.Program(sl.Program)
				if target == nil {
					return ErrBadManifest
				}
				sl.Measurement = target.Measurement
			}
		}
	}
	sum := sha256.Sum256(e.buf)
	m.Digest = hex.EncodeToString(sum[:])
	m.MeasID = m.Digest[:2*tagSize]
	return nil
}

func oracleCheck(m *Manifest) error {
	if len(m.Programs) == 0 && len(m.StructOps) == 0 {
		return ErrNoPrograms
	}
	cp := *m
	cp.Programs = slices.Clone(m.Programs)
	for i := range cp.Programs {
		p := &cp.Programs[i]
		p.Maps = slices.Clone(p.Maps)
		for j := range p.Maps {
			p.Maps[j].Slots = slices.Clone(p.Maps[j].Slots)
		}
	}
	if err := oracleSeal(&cp); err != nil {
		return err
	}
	for i := range cp.Programs {
		got, want := m.Programs[i], cp.Programs[i]
		if got.Name != want.Name {
			return fmt.Errorf("not sorted")
		}
		if got.Measurement != want.Measurement || got.MeasID != want.MeasID {
			return fmt.Errorf("measurement")
		}
		for j := range got.Maps {
			for k := range got.Maps[j].Slots {
				if got.Maps[j].Slots[k].Measurement != want.Maps[j].Slots[k].Measurement {
					return fmt.Errorf("slot measurement")
				}
			}
		}
	}
	if m.Digest != cp.Digest || m.MeasID != cp.MeasID {
		return fmt.Errorf("digest")
	}
	return nil
}

// oracleSeeds are sealed manifests of the test objects (plain, sealed maps,
// program arrays, maps of maps), and the same with derived fields changed.
func oracleSeeds(tb testing.TB, add func([]byte)) {
	for name, sealed := range map[string][]string{"globals": nil, "maps": nil, "subprog": nil, "tailcall": {"jmp"}, "mapinmap": {"policies", "policy"}} {
		spec, err := ebpf.LoadCollectionSpec(filepath.Join("..", "testdata", name+"_bpfel.o"))
		if err != nil {
			tb.Fatal(err)
		}
		m, err := CollectionWithOptions(spec, &Options{Sealed: sealed})
		if err != nil {
			tb.Fatal(err)
		}
		b, _ := json.Marshal(m)
		add(b)
		for _, s := range []*string{&m.Digest, &m.MeasID, &m.Programs[0].Measurement, &m.Programs[0].MeasID, &m.Programs[0].Digest, &m.Programs[0].TagSHA1} {
			old := *s
			*s = strings.ToUpper(old)
			b, _ := json.Marshal(m)
			add(b)
			*s = old[:len(old)-1]
			b, _ = json.Marshal(m)
			add(b)
			*s = old
		}
	}
	add([]byte(`{"version":2,"programs":[{"name":"b"},{"name":"a"}]}`))
	add([]byte(`{"version":2,"programs":[{"name":"p","maps":[{"type":3,"key_size":4,"sealed":true,"slots":[{"key":"00000000","program":"p"}]}]}]}`))
}

// FuzzCheckOracle: Check accepts exactly what the implementation before
// derive accepted (an accepted manifest whose derived fields the old code
// refused would be one whose signed measurement does not bind its
// contents).
func FuzzCheckOracle(f *testing.F) {
	oracleSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(compareWithOracle)
}

// compareWithOracle holds Check and Seal to the implementation before
// derive for the manifest raw decodes to.
func compareWithOracle(t *testing.T, raw []byte) {
	var m Manifest
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	got, want := m.Check(), oracleCheck(&m)
	if (got == nil) != (want == nil) {
		t.Fatalf("Check: %v; the implementation before derive: %v\n%s", got, want, raw)
	}
	// Sealed by both: the same derived fields, and then both
	// checks accept it.
	var a, b Manifest
	if json.Unmarshal(raw, &a) != nil || json.Unmarshal(raw, &b) != nil {
		t.Fatal("unmarshal twice")
	}
	errNew, errOld := a.Seal(), oracleSeal(&b)
	if (errNew == nil) != (errOld == nil) {
		t.Fatalf("Seal: %v; the implementation before derive: %v\n%s", errNew, errOld, raw)
	}
	if errNew != nil {
		return
	}
	ja, _ := json.Marshal(&a)
	jb, _ := json.Marshal(&b)
	if string(ja) != string(jb) {
		t.Fatalf("Seal wrote\n%s\nthe implementation before derive\n%s", ja, jb)
	}
	if len(a.Programs) == 0 && len(a.StructOps) == 0 {
		return
	}
	if err := a.Check(); err != nil {
		t.Fatalf("Check refuses a sealed manifest: %v\n%s", err, ja)
	}
	if err := oracleCheck(&a); err != nil {
		t.Fatalf("the implementation before derive refuses a sealed manifest: %v\n%s", err, ja)
	}
}

// TestCheckOracleMutations holds Check to the old implementation over
// every single-byte change of the sealed test manifests' JSON (the
// deterministic part of FuzzCheckOracle, run by go test).
func TestCheckOracleMutations(t *testing.T) {
	// Pure computation: the kernel VMs (QEMU's TCG, 13–35× slower) give
	// the same answer as the host, which runs it (the same skip as
	// internal/testutil.HostOnly, which this package's own tests cannot
	// import).
	if os.Getenv("BPF2GO_SIGNED_VM") != "" {
		t.Skip("kernel-independent (Check against its oracle, about 57 000 manifests): runs on the host, not in the kernel VMs [host-only]")
	}
	// Under the race detector, every 16th position (all nine
	// replacements still come round); the plain run covers every one.
	stride := 1
	if raceDetector {
		stride = 16
	}
	var seeds [][]byte
	oracleSeeds(t, func(b []byte) { seeds = append(seeds, b) })
	n := 0
	for _, seed := range seeds {
		for i := 0; i < len(seed); i += stride {
			// One replacement per position, cycling through digits,
			// hex letters, an uppercase and a non-hex letter and JSON
			// punctuation.
			for _, c := range []byte{"01afAg\"]9"[i%9]} {
				raw := slices.Clone(seed)
				raw[i] = c
				var m Manifest
				if json.Unmarshal(raw, &m) != nil {
					continue
				}
				n++
				compareWithOracle(t, raw)
			}
		}
	}
	t.Logf("%d manifests compared", n)
}
