package measure

import (
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// ProbeTagAlgorithmByLoad is the loading probe, for comparing it with the
// BTF answer.
var ProbeTagAlgorithmByLoad = probeTagAlgorithmByLoad

// HaveWriteProbe is the write probe's feature test.
var HaveWriteProbe = haveWriteProbe

// WithoutMapProbes runs f with both map probes (kernel map hash, write
// probe) answering "not supported", as on a kernel without them, to test
// the fallbacks (reading contents back, fdinfo). Not for parallel tests.
func WithoutMapProbes(f func()) {
	saved := mapProbes
	defer func() { mapProbes = saved }()
	off := fmt.Errorf("forced off by the test: %w", ebpf.ErrNotSupported)
	mapProbes = func() mapAnswers { return mapAnswers{off, off} }
	f()
}

// LinksOf builds a Links from links as EnumerateLinks would have found
// them: the targets of kernels before 5.13 are zero.
func LinksOf(links ...KernelLink) *Links {
	out := &Links{byTarget: map[uint32][]KernelLink{}}
	var unknown []KernelLink
	for _, kl := range links {
		out.add(kl, &unknown)
	}
	out.Err = untargeted(unknown)
	return out
}

// ReadEntries is the read-back of a map's entries, for checking its
// buffers against the kernel's layout.
var ReadEntries = func(fd int) ([]Entry, error) {
	info, err := bpfsys.MapDescriptor(fd)
	if err != nil {
		return nil, err
	}
	return readEntries(fd, info)
}
