package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// openProgram opens the program named by "id N" or "pinned PATH". The
// caller closes the returned fd.
func openProgram(words []string) (int, error) {
	return openObject("program", words, bpfsys.ProgFDByID)
}

// openMap opens the map named by "id N" or "pinned PATH".
func openMap(words []string) (int, error) {
	return openObject("map", words, bpfsys.MapFDByID)
}

func openObject(kind string, words []string, byID func(uint32) (int, error)) (int, error) {
	if len(words) != 2 {
		return -1, fmt.Errorf("%w: name a %s with id N or pinned PATH", errUsage, kind)
	}
	switch words[0] {
	case "id":
		id, err := strconv.ParseUint(words[1], 10, 32)
		if err != nil {
			return -1, fmt.Errorf("%w: %s id %q is not a number", errUsage, kind, words[1])
		}
		fd, err := byID(uint32(id))
		if err != nil {
			return -1, fmt.Errorf("%w (is a %s with that id loaded? bpf2go-signed prog show lists programs and their maps)", err, kind)
		}
		return fd, nil
	case "pinned":
		return bpfsys.ObjGet(words[1])
	default:
		return -1, fmt.Errorf("%w: name a %s with id N or pinned PATH, not %q", errUsage, kind, words[0])
	}
}

func progMeasure(fd int, opts options, w io.Writer) error {
	defer unix.Close(fd)
	// The kernel's whole digest where it can be read; else the tag.
	digests, _ := measure.FullDigestsIfAvailable()
	kp, err := measure.KernelFD(fd, &measure.KernelOptions{Readback: opts.readback, FullDigests: digests})
	if err != nil {
		return fmt.Errorf("prog measure: %w", err)
	}
	if opts.json {
		return writeJSON(w, kp, opts.pretty)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%d: %s  name %s  tag %s (%s, %d bits)\n", kp.ID, ebpf.ProgramType(kp.Type), kp.Name, kp.Tag, kp.TagAlgorithm, kp.TagBits)
	if kp.Digest != "" {
		fmt.Fprintf(tw, "  digest\t%s (kernel, full)\n", kp.Digest)
	} else {
		fmt.Fprintf(tw, "  digest\tnot read: %s\n", measure.DigestBackend())
	}
	for i, m := range kp.Maps {
		fmt.Fprintf(tw, "  map %d\tid %d  %s  %s  key %d  value %d  max_entries %d  flags %#x", i, m.ID, m.Name, ebpf.MapType(m.Type), m.KeySize, m.ValueSize, m.MaxEntries, m.RawFlags)
		if m.Frozen {
			fmt.Fprint(tw, "  frozen")
		}
		if m.Content != nil {
			fmt.Fprintf(tw, "  %s %s (%s)", m.Content.Algorithm, m.Content.Hash, m.Content.Source)
		}
		if m.ContentError != "" {
			fmt.Fprintf(tw, "  no content hash: %s", m.ContentError)
		}
		fmt.Fprintln(tw)
		for _, sl := range m.Slots {
			if m.Type == uint32(ebpf.ProgramArray) {
				fmt.Fprintf(tw, "    slot %s\tprogram id %d\n", sl.Key, sl.ProgID)
			} else {
				fmt.Fprintf(tw, "    slot %s\tmap id %d\n", sl.Key, sl.MapID)
			}
		}
	}
	for _, tc := range kp.TailCalls {
		fmt.Fprintf(tw, "  tail call\tid %d  %s  tag %s\n", tc.ID, tc.Name, tc.Tag)
	}
	for _, l := range kp.Links {
		fmt.Fprintf(tw, "  ATTACHED\t%s\n", l)
	}
	return tw.Flush()
}
