package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// openProgram opens the program named by "id N" or "pinned PATH". The
// caller closes it.
func openProgram(words []string) (*ebpf.Program, error) {
	return openObject("program", words, ebpf.NewProgramFromID, ebpf.LoadPinnedProgram)
}

// openMap opens the map named by "id N" or "pinned PATH".
func openMap(words []string) (*ebpf.Map, error) {
	return openObject("map", words, ebpf.NewMapFromID, ebpf.LoadPinnedMap)
}

func openObject[T any, ID ~uint32](kind string, words []string, byID func(ID) (T, error), pinned func(string, *ebpf.LoadPinOptions) (T, error)) (T, error) {
	var none T
	if len(words) != 2 {
		return none, fmt.Errorf("%w: name a %s with id N or pinned PATH", errUsage, kind)
	}
	switch words[0] {
	case "id":
		id, err := strconv.ParseUint(words[1], 10, 32)
		if err != nil {
			return none, fmt.Errorf("%w: %s id %q is not a number", errUsage, kind, words[1])
		}
		obj, err := byID(ID(id))
		if err != nil {
			return none, fmt.Errorf("open %s id %d: %w (is a %s with that id loaded? bpf2go-signed prog show lists programs and their maps)", kind, id, err, kind)
		}
		return obj, nil
	case "pinned":
		obj, err := pinned(words[1], nil)
		if err != nil {
			return none, fmt.Errorf("open pinned %s %s: %w", kind, words[1], err)
		}
		return obj, nil
	default:
		return none, fmt.Errorf("%w: name a %s with id N or pinned PATH, not %q", errUsage, kind, words[0])
	}
}

func progMeasure(fd int, opts options, w io.Writer) error {
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
