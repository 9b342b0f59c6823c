package sealmap

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/include"
	"github.com/bpf2go-signed/bpf2go-signed/internal/jsonread"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// FlagRdonlyProg is BPF_F_RDONLY_PROG: programs may only read the map.
const FlagRdonlyProg = unix.BPF_F_RDONLY_PROG

// ErrCannotSeal is wrapped by every error that refuses to seal a map.
var ErrCannotSeal = errors.New("cannot seal")

// Config is what a developer declares, as given to the generator.
type Config struct {
	// Seal names maps to seal (-seal NAME), in addition to maps carrying
	// the __sealed annotation and to .rodata*, which always are.
	Seal []string
	// Contents maps a sealed map's name to its contents file
	// (-seal-contents NAME=FILE), in the format of [ParseContents].
	// Typed contents need the build side's encoder (sealmap/build).
	Contents map[string][]byte
	// Params names read-only globals set at run time (-param VAR).
	Params []string
	// UnsealedProgArrays names program arrays that programs use and that
	// stay unsealed (-unsealed-prog-array NAME): filled at run time by
	// whoever holds them, so the signature does not bind their slots and
	// the verdict of every program that reaches them is at best PARTIAL.
	UnsealedProgArrays []string
}

// Plan is the resolved sealing of one object.
type Plan struct {
	// Sealed are the declared sealed maps, sorted (.rodata* and .kconfig,
	// which cilium/ebpf seals itself, are not listed).
	Sealed []string
	// Params are the run-time parameters, sorted.
	Params []string
	// Contents are the build-time contents of sealed maps given by a
	// contents file, by map name.
	Contents map[string][]measure.Entry
	// UnsealedProgArrays are the program arrays accepted unsealed, sorted.
	UnsealedProgArrays []string
}

// MeasureOptions returns the measurement options that match the plan.
func (p *Plan) MeasureOptions() *measure.Options {
	return &measure.Options{Sealed: p.Sealed, Params: p.Params}
}

// ErrUnsealedProgArray is wrapped when a program uses a program array that
// is neither initialised in C nor sealed nor accepted unsealed.
var ErrUnsealedProgArray = errors.New("unsealed program array")

// ErrUnreachableSealed is wrapped when a sealed map is used by no program,
// directly or through a map of maps.
var ErrUnreachableSealed = errors.New("sealed map unreachable")

// Resolve checks a developer's declarations against an object and returns
// the plan. Every refusal names the map or variable and says why: a name
// that is not a map or not a read-only global, a map type that cannot be
// frozen or hashed, a value holding a spin lock, timer or kernel pointer, a
// data section, contents that do not fit the map, a sealed map no program
// can reach, a program array left open without -unsealed-prog-array.
//
// Program arrays initialised in C (.values) are sealed: cilium/ebpf fills
// them with the object's programs and the loader freezes them. A map of
// maps is sealed when declared so or when its .values name a sealed map.
//
// enc writes typed contents (see [ParseContents]): the build side
// (sealmap/build.Resolve) passes its BTF-shaped encoder, [DecodePlan] none.
func Resolve(spec *ebpf.CollectionSpec, cfg Config, enc ValueEncoder) (*Plan, error) {
	sealed := map[string]bool{}
	for name, ms := range spec.Maps {
		if slices.Contains(ms.Tags, include.SealedTag) {
			sealed[name] = true
		}
		if ms.Type == ebpf.ProgramArray && len(ms.Contents) > 0 {
			sealed[name] = true
		}
	}
	for _, name := range cfg.Seal {
		if spec.Maps[name] == nil {
			return nil, fmt.Errorf("%w %q: the object has no map of that name (maps: %s)", ErrCannotSeal, name, mapNames(spec))
		}
		sealed[name] = true
	}
	for name, ms := range spec.Maps {
		if ms.Type != ebpf.ArrayOfMaps && ms.Type != ebpf.HashOfMaps {
			continue
		}
		for _, kv := range ms.Contents {
			if inner, ok := kv.Value.(string); ok && (sealed[inner] || measure.IsAlwaysSealed(inner)) {
				sealed[name] = true
			}
		}
	}
	for name := range sealed {
		if measure.IsAlwaysSealed(name) {
			delete(sealed, name)
			continue
		}
		if err := Sealable(spec.Maps[name]); err != nil {
			return nil, err
		}
	}
	if err := reachable(spec, sealed); err != nil {
		return nil, err
	}

	plan := &Plan{Sealed: slices.Sorted(maps.Keys(sealed)), Contents: map[string][]measure.Entry{}}
	used := usedMaps(spec)
	for _, name := range cfg.UnsealedProgArrays {
		ms := spec.Maps[name]
		switch {
		case ms == nil:
			return nil, fmt.Errorf("-unsealed-prog-array %q: the object has no map of that name (maps: %s)", name, mapNames(spec))
		case ms.Type != ebpf.ProgramArray:
			return nil, fmt.Errorf("-unsealed-prog-array %s: a %s map, not a program array", name, ms.Type)
		case sealed[name]:
			return nil, fmt.Errorf("-unsealed-prog-array %s: the program array is sealed (initialised in C or declared sealed); remove the flag", name)
		case slices.Contains(plan.UnsealedProgArrays, name):
			return nil, fmt.Errorf("-unsealed-prog-array %s given twice", name)
		}
		plan.UnsealedProgArrays = append(plan.UnsealedProgArrays, name)
	}
	slices.Sort(plan.UnsealedProgArrays)
	for _, name := range slices.Sorted(maps.Keys(spec.Maps)) {
		ms := spec.Maps[name]
		if ms.Type != ebpf.ProgramArray || sealed[name] || !used[name] || slices.Contains(plan.UnsealedProgArrays, name) {
			continue
		}
		return nil, fmt.Errorf("%w %s: programs tail-call through it, and its slots (code) would be filled at run time by whoever holds it, unsigned; "+
			"initialise it in C (.values = { [0] = &prog, ... }) to have it filled with this object's programs and frozen, seal it empty with -seal %s, "+
			"or accept unbound tail calls with -unsealed-prog-array %s (the verdict is then at best PARTIAL)", ErrUnsealedProgArray, name, name, name)
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Contents)) {
		ms := spec.Maps[name]
		switch {
		case ms == nil:
			return nil, fmt.Errorf("contents for %q: the object has no map of that name (maps: %s)", name, mapNames(spec))
		case measure.IsDataSection(name):
			return nil, fmt.Errorf("contents for %q: the contents of data sections come from the object; set read-only globals in C or declare them parameters", name)
		case !sealed[name]:
			return nil, fmt.Errorf("contents for %q: the map is not sealed; annotate it __sealed or pass -seal %s", name, name)
		case ms.Type == ebpf.ProgramArray || ms.Type == ebpf.ArrayOfMaps || ms.Type == ebpf.HashOfMaps:
			return nil, fmt.Errorf("contents for %q: a %s holds programs or maps; initialise it in C with .values", name, ms.Type)
		}
		entries, err := ParseContents(cfg.Contents[name], ms, measure.SpecByteOrder(spec), enc)
		if err != nil {
			return nil, fmt.Errorf("contents for %s: %w", name, err)
		}
		plan.Contents[name] = entries
	}

	for _, name := range cfg.Params {
		v := spec.Variables[name]
		switch {
		case v == nil:
			return nil, fmt.Errorf("parameter %q: the object has no global variable of that name", name)
		case !measure.IsReadOnlySection(v.SectionName):
			return nil, fmt.Errorf("parameter %q: it lives in %s, not in .rodata; declare it const volatile", name, v.SectionName)
		case slices.Contains(plan.Params, name):
			return nil, fmt.Errorf("parameter %q declared twice", name)
		}
		plan.Params = append(plan.Params, name)
	}
	slices.Sort(plan.Params)
	return plan, nil
}

// Apply prepares spec for sealing: every sealed map gets BPF_F_RDONLY_PROG
// and, where the plan has a contents file for it, those contents. The
// generator applies it before measuring; the loader before loading.
func (p *Plan) Apply(spec *ebpf.CollectionSpec) error {
	for _, name := range p.Sealed {
		ms := spec.Maps[name]
		if ms == nil {
			return fmt.Errorf("%w %q: the object has no map of that name", ErrCannotSeal, name)
		}
		if ms.Type != ebpf.ProgramArray && ms.Type != ebpf.ArrayOfMaps && ms.Type != ebpf.HashOfMaps {
			// Programs cannot write program arrays or maps of maps (only
			// look them up), and the kernel refuses BPF_F_RDONLY_PROG on
			// them.
			ms.Flags |= FlagRdonlyProg
		}
		if ms.Type == ebpf.ArrayOfMaps || ms.Type == ebpf.HashOfMaps {
			// The kernel accepts only inner maps whose flags equal the
			// template's: a sealed outer map may hold sealed inner maps,
			// so its template is read-only for programs too.
			if ms.InnerMap == nil {
				return fmt.Errorf("%w %s: a map of maps without an inner-map template", ErrCannotSeal, name)
			}
			if holdsSealed(ms, p.Sealed) {
				ms.InnerMap.Flags |= FlagRdonlyProg
			}
		}
		if entries, ok := p.Contents[name]; ok {
			ms.Contents = make([]ebpf.MapKV, len(entries))
			for i, e := range entries {
				ms.Contents[i] = ebpf.MapKV{Key: e.Key, Value: e.Value}
			}
		}
	}
	return nil
}

// Sealable reports whether a map can be sealed, and why not.
func Sealable(ms *ebpf.MapSpec) error {
	switch ms.Type {
	case ebpf.Array, ebpf.Hash, ebpf.LPMTrie:
	case ebpf.ProgramArray, ebpf.ArrayOfMaps, ebpf.HashOfMaps:
		// Bound by their slots: the object's programs and maps.
		return nil
	case ebpf.StructOpsMap:
		return fmt.Errorf("%w %s: struct_ops maps cannot be frozen", ErrCannotSeal, ms.Name)
	default:
		return fmt.Errorf("%w %s: a %s map has no content hash in measurement v2 (sealable: Array, Hash, LPMTrie, ProgramArray, ArrayOfMaps, HashOfMaps)", ErrCannotSeal, ms.Name, ms.Type)
	}
	if measure.IsDataSection(ms.Name) {
		return fmt.Errorf("%w %s: .data and .bss are program state; declare the variables const volatile to put them in .rodata, which is always sealed", ErrCannotSeal, ms.Name)
	}
	if ms.Value != nil {
		if what := unfreezable(ms.Value, map[btf.Type]bool{}); what != "" {
			return fmt.Errorf("%w %s: its value holds %s, and the kernel refuses to freeze such maps", ErrCannotSeal, ms.Name, what)
		}
	}
	return nil
}

// holdsSealed reports whether a map of maps' initial values name a sealed
// map.
func holdsSealed(ms *ebpf.MapSpec, sealed []string) bool {
	for _, kv := range ms.Contents {
		if inner, ok := kv.Value.(string); ok && (slices.Contains(sealed, inner) || measure.IsAlwaysSealed(inner)) {
			return true
		}
	}
	return false
}

// usedMaps returns the maps an instruction of some program references.
func usedMaps(spec *ebpf.CollectionSpec) map[string]bool {
	used := map[string]bool{}
	for _, p := range spec.Programs {
		for _, ins := range p.Instructions {
			if ins.IsLoadFromMap() && ins.Reference() != "" {
				used[ins.Reference()] = true
			}
		}
	}
	return used
}

// reachable refuses sealed maps that no program can reach: referenced by
// no instruction and held by no slot of a map of maps that an instruction
// references. Their signed contents would bind nothing.
func reachable(spec *ebpf.CollectionSpec, sealed map[string]bool) error {
	reach := usedMaps(spec)
	for name := range usedMaps(spec) {
		ms := spec.Maps[name]
		if ms == nil || (ms.Type != ebpf.ArrayOfMaps && ms.Type != ebpf.HashOfMaps) {
			continue
		}
		for _, kv := range ms.Contents {
			if inner, ok := kv.Value.(string); ok {
				reach[inner] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sealed)) {
		if !reach[name] {
			return fmt.Errorf("%w: sealed map %s is referenced by no program, directly or through a map of maps (.values), so its signed contents would bind nothing; "+
				"use it from a program, put it in a map of maps a program uses, or stop sealing it", ErrUnreachableSealed, name)
		}
	}
	return nil
}

// kernelOwnedStructs are value fields that make BPF_MAP_FREEZE fail.
var kernelOwnedStructs = []string{
	"bpf_spin_lock", "bpf_res_spin_lock", "bpf_timer", "bpf_wq", "bpf_task_work",
	"bpf_list_head", "bpf_list_node", "bpf_rb_root", "bpf_rb_node", "bpf_refcount",
}

// unfreezable returns what in typ prevents freezing, or "".
func unfreezable(typ btf.Type, seen map[btf.Type]bool) string {
	typ = btf.UnderlyingType(typ) // through typedefs, qualifiers and type tags
	if seen[typ] {
		return ""
	}
	seen[typ] = true
	var members []btf.Member
	switch t := typ.(type) {
	case *btf.Struct:
		if slices.Contains(kernelOwnedStructs, t.Name) {
			return "a struct " + t.Name
		}
		members = t.Members
	case *btf.Union:
		members = t.Members
	case *btf.Array:
		return unfreezable(t.Type, seen)
	case *btf.Pointer:
		// Only the pointer's own tags matter: __kptr and friends.
		for target := t.Target; ; {
			tag, ok := target.(*btf.TypeTag)
			if !ok {
				break
			}
			if strings.Contains(tag.Value, "kptr") {
				return "a kernel pointer (" + tag.Value + ")"
			}
			target = tag.Type
		}
	}
	for _, m := range members {
		if what := unfreezable(m.Type, seen); what != "" {
			return what
		}
	}
	return ""
}

func mapNames(spec *ebpf.CollectionSpec) string {
	return strings.Join(slices.Sorted(maps.Keys(spec.Maps)), ", ")
}

// planFile is the JSON form of a plan, written by the generator next to
// the object (X.o.seal.json) and embedded in the generated loader.
type planFile struct {
	Version            int                        `json:"version"`
	Sealed             []string                   `json:"sealed"`
	Params             []string                   `json:"params"`
	Contents           map[string]json.RawMessage `json:"contents"`
	UnsealedProgArrays []string                   `json:"unsealed_prog_arrays,omitempty"`
}

// Encode returns the plan as JSON, deterministically: the sealed maps, the
// parameters, and the contents in raw hex form.
func (p *Plan) Encode() []byte {
	f := planFile{Version: 1, Sealed: p.Sealed, Params: p.Params, Contents: map[string]json.RawMessage{}, UnsealedProgArrays: p.UnsealedProgArrays}
	if f.Sealed == nil {
		f.Sealed = []string{}
	}
	if f.Params == nil {
		f.Params = []string{}
	}
	for name, entries := range p.Contents {
		f.Contents[name] = EncodeContents(entries)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return append(b, '\n')
}

var planFields = []string{"version", "sealed", "params", "contents", "unsealed_prog_arrays"}

// decodePlan reads a plan file with package internal/jsonread, refusing
// unknown fields, so that loaders link no JSON decoder.
func decodePlan(data []byte) (*planFile, error) {
	return jsonread.Document(data, func(r *jsonread.Reader, f *planFile) error {
		return r.Object(planFields, true, func(i int) (err error) {
			switch i {
			case 0:
				f.Version, err = r.IntValue()
			case 1:
				f.Sealed, err = jsonread.Strings(r)
			case 2:
				f.Params, err = jsonread.Strings(r)
			case 3:
				if r.Null() {
					f.Contents = nil
					return nil
				}
				f.Contents = map[string]json.RawMessage{}
				return r.Map(func(name string) (err error) {
					f.Contents[name], err = r.Raw()
					return err
				})
			case 4:
				f.UnsealedProgArrays, err = jsonread.Strings(r)
			}
			return err
		})
	})
}

// DecodePlan reads a plan written by [Plan.Encode] and resolves it against
// spec again, with every check of [Resolve].
func DecodePlan(data []byte, spec *ebpf.CollectionSpec) (*Plan, error) {
	f, err := decodePlan(data)
	if err != nil {
		return nil, fmt.Errorf("sealing plan: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("sealing plan: version %d, want 1", f.Version)
	}
	cfg := Config{Seal: f.Sealed, Params: f.Params, Contents: map[string][]byte{}, UnsealedProgArrays: f.UnsealedProgArrays}
	for name, raw := range f.Contents {
		cfg.Contents[name] = raw
	}
	// Every check of Resolve, with contents in hex only (what Encode
	// writes), so the loader does not link the typed contents encoder.
	plan, err := Resolve(spec, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("sealing plan: %w", err)
	}
	if !slices.Equal(plan.Sealed, f.Sealed) {
		return nil, fmt.Errorf("sealing plan: seals %v, but the object declares %v", f.Sealed, plan.Sealed)
	}
	return plan, nil
}
