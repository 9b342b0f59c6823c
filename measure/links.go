package measure

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// KernelLink is a BPF link whose target is a program: a tracing link
// (fentry, fexit, fmod_ret on a BPF program) or an extension (freplace)
// link. Such a program runs inside, or instead of part of, its target
// without changing the target's tag or map_ids.
type KernelLink struct {
	ID uint32 `json:"id"`
	// Type is the link type ("tracing").
	Type string `json:"type"`
	// AttachType is the bpf_attach_type of the link, by name.
	AttachType string `json:"attach_type"`
	// ProgID, ProgName, ProgType and ProgTag describe the attaching
	// program.
	ProgID   uint32 `json:"prog_id"`
	ProgName string `json:"prog_name"`
	ProgType string `json:"prog_type"`
	ProgTag  string `json:"prog_tag"`
	// TargetProgID is the program the link attaches to; TargetBTFID the
	// BTF type id of the function in it.
	TargetProgID uint32 `json:"target_prog_id"`
	TargetBTFID  uint32 `json:"target_btf_id"`
	// Note says when the target id could also name a kernel BTF object:
	// the kernel reports both kinds of targets in one field.
	Note string `json:"note,omitempty"`
}

// String describes the link and its attaching program.
func (l KernelLink) String() string {
	s := fmt.Sprintf("%s link id %d (attach type %s) from %s program id %d %q (tag %s)", l.Type, l.ID, l.AttachType, l.ProgType, l.ProgID, l.ProgName, l.ProgTag)
	if l.Note != "" {
		s += "; " + l.Note
	}
	return s
}

// Links is the set of links on the host that target programs, indexed by
// the target program's id. Build it once per verification pass with
// [EnumerateLinks].
type Links struct {
	byTarget map[uint32][]KernelLink
	// Err is why the links that target a program cannot all be known:
	// links cannot be enumerated (BPF_LINK_GET_NEXT_ID needs Linux 5.8),
	// or some tracing or extension link does not report its target
	// (bpf_link_info's target ids are filled from Linux 5.13). Programs
	// are then at best PARTIAL.
	Err error
}

// add records kl under its target, or, when the kernel did not report the
// target (a target object id is never 0 from Linux 5.13 on, where
// bpf_link_info has it), in unknown when the link could target a program:
// an extension, or fentry, fexit, fmod_ret.
func (l *Links) add(kl KernelLink, unknown *[]KernelLink) {
	if kl.TargetProgID != 0 {
		l.byTarget[kl.TargetProgID] = append(l.byTarget[kl.TargetProgID], kl)
		return
	}
	switch {
	case kl.ProgType == ebpf.Extension.String(),
		kl.AttachType == ebpf.AttachTraceFEntry.String(),
		kl.AttachType == ebpf.AttachTraceFExit.String(),
		kl.AttachType == ebpf.AttachModifyReturn.String():
		*unknown = append(*unknown, kl)
	}
}

// untargeted is the error of links whose target the kernel did not say.
func untargeted(unknown []KernelLink) error {
	if len(unknown) == 0 {
		return nil
	}
	var ids []string
	for _, kl := range unknown {
		ids = append(ids, fmt.Sprintf("%d (%s, program id %d %q)", kl.ID, kl.AttachType, kl.ProgID, kl.ProgName))
	}
	return fmt.Errorf("%w: this kernel does not report the targets of tracing links (bpf_link_info target ids, Linux 5.13+), and link(s) %s may trace or replace this program; detach them, or measure on Linux 5.13+",
		ErrLinkTargetUnknown, strings.Join(ids, ", "))
}

// ErrLinkTargetUnknown says that a tracing or extension link on the host
// may target the measured program but the kernel does not say which
// program it targets (Linux 5.8 to 5.12).
var ErrLinkTargetUnknown = errors.New("link target unknown")

// To returns the links whose target is the program with this id.
func (l *Links) To(progID uint32) []KernelLink {
	if l == nil {
		return nil
	}
	return l.byTarget[progID]
}

// EnumerateLinks lists every link on the host (BPF_LINK_GET_NEXT_ID, link
// info, Linux 5.8+) and keeps those whose target is a program: tracing
// links of extension programs, and tracing links (fentry, fexit,
// fmod_ret) whose target object id is not a kernel BTF object. When the
// kernel cannot enumerate links the result has Err set; other errors are
// returned.
func EnumerateLinks() (*Links, error) {
	out := &Links{byTarget: map[uint32][]KernelLink{}}
	var unknown []KernelLink
	for id := uint32(0); ; {
		next, err := bpfsys.NextLinkID(id)
		if errors.Is(err, unix.ENOENT) {
			out.Err = untargeted(unknown)
			return out, nil // the end
		}
		if errors.Is(err, unix.EINVAL) {
			out.Err = fmt.Errorf("links cannot be enumerated on this kernel (BPF_LINK_GET_NEXT_ID, Linux 5.8+): %w", err)
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("BPF_LINK_GET_NEXT_ID after link id %d: %w", id, err)
		}
		id = next
		kl, err := settledLink(id)
		if errors.Is(err, unix.ENOENT) {
			continue // gone while we looked
		}
		if err != nil {
			return nil, fmt.Errorf("link id %d: %w", id, err)
		}
		if kl == nil {
			continue
		}
		if err := describeProgram(kl); errors.Is(err, unix.ENOENT) {
			continue // the attaching program is gone: so is the link
		} else if err != nil {
			return nil, fmt.Errorf("link id %d: attaching program id %d: %w", id, kl.ProgID, err)
		}
		if kl.ProgType != ebpf.Extension.String() {
			// fentry and friends report the target's BTF object id
			// when they trace a kernel function, the program id when
			// they trace a program.
			if isKernelBTF(kl.TargetProgID) {
				kl.Note = fmt.Sprintf("target object id %d is also a kernel BTF object: this may trace a kernel function instead", kl.TargetProgID)
			}
		}
		out.add(*kl, &unknown)
	}
}

// settledLink is [tracingLink], waiting for a link that is being
// created. The kernel allocates a link's id before the link is complete
// and answers EAGAIN for it until then; an extension link already
// replaces its target's function in that window, so it is waited for,
// never skipped. The window can be long: attaching an XDP link waits for
// an RCU grace period under the RTNL lock, a trampoline for RCU tasks
// (tens of milliseconds, far more under emulation). Past about 0.65 s the
// walk fails, saying so.
func settledLink(id uint32) (*KernelLink, error) {
	var waited time.Duration
	for wait := 10 * time.Microsecond; ; wait *= 2 {
		kl, err := tracingLink(id)
		if !errors.Is(err, unix.EAGAIN) {
			return kl, err
		}
		if wait > 500*time.Millisecond {
			return nil, fmt.Errorf("%w: still being created after %v; measure again", err, waited)
		}
		time.Sleep(wait)
		waited += wait
	}
}

// tracingLink describes the link with this id when it is a tracing link
// (extensions' links are tracing links too), and returns nil for every
// other link type.
func tracingLink(id uint32) (*KernelLink, error) {
	fd, err := bpfsys.LinkFDByID(id)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	info, err := bpfsys.LinkInformation(fd)
	if err != nil {
		return nil, err
	}
	if info.Type != unix.BPF_LINK_TYPE_TRACING {
		return nil, nil
	}
	return &KernelLink{
		ID:           info.ID,
		Type:         "tracing",
		AttachType:   ebpf.AttachType(info.AttachType).String(),
		ProgID:       info.ProgID,
		TargetProgID: info.TargetObjID,
		TargetBTFID:  info.TargetBTFID,
	}, nil
}

func describeProgram(kl *KernelLink) error {
	fd, err := bpfsys.ProgFDByID(kl.ProgID)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	info, _, err := bpfsys.ProgramInfo(fd)
	if err != nil {
		return err
	}
	kl.ProgName = bpfsys.CString(info.Name[:])
	kl.ProgType = ebpf.ProgramType(info.Type).String()
	kl.ProgTag = hex.EncodeToString(info.Tag[:])
	return nil
}

// isKernelBTF says whether id names a kernel (vmlinux or module) BTF object.
func isKernelBTF(id uint32) bool {
	h, err := btf.NewHandleFromID(btf.ID(id))
	if err != nil {
		return false
	}
	defer h.Close()
	info, err := h.Info()
	if err != nil || !info.IsKernel {
		return false
	}
	return true
}
