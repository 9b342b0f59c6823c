package sealmap

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

func freezeOnly(name string, m *ebpf.Map) error {
	if err := m.Freeze(); err != nil {
		return fmt.Errorf("seal %s: freeze: %w", name, err)
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

// LoadCollection applies the plan to spec (which it modifies) and loads it:
// cilium/ebpf creates every sealed map with BPF_F_RDONLY_PROG and fills it
// with its contents before any program is verified, and right after the
// load every declared sealed map is frozen (.rodata* and .kconfig are
// frozen by cilium/ebpf before the programs load).
//
// Declared sealed maps are frozen after the load because the verifier
// treats frozen read-only maps as constants and, for arrays, can only do so
// when they have one element: on Linux 6.18 a program that reads a frozen
// BPF_F_RDONLY_PROG array of several elements fails to load with
// EOPNOTSUPP. The maps are read-only for programs all along, and the
// measurement that follows reads the frozen state and the contents back
// from the kernel, so a write before the freeze is caught.
//
// A declared sealed map pinned by name (LIBBPF_PIN_BY_NAME, with
// opts.Maps.PinPath) is reused only when the map at the pin is frozen,
// has the spec's descriptor with BPF_F_RDONLY_PROG and holds the spec's
// contents (same content hash); otherwise the load is refused with an
// error wrapping [ErrPinned] that names the pin. A missing pin is created
// once the new map is frozen. See docs/sealing.md.
//
// Replacing a sealed map through opts is refused. When the verifier
// refuses a program because it writes a sealed map, the error wraps
// [ErrSealedWrite] and names the sealed maps the program references. On
// error nothing stays open.
func LoadCollection(spec *ebpf.CollectionSpec, plan *Plan, opts *ebpf.CollectionOptions) (*ebpf.Collection, error) {
	return loadCollection(spec, plan, opts, pinTesting{})
}

// pinTesting holds what tests change in the handling of pinned sealed
// maps; [LoadCollection] passes the zero value.
type pinTesting struct {
	// readback makes the check of reused pinned maps hash them in user
	// space from contents read back through the kernel even where the
	// kernel hashes them (the path of kernels before 6.18).
	readback bool
	// beforePin runs right before each fresh map is pinned, to act as
	// another process could at that moment.
	beforePin func(path string)
}

// loadCollection is [LoadCollection] with the test settings pt.
func loadCollection(spec *ebpf.CollectionSpec, plan *Plan, opts *ebpf.CollectionOptions, pt pinTesting) (*ebpf.Collection, error) {
	if err := plan.Apply(spec); err != nil {
		return nil, err
	}
	var o ebpf.CollectionOptions
	if opts != nil {
		o = *opts
	}
	for name := range o.MapReplacements {
		if slices.Contains(plan.Sealed, name) || measure.IsReadOnlySection(name) {
			return nil, fmt.Errorf("%w %s: a sealed map cannot be replaced through MapReplacements", ErrCannotSeal, name)
		}
	}
	pins, err := openPins(spec, plan, &o, pt.readback)
	if err != nil {
		return nil, err
	}
	defer closePins(pins) // the collection holds its own copies
	reused := map[string]bool{}
	for _, p := range pins {
		ms := spec.Maps[p.name]
		if p.reused == nil {
			// Created unpinned, pinned once frozen: the pin never shows a
			// map that is still being filled.
			ms.Pinning = ebpf.PinNone
			defer func() { ms.Pinning = ebpf.PinByName }()
			continue
		}
		reused[p.name] = true
		repl := make(map[string]*ebpf.Map, len(o.MapReplacements)+1)
		maps.Copy(repl, o.MapReplacements)
		repl[p.name] = p.reused
		o.MapReplacements = repl
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, o)
	if err != nil {
		return nil, explainSealedWrite(spec, plan.Sealed, err)
	}
	for _, name := range plan.Sealed {
		m := coll.Maps[name]
		if m == nil {
			coll.Close()
			return nil, fmt.Errorf("%w %s: the loaded collection has no such map", ErrCannotSeal, name)
		}
		if reused[name] {
			continue // verified frozen, with the sealed contents
		}
		if err := freezeOnly(name, m); err != nil {
			coll.Close()
			return nil, err
		}
	}
	if err := pinFresh(coll, pins, pt.beforePin); err != nil {
		unpinFresh(coll, pins)
		coll.Close()
		return nil, err
	}
	return coll, nil
}

// explainSealedWrite names the sealed maps when the verifier refused a
// program for writing a read-only map (its log says "write into map
// forbidden"); other errors are returned as they are. The program is the
// one cilium/ebpf names in its "program NAME: ..." wrapping.
func explainSealedWrite(spec *ebpf.CollectionSpec, sealed []string, err error) error {
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Log, func(line string) bool {
		return strings.Contains(line, "write into map forbidden")
	}) {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
		prog := spec.Programs[name]
		if !strings.Contains(err.Error(), "program "+name+":") {
			continue
		}
		ro := SealedIn(prog, sealed)
		for _, ins := range prog.Instructions {
			if ref := ins.Reference(); ins.IsLoadFromMap() && measure.IsReadOnlySection(ref) && !slices.Contains(ro, ref) {
				ro = append(ro, ref)
			}
		}
		return fmt.Errorf("%w: program %s writes sealed map %s, which is read-only for programs; remove the write or stop sealing the map: %w",
			ErrSealedWrite, name, strings.Join(ro, " or "), err)
	}
	return fmt.Errorf("%w: %w", ErrSealedWrite, err)
}
