package measure

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// MismatchError is returned by [Verify]. It wraps [ErrMismatch].
type MismatchError struct {
	Program    string
	Mismatches []Mismatch
}

// Error lists every mismatch of the program.
func (e *MismatchError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = m.String()
	}
	return fmt.Sprintf("program %s: %s", e.Program, strings.Join(parts, "; "))
}

// Unwrap makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Verify compares like [Compare] and returns a *[MismatchError] when they
// differ.
func Verify(expected *Program, found *KernelProgram) error {
	if ms, _ := Compare(expected, found); len(ms) > 0 {
		return &MismatchError{Program: expected.Name, Mismatches: ms}
	}
	return nil
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
func Compare(expected *Program, found *KernelProgram) ([]Mismatch, *InsnDigest) {
	var ms []Mismatch
	add := func(field string, want, got any) {
		ms = append(ms, Mismatch{field, fmt.Sprint(want), fmt.Sprint(got)})
	}
	for _, u := range expected.Unsupported {
		add("unsupported", "a program measurement v1 can predict", u)
	}
	if want := KernelName(expected.Name); found.Name != want {
		add("name", strconv.Quote(want), strconv.Quote(found.Name))
	}
	if expected.Type != found.Type {
		add("type", expected.Type, found.Type)
	}

	var matched *InsnDigest
	var tags []string
	digests := expected.Digests()
	for i := range digests {
		d := &digests[i]
		tag := d.KernelTag(found.TagAlgorithm)
		tags = append(tags, tag)
		if tag == found.Tag && matched == nil {
			matched = d
		}
	}
	if matched == nil {
		add("tag("+found.TagAlgorithm+")", strings.Join(tags, " or "), found.Tag)
	}

	if len(expected.Maps) != len(found.Maps) {
		add("maps", fmt.Sprintf("%d maps (%s)", len(expected.Maps), expectedMapNames(expected.Maps)),
			fmt.Sprintf("%d maps (%s)", len(found.Maps), kernelMapNames(found.Maps)))
	}
	for i := 0; i < min(len(expected.Maps), len(found.Maps)); i++ {
		ms = append(ms, compareMap(i, &expected.Maps[i], &found.Maps[i])...)
	}
	return ms, matched
}

func compareMap(i int, want *Map, got *KernelMap) []Mismatch {
	var ms []Mismatch
	prefix := fmt.Sprintf("maps[%d](%s).", i, want.Name)
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
	if !want.Sealed {
		return ms
	}
	if !got.Frozen {
		add("frozen", true, false)
		return ms
	}
	if got.RawFlags&flagRdonlyProg == 0 {
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
	slices.SortFunc(ms, func(a, b Mismatch) int { return strings.Compare(a.Field, b.Field) })
	return ms
}
