package measure

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
)

// Collection computes the expected measurement of every program in spec, as
// cilium/ebpf v0.22.0 will submit it. spec is not modified.
//
// Programs that use what measurement v2 cannot predict (CO-RE relocations,
// kfuncs, ksyms, kconfig externs) are measured with their Unsupported field
// set; [Manifest.Unsupported] lists them. They never match a kernel
// measurement.
func Collection(spec *ebpf.CollectionSpec) (*Manifest, error) {
	return CollectionWithOptions(spec, nil)
}

// Options say which maps of an object are sealed beyond those that always
// are, and which read-only globals are run-time parameters.
type Options struct {
	// Sealed names maps (as in CollectionSpec.Maps) that are sealed in
	// addition to .rodata* and .kconfig.
	Sealed []string
	// Params names read-only globals (CollectionSpec.Variables in a
	// .rodata* section) whose bytes are excluded from the content hash.
	Params []string
	// Targets are kernel BTF to resolve CO-RE relocations against: each
	// gives programs with relocations one more acceptable digest.
	Targets []Target
}

// CollectionWithOptions is [Collection] with declared sealed maps and
// parameters. Unknown names are an error.
func CollectionWithOptions(spec *ebpf.CollectionSpec, opts *Options) (*Manifest, error) {
	structOps, err := structOpsOf(spec)
	if err != nil {
		return nil, err
	}
	if len(spec.Programs) == 0 && len(structOps) == 0 {
		return nil, ErrNoPrograms
	}
	if opts == nil {
		opts = &Options{}
	}
	for _, name := range opts.Sealed {
		if spec.Maps[name] == nil {
			return nil, fmt.Errorf("sealed map %q: the object has no map of that name", name)
		}
	}
	params := map[string][]Param{}
	for _, name := range opts.Params {
		v := spec.Variables[name]
		if v == nil || !IsAlwaysSealed(v.SectionName) || v.SectionName == ".kconfig" {
			return nil, fmt.Errorf("parameter %q: the object has no read-only global (const volatile) of that name", name)
		}
		params[v.SectionName] = append(params[v.SectionName], Param{Name: name, Offset: v.Offset, Size: v.Size()})
	}
	for _, ps := range params {
		slices.SortFunc(ps, func(a, b Param) int { return int(int64(a.Offset) - int64(b.Offset)) })
	}
	ctx := &specContext{coll: spec, sealed: opts.Sealed, params: params, targets: opts.Targets}
	m := &Manifest{Version: Version, StructOps: structOps}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p, err := ctx.program(spec.Programs[name])
		if err != nil {
			return nil, err
		}
		m.Programs = append(m.Programs, *p)
	}
	if err := m.Seal(); err != nil {
		return nil, err
	}
	return m, nil
}

// Unsupported returns an error wrapping [ErrUnsupported] that names every
// program that cannot be measured and why, or nil.
func (m *Manifest) Unsupported() error {
	var msgs []string
	for _, p := range m.Programs {
		for _, u := range p.Unsupported {
			msgs = append(msgs, fmt.Sprintf("program %s: %s", p.Name, u))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnsupported, strings.Join(msgs, "; "))
}

// specContext is what measuring one program of a collection needs.
type specContext struct {
	coll    *ebpf.CollectionSpec
	sealed  []string
	params  map[string][]Param // by section name
	targets []Target
	// contents caches the content hash of each sealed map: programs
	// sharing a map hash it once.
	contents map[string]*Content
}

func (ctx *specContext) byteOrder() binary.ByteOrder { return SpecByteOrder(ctx.coll) }

// SpecByteOrder is the byte order of a collection's object, or the host's
// for specs built in Go.
func SpecByteOrder(spec *ebpf.CollectionSpec) binary.ByteOrder {
	if spec.ByteOrder != nil {
		return spec.ByteOrder
	}
	return NativeOrder
}

func (ctx *specContext) program(spec *ebpf.ProgramSpec) (*Program, error) {
	coll := ctx.coll
	d, err := ProgramDigest(spec)
	if err != nil {
		return nil, err
	}
	p := &Program{
		Name:       spec.Name,
		Type:       uint32(spec.Type),
		AttachType: uint32(spec.AttachType),
		Insns:      int(spec.Instructions.Size() / insnSize),
		InsnDigest: d,
	}

	// index is each map's position in p.Maps: first use, the kernel's
	// map_ids order.
	index := map[string]int{}
	var loads []MapLoad
	iter := spec.Instructions.Iterate()
	for iter.Next() {
		ins := iter.Ins
		switch {
		case ins.IsKfuncCall():
			// A site resolved against the kernel's BTF, like CO-RE:
			// listed in Relocations below.
		case ins.IsLoadFromMap():
			name := ins.Reference()
			if name == "" {
				if int32(ins.Constant) > 0 {
					return nil, fmt.Errorf("program %s: instruction %d: map load with a hard-coded fd cannot be measured", spec.Name, iter.Offset)
				}
				// The ELF reader marks extern __kconfig reads as map value
				// loads without a map reference: the loader creates the
				// .kconfig map and fills it from the running kernel.
				name = KconfigMap
			}
			i, ok := index[name]
			if !ok {
				var mm *Map
				if name == KconfigMap {
					km, err := kconfigMap(coll)
					if err != nil {
						return nil, fmt.Errorf("program %s: %w", spec.Name, err)
					}
					mm = km
				} else {
					ms := coll.Maps[name]
					if ms == nil {
						return nil, fmt.Errorf("program %s: instruction %d references map %q, which the object does not define", spec.Name, iter.Offset, name)
					}
					if mm, err = ctx.mapFromSpec(ms); err != nil {
						return nil, fmt.Errorf("program %s: %w", spec.Name, err)
					}
				}
				i = len(p.Maps)
				index[name] = i
				p.Maps = append(p.Maps, *mm)
			}
			// The offset in the value travels in the upper half of the
			// constant (the second ldimm64 half's imm), as cilium/ebpf
			// submits it.
			l := MapLoad{Map: i}
			if ins.Src == asm.PseudoMapValue {
				l.Value, l.Off = true, uint32(uint64(ins.Constant)>>32)
			}
			loads = append(loads, l)
		case ins.OpCode == asm.LoadImmOp(asm.DWord) && ins.Src == asm.R0 && ins.Reference() != "" && !isKsymVar(coll, ins.Reference()):
			p.Unsupported = append(p.Unsupported, fmt.Sprintf("kfunc address %q at instruction %d", ins.Reference(), iter.Offset))
		}
	}
	p.MapLoads = FormatMapLoads(loads)
	if p.Relocations = relocations(spec); len(p.Relocations) > 0 {
		for i := range ctx.targets {
			t := &ctx.targets[i]
			_, d, _, err := Relocate(spec, []*btf.Spec{t.Spec})
			if errors.Is(err, ErrKsymNoTarget) {
				// No target digest: the program is PARTIAL on every
				// kernel, its ksym sites checked against kallsyms.
				break
			}
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", t.Label(), err)
			}
			d.Target = t.Label()
			p.Alternatives = append(p.Alternatives, d)
		}
	}
	return p, nil
}

func (ctx *specContext) mapFromSpec(ms *ebpf.MapSpec) (*Map, error) {
	m := &Map{
		MapDescriptor: MapDescriptor{
			Name:       KernelName(ms.Name),
			Type:       uint32(ms.Type),
			KeySize:    ms.KeySize,
			ValueSize:  ms.ValueSize,
			MaxEntries: ms.MaxEntries,
			Flags:      ms.Flags,
			MapExtra:   ms.MapExtra,
		},
		Sealed: IsAlwaysSealed(ms.Name) || slices.Contains(ctx.sealed, ms.Name),
		Params: ctx.params[ms.Name],
	}
	m.normalise()
	if m.IsMapOfMaps() {
		if ms.InnerMap == nil {
			return nil, fmt.Errorf("map %s: a map of maps without an inner-map template", ms.Name)
		}
		m.Inner = &Map{MapDescriptor: MapDescriptor{Type: uint32(ms.InnerMap.Type), KeySize: ms.InnerMap.KeySize, ValueSize: ms.InnerMap.ValueSize,
			MaxEntries: ms.InnerMap.MaxEntries, Flags: ms.InnerMap.Flags, MapExtra: ms.InnerMap.MapExtra}}
		m.Inner.normalise()
	}
	if !m.Sealed {
		return m, nil
	}
	if m.holdsObjects() {
		return m, ctx.slotsFromSpec(m, ms)
	}
	if c, ok := ctx.contents[ms.Name]; ok {
		content := *c
		m.Content = &content
		return m, nil
	}
	contents, err := specContents(ctx.coll, ms, ctx.byteOrder())
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", ms.Name, err)
	}
	if len(m.Params) > 0 {
		if len(contents) != 1 {
			return nil, fmt.Errorf("map %s: parameters need exactly one value, found %d", ms.Name, len(contents))
		}
		contents[0].Value = ZeroParams(contents[0].Value, m.Params)
	}
	sum, alg, err := HashContents(ctx.byteOrder(), ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, contents)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", ms.Name, err)
	}
	m.Content = &Content{Algorithm: alg, Hash: hex.EncodeToString(sum[:]), Source: SourceELF}
	if ctx.contents == nil {
		ctx.contents = map[string]*Content{}
	}
	content := *m.Content
	ctx.contents[ms.Name] = &content
	return m, nil
}

// slotsFromSpec records the slots of a sealed program array or map of maps:
// the object's programs or maps its .values initialiser names, which
// cilium/ebpf puts there after loading the programs.
func (ctx *specContext) slotsFromSpec(m *Map, ms *ebpf.MapSpec) error {
	for i, kv := range ms.Contents {
		key, err := rawBytes(kv.Key, ms.KeySize, ctx.byteOrder())
		if err != nil {
			return fmt.Errorf("map %s: contents[%d] key: %w", ms.Name, i, err)
		}
		name, ok := kv.Value.(string)
		if !ok {
			return fmt.Errorf("map %s: contents[%d]: a %T, want the name of a program or map of the object (.values)", ms.Name, i, kv.Value)
		}
		sl := Slot{Key: hex.EncodeToString(key)}
		if m.IsProgramArray() {
			if ctx.coll.Programs[name] == nil {
				return fmt.Errorf("map %s: slot %x holds program %q, which the object does not define", ms.Name, key, name)
			}
			sl.Program = name
		} else {
			inner := ctx.coll.Maps[name]
			if inner == nil {
				return fmt.Errorf("map %s: slot %x holds map %q, which the object does not define", ms.Name, key, name)
			}
			if sl.Map, err = ctx.mapFromSpec(inner); err != nil {
				return fmt.Errorf("map %s: slot %x: %w", ms.Name, key, err)
			}
		}
		m.Slots = append(m.Slots, sl)
	}
	slices.SortFunc(m.Slots, func(a, b Slot) int { return strings.Compare(a.Key, b.Key) })
	for i := 1; i < len(m.Slots); i++ {
		if m.Slots[i].Key == m.Slots[i-1].Key {
			return fmt.Errorf("map %s: slot %s is initialised twice", ms.Name, m.Slots[i].Key)
		}
	}
	return nil
}

// Entry is one key/value pair of a map's contents, as raw bytes.
type Entry struct{ Key, Value []byte }

// specContents returns the contents the loader writes into a map: the
// MapSpec's contents, with variables of a data section overlaid as
// cilium/ebpf does.
func specContents(coll *ebpf.CollectionSpec, ms *ebpf.MapSpec, bo binary.ByteOrder) ([]Entry, error) {
	entries := make([]Entry, 0, len(ms.Contents))
	for i, kv := range ms.Contents {
		key, err := rawBytes(kv.Key, ms.KeySize, bo)
		if err != nil {
			return nil, fmt.Errorf("contents[%d] key: %w", i, err)
		}
		value, err := rawBytes(kv.Value, ms.ValueSize, bo)
		if err != nil {
			return nil, fmt.Errorf("contents[%d] value: %w", i, err)
		}
		entries = append(entries, Entry{key, value})
	}
	if !IsDataSection(ms.Name) {
		return entries, nil
	}
	var vars []*ebpf.VariableSpec
	for _, v := range coll.Variables {
		if v.SectionName == ms.Name {
			vars = append(vars, v)
		}
	}
	if len(vars) == 0 {
		return entries, nil
	}
	if len(entries) != 1 || bo.Uint32(entries[0].Key) != 0 {
		return nil, fmt.Errorf("data section has %d entries, want exactly key 0", len(entries))
	}
	data := slices.Clone(entries[0].Value)
	for _, v := range vars {
		end := uint64(v.Offset) + uint64(len(v.Value))
		if end > uint64(len(data)) {
			return nil, fmt.Errorf("variable %s (offset %d, size %d) exceeds the section's %d bytes", v.Name, v.Offset, len(v.Value), len(data))
		}
		copy(data[v.Offset:end], v.Value)
	}
	entries[0].Value = data
	return entries, nil
}

// rawBytes converts a MapSpec content key or value to its bytes. The ELF
// reader produces []byte for data sections; uint32 keys are accepted too.
func rawBytes(v any, size uint32, bo binary.ByteOrder) ([]byte, error) {
	var b []byte
	switch v := v.(type) {
	case []byte:
		b = v
	case uint32:
		b = make([]byte, 4)
		bo.PutUint32(b, v)
	case int:
		if v < 0 || v > 1<<32-1 {
			return nil, fmt.Errorf("key %d out of range", v)
		}
		b = make([]byte, 4)
		bo.PutUint32(b, uint32(v))
	default:
		return nil, fmt.Errorf("%w: contents of type %T (want []byte)", ErrUnsupported, v)
	}
	if uint32(len(b)) != size {
		return nil, fmt.Errorf("%d bytes, the map wants %d", len(b), size)
	}
	return b, nil
}

// HashContents computes the content hash of a map holding entries, with the
// algorithm measurement v2 uses for its type: [AlgArray] for arrays,
// [AlgKV] otherwise. bo is the byte order of array indexes in the keys.
func HashContents(bo binary.ByteOrder, typ ebpf.MapType, keySize, valueSize, maxEntries uint32, entries []Entry) ([sha256.Size]byte, string, error) {
	if typ == ebpf.Array {
		sum, err := HashArray(bo, valueSize, maxEntries, entries)
		return sum, AlgArray, err
	}
	if perCPUValues(typ) || typ == ebpf.StructOpsMap {
		return [sha256.Size]byte{}, "", fmt.Errorf("%w: content hash of a %s map", ErrUnsupported, typ)
	}
	sum, err := HashKV(keySize, valueSize, maxEntries, entries)
	return sum, AlgKV, err
}

// perCPUValues reports whether a map type holds one value per possible
// CPU: a lookup from user space then returns every CPU's value, each
// padded to 8 bytes, instead of value_size bytes.
func perCPUValues(typ ebpf.MapType) bool {
	switch typ {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		return true
	}
	return false
}

// MaxArrayContents is the largest array, in bytes hashed (each value
// padded to a multiple of 8 times max_entries), that [HashArray] measures:
// 1 GiB. Larger arrays are refused with [ErrTooLarge]: a sealed input of
// more than a gigabyte is not a configuration, and hashing it would cost
// seconds at every build and every start.
const MaxArrayContents = 1 << 30

// ErrTooLarge is wrapped when an input is larger than this project
// measures or reads (the same error as the build-side file readers').
var ErrTooLarge = safefs.ErrTooLarge

// HashArray computes [AlgArray]: the value of every index from 0 to
// maxEntries-1, each zero-padded to a multiple of 8 bytes, concatenated and
// hashed with SHA-256. Indexes absent from entries are zero. bo is the byte
// order of the indexes in the keys.
//
// The zero regions are hashed as a stream: memory use is bounded by the
// entries given, whatever maxEntries says. Arrays larger than
// [MaxArrayContents] are refused.
func HashArray(bo binary.ByteOrder, valueSize, maxEntries uint32, entries []Entry) ([sha256.Size]byte, error) {
	elem := (uint64(valueSize) + 7) &^ 7
	if total := elem * uint64(maxEntries); total > MaxArrayContents {
		return [sha256.Size]byte{}, fmt.Errorf("%w: an array of %d × %d-byte values holds %s, more than the %s measurement v2 hashes", ErrTooLarge, maxEntries, valueSize, byteCount(total), byteCount(MaxArrayContents))
	}
	byIndex := make(map[uint32][]byte, len(entries))
	for _, e := range entries {
		if len(e.Key) != 4 {
			return [sha256.Size]byte{}, fmt.Errorf("array key of %d bytes, want 4", len(e.Key))
		}
		idx := bo.Uint32(e.Key)
		if idx >= maxEntries {
			return [sha256.Size]byte{}, fmt.Errorf("array index %d out of range (max_entries %d)", idx, maxEntries)
		}
		if uint32(len(e.Value)) != valueSize {
			return [sha256.Size]byte{}, fmt.Errorf("array value of %d bytes, want %d", len(e.Value), valueSize)
		}
		byIndex[idx] = e.Value // the last write wins, as in the kernel
	}
	indexes := make([]uint32, 0, len(byIndex))
	for idx := range byIndex {
		indexes = append(indexes, idx)
	}
	sort.Slice(indexes, func(i, j int) bool { return indexes[i] < indexes[j] }) // see sortNote in manifest.go
	h := sha256.New()
	pad := make([]byte, elem-uint64(valueSize))
	next := uint64(0) // the first index not hashed yet
	for _, idx := range indexes {
		hashZeros(h, (uint64(idx)-next)*elem)
		h.Write(byIndex[idx])
		h.Write(pad)
		next = uint64(idx) + 1
	}
	hashZeros(h, (uint64(maxEntries)-next)*elem)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// zeroBlock is what hashZeros feeds the hash, n bytes at a time.
var zeroBlock [64 << 10]byte

// hashZeros writes n zero bytes to h without allocating them.
func hashZeros(h hash.Hash, n uint64) {
	for n > 0 {
		k := min(n, uint64(len(zeroBlock)))
		h.Write(zeroBlock[:k])
		n -= k
	}
}

// byteCount formats a size for error messages: "768 MiB", "4.0 PiB".
func byteCount(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(uint64(v)) {
		return fmt.Sprintf("%d %ciB", uint64(v), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}

const kvDomain = "bpf2go-signed kv-sha256 v1\x00"

// HashKV computes [AlgKV]: SHA-256 over a domain string, key size, value
// size and entry count (u32 little-endian), then every entry's key and value
// bytes, entries sorted by key bytes. Duplicate keys are an error.
func HashKV(keySize, valueSize, maxEntries uint32, entries []Entry) ([sha256.Size]byte, error) {
	if uint64(len(entries)) > uint64(maxEntries) {
		return [sha256.Size]byte{}, fmt.Errorf("%d entries exceed max_entries %d", len(entries), maxEntries)
	}
	sorted := slices.Clone(entries)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].Key, sorted[j].Key) < 0 }) // see sortNote in manifest.go
	h := sha256.New()
	e := &encoder{}
	e.buf = append(e.buf, kvDomain...)
	e.u32(keySize)
	e.u32(valueSize)
	e.u32(uint32(len(sorted)))
	h.Write(e.buf)
	for i, kv := range sorted {
		if uint32(len(kv.Key)) != keySize || uint32(len(kv.Value)) != valueSize {
			return [sha256.Size]byte{}, fmt.Errorf("entry of %d/%d bytes, want key %d and value %d", len(kv.Key), len(kv.Value), keySize, valueSize)
		}
		if i > 0 && bytes.Equal(sorted[i-1].Key, kv.Key) {
			return [sha256.Size]byte{}, fmt.Errorf("duplicate key %x", kv.Key)
		}
		h.Write(kv.Key)
		h.Write(kv.Value)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// ZeroParams returns a copy of value with the bytes of every parameter set
// to zero: the signed base of a map holding parameters.
func ZeroParams(value []byte, params []Param) []byte {
	base := slices.Clone(value)
	for _, p := range params {
		if end := uint64(p.Offset) + uint64(p.Size); end <= uint64(len(base)) {
			clear(base[p.Offset:end])
		}
	}
	return base
}

// isKsymVar reports whether name is a __ksym variable of the object (not a
// kfunc).
func isKsymVar(coll *ebpf.CollectionSpec, name string) bool {
	if coll.Types == nil {
		return false
	}
	var ds *btf.Datasec
	if err := coll.Types.TypeByName(".ksyms", &ds); err != nil {
		return false
	}
	for _, v := range ds.Vars {
		if vv, ok := v.Type.(*btf.Var); ok && vv.Name == name {
			return true
		}
	}
	return false
}

// kconfigName names the __kconfig extern at offset in the object's .kconfig
// section.
func kconfigName(coll *ebpf.CollectionSpec, offset uint32) string {
	if coll.Types != nil {
		var ds *btf.Datasec
		if err := coll.Types.TypeByName(".kconfig", &ds); err == nil {
			for _, v := range ds.Vars {
				if v.Offset == offset {
					if vv, ok := v.Type.(*btf.Var); ok {
						return strconv.Quote(vv.Name)
					}
				}
			}
		}
	}
	return fmt.Sprintf("at .kconfig offset %d", offset)
}
