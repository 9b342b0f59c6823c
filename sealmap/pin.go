package sealmap

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// ErrPinned is wrapped when a sealed map pinned by name (LIBBPF_PIN_BY_NAME)
// cannot be reused or created: the message names the pin and what to do.
var ErrPinned = errors.New("pinned sealed map")

// pinnedSealed is what LoadCollection does with one declared sealed map
// that is pinned by name.
type pinnedSealed struct {
	name, path string
	// reused is the verified map found at path, or nil: the map is created
	// unpinned and pinned once it is frozen.
	reused *ebpf.Map
}

// openPins prepares the sealed maps of spec that are pinned by name: a
// map already pinned is verified (see [verifyPinned]) and returned for
// reuse; a missing one has its pinning cleared in spec, so that it is
// created, filled and frozen like any sealed map before it is pinned. On
// error every map opened is closed.
func openPins(spec *ebpf.CollectionSpec, plan *Plan, opts *ebpf.CollectionOptions, readback bool) (pins []pinnedSealed, err error) {
	defer func() {
		if err != nil {
			closePins(pins)
		}
	}()
	for name, ms := range spec.Maps {
		if ms.Pinning != ebpf.PinNone && measure.IsAlwaysSealed(name) {
			return pins, fmt.Errorf("%w %s: data sections cannot be pinned", ErrPinned, name)
		}
	}
	for _, name := range plan.Sealed {
		ms := spec.Maps[name]
		if ms == nil || ms.Pinning == ebpf.PinNone {
			continue
		}
		if ms.Pinning != ebpf.PinByName {
			return pins, fmt.Errorf("%w %s: pinning type %d is not supported (use LIBBPF_PIN_BY_NAME)", ErrPinned, name, ms.Pinning)
		}
		if ms.Type == ebpf.ProgramArray || ms.Type == ebpf.ArrayOfMaps || ms.Type == ebpf.HashOfMaps {
			return pins, fmt.Errorf("%w %s: a sealed %s cannot be pinned: its slots hold this load's programs or maps, and a pinned one would hold another load's; remove the pinning", ErrPinned, name, ms.Type)
		}
		if opts.Maps.PinPath == "" {
			return pins, fmt.Errorf("%w %s: the map is pinned by name, but CollectionOptions.Maps.PinPath is not set", ErrPinned, name)
		}
		path := filepath.Join(opts.Maps.PinPath, ms.Name)
		if err := frozenArrayUsable(ms, path); err != nil {
			return pins, err
		}
		m, err := ebpf.LoadPinnedMap(path, &opts.Maps.LoadPinOptions)
		switch {
		case errors.Is(err, unix.ENOENT):
			pins = append(pins, pinnedSealed{name: name, path: path})
			continue
		case err != nil:
			return pins, fmt.Errorf("%w %s at %s: cannot open it as a map (%v); remove the pin (rm %s) to start with a fresh map", ErrPinned, name, path, err, path)
		}
		pins = append(pins, pinnedSealed{name: name, path: path, reused: m})
		if err := verifyPinned(m, ms, path, readback); err != nil {
			return pins, err
		}
	}
	return pins, nil
}

func closePins(pins []pinnedSealed) {
	for _, p := range pins {
		if p.reused != nil {
			p.reused.Close()
		}
	}
}

// verifyPinned checks that the map found at a pin is the sealed map spec
// describes, filled with the contents the loader would seal into a fresh
// one: same type, key and value sizes, max_entries, flags (including
// BPF_F_RDONLY_PROG) and name; frozen; and with the content hash of the
// spec's contents, computed by the kernel for arrays on Linux 6.18+, read
// back and hashed in user space otherwise. The measurement after the load
// then gives the verdict a fresh map would get.
func verifyPinned(m *ebpf.Map, ms *ebpf.MapSpec, path string, readback bool) error {
	fail := func(what string) error {
		return fmt.Errorf("%w %s at %s %s; it is not the map this program seals: remove the pin (rm %s) to start with a fresh map, or set another CollectionOptions.Maps.PinPath", ErrPinned, ms.Name, path, what, path)
	}
	info, err := m.Info()
	if err != nil {
		return fail(fmt.Sprintf("cannot be described (%v)", err))
	}
	want := fmt.Sprintf("%s key %d value %d max_entries %d flags %#x name %q", ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags, measure.KernelName(ms.Name))
	got := fmt.Sprintf("%s key %d value %d max_entries %d flags %#x name %q", info.Type, info.KeySize, info.ValueSize, info.MaxEntries, info.Flags, info.Name)
	if want != got {
		what := fmt.Sprintf("is %s, want %s", got, want)
		if info.Flags&FlagRdonlyProg == 0 {
			what += " (without BPF_F_RDONLY_PROG programs could write it)"
		}
		return fail(what)
	}
	km, err := measure.KernelMapFD(m.FD(), &measure.KernelOptions{Readback: readback})
	if err != nil {
		return fail(fmt.Sprintf("cannot be measured (%v)", err))
	}
	if !km.Frozen {
		return fail("is not frozen: any process may still write it")
	}
	if km.Content == nil {
		return fail("has no content hash (" + km.ContentError + ")")
	}
	entries, err := specEntries(ms)
	if err != nil {
		return fail(err.Error())
	}
	sum, alg, err := measure.HashContents(measure.NativeOrder, ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, entries)
	if err != nil {
		return fail(fmt.Sprintf("cannot be compared (%v)", err))
	}
	if wantHash := hex.EncodeToString(sum[:]); km.Content.Algorithm != alg || km.Content.Hash != wantHash {
		return fail(fmt.Sprintf("holds other contents: %s %s (%s), the signed contents hash to %s %s", km.Content.Algorithm, km.Content.Hash, km.Content.Source, alg, wantHash))
	}
	return nil
}

// specEntries returns a sealed map spec's contents as raw entries.
func specEntries(ms *ebpf.MapSpec) ([]measure.Entry, error) {
	entries := make([]measure.Entry, 0, len(ms.Contents))
	for i, kv := range ms.Contents {
		k, kok := kv.Key.([]byte)
		v, vok := kv.Value.([]byte)
		if !kok || !vok {
			return nil, fmt.Errorf("contents[%d] are not raw bytes (%T, %T)", i, kv.Key, kv.Value)
		}
		entries = append(entries, measure.Entry{Key: k, Value: v})
	}
	return entries, nil
}

// frozenArrayUsable refuses a pinned sealed array of more than one element
// on kernels whose verifier cannot load a program against a frozen array
// of several elements created with BPF_F_RDONLY_PROG (it reads such maps
// as constants, and arrays only offer that with one element: Linux 6.18
// answers ENOTSUPP). A second start could never reuse the pin, so even
// the first is refused.
func frozenArrayUsable(ms *ebpf.MapSpec, path string) error {
	if ms.Type != ebpf.Array || ms.MaxEntries <= 1 {
		return nil
	}
	if err := frozenArraysReadable(); err != nil {
		return fmt.Errorf("%w %s at %s: this kernel cannot load programs against a frozen read-only array of more than one element (%v), so a pinned sealed array of %d elements could never be reused: make it a one-element array (one struct holding an array), a hash map, or do not pin it", ErrPinned, ms.Name, path, err, ms.MaxEntries)
	}
	return nil
}

var frozenArraysReadable = sync.OnceValue(probeFrozenArrays)

// probeFrozenArrays loads a program that reads a frozen two-element
// BPF_F_RDONLY_PROG array; nil means the kernel accepts it.
func probeFrozenArrays() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2, Flags: FlagRdonlyProg})
	if err != nil {
		return fmt.Errorf("probe: create array: %w", err)
	}
	defer m.Close()
	if err := m.Freeze(); err != nil {
		return fmt.Errorf("probe: freeze: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SocketFilter,
		License: "MIT",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.RFP, -4, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		},
	})
	switch {
	case errors.Is(err, syscall.Errno(524)), // ENOTSUPP, kernel-internal
		errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, ebpf.ErrNotSupported):
		return errors.New("the verifier answers ENOTSUPP to a read of one")
	case err != nil:
		return fmt.Errorf("the verifier refuses a read of one: %s", firstLine(err.Error()))
	}
	prog.Close()
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// pinFresh pins the maps created for the missing pins, once frozen.
// BPF_OBJ_PIN fails when the path exists: a concurrent start pinned its
// own map first, and this one refuses rather than replace it. beforePin
// (nil but in tests) runs before each pin.
func pinFresh(coll *ebpf.Collection, pins []pinnedSealed, beforePin func(path string)) error {
	for _, p := range pins {
		if p.reused != nil {
			continue
		}
		if beforePin != nil {
			beforePin(p.path)
		}
		if err := coll.Maps[p.name].Pin(p.path); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("%w %s at %s: another process pinned a map there during this load; start again to reuse it", ErrPinned, p.name, p.path)
			}
			return fmt.Errorf("%w %s at %s: pin: %w", ErrPinned, p.name, p.path, err)
		}
	}
	return nil
}

// unpinFresh removes the pins pinFresh made, after a failed load.
func unpinFresh(coll *ebpf.Collection, pins []pinnedSealed) {
	for _, p := range pins {
		if m := coll.Maps[p.name]; p.reused == nil && m != nil && m.IsPinned() {
			m.Unpin()
		}
	}
}
