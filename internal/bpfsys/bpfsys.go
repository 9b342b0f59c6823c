// Package bpfsys makes the few bpf(2) calls that cilium/ebpf cannot make
// or cannot make as cheaply on the measured path: the kernel measurement
// of loaded programs (package measure, which the loader, audit's verdicts
// and the agent run). Everything else (the CLI's prog show, audit's walks
// and struct_ops maps, opening and checking pins) uses cilium/ebpf's public
// API. What is here, and why:
//
//   - [MapInfoWithHash]: bpf_map_info.hash (Linux 6.18), which
//     cilium/ebpf's MapInfo does not expose.
//   - [WriteProbe]: asks whether a map accepts syscall writes without
//     writing; cilium/ebpf has no such call.
//   - [ProgramInfo], [MapDescriptor], [MapFDByID], [ProgFDByID]: the
//     measurement reads every program and map the loader holds; one
//     BPF_OBJ_GET_INFO_BY_FD per object is the floor, where cilium/ebpf's
//     Info and NewMapFromID add system calls and a /proc fdinfo parse.
//     The audit's verdict pass (audit.Trust.All) opens every program on
//     the host with [ProgFDByID] for the same reason.
//   - [XlatedMapLoads]: the map loads of the translated instructions, to
//     compare which map each instruction loads with the signed ones and to
//     tell maps bound with BPF_PROG_BIND_MAP apart, without cilium/ebpf
//     decoding the whole program.
//   - [LookupBatch], [LookupElem], [NextKey]: the read-back of sealed maps
//     into one preallocated buffer of raw bytes, without cilium/ebpf's
//     reflection-based marshaling.
//   - [NextLinkID], [LinkFDByID], [LinkInformation]: the walk of the
//     host's links on every verified load (what is attached to the loaded
//     programs), and [AttachIter], [IterCreate]: the bpf_prog iterator of
//     the full digest; cilium/ebpf's link package would bring every link
//     type, tracefs and kallsyms into each verifying binary.
//   - [MapFrozen]: the frozen state alone, from /proc/self/fdinfo (it has
//     no system call), without the rest of cilium/ebpf's MapInfo.
//   - [LoadBTFProgram]: the full-digest backend's iterator, loaded with
//     the target's BTF id its caller found, where cilium/ebpf would parse
//     the whole kernel BTF again to find it.
//
// Every call is one system call; nothing here parses /proc except
// [MapFrozen].
package bpfsys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// HashSize is the only hash size the kernel accepts in bpf_map_info.hash_size.
const HashSize = 32

// ObjNameLen is BPF_OBJ_NAME_LEN: names are at most ObjNameLen-1 bytes.
const ObjNameLen = unix.BPF_OBJ_NAME_LEN

// TagSize is BPF_TAG_SIZE.
const TagSize = unix.BPF_TAG_SIZE

// ProgInfo is the prefix of struct bpf_prog_info that measurement needs.
// The kernel copies at most the size of this struct, so it works with any
// kernel that supports BPF_OBJ_GET_INFO_BY_FD for programs (4.13+).
type ProgInfo struct {
	Type          uint32
	ID            uint32
	Tag           [TagSize]byte
	JitedProgLen  uint32
	XlatedProgLen uint32
	JitedInsns    Pointer
	XlatedInsns   Pointer
	LoadTime      uint64
	CreatedByUID  uint32
	NrMapIDs      uint32
	MapIDs        Pointer
	Name          [ObjNameLen]byte
}

// MapInfo is struct bpf_map_info up to and including hash_size (6.18).
// On older kernels the trailing fields must stay zero.
type MapInfo struct {
	Type                  uint32
	ID                    uint32
	KeySize               uint32
	ValueSize             uint32
	MaxEntries            uint32
	MapFlags              uint32
	Name                  [ObjNameLen]byte
	Ifindex               uint32
	BTFVmlinuxValueTypeID uint32
	NetnsDev              uint64
	NetnsIno              uint64
	BTFID                 uint32
	BTFKeyTypeID          uint32
	BTFValueTypeID        uint32
	BTFVmlinuxID          uint32
	MapExtra              uint64
	Hash                  Pointer
	HashSize              uint32
	_                     uint32
}

type objInfoAttr struct {
	fd      uint32
	infoLen uint32
	info    Pointer
}

type getFDByIDAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

func objInfo(fd int, info unsafe.Pointer, size uintptr) error {
	attr := objInfoAttr{fd: uint32(fd), infoLen: uint32(size), info: Pointer{ptr: info}}
	_, err := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// ProgramInfo returns the program's info and the ids of the maps it uses, in
// the kernel's order (the order of first reference in the submitted
// instructions).
func ProgramInfo(fd int) (*ProgInfo, []uint32, error) {
	ids := make([]uint32, 16)
	for {
		var info ProgInfo
		info.NrMapIDs = uint32(len(ids))
		info.MapIDs = Pointer{ptr: unsafe.Pointer(&ids[0])}
		err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info))
		if err != nil {
			return nil, nil, fmt.Errorf("BPF_OBJ_GET_INFO_BY_FD (program fd %d): %w", fd, err)
		}
		if int(info.NrMapIDs) <= len(ids) {
			info.MapIDs = Pointer{}
			return &info, ids[:info.NrMapIDs], nil
		}
		ids = make([]uint32, info.NrMapIDs)
	}
}

// MapDescriptor returns the map's info without asking for its hash.
func MapDescriptor(fd int) (*MapInfo, error) {
	var info MapInfo
	if err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info)); err != nil {
		return nil, fmt.Errorf("BPF_OBJ_GET_INFO_BY_FD (map fd %d): %w", fd, err)
	}
	return &info, nil
}

// MapInfoWithHash returns the map's info and the kernel's SHA-256 of its
// contents. It requires Linux 6.18 and a frozen BPF_MAP_TYPE_ARRAY: the
// kernel answers EPERM for a map that is not frozen, EINVAL for other map
// types and E2BIG on kernels that predate the hash field.
func MapInfoWithHash(fd int) (*MapInfo, [HashSize]byte, error) {
	var info MapInfo
	sum := make([]byte, HashSize)
	info.Hash = newPointer(sum)
	info.HashSize = HashSize
	err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info))
	if err != nil {
		return nil, [HashSize]byte{}, fmt.Errorf("BPF_OBJ_GET_INFO_BY_FD with hash (map fd %d): %w", fd, err)
	}
	info.Hash = Pointer{}
	return &info, [HashSize]byte(sum), nil
}

// MapFDByID opens a map by id. The caller closes the returned fd.
func MapFDByID(id uint32) (int, error) {
	return fdByID(unix.BPF_MAP_GET_FD_BY_ID, id, "map")
}

// ProgFDByID opens a program by id. The caller closes the returned fd.
func ProgFDByID(id uint32) (int, error) {
	return fdByID(unix.BPF_PROG_GET_FD_BY_ID, id, "program")
}

func fdByID(cmd uintptr, id uint32, what string) (int, error) {
	attr := getFDByIDAttr{id: id}
	fd, err := bpf(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return -1, fmt.Errorf("open %s id %d: %w", what, id, err)
	}
	return int(fd), nil
}

// ErrNoFrozenField is returned by [MapFrozen] when fdinfo has no "frozen"
// line (kernels before 5.2, which cannot freeze maps at all).
var ErrNoFrozenField = errors.New("fdinfo has no frozen field")

// ErrOtherProgram: the program behind a file descriptor is not the one an
// info given with it describes.
var ErrOtherProgram = errors.New("the fd holds another program than the info given")

// MapFrozen reports whether the map behind fd was frozen with
// BPF_MAP_FREEZE, from /proc/self/fdinfo (Linux 5.2+).
func MapFrozen(fd int) (bool, error) {
	// Raw system calls rather than os.ReadFile: no stat, no poller
	// registration, one buffer (a map's fdinfo is a few hundred bytes).
	path := "/proc/self/fdinfo/" + strconv.Itoa(fd)
	f, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("read fdinfo: open %s: %w", path, err)
	}
	defer unix.Close(f)
	var buf [2048]byte
	n := 0
	for n < len(buf) {
		m, err := unix.Read(f, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read fdinfo: %s: %w", path, err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n == len(buf) {
		return false, fmt.Errorf("read fdinfo: %s: more than %d bytes", path, len(buf))
	}
	for line := range bytes.SplitSeq(buf[:n], []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(k) != "frozen" {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil {
			return false, fmt.Errorf("fdinfo frozen field %q: %w", v, err)
		}
		return n != 0, nil
	}
	return false, ErrNoFrozenField
}

// CString returns the NUL-terminated prefix of b.
func CString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// MapLoad is one instruction of a program's translated instructions that
// loads a map: an ldimm64 with src_reg BPF_PSEUDO_MAP_FD (the map's
// address) or BPF_PSEUDO_MAP_VALUE (the address of the byte Off of its
// value, for arrays), as the kernel dumps it with the map's id.
type MapLoad struct {
	MapID uint32
	Value bool
	Off   uint32
}

// XlatedMapLoads returns the map loads of the program's translated
// instructions (as the verifier left them), in instruction order: the
// kernel writes the map's id into the first half of the ldimm64 and the
// offset into the second when it dumps them (bpf_insn_prepare_dump;
// BPF_PSEUDO_MAP_IDX loads are dumped as BPF_PSEUDO_MAP_FD ones, with the
// id). Loads in code the verifier removed as dead are not there; under
// constant blinding (net.core.bpf_jit_harden) none are. ok is false when
// the kernel withholds the translated instructions (a caller without
// CAP_BPF, CAP_SYS_ADMIN on old kernels). want is the program's info
// from an earlier call ([ProgramInfo]), whose xlated_prog_len sizes the
// read (a program's translated instructions do not change after the
// load); the kernel's answer must be for the same program (id, type and
// tag), or the call fails with [ErrOtherProgram]: instructions of one
// program are never read under another's info.
func XlatedMapLoads(fd int, want *ProgInfo) (loads []MapLoad, ok bool, err error) {
	var buf []byte
	info := ProgInfo{}
	if want.XlatedProgLen > 0 {
		buf = make([]byte, want.XlatedProgLen)
		info.XlatedProgLen, info.XlatedInsns = uint32(len(buf)), newPointer(buf)
	}
	if err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info)); err != nil {
		return nil, false, fmt.Errorf("BPF_OBJ_GET_INFO_BY_FD translated instructions (program fd %d): %w", fd, err)
	}
	if info.ID != want.ID || info.Type != want.Type || info.Tag != want.Tag {
		return nil, false, fmt.Errorf("%w: program fd %d is id %d (type %d, tag %x), the info given is of id %d (type %d, tag %x)",
			ErrOtherProgram, fd, info.ID, info.Type, info.Tag, want.ID, want.Type, want.Tag)
	}
	if want.XlatedProgLen == 0 {
		return nil, false, nil
	}
	buf = buf[:min(uint32(len(buf)), info.XlatedProgLen)]
	littleEndian := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	for i := 0; i+16 <= len(buf); i += 8 {
		code, regs := buf[i], buf[i+1]
		if code != unix.BPF_LD|unix.BPF_IMM|unix.BPF_DW {
			continue
		}
		src := regs >> 4
		if !littleEndian {
			src = regs & 0xf // big-endian encoding
		}
		if src == unix.BPF_PSEUDO_MAP_FD || src == unix.BPF_PSEUDO_MAP_VALUE {
			loads = append(loads, MapLoad{
				MapID: binary.NativeEndian.Uint32(buf[i+4 : i+8]),
				Value: src == unix.BPF_PSEUDO_MAP_VALUE,
				Off:   binary.NativeEndian.Uint32(buf[i+12 : i+16]),
			})
		}
		i += 8 // second half of the ldimm64
	}
	return loads, true, nil
}
