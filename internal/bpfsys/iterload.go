package bpfsys

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// progLoadAttr is union bpf_attr for BPF_PROG_LOAD, up to
// attach_btf_obj_fd (Linux 5.11); the kernel reads the size given.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              Pointer
	license            Pointer
	logLevel           uint32
	logSize            uint32
	logBuf             Pointer
	kernVersion        uint32
	progFlags          uint32
	progName           [ObjNameLen]byte
	progIfindex        uint32
	expectedAttachType uint32
	progBTFFD          uint32
	funcInfoRecSize    uint32
	funcInfo           Pointer
	funcInfoCnt        uint32
	lineInfoRecSize    uint32
	lineInfo           Pointer
	lineInfoCnt        uint32
	attachBTFID        uint32
	attachBTFObjFD     uint32
	_                  uint32
}

// LoadBTFProgram loads a program whose attach target is the vmlinux BTF
// type attachBTFID (a tracing program, such as an iterator), from
// instructions already in the kernel's encoding. It exists because
// cilium/ebpf resolves such a target by parsing the whole kernel BTF
// again for every load (tens of milliseconds), while the caller has the
// id already. The caller closes the returned fd.
func LoadBTFProgram(progType, attachType uint32, name string, insns []byte, license string, attachBTFID uint32) (int, error) {
	lic := append([]byte(license), 0)
	attr := progLoadAttr{
		progType:           progType,
		insnCnt:            uint32(len(insns) / 8),
		insns:              newPointer(insns),
		license:            newPointer(lic),
		expectedAttachType: attachType,
		attachBTFID:        attachBTFID,
	}
	copy(attr.progName[:ObjNameLen-1], name)
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(lic)
	if err != nil {
		return -1, fmt.Errorf("BPF_PROG_LOAD %s: %w", name, err)
	}
	return int(fd), nil
}
