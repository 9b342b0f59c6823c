package measure

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Mismatch is one field where the kernel's measurement differs from the
// expected one.
type Mismatch struct {
	// Field names the field, e.g. "tag" or "maps[1](.rodata).content.hash".
	Field    string `json:"field"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
}

// String formats the mismatch as "field: expected X, found Y".
func (m Mismatch) String() string {
	return fmt.Sprintf("%s: expected %s, found %s", m.Field, m.Expected, m.Found)
}

// Compare matches a kernel measurement against an expected one and returns
// every differing field, and the acceptable instruction digest the kernel's
// tag matched (nil if none did).
//
// The kernel tag is compared with the acceptable digests' tags of the
// algorithm the kernel uses (found.TagAlgorithm). Maps are compared in the
// kernel's order. A sealed map must be frozen, read-only for programs, and
// hold the expected contents. The expected attach type is not reported by
// the kernel and is not compared here.
//
// Without a manifest, programs reached through program-array slots cannot
// be compared and are mismatches; use [Manifest.Compare].
func Compare(expected *Program, found *KernelProgram) ([]Mismatch, *InsnDigest) {
	return (*Manifest)(nil).Compare(expected, found)
}

// Compare is [Compare] over the program's closure: the slots of its sealed
// program arrays and maps of maps, the programs those slots hold (found's
// TailCalls, each compared with the program of m its slot names), and the
// tracing and extension links that target any of them (each one a
// mismatch).
func (m *Manifest) Compare(expected *Program, found *KernelProgram) ([]Mismatch, *InsnDigest) {
	c := &comparer{m: m, byID: map[uint32]*KernelProgram{found.ID: found}, as: map[uint32]string{found.ID: expected.Name}}
	for i := range found.TailCalls {
		tc := &found.TailCalls[i]
		c.byID[tc.ID] = tc
		c.as[tc.ID] = tc.MeasuredAs
	}
	ms, matched := c.program(expected, found)
	for i := range found.TailCalls {
		tc := &found.TailCalls[i]
		prefix := fmt.Sprintf("tail_calls[id %d](%s).", tc.ID, tc.Name)
		var want *Program
		if m != nil && tc.MeasuredAs != "" {
			want = m.Program(tc.MeasuredAs)
		}
		if want == nil {
			ms = append(ms, Mismatch{prefix + "program", "a program of the signed object in a signed slot", fmt.Sprintf("program id %d %q tag %s", tc.ID, tc.Name, tc.Tag)})
			continue
		}
		sub, _ := c.program(want, tc)
		for _, s := range sub {
			s.Field = prefix + s.Field
			ms = append(ms, s)
		}
	}
	return ms, matched
}

// comparer compares the programs of one closure. byID holds every program
// of the closure by kernel id; as says which expected program each was
// measured against.
type comparer struct {
	m    *Manifest
	byID map[uint32]*KernelProgram
	as   map[uint32]string
}

func (c *comparer) program(expected *Program, found *KernelProgram) ([]Mismatch, *InsnDigest) {
	var ms []Mismatch
	add := func(field string, want, got any) {
		ms = append(ms, Mismatch{field, fmt.Sprint(want), fmt.Sprint(got)})
	}
	for _, u := range expected.Unsupported {
		add("unsupported", "a program measurement v2 can predict", u)
	}
	if want := KernelName(expected.Name); found.Name != want {
		add("name", strconv.Quote(want), strconv.Quote(found.Name))
	}
	if expected.Type != found.Type {
		add("type", expected.Type, found.Type)
	}

	var matched *InsnDigest
	digests := expected.Digests()
	for i := range digests {
		if digests[i].KernelTag(found.TagAlgorithm) == found.Tag {
			matched = &digests[i]
			break
		}
	}
	if matched == nil {
		tags := make([]string, len(digests))
		for i := range digests {
			tags[i] = digests[i].KernelTag(found.TagAlgorithm)
		}
		add("tag("+found.TagAlgorithm+")", strings.Join(tags, " or "), found.Tag)
	}
	if found.Digest != "" && matched != nil {
		// The full-digest backend: all 256 bits must equal an acceptable
		// digest, not only the 64 of the tag (a tag mismatch already says
		// the instructions differ).
		full := false
		for i := range digests {
			if digests[i].Digest == found.Digest {
				full, matched = true, &digests[i]
			}
		}
		if !full {
			matched = nil
			want := make([]string, len(digests))
			for i := range digests {
				want[i] = digests[i].Digest
			}
			add("digest(sha256)", strings.Join(want, " or "), found.Digest)
		}
	}

	if len(expected.Maps) != len(found.Maps) {
		add("maps", fmt.Sprintf("%d maps (%s)", len(expected.Maps), expectedMapNames(expected.Maps)),
			fmt.Sprintf("%d maps (%s)", len(found.Maps), kernelMapNames(found.Maps)))
	}
	for i := 0; i < min(len(expected.Maps), len(found.Maps)); i++ {
		ms = append(ms, c.compareMap(fmt.Sprintf("maps[%d](%s).", i, expected.Maps[i].Name), &expected.Maps[i], &found.Maps[i])...)
	}
	if expected.MapLoads != "" && found.MapLoadsError == "" {
		want, errW := ParseMapLoads(expected.MapLoads, len(expected.Maps))
		got, errG := ParseMapLoads(found.MapLoads, len(found.Maps))
		if errW != nil || errG != nil || !loadsSubsequence(got, want) {
			add("map_loads", "the signed map loads in order, some possibly removed as dead code: "+expected.MapLoads, found.MapLoads)
		}
	}
	for _, l := range found.Links {
		ms = append(ms, Mismatch{fmt.Sprintf("links[id %d]", l.ID), "no tracing or extension program attached to this program", l.String()})
	}
	return ms, matched
}

// loadsUnbound says why which map each instruction of found loads could
// not be checked against expected.
func loadsUnbound(expected *Program, found *KernelProgram) []string {
	switch {
	case len(expected.Maps) == 0:
		return nil
	case expected.MapLoads == "":
		return []string{fmt.Sprintf("program %s: which map each instruction loads is not in the signed measurement (a manifest from an older generator): generate and sign again", expected.Name)}
	case found == nil:
		return nil
	case found.MapLoadsError != "":
		return []string{fmt.Sprintf("program %s: %s", expected.Name, found.MapLoadsError)}
	case found.MapLoads == "":
		return []string{fmt.Sprintf("program %s: the kernel's translated instructions load no map though the signed ones do (%s): constant blinding (net.core.bpf_jit_harden=2) hides them, or the verifier removed every one as dead code; which map each instruction loads cannot be checked", expected.Name, expected.MapLoads)}
	}
	return nil
}

func (c *comparer) compareMap(prefix string, want *Map, got *KernelMap) []Mismatch {
	var ms []Mismatch
	add := func(field string, w, g any) {
		ms = append(ms, Mismatch{prefix + field, fmt.Sprint(w), fmt.Sprint(g)})
	}
	if want.Name != got.Name {
		add("name", strconv.Quote(want.Name), strconv.Quote(got.Name))
	}
	if want.Type != got.Type {
		add("type", want.Type, got.Type)
	}
	if want.KeySize != got.KeySize {
		add("key_size", want.KeySize, got.KeySize)
	}
	if want.ValueSize != got.ValueSize {
		add("value_size", want.ValueSize, got.ValueSize)
	}
	if want.MaxEntries != got.MaxEntries {
		add("max_entries", want.MaxEntries, got.MaxEntries)
	}
	if want.Flags != got.Flags {
		add("flags", fmt.Sprintf("%#x", want.Flags), fmt.Sprintf("%#x", got.Flags))
	}
	if want.MapExtra != got.MapExtra {
		add("map_extra", want.MapExtra, got.MapExtra)
	}
	if want.Inner != nil {
		ms = append(ms, innerTemplate(prefix, want.Inner, got)...)
	}
	if !want.Sealed {
		return ms
	}
	if !got.Frozen {
		add("frozen", true, false)
		return ms
	}
	if want.holdsObjects() {
		return append(ms, c.compareSlots(prefix, want, got)...)
	}
	if got.RawFlags&unix.BPF_F_RDONLY_PROG == 0 {
		add("flags.BPF_F_RDONLY_PROG", "set (sealed maps are read-only for programs)", "clear")
	}
	if len(want.Params) > 0 && len(got.Params) != len(want.Params) {
		add("params", fmt.Sprintf("%d parameters read back", len(want.Params)), fmt.Sprintf("%d (measure with KernelOptions.Expected set)", len(got.Params)))
	}
	switch {
	case got.Content == nil:
		add("content", want.Content.Algorithm+" "+want.Content.Hash, "no content hash: "+got.ContentError)
	case got.Content.Algorithm != want.Content.Algorithm:
		add("content.algorithm", want.Content.Algorithm, got.Content.Algorithm)
	case got.Content.Hash != want.Content.Hash:
		add("content.hash", want.Content.Hash, got.Content.Hash+" ("+got.Content.Source+")")
	}
	if want.IsKconfig() {
		ms = append(ms, checkKconfig(prefix, want, got)...)
	}
	return ms
}

// innerTemplate checks every inner map found in a map of maps against the
// signed inner-map template: the kernel accepts only inner maps that
// match the template the outer map was created with, so the maps present
// witness it (an empty outer map shows nothing).
func innerTemplate(prefix string, tmpl *Map, got *KernelMap) []Mismatch {
	var ms []Mismatch
	for _, sl := range got.Slots {
		in := sl.Map
		if in == nil {
			continue
		}
		f := fmt.Sprintf("%sslots[%s](map id %d %s).inner_template", prefix, sl.Key, sl.MapID, in.Name)
		want := fmt.Sprintf("type %d key %d value %d flags %#x", tmpl.Type, tmpl.KeySize, tmpl.ValueSize, tmpl.Flags)
		found := fmt.Sprintf("type %d key %d value %d flags %#x", in.Type, in.KeySize, in.ValueSize, in.Flags)
		if want != found {
			ms = append(ms, Mismatch{f, want, found})
		}
		// BPF_F_INNER_MAP lets inner maps differ in max_entries.
		if tmpl.Flags&unix.BPF_F_INNER_MAP == 0 && tmpl.MaxEntries != in.MaxEntries {
			ms = append(ms, Mismatch{f + ".max_entries", fmt.Sprint(tmpl.MaxEntries), fmt.Sprint(in.MaxEntries)})
		}
	}
	return ms
}

// compareSlots compares the slots of a sealed program array or map of
// maps, key by key: the same keys filled, each program-array slot holding
// the program of the closure measured as the one the signed slot names,
// each map-of-maps slot holding a map with the signed descriptor (and,
// when sealed, contents).
func (c *comparer) compareSlots(prefix string, want *Map, got *KernelMap) []Mismatch {
	var ms []Mismatch
	if got.SlotsError != "" {
		return []Mismatch{{prefix + "slots", fmt.Sprintf("%d slots read through the kernel", len(want.Slots)), "unreadable: " + got.SlotsError}}
	}
	found := map[string]KernelSlot{}
	for _, sl := range got.Slots {
		found[sl.Key] = sl
	}
	for j := range want.Slots {
		ws := &want.Slots[j]
		field := fmt.Sprintf("%sslots[%s]", prefix, ws.Key)
		gs, ok := found[ws.Key]
		delete(found, ws.Key)
		switch {
		case !ok:
			ms = append(ms, Mismatch{field, describeSlot(ws), "empty"})
		case ws.Program != "":
			kp := c.byID[gs.ProgID]
			switch {
			case kp == nil:
				ms = append(ms, Mismatch{field, describeSlot(ws), fmt.Sprintf("program id %d, not measured", gs.ProgID)})
			case c.as[gs.ProgID] != ws.Program:
				ms = append(ms, Mismatch{field, describeSlot(ws), fmt.Sprintf("program id %d %q, which the closure binds to program %q", gs.ProgID, kp.Name, c.as[gs.ProgID])})
			}
		case ws.Map != nil:
			if gs.Map == nil {
				ms = append(ms, Mismatch{field, describeSlot(ws), fmt.Sprintf("map id %d, not measured", gs.MapID)})
				continue
			}
			ms = append(ms, c.compareMap(fmt.Sprintf("%s(map id %d).", field, gs.MapID), ws.Map, gs.Map)...)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(found)) {
		gs := found[key]
		what := fmt.Sprintf("map id %d", gs.MapID)
		if gs.ProgID != 0 || want.IsProgramArray() {
			what = fmt.Sprintf("program id %d", gs.ProgID)
			if kp := c.byID[gs.ProgID]; kp != nil {
				what += fmt.Sprintf(" %q tag %s", kp.Name, kp.Tag)
			}
		}
		ms = append(ms, Mismatch{fmt.Sprintf("%sslots[%s]", prefix, key), "empty", what})
	}
	return ms
}

func describeSlot(s *Slot) string {
	if s.Program != "" {
		return fmt.Sprintf("program %s (measurement %s)", s.Program, s.Measurement)
	}
	if s.Map != nil {
		return "map " + s.Map.Name
	}
	return "empty"
}

// Unbound lists what the signature does not bind in a program's closure,
// though nothing differs from it: program arrays that are not sealed
// (their slots are code anyone holding them can change), device and CPU
// maps whose values can name a program (referenced, or the inner maps of
// a map of maps), and links that could not be enumerated. A program with such entries is at best
// PARTIAL. found may be nil.
func (m *Manifest) Unbound(expected *Program, found *KernelProgram) []string {
	var out []string
	progs := []*Program{expected}
	seen := map[string]bool{expected.Name: true}
	for k := 0; k < len(progs); k++ {
		p := progs[k]
		for i := range p.Maps {
			mp := &p.Maps[i]
			if redirectsToPrograms(mp) {
				out = append(out, fmt.Sprintf("program %s: maps[%d](%s): programs attached to its entries (run on redirect) not bound: a %s whose values can name a program", p.Name, i, mp.Name, ebpf.MapType(mp.Type)))
			}
			if mp.Inner != nil && redirectsToPrograms(mp.Inner) {
				// The program redirects through the inner map it looks
				// up, as through one it references.
				out = append(out, fmt.Sprintf("program %s: maps[%d](%s): programs attached to the entries of its inner maps (run on redirect) not bound: inner maps are %ss whose values can name a program", p.Name, i, mp.Name, ebpf.MapType(mp.Inner.Type)))
			}
			if mp.IsProgramArray() && !mp.Sealed {
				s := fmt.Sprintf("program %s: maps[%d](%s): tail-call targets not bound (unsealed program array)", p.Name, i, mp.Name)
				if found != nil && p == expected && i < len(found.Maps) {
					var held []string
					for _, sl := range found.Maps[i].Slots {
						held = append(held, fmt.Sprintf("slot %s: program id %d", sl.Key, sl.ProgID))
					}
					if len(held) > 0 {
						s += "; holds " + strings.Join(held, ", ")
					}
				}
				out = append(out, s)
			}
			for _, sl := range mp.Slots {
				if sl.Program != "" && !seen[sl.Program] && m != nil {
					if t := m.Program(sl.Program); t != nil {
						seen[sl.Program] = true
						progs = append(progs, t)
					}
				}
			}
		}
	}
	out = append(out, loadsUnbound(expected, found)...)
	if found != nil {
		for i := range found.TailCalls {
			tc := &found.TailCalls[i]
			if want := m.programOrNil(tc.MeasuredAs); want != nil {
				out = append(out, loadsUnbound(want, tc)...)
			}
		}
	}
	for _, p := range progs[1:] {
		if found == nil || !measuredIn(found, p.Name) {
			out = append(out, loadsUnbound(p, nil)...)
		}
	}
	if found != nil && found.LinksError != "" {
		out = append(out, "links: "+found.LinksError)
	}
	return out
}

// programOrNil is [Manifest.Program] on a manifest that may be nil.
func (m *Manifest) programOrNil(name string) *Program {
	if m == nil || name == "" {
		return nil
	}
	return m.Program(name)
}

// measuredIn reports whether one of found's tail calls was measured as the
// program called name.
func measuredIn(found *KernelProgram, name string) bool {
	for i := range found.TailCalls {
		if found.TailCalls[i].MeasuredAs == name {
			return true
		}
	}
	return false
}

// redirectsToPrograms reports whether a map's values can name a program
// that runs when packets are redirected through it: device maps and CPU
// maps whose values are large enough for struct bpf_devmap_val or
// struct bpf_cpumap_val with a program fd (Linux 5.8+, 5.9+).
func redirectsToPrograms(m *Map) bool {
	switch ebpf.MapType(m.Type) {
	case ebpf.DevMap, ebpf.DevMapHash, ebpf.CPUMap:
		return m.ValueSize >= 8
	}
	return false
}

func expectedMapNames(maps []Map) string {
	names := make([]string, len(maps))
	for i, m := range maps {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

func kernelMapNames(maps []KernelMap) string {
	names := make([]string, len(maps))
	for i, m := range maps {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// CheckParams compares the parameter values found in the kernel with the
// values the loader set (by parameter name, raw bytes) and returns every
// difference, including parameters set but not found and found but not set.
func CheckParams(found *KernelProgram, want map[string][]byte) []Mismatch {
	var ms []Mismatch
	seen := map[string]bool{}
	for _, m := range found.Maps {
		if m.Name == KernelName(KconfigMap) {
			// Facts of the kernel, not set by the loader: Compare checks
			// them.
			continue
		}
		for _, p := range m.Params {
			seen[p.Name] = true
			w, ok := want[p.Name]
			if !ok {
				ms = append(ms, Mismatch{"params." + p.Name, "a value set by the loader", p.Value})
				continue
			}
			if hex.EncodeToString(w) != p.Value {
				ms = append(ms, Mismatch{"params." + p.Name, hex.EncodeToString(w), p.Value})
			}
		}
	}
	for name, w := range want {
		if !seen[name] {
			ms = append(ms, Mismatch{"params." + name, hex.EncodeToString(w), "no such parameter in the kernel's maps"})
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Field < ms[j].Field }) // see sortNote in manifest.go
	return ms
}
