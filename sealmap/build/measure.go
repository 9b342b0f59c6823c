package build

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
)

// PlanSuffix is appended to an object's file name to name its sealing plan
// (X.o.seal.json), which the generator writes next to the object.
const PlanSuffix = ".seal.json"

// Limits of the object reader: objects beyond them are refused with
// [measure.ErrTooLarge] before anything is allocated for them.
const (
	// MaxObjectSize is the largest BPF object read: 128 MiB. Real objects
	// are kilobytes to a few megabytes (the kernel takes at most a million
	// instructions per program and 16 MiB of BTF).
	MaxObjectSize = 128 << 20
	// MaxZeroSection is the largest section without file contents (.bss
	// and other NOBITS sections) an object may declare: 64 MiB. cilium/ebpf
	// allocates such sections in memory when it reads the object, so their
	// declared size is refused before it does.
	MaxZeroSection = 64 << 20
)

// CheckObject refuses objects whose size or zero-filled sections exceed
// [MaxObjectSize] and [MaxZeroSection], before cilium/ebpf reads them.
// Objects that are not ELF pass: the ELF reader says what is wrong.
func CheckObject(obj []byte) error {
	if len(obj) > MaxObjectSize {
		return fmt.Errorf("%w: object of %d bytes, more than the %d read", measure.ErrTooLarge, len(obj), MaxObjectSize)
	}
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS && s.Size > MaxZeroSection {
			return fmt.Errorf("%w: section %s declares %d zero bytes, more than the %d a BPF object may (the kernel would need them as one map value)", measure.ErrTooLarge, s.Name, s.Size, MaxZeroSection)
		}
	}
	return nil
}

// LoadSpec reads a BPF object's collection spec after [CheckObject].
func LoadSpec(obj []byte) (*ebpf.CollectionSpec, error) {
	if err := CheckObject(obj); err != nil {
		return nil, err
	}
	return ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
}

// Source is where an object's sealing plan comes from: the developer's
// declarations ([Declared]), resolved against the object, or a plan file
// the generator wrote ([PlanFile]). The zero Source is the object's own
// declarations (its __sealed annotations) and nothing else.
type Source struct {
	plan     []byte
	fromPlan bool
	cfg      sealmap.Config
}

// Declared is the plan that cfg declares for an object (the generator's
// -seal, -seal-contents, -param and -unsealed-prog-array), resolved with
// [Resolve].
func Declared(cfg sealmap.Config) Source { return Source{cfg: cfg} }

// PlanFile is a plan file as the generator writes it (sealmap.Plan.Encode),
// decoded and checked again against the object with sealmap.DecodePlan.
func PlanFile(data []byte) Source { return Source{plan: data, fromPlan: true} }

// SourceOf is the plan source of an object given the result of reading
// its plan file ([PlanSuffix]): the plan file when it was read, the
// object's own declarations when there is none. Any other read error is
// returned.
func SourceOf(planFile []byte, readErr error) (Source, error) {
	switch {
	case readErr == nil:
		return PlanFile(planFile), nil
	case errors.Is(readErr, fs.ErrNotExist):
		return Source{}, nil
	}
	return Source{}, readErr
}

func (s Source) resolve(spec *ebpf.CollectionSpec) (*sealmap.Plan, error) {
	if s.fromPlan {
		return sealmap.DecodePlan(s.plan, spec)
	}
	return Resolve(spec, s.cfg)
}

// Measure reads an object, resolves its sealing plan from src and
// computes its measurement: the manifest of a copy of the object with the
// plan applied, with one digest per CO-RE target of the object's byte
// order (see [TargetsFor]). It returns the manifest, the plan and the
// object's spec (without the plan applied).
//
// Programs measurement v2 cannot predict are refused: the error wraps
// [measure.ErrUnsupported], and the manifest, plan and spec are returned
// with it, the programs listed in their Unsupported field, for callers
// that report them.
func Measure(obj []byte, src Source, targets []measure.Target) (*measure.Manifest, *sealmap.Plan, *ebpf.CollectionSpec, error) {
	spec, err := LoadSpec(obj)
	if err != nil {
		return nil, nil, nil, err
	}
	m, plan, err := measureSpec(spec, src, targets)
	return m, plan, spec, err
}

// measureSpec is [Measure] of an object already read.
func measureSpec(spec *ebpf.CollectionSpec, src Source, targets []measure.Target) (*measure.Manifest, *sealmap.Plan, error) {
	plan, err := src.resolve(spec)
	if err != nil {
		return nil, nil, err
	}
	measured := spec.Copy()
	if err := plan.Apply(measured); err != nil {
		return nil, nil, err
	}
	opts := plan.MeasureOptions()
	opts.Targets, _ = TargetsFor(spec, targets)
	m, err := measure.CollectionWithOptions(measured, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Unsupported(); err != nil {
		return m, plan, fmt.Errorf("%w; such programs cannot be verified yet: build them with plain bpf2go", err)
	}
	return m, plan, nil
}

// TargetsFor splits CO-RE targets into those of the object's byte order,
// which measuring resolves relocations against (one digest each), and the
// others, which cannot describe a kernel that loads this object: with
// bpf2go's default targets (bpfel,bpfeb) and a little-endian -target-btf,
// the bpfeb object gets no per-target digest.
func TargetsFor(spec *ebpf.CollectionSpec, targets []measure.Target) (usable, other []measure.Target) {
	bo := measure.SpecByteOrder(spec)
	for _, t := range targets {
		if t.ByteOrder == nil || t.ByteOrder == bo {
			usable = append(usable, t)
		} else {
			other = append(other, t)
		}
	}
	return usable, other
}

// HasRelocations reports whether any program of m has CO-RE sites, whose
// digest depends on the target kernel.
func HasRelocations(m *measure.Manifest) bool {
	for _, p := range m.Programs {
		if len(p.Relocations) > 0 {
			return true
		}
	}
	return false
}

// TargetNote says which targets an object got no per-target digest for,
// or "" when every target applies or the object has no CO-RE site.
func TargetNote(object string, spec *ebpf.CollectionSpec, m *measure.Manifest, targets []measure.Target) string {
	_, other := TargetsFor(spec, targets)
	if len(other) == 0 || !HasRelocations(m) {
		return ""
	}
	var names []string
	for _, t := range other {
		names = append(names, t.Name)
	}
	return fmt.Sprintf("%s: no per-target digest for %s: the BTF is %s, the object %s (kernels of that byte order load the %s object instead)",
		object, strings.Join(names, ", "), measure.OrderName(other[0].ByteOrder), measure.OrderName(measure.SpecByteOrder(spec)), otherTarget(measure.SpecByteOrder(spec)))
}

func otherTarget(bo binary.ByteOrder) string {
	if bo == binary.BigEndian {
		return "bpfel"
	}
	return "bpfeb"
}
