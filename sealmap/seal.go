package sealmap

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// ErrNotFrozen is returned when the kernel does not confirm that a sealed
// map is frozen.
var ErrNotFrozen = errors.New("sealed map is not frozen")

// Maps are the declared sealed maps of one load, created and filled by
// [Create] and frozen by [Maps.Freeze].
type Maps struct {
	byName map[string]*ebpf.Map
	frozen map[string]bool
}

// Create creates every declared sealed map of spec (after [Plan.Apply]) and
// fills it. Maps the verifier can read when frozen are frozen at once; the
// others (arrays of more than one element, see [FreezeBeforeLoad]) are
// frozen by [Maps.Freeze] once the programs are loaded. The maps are meant
// for CollectionOptions.MapReplacements.
//
// .rodata* and .kconfig are not created here: cilium/ebpf fills and freezes
// them itself before it loads the programs.
//
// On error, every map created so far is closed.
func Create(spec *ebpf.CollectionSpec, sealed []string) (_ *Maps, err error) {
	out := &Maps{byName: make(map[string]*ebpf.Map, len(sealed)), frozen: map[string]bool{}}
	defer func() {
		if err != nil {
			out.Close()
		}
	}()
	for _, name := range sealed {
		ms := spec.Maps[name]
		if ms == nil {
			return nil, fmt.Errorf("%w %q: the object has no map of that name", ErrCannotSeal, name)
		}
		m, err := createFilled(ms)
		if err != nil {
			return nil, err
		}
		out.byName[name] = m
		if FreezeBeforeLoad(ms) {
			if err := freezeOnly(name, m); err != nil {
				return nil, err
			}
			out.frozen[name] = true
		}
	}
	return out, nil
}

// Replacements returns the maps by name, for CollectionOptions.MapReplacements.
func (s *Maps) Replacements() map[string]*ebpf.Map { return s.byName }

// Freeze freezes every map not frozen yet. BPF_MAP_FREEZE succeeding is the
// kernel's word that the map is frozen; the measurement that follows a
// verified load reads the frozen state back from the kernel and refuses a
// sealed map that is not frozen, so no separate confirmation is made here
// ([ConfirmFrozen] does it for callers that do not measure).
func (s *Maps) Freeze() error {
	for name, m := range s.byName {
		if s.frozen[name] {
			continue
		}
		if err := freezeOnly(name, m); err != nil {
			return err
		}
		s.frozen[name] = true
	}
	return nil
}

// Close closes this handle on every map; collections that use them keep
// their own.
func (s *Maps) Close() {
	for _, m := range s.byName {
		m.Close()
	}
}

// FreezeBeforeLoad reports whether a sealed map can be frozen before the
// programs that use it are verified. The verifier reads frozen read-only
// maps as constants, which Linux (6.18 included) supports for arrays only
// when they have exactly one element: a program reading a frozen
// BPF_F_RDONLY_PROG array of several elements fails to load with
// EOPNOTSUPP. Such maps are frozen right after the load instead; they are
// read-only for programs all along, and the measurement is taken after the
// freeze.
func FreezeBeforeLoad(ms *ebpf.MapSpec) bool {
	return ms.Type != ebpf.Array || ms.MaxEntries == 1
}

// Seal creates one map from ms, fills it with ms.Contents, freezes it and
// confirms through the kernel that it is frozen. ms must carry
// BPF_F_RDONLY_PROG.
func Seal(ms *ebpf.MapSpec) (*ebpf.Map, error) {
	m, err := createFilled(ms)
	if err != nil {
		return nil, err
	}
	if err := freeze(ms.Name, m); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func createFilled(ms *ebpf.MapSpec) (*ebpf.Map, error) {
	if ms.Flags&FlagRdonlyProg == 0 {
		return nil, fmt.Errorf("%w %s: the spec lacks BPF_F_RDONLY_PROG (apply the plan first)", ErrCannotSeal, ms.Name)
	}
	empty := ms.Copy()
	empty.Contents = nil
	m, err := ebpf.NewMap(empty)
	if err != nil {
		return nil, fmt.Errorf("seal %s: create: %w", ms.Name, err)
	}
	if err := fill(m, ms); err != nil {
		m.Close()
		return nil, fmt.Errorf("seal %s: fill: %w", ms.Name, err)
	}
	return m, nil
}

func freezeOnly(name string, m *ebpf.Map) error {
	if err := m.Freeze(); err != nil {
		return fmt.Errorf("seal %s: freeze: %w", name, err)
	}
	return nil
}

func freeze(name string, m *ebpf.Map) error {
	if err := freezeOnly(name, m); err != nil {
		return err
	}
	if err := ConfirmFrozen(m); err != nil {
		return fmt.Errorf("seal %s: %w", name, err)
	}
	return nil
}

// fill writes ms.Contents into m: one batch update where the kernel supports
// it (5.6+), one update per entry otherwise.
func fill(m *ebpf.Map, ms *ebpf.MapSpec) error {
	if len(ms.Contents) == 0 {
		return nil
	}
	keys := make([]byte, 0, len(ms.Contents)*int(ms.KeySize))
	values := make([]byte, 0, len(ms.Contents)*int(ms.ValueSize))
	for i, kv := range ms.Contents {
		k, kok := kv.Key.([]byte)
		v, vok := kv.Value.([]byte)
		if !kok || !vok || uint32(len(k)) != ms.KeySize || uint32(len(v)) != ms.ValueSize {
			return fmt.Errorf("contents[%d]: want raw key and value bytes of %d and %d bytes", i, ms.KeySize, ms.ValueSize)
		}
		keys = append(keys, k...)
		values = append(values, v...)
	}
	n, err := bpfsys.UpdateBatch(m.FD(), keys, values, uint32(len(ms.Contents)))
	if errors.Is(err, bpfsys.ErrBatchUnsupported) {
		for i, kv := range ms.Contents {
			if err := m.Put(kv.Key, kv.Value); err != nil {
				return fmt.Errorf("contents[%d]: %w", i, err)
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	if int(n) != len(ms.Contents) {
		return fmt.Errorf("batch update wrote %d of %d entries", n, len(ms.Contents))
	}
	return nil
}

// ConfirmFrozen asks the kernel whether m is frozen and returns
// [ErrNotFrozen] when it is not.
func ConfirmFrozen(m *ebpf.Map) error {
	frozen, err := bpfsys.MapFrozen(m.FD())
	if err != nil {
		return fmt.Errorf("confirm frozen: %w", err)
	}
	if !frozen {
		return ErrNotFrozen
	}
	return nil
}

// SealedIn returns the names of the sealed maps among those a program
// references, for naming them when the verifier refuses a write.
func SealedIn(prog *ebpf.ProgramSpec, sealed []string) []string {
	var out []string
	for _, ins := range prog.Instructions {
		if ref := ins.Reference(); ins.IsLoadFromMap() && slices.Contains(sealed, ref) && !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// ErrSealedWrite is wrapped when the verifier refuses a program because it
// writes a sealed map.
var ErrSealedWrite = errors.New("program writes a sealed map")

// LoadCollection loads spec with the plan applied: sealed maps are created
// and filled before any program is loaded and handed to cilium/ebpf as map
// replacements, then frozen and confirmed frozen (before the load where the
// verifier allows it, see [FreezeBeforeLoad], right after it otherwise). spec is not modified. Replacing a sealed
// map through opts is refused. When the verifier refuses a program because
// it writes a sealed map, the error wraps [ErrSealedWrite] and names the
// sealed maps the program references.
//
// Every map this function created is closed before it returns; on error,
// nothing stays open.
func LoadCollection(spec *ebpf.CollectionSpec, plan *Plan, opts *ebpf.CollectionOptions) (*ebpf.Collection, error) {
	spec = spec.Copy()
	if err := plan.Apply(spec); err != nil {
		return nil, err
	}
	var o ebpf.CollectionOptions
	if opts != nil {
		o = *opts
	}
	repl := make(map[string]*ebpf.Map, len(o.MapReplacements)+len(plan.Sealed))
	for name, m := range o.MapReplacements {
		if slices.Contains(plan.Sealed, name) || strings.HasPrefix(name, ".rodata") {
			return nil, fmt.Errorf("%w %s: a sealed map cannot be replaced through MapReplacements", ErrCannotSeal, name)
		}
		repl[name] = m
	}
	sealed, err := Create(spec, plan.Sealed)
	if err != nil {
		return nil, err
	}
	defer sealed.Close()
	for name, m := range sealed.Replacements() {
		repl[name] = m
	}
	o.MapReplacements = repl
	coll, err := ebpf.NewCollectionWithOptions(spec, o)
	if err != nil {
		return nil, explainSealedWrite(spec, plan.Sealed, err)
	}
	if err := sealed.Freeze(); err != nil {
		coll.Close()
		return nil, err
	}
	return coll, nil
}

func explainSealedWrite(spec *ebpf.CollectionSpec, sealed []string, err error) error {
	if !strings.Contains(err.Error(), "write into map forbidden") {
		return err
	}
	for name, prog := range spec.Programs {
		if !strings.Contains(err.Error(), "program "+name+":") {
			continue
		}
		ro := SealedIn(prog, sealed)
		for _, ins := range prog.Instructions {
			if ref := ins.Reference(); ins.IsLoadFromMap() && strings.HasPrefix(ref, ".rodata") && !slices.Contains(ro, ref) {
				ro = append(ro, ref)
			}
		}
		return fmt.Errorf("%w: program %s writes sealed map %s, which is read-only for programs; remove the write or stop sealing the map: %w",
			ErrSealedWrite, name, strings.Join(ro, " or "), err)
	}
	return fmt.Errorf("%w: %w", ErrSealedWrite, err)
}
