package bpfsys

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LinkInfo is the prefix of struct bpf_link_info up to the tracing member
// of its union (Linux 5.8+; TargetObjID and TargetBTFID are filled from
// Linux 5.13 and stay zero before). The kernel copies at most the size of
// this struct. The union's other members are not read.
type LinkInfo struct {
	Type   uint32
	ID     uint32
	ProgID uint32
	_      uint32
	// For BPF_LINK_TYPE_TRACING: the link's attach type, the id of the
	// object it targets (a program, or a kernel BTF object) and the BTF id
	// of the target function in it.
	AttachType  uint32
	TargetObjID uint32
	TargetBTFID uint32
	_           uint32
}

// NextLinkID returns the id of the first link after id
// (BPF_LINK_GET_NEXT_ID, Linux 5.8+). The end of the list is ENOENT;
// kernels before 5.8 answer EINVAL.
//
// It is here, not cilium/ebpf's link.Iterator, because the loader walks
// the host's links on every verified load (extensions and tracing
// programs attached to its programs), and the link package would bring
// every link type, tracefs and kallsyms into each verifying binary.
func NextLinkID(id uint32) (uint32, error) {
	attr := getFDByIDAttr{id: id}
	if _, err := bpf(unix.BPF_LINK_GET_NEXT_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return 0, err
	}
	return attr.nextID, nil
}

// LinkFDByID opens a link by id. The caller closes the returned fd.
func LinkFDByID(id uint32) (int, error) {
	return fdByID(unix.BPF_LINK_GET_FD_BY_ID, id, "link")
}

// LinkInformation returns the link's info.
func LinkInformation(fd int) (*LinkInfo, error) {
	var info LinkInfo
	if err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info)); err != nil {
		return nil, fmt.Errorf("BPF_OBJ_GET_INFO_BY_FD (link fd %d): %w", fd, err)
	}
	return &info, nil
}

type linkCreateAttr struct {
	progFD      uint32
	targetFD    uint32
	attachType  uint32
	flags       uint32
	iterInfo    Pointer
	iterInfoLen uint32
	_           uint32
}

// AttachIter attaches the BPF_TRACE_ITER program progFD as an iterator
// without parameters (BPF_LINK_CREATE, Linux 5.9+ for links of
// iterators) and returns the link's fd, which holds the program.
func AttachIter(progFD int) (int, error) {
	attr := linkCreateAttr{progFD: uint32(progFD), attachType: unix.BPF_TRACE_ITER}
	fd, err := bpf(unix.BPF_LINK_CREATE, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return -1, fmt.Errorf("BPF_LINK_CREATE (iterator program fd %d): %w", progFD, err)
	}
	return int(fd), nil
}

// IterCreate opens a new pass of the iterator behind linkFD
// (BPF_ITER_CREATE): reading the returned fd runs the iterator program
// over every object. The caller closes it.
func IterCreate(linkFD int) (int, error) {
	attr := struct{ linkFD, flags uint32 }{linkFD: uint32(linkFD)}
	fd, err := bpf(unix.BPF_ITER_CREATE, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return -1, fmt.Errorf("BPF_ITER_CREATE (link fd %d): %w", linkFD, err)
	}
	return int(fd), nil
}
