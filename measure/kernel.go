package measure

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// Tag algorithms of bpf_prog_info.tag.
const (
	TagSHA256 = "sha256" // Linux 6.18+
	TagSHA1   = "sha1"   // before Linux 6.18
)

// KernelMap is a map as the kernel reports it.
type KernelMap struct {
	ID         uint32 `json:"id"`
	Name       string `json:"name"`
	Type       uint32 `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	// Flags are normalised like the expected ones; RawFlags are as reported.
	Flags    uint32 `json:"flags"`
	RawFlags uint32 `json:"raw_flags"`
	MapExtra uint64 `json:"map_extra"`
	// Frozen: BPF_MAP_FREEZE was applied (Linux 5.2+).
	Frozen bool `json:"frozen"`
	// Content is measured for frozen maps only.
	Content *Content `json:"content,omitempty"`
	// ContentError says why a frozen map has no content hash.
	ContentError string `json:"content_error,omitempty"`
	// Params are the parameter values found in the map when the expected
	// measurement declares parameters (Content is then the hash with their
	// bytes zeroed).
	Params []ParamValue `json:"params,omitempty"`
	// Slots are the filled slots of a program array or map of maps, read
	// through the kernel, sorted by key.
	Slots []KernelSlot `json:"slots,omitempty"`
	// SlotsError says why the slots could not be read.
	SlotsError string `json:"slots_error,omitempty"`
}

// KernelSlot is one filled slot of a program array (ProgID) or map of maps
// (MapID and the inner map's measurement).
type KernelSlot struct {
	// Key is the hex of the key bytes.
	Key    string     `json:"key"`
	ProgID uint32     `json:"prog_id,omitempty"`
	MapID  uint32     `json:"map_id,omitempty"`
	Map    *KernelMap `json:"map,omitempty"`
}

// BoundMap is a map in a program's map_ids that none of its instructions
// references: bound to it with BPF_PROG_BIND_MAP after the load.
type BoundMap struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// KernelProgram is the measurement of a loaded program, built from data the
// kernel owns: bpf_prog_info, bpf_map_info and the kernel's map hash.
type KernelProgram struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	Type uint32 `json:"type"`
	// Tag is bpf_prog_info.tag in hex.
	Tag string `json:"tag"`
	// TagAlgorithm is [TagSHA256] or [TagSHA1], found by probing.
	TagAlgorithm string `json:"tag_algorithm"`
	// TagBits is how many bits of the instruction digest the comparison
	// rests on: 64 for bpf_prog_info.tag (a collision costs about 2^32
	// work, a second preimage about 2^64).
	TagBits int `json:"tag_bits"`
	// Digest is the program's whole SHA-256 as the kernel keeps it
	// (struct bpf_prog.digest, Linux 6.18+), read with the full-digest
	// backend ([FullDigests]) where it is available; TagBits is then 256.
	Digest string      `json:"digest,omitempty"`
	Maps   []KernelMap `json:"maps"`
	// BoundMaps are maps in map_ids that no instruction references
	// (BPF_PROG_BIND_MAP). They cannot change what the program does and
	// are reported, not compared. Only told apart when the expected
	// measurement is known and has fewer maps than map_ids.
	BoundMaps []BoundMap `json:"bound_maps,omitempty"`
	// Links are tracing and extension links whose target is this program.
	Links []KernelLink `json:"links,omitempty"`
	// LinksError says why links could not be enumerated.
	LinksError string `json:"links_error,omitempty"`
	// TailCalls are the programs reachable through the slots of this
	// program's program arrays, transitively, each measured once (by id)
	// against the program the first slot that reached it names. Only set
	// on the program measurement was asked for.
	TailCalls []KernelProgram `json:"tail_calls,omitempty"`
	// MeasuredAs names the expected program a tail-call program was
	// measured against ("" when no slot of the expected measurement holds
	// one at its key).
	MeasuredAs string `json:"measured_as,omitempty"`
}

// KernelOptions tune a kernel measurement. The zero value is the default.
type KernelOptions struct {
	// Readback hashes frozen maps in user space from contents read back
	// through the kernel even where the kernel can hash them itself.
	Readback bool
	// Maps are map descriptors the caller already holds (a loader's own
	// maps). A map of the program whose kernel id is one of theirs is
	// measured through that descriptor instead of being opened by id.
	Maps []*ebpf.Map
	// Expected, when set, is the program the kernel's is compared with:
	// maps whose expected counterpart (same position and name) declares
	// parameters are read back, their parameter values reported in
	// KernelMap.Params and zeroed before hashing, as the manifest's
	// content hash was computed.
	Expected *Program
	// Manifest, when set, holds the programs that the slots of Expected's
	// program arrays name: each program reached through a slot is
	// measured against the program its expected slot names.
	Manifest *Manifest
	// Links are the host's links, enumerated once per pass; nil
	// enumerates them for this measurement. NoLinks skips them.
	Links   *Links
	NoLinks bool
	// FullDigests are the kernel's full program digests by program id
	// ([FullDigests]), read once per pass where the backend is available:
	// the comparison then rests on all 256 bits instead of the 64-bit tag.
	FullDigests map[uint32]string
}

// ParamValue is the value of a run-time parameter read back from the kernel.
type ParamValue struct {
	Param
	// Value is the hex of the parameter's bytes in the frozen map.
	Value string `json:"value"`
}

// Kernel measures a loaded program from kernel-owned data.
func Kernel(prog *ebpf.Program, opts *KernelOptions) (*KernelProgram, error) {
	return KernelFD(prog.FD(), opts)
}

// KernelFD measures the program behind a file descriptor, and its closure:
// the programs its program arrays hold (in TailCalls, transitively, each
// once) and the links that target any of them.
func KernelFD(fd int, opts *KernelOptions) (*KernelProgram, error) {
	if opts == nil {
		opts = &KernelOptions{}
	}
	kp, err := kernelProgram(fd, opts)
	if err != nil {
		return nil, err
	}
	if err := closure(kp, opts); err != nil {
		return nil, err
	}
	return kp, nil
}

// kernelProgram measures one program: its info, its maps (with the slots
// of program arrays and maps of maps) and its bound maps.
func kernelProgram(fd int, opts *KernelOptions) (*KernelProgram, error) {
	info, ids, err := bpfsys.ProgramInfo(fd)
	if err != nil {
		return nil, err
	}
	tag := hex.EncodeToString(info.Tag[:])
	alg, err := tagAlgorithmFor(tag, opts.Expected)
	if err != nil {
		return nil, err
	}
	kp := &KernelProgram{
		ID:           info.ID,
		Name:         bpfsys.CString(info.Name[:]),
		Type:         info.Type,
		Tag:          tag,
		TagAlgorithm: alg,
		TagBits:      8 * bpfsys.TagSize,
		Maps:         make([]KernelMap, 0, len(ids)),
	}
	if d, ok := opts.FullDigests[kp.ID]; ok && alg == TagSHA256 && d[:2*tagSize] == tag {
		kp.Digest, kp.TagBits = d, 256
	}
	if e := opts.Expected; e != nil && len(ids) > len(e.Maps) {
		if ids, err = splitBound(fd, ids, len(e.Maps), kp); err != nil {
			return nil, fmt.Errorf("program %s (id %d): %w", kp.Name, kp.ID, err)
		}
	}
	held := map[uint32]heldMap{}
	for _, m := range opts.Maps {
		if info, err := bpfsys.MapDescriptor(m.FD()); err == nil {
			held[info.ID] = heldMap{m.FD(), info}
		}
	}
	for i, id := range ids {
		var params []Param
		if e := opts.Expected; e != nil && i < len(e.Maps) {
			params = e.Maps[i].Params
		}
		var km *KernelMap
		if h, ok := held[id]; ok {
			km, err = kernelMap(h.fd, opts, params, h.info)
		} else {
			km, err = kernelMapByID(id, opts, params)
		}
		if err != nil {
			return nil, fmt.Errorf("program %s (id %d): %w", kp.Name, kp.ID, err)
		}
		kp.Maps = append(kp.Maps, *km)
	}
	return kp, nil
}

type heldMap struct {
	fd   int
	info *bpfsys.MapInfo
}

func kernelMapByID(id uint32, opts *KernelOptions, params []Param) (*KernelMap, error) {
	fd, err := bpfsys.MapFDByID(id)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return kernelMap(fd, opts, params, nil)
}

// KernelMapFD measures the map behind a file descriptor: its descriptor,
// whether it is frozen and, when it is, its content hash. The kernel hashes
// frozen arrays itself on Linux 6.18+; elsewhere the contents are read back
// and hashed in user space, and the result says so.
func KernelMapFD(fd int, opts *KernelOptions) (*KernelMap, error) {
	if opts == nil {
		opts = &KernelOptions{}
	}
	return kernelMap(fd, opts, nil, nil)
}

// kernelMap measures the map behind fd. info, when known, is its
// descriptor, fetched from the kernel just before.
func kernelMap(fd int, opts *KernelOptions, params []Param, info *bpfsys.MapInfo) (*KernelMap, error) {
	var kernelSum *[sha256.Size]byte
	frozen := false
	knownNotArray := info != nil && ebpf.MapType(info.Type) != ebpf.Array
	if !opts.Readback && MapHashSupported() && !knownNotArray {
		// For a frozen array, one call gives the descriptor and the hash.
		// EPERM means an array that is not frozen, EINVAL another type.
		withHash, sum, err := bpfsys.MapInfoWithHash(fd)
		switch {
		case err == nil:
			info, frozen, kernelSum = withHash, true, &sum
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL):
		default:
			return nil, err
		}
	}
	if info == nil {
		var err error
		if info, err = bpfsys.MapDescriptor(fd); err != nil {
			return nil, err
		}
	}
	if kernelSum == nil && (ebpf.MapType(info.Type) != ebpf.Array || opts.Readback || !MapHashSupported()) {
		var err error
		frozen, err = mapFrozen(fd)
		if err != nil {
			return nil, err
		}
	}

	km := &KernelMap{
		ID:         info.ID,
		Name:       bpfsys.CString(info.Name[:]),
		Type:       info.Type,
		KeySize:    info.KeySize,
		ValueSize:  info.ValueSize,
		MaxEntries: info.MaxEntries,
		RawFlags:   info.MapFlags,
		MapExtra:   info.MapExtra,
		Frozen:     frozen,
	}
	desc := Map{Name: km.Name, Type: km.Type, KeySize: km.KeySize, ValueSize: km.ValueSize, MaxEntries: km.MaxEntries, Flags: km.RawFlags}
	normaliseDescriptor(&desc)
	km.Flags, km.KeySize, km.ValueSize, km.MaxEntries = desc.Flags, desc.KeySize, desc.ValueSize, desc.MaxEntries
	if desc.holdsObjects() {
		if err := readSlots(fd, info, opts, km); err != nil {
			km.SlotsError = err.Error()
		}
		return km, nil
	}
	if !frozen {
		return km, nil
	}
	if len(params) > 0 {
		if err := readParams(fd, info, params, kernelSum, km); err != nil {
			km.ContentError = err.Error()
		}
		return km, nil
	}
	if kernelSum != nil {
		km.Content = &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(kernelSum[:]), Source: SourceKernel}
		return km, nil
	}
	content, err := readbackHash(fd, info)
	if err != nil {
		km.ContentError = err.Error()
		return km, nil
	}
	km.Content = content
	return km, nil
}

// readbackHash reads a frozen map's contents through the kernel and hashes
// them with the algorithm measurement v2 uses for the map's type.
func readbackHash(fd int, info *bpfsys.MapInfo) (*Content, error) {
	typ := ebpf.MapType(info.Type)
	if typ == ebpf.Array && info.MapFlags&unix.BPF_F_MMAPABLE != 0 {
		if sum, err := mmapArrayHash(fd, info); err == nil {
			return &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(sum[:]), Source: SourceReadback}, nil
		}
		// Not mappable here (e.g. a 32-bit address space too small):
		// read it through the kernel instead.
	}
	if typ == ebpf.Array {
		h := sha256.New()
		pad := make([]byte, ((info.ValueSize+7)&^7)-info.ValueSize)
		err := readArray(fd, info, func(value []byte) {
			h.Write(value)
			h.Write(pad)
		})
		if err != nil {
			return nil, err
		}
		return &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(h.Sum(nil)), Source: SourceReadback}, nil
	}

	entries, err := readEntries(fd, info)
	if err != nil {
		return nil, err
	}
	sum, alg, err := HashContents(NativeOrder, typ, info.KeySize, info.ValueSize, info.MaxEntries, entries)
	if err != nil {
		return nil, err
	}
	return &Content{Algorithm: alg, Hash: hex.EncodeToString(sum[:]), Source: SourceReadback}, nil
}

// mmapArrayHash hashes a frozen BPF_F_MMAPABLE array (Linux 5.5+) through a
// read-only shared mapping of its values: the array's values are laid out
// there as the hash wants them, each padded to 8 bytes, so SHA-256 runs
// over the kernel's memory without copying it through BPF_MAP_LOOKUP_BATCH.
// Sound for a frozen map only: BPF_MAP_FREEZE fails while a writable
// mapping exists and the kernel refuses writable mappings of a frozen map
// (Linux 5.5+), so nothing can change the values from user space while
// they are hashed; programs cannot either, as sealed maps are
// BPF_F_RDONLY_PROG (the caller's comparison checks the flag).
func mmapArrayHash(fd int, info *bpfsys.MapInfo) ([32]byte, error) {
	size := uint64(info.MaxEntries) * ((uint64(info.ValueSize) + 7) &^ 7)
	page := uint64(unix.Getpagesize())
	length := (size + page - 1) &^ (page - 1)
	if size == 0 || length > uint64(int(^uint(0)>>1)) {
		return [32]byte{}, fmt.Errorf("array of %d bytes cannot be mapped", size)
	}
	mem, err := unix.Mmap(fd, 0, int(length), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return [32]byte{}, fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(mem)
	return sha256.Sum256(mem[:size]), nil
}

// readEntries reads every entry of a map through the kernel: in batches
// (BPF_MAP_LOOKUP_BATCH, Linux 5.6+) where the map type has them, else one
// BPF_MAP_GET_NEXT_KEY and one BPF_MAP_LOOKUP_ELEM per entry. A frozen map
// cannot change while it is read.
func readEntries(fd int, info *bpfsys.MapInfo) ([]Entry, error) {
	entries, err := readEntriesBatch(fd, info)
	if errors.Is(err, bpfsys.ErrBatchUnsupported) {
		return readEntriesByKey(fd, info)
	}
	return entries, err
}

func readEntriesBatch(fd int, info *bpfsys.MapInfo) ([]Entry, error) {
	ks, vs := int(info.KeySize), int(info.ValueSize)
	chunk := min(int(info.MaxEntries), max(1, readArrayChunk/(ks+vs)))
	token := max(ks, 8)
	in, out := make([]byte, token), make([]byte, token)
	entries := make([]Entry, 0, min(int(info.MaxEntries), chunk))
	for first := true; ; first = false {
		var prev []byte
		if !first {
			prev = in
		}
		// Fresh buffers for every batch: the entries point into them,
		// two allocations per batch instead of two per entry.
		keys := make([]byte, ks*chunk)
		values := make([]byte, vs*chunk)
		n, done, err := bpfsys.LookupBatch(fd, prev, out, keys, values, uint32(chunk))
		if err != nil {
			return nil, fmt.Errorf("read back: %w", err)
		}
		for i := 0; i < int(n); i++ {
			entries = append(entries, Entry{keys[i*ks : (i+1)*ks : (i+1)*ks], values[i*vs : (i+1)*vs : (i+1)*vs]})
		}
		if uint64(len(entries)) > uint64(info.MaxEntries) {
			return nil, fmt.Errorf("read back: more than max_entries (%d) entries", info.MaxEntries)
		}
		if done {
			return entries, nil
		}
		copy(in, out)
	}
}

func readEntriesByKey(fd int, info *bpfsys.MapInfo) ([]Entry, error) {
	var entries []Entry
	var key []byte
	for {
		next := make([]byte, info.KeySize)
		ok, err := bpfsys.NextKey(fd, key, next)
		if err != nil {
			return nil, fmt.Errorf("read back: %w", err)
		}
		if !ok {
			return entries, nil
		}
		if uint64(len(entries)) >= uint64(info.MaxEntries) {
			return nil, fmt.Errorf("read back: more than max_entries (%d) keys", info.MaxEntries)
		}
		value := make([]byte, info.ValueSize)
		if err := bpfsys.LookupElem(fd, next, value); err != nil {
			if errors.Is(err, unix.ENOENT) {
				key = next
				continue
			}
			return nil, fmt.Errorf("read back: %w", err)
		}
		entries = append(entries, Entry{next, value})
		key = next
	}
}

// readArrayChunk is how many bytes of values one batch lookup reads.
const readArrayChunk = 1 << 20

// readArray calls fn with the value of every index of an array, in order,
// read through the kernel: in batches where the kernel supports it (5.6+),
// one lookup per index otherwise. The slice passed to fn is reused.
func readArray(fd int, info *bpfsys.MapInfo, fn func(value []byte)) error {
	vs := int(info.ValueSize)
	chunk := max(1, readArrayChunk/vs)
	chunk = min(chunk, int(info.MaxEntries))
	keys := make([]byte, 4*chunk)
	values := make([]byte, vs*chunk)
	in, out := make([]byte, 4), make([]byte, 4)
	read := 0
	first := true
	for read < int(info.MaxEntries) {
		var prev []byte
		if !first {
			prev = in
		}
		n, done, err := bpfsys.LookupBatch(fd, prev, out, keys, values, uint32(chunk))
		if errors.Is(err, bpfsys.ErrBatchUnsupported) && first {
			return readArrayByKey(fd, info, fn)
		}
		if err != nil {
			return fmt.Errorf("read back at index %d: %w", read, err)
		}
		for i := 0; i < int(n); i++ {
			if idx := binary.NativeEndian.Uint32(keys[4*i:]); int(idx) != read+i {
				return fmt.Errorf("read back: batch returned index %d at position %d", idx, read+i)
			}
			fn(values[i*vs : (i+1)*vs])
		}
		read += int(n)
		first = false
		copy(in, out)
		if done {
			break
		}
	}
	if read != int(info.MaxEntries) {
		return fmt.Errorf("read back %d of %d array elements", read, info.MaxEntries)
	}
	return nil
}

func readArrayByKey(fd int, info *bpfsys.MapInfo, fn func(value []byte)) error {
	key := make([]byte, 4)
	value := make([]byte, info.ValueSize)
	for i := uint32(0); i < info.MaxEntries; i++ {
		binary.NativeEndian.PutUint32(key, i)
		if err := bpfsys.LookupElem(fd, key, value); err != nil {
			return fmt.Errorf("read back index %d: %w", i, err)
		}
		fn(value)
	}
	return nil
}

// readParams reads back a frozen one-element array holding parameters,
// reports their values, and hashes the contents with their bytes zeroed.
// Where the kernel hashed the map, the bytes read back must hash to the
// kernel's value.
func readParams(fd int, info *bpfsys.MapInfo, params []Param, kernelSum *[sha256.Size]byte, km *KernelMap) error {
	if ebpf.MapType(info.Type) != ebpf.Array || info.MaxEntries != 1 {
		return fmt.Errorf("parameters need a one-element array, found type %d with %d entries", info.Type, info.MaxEntries)
	}
	value := make([]byte, info.ValueSize)
	if err := bpfsys.LookupElem(fd, make([]byte, 4), value); err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	entry := []Entry{{make([]byte, 4), value}}
	if kernelSum != nil {
		full, _ := HashArray(NativeOrder, info.ValueSize, 1, entry)
		if full != *kernelSum {
			return fmt.Errorf("contents read back hash to %x, the kernel reports %x", full, *kernelSum)
		}
	}
	for _, p := range params {
		end := uint64(p.Offset) + uint64(p.Size)
		if end > uint64(len(value)) {
			return fmt.Errorf("parameter %s (offset %d, size %d) lies outside the %d-byte value", p.Name, p.Offset, p.Size, len(value))
		}
		km.Params = append(km.Params, ParamValue{Param: p, Value: hex.EncodeToString(value[p.Offset:end])})
	}
	entry[0].Value = ZeroParams(value, params)
	sum, _ := HashArray(NativeOrder, info.ValueSize, 1, entry)
	source := SourceReadback + ", parameters zeroed"
	if kernelSum != nil {
		source += "; matches kernel hash"
	}
	km.Content = &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(sum[:]), Source: source}
	return nil
}

// mapFrozen asks the kernel whether a map is frozen: with a write probe
// where the kernel answers it unambiguously (see [bpfsys.WriteProbe] and
// probeWriteProbe), from /proc/self/fdinfo otherwise.
func mapFrozen(fd int) (bool, error) {
	if writeProbeWorks() {
		switch err := bpfsys.WriteProbe(fd); {
		case errors.Is(err, unix.EPERM):
			return true, nil
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EFAULT):
			return false, nil
		}
	}
	frozen, err := bpfsys.MapFrozen(fd)
	if err != nil && !errors.Is(err, bpfsys.ErrNoFrozenField) {
		return false, err
	}
	return frozen, nil
}

var writeProbeWorks = sync.OnceValue(probeWriteProbe)

// probeWriteProbe checks, once, that the write probe answers EPERM for a
// frozen hash map and EINVAL or EFAULT for a writable one, and that the
// writable map is unchanged afterwards.
func probeWriteProbe() bool {
	spec := &ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	writable, err := ebpf.NewMap(spec)
	if err != nil {
		return false
	}
	defer writable.Close()
	frozen, err := ebpf.NewMap(spec)
	if err != nil {
		return false
	}
	defer frozen.Close()
	if frozen.Freeze() != nil {
		return false
	}
	errW, errF := bpfsys.WriteProbe(writable.FD()), bpfsys.WriteProbe(frozen.FD())
	var k, v uint32
	untouched := !writable.Iterate().Next(&k, &v)
	return errors.Is(errF, unix.EPERM) && (errors.Is(errW, unix.EINVAL) || errors.Is(errW, unix.EFAULT)) && untouched
}

// tagAlgorithmFor names the algorithm of a kernel tag. When the tag is the
// SHA-256 or the SHA-1 tag of one of the expected digests, that tells (the
// two cannot coincide but by a 64-bit accident); otherwise the kernel is
// probed.
func tagAlgorithmFor(tag string, expected *Program) (string, error) {
	if expected != nil {
		for _, d := range expected.Digests() {
			switch tag {
			case d.Tag:
				return TagSHA256, nil
			case d.TagSHA1:
				return TagSHA1, nil
			}
		}
	}
	return TagAlgorithm()
}

var tagProbe = sync.OnceValues(probeTagAlgorithm)

// TagAlgorithm reports which hash the running kernel uses for
// bpf_prog_info.tag. Where the kernel has BTF it reads the answer there:
// the SHA-256 tag came with the full digest in struct bpf_prog
// (union { u8 digest[32]; u8 tag[8]; }, Linux 6.18), so the member digest
// means SHA-256 and its absence SHA-1. This loads nothing, so it works
// where a gate refuses unsigned loads. Without kernel BTF it loads a
// two-instruction socket filter and compares its tag with both candidates.
// The answer is cached.
func TagAlgorithm() (string, error) { return tagProbe() }

// KernelHasDigest reports whether the running kernel's struct bpf_prog
// holds the full 32-byte SHA-256 digest (member digest, Linux 6.18+),
// from its BTF. ok is false when the kernel has no BTF or no struct
// bpf_prog in it.
func KernelHasDigest() (has, ok bool) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return false, false
	}
	var prog *btf.Struct
	if err := spec.TypeByName("bpf_prog", &prog); err != nil {
		return false, false
	}
	return hasMember(prog.Members, "digest"), true
}

// hasMember looks for a member by name, also inside anonymous struct and
// union members.
func hasMember(ms []btf.Member, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
		if m.Name == "" {
			switch t := btf.UnderlyingType(m.Type).(type) {
			case *btf.Struct:
				if hasMember(t.Members, name) {
					return true
				}
			case *btf.Union:
				if hasMember(t.Members, name) {
					return true
				}
			}
		}
	}
	return false
}

func probeTagAlgorithm() (string, error) {
	if has, ok := KernelHasDigest(); ok {
		if has {
			return TagSHA256, nil
		}
		return TagSHA1, nil
	}
	return probeTagAlgorithmByLoad()
}

func probeTagAlgorithmByLoad() (string, error) {
	spec := &ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "MIT",
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return "", fmt.Errorf("probe tag algorithm: load probe program: %w", err)
	}
	defer prog.Close()
	info, _, err := bpfsys.ProgramInfo(prog.FD())
	if err != nil {
		return "", fmt.Errorf("probe tag algorithm: %w", err)
	}
	raw, err := SubmittedInstructions(spec)
	if err != nil {
		return "", err
	}
	want := DigestInstructions(raw, NativeOrder)
	got := hex.EncodeToString(info.Tag[:])
	switch got {
	case want.Tag:
		return TagSHA256, nil
	case want.TagSHA1:
		return TagSHA1, nil
	}
	return "", fmt.Errorf("probe tag algorithm: kernel tag %s matches neither SHA-256 (%s) nor SHA-1 (%s)", got, want.Tag, want.TagSHA1)
}

var mapHashProbe = sync.OnceValue(probeMapHash)

// MapHashSupported reports whether the kernel returns the SHA-256 of a
// frozen array in bpf_map_info.hash (Linux 6.18+). It creates, freezes and
// asks the hash of a one-element array once; the answer is cached.
func MapHashSupported() bool { return mapHashProbe() == nil }

// MapHashProbe returns nil when the kernel supports map hashes, or the
// reason it does not.
func MapHashProbe() error { return mapHashProbe() }

func probeMapHash() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("probe map hash: create array: %w", err)
	}
	defer m.Close()
	if err := m.Put(uint32(0), uint32(0x01020304)); err != nil {
		return fmt.Errorf("probe map hash: %w", err)
	}
	if err := m.Freeze(); err != nil {
		return fmt.Errorf("probe map hash: freeze: %w", err)
	}
	_, got, err := bpfsys.MapInfoWithHash(m.FD())
	if err != nil {
		return fmt.Errorf("probe map hash: %w", err)
	}
	want, _ := HashArray(NativeOrder, 4, 1, []Entry{{binary.NativeEndian.AppendUint32(nil, 0), binary.NativeEndian.AppendUint32(nil, 0x01020304)}})
	if got != want {
		return fmt.Errorf("probe map hash: kernel hash %x differs from the array algorithm's %x", got, want)
	}
	return nil
}
