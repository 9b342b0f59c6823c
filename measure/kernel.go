package measure

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
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
	ID uint32 `json:"id"`
	// MapDescriptor is normalised like the expected one's.
	MapDescriptor
	// RawFlags are the flags as the kernel reports them.
	RawFlags uint32 `json:"raw_flags"`
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
	// MapLoads are the map loads of the kernel's translated instructions,
	// encoded as [Program.MapLoads] with each map's index in Maps; dead
	// code the verifier removed has none. MapLoadsError says why they
	// could not be read (no translated instructions for this caller).
	MapLoads      string `json:"map_loads,omitempty"`
	MapLoadsError string `json:"map_loads_error,omitempty"`
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
	return KernelFDInfo(fd, nil, nil, opts)
}

// ErrInfoMismatch: the program info a caller passed to [KernelFDInfo] is
// not the kernel's answer for the program behind the file descriptor.
var ErrInfoMismatch = bpfsys.ErrOtherProgram

// KernelFDInfo is [KernelFD] for a caller that has just read the
// program's info from fd with [bpfsys.ProgramInfo] (to find what to
// compare it with): the measurement starts from that answer, info and
// mapIDs, instead of asking the kernel the same again (one
// BPF_OBJ_GET_INFO_BY_FD less per program). A program's info does not
// change after its load but for its statistics, which the measurement
// does not read. mapIDs must come from the same answer as info. An info
// that is not the kernel's answer for the program behind fd (another
// program's id, type or tag) is refused with [ErrInfoMismatch]: the read
// of the translated instructions, which the measurement makes anyway,
// checks it at no extra cost. With a nil info it is [KernelFD].
func KernelFDInfo(fd int, info *bpfsys.ProgInfo, mapIDs []uint32, opts *KernelOptions) (*KernelProgram, error) {
	if opts == nil {
		opts = &KernelOptions{}
	}
	kp, err := kernelProgram(fd, info, mapIDs, opts)
	if err != nil {
		return nil, err
	}
	if err := closure(kp, opts); err != nil {
		return nil, err
	}
	return kp, nil
}

// kernelProgram measures one program: its info, its maps (with the slots
// of program arrays and maps of maps) and its bound maps. info and ids,
// when info is not nil, are the program's info as the caller read it from
// fd; otherwise they are read here.
func kernelProgram(fd int, info *bpfsys.ProgInfo, ids []uint32, opts *KernelOptions) (*KernelProgram, error) {
	if info == nil {
		var err error
		if info, ids, err = bpfsys.ProgramInfo(fd); err != nil {
			return nil, err
		}
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
	if d, ok := opts.FullDigests[kp.ID]; ok && alg == TagSHA256 && len(d) == 2*sha256.Size && d[:2*tagSize] == tag {
		kp.Digest, kp.TagBits = d, 256
	}
	// The translated instructions are read with a check that the fd
	// still holds the program info describes (a caller's info, see
	// KernelFDInfo, could be another program's).
	loads, xlated, err := bpfsys.XlatedMapLoads(fd, info)
	if err != nil {
		return nil, fmt.Errorf("program %s (id %d): %w", kp.Name, kp.ID, err)
	}
	if e := opts.Expected; e != nil && len(ids) > len(e.Maps) {
		ids = splitBound(ids, len(e.Maps), loads, xlated, kp)
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
	if xlated {
		kp.MapLoads = mapLoads(loads, kp)
	} else {
		kp.MapLoadsError = "the kernel gives no translated instructions to this caller (CAP_BPF, or CAP_SYS_ADMIN before Linux 5.8): which map each instruction loads cannot be checked"
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
	if !opts.Readback && HaveMapHash() == nil && !knownNotArray {
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
	if kernelSum == nil && (ebpf.MapType(info.Type) != ebpf.Array || opts.Readback || HaveMapHash() != nil) {
		var err error
		frozen, err = mapFrozen(fd)
		if err != nil {
			return nil, err
		}
	}

	km := &KernelMap{
		ID: info.ID,
		MapDescriptor: MapDescriptor{
			Name:       bpfsys.CString(info.Name[:]),
			Type:       info.Type,
			KeySize:    info.KeySize,
			ValueSize:  info.ValueSize,
			MaxEntries: info.MaxEntries,
			Flags:      info.MapFlags,
			MapExtra:   info.MapExtra,
		},
		RawFlags: info.MapFlags,
		Frozen:   frozen,
	}
	km.normalise()
	if km.holdsObjects() {
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

// mapFrozen asks the kernel whether a map is frozen. Only the kernel's
// own statement says frozen: the frozen field of /proc/self/fdinfo. The
// write probe (see [bpfsys.WriteProbe] and haveWriteProbe) answers the
// other case without reading a file: EINVAL or EFAULT mean the kernel let
// the write past its permission check, so the map is not frozen. Its
// EPERM is not taken as frozen, as a read-only fd, a seccomp filter or a
// BPF LSM program denying map updates gives the same answer
// (TestFrozenStateWriteDenied): a denial must not make a writable map
// look frozen. (An answer forged the other way makes a frozen map look
// writable, which refuses it.)
func mapFrozen(fd int) (bool, error) {
	if haveWriteProbe() == nil {
		switch err := bpfsys.WriteProbe(fd); {
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

// tagAlgorithmFor names the algorithm of a kernel tag. When the tag is the
// SHA-256 or the SHA-1 tag of one of the expected digests, that tells (the
// two cannot coincide but by a 64-bit accident); otherwise the kernel is
// probed.
func tagAlgorithmFor(tag string, expected *Program) (string, error) {
	if expected != nil {
		for i := -1; i < len(expected.Alternatives); i++ {
			d := &expected.InsnDigest
			if i >= 0 {
				d = &expected.Alternatives[i]
			}
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
