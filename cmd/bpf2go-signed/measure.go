package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/gen"
	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

// objectReport is the JSON output of "measure object".
type objectReport struct {
	Object string `json:"object"`
	SHA256 string `json:"sha256"`
	*measure.Manifest
}

// loadObject reads a BPF ELF object and checks that this host can load it.
func loadObject(path string) (*ebpf.CollectionSpec, []byte, error) {
	raw, err := gen.ReadFile(path, build.MaxObjectSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: no such file", path)
	}
	if err != nil {
		return nil, nil, err // names the file
	}
	f, err := elf.NewFile(bytes.NewReader(raw))
	switch {
	case len(raw) >= 4 && string(raw[:4]) == elf.ELFMAG && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return nil, nil, fmt.Errorf("%s: truncated ELF object (%d bytes)", path, len(raw))
	case err != nil:
		return nil, nil, fmt.Errorf("%s: not an ELF object (%v)", path, err)
	}
	if f.Machine != elf.EM_BPF {
		return nil, nil, fmt.Errorf("%s: ELF for %s, not a BPF object", path, f.Machine)
	}
	if got, want := f.ByteOrder, measure.NativeOrder; got != want {
		return nil, nil, fmt.Errorf("%s: %s object, but this host loads %s objects: measure the %s object bpf2go built", path, orderName(got), orderName(want), targetName(want))
	}
	spec, err := build.LoadSpec(raw)
	if err != nil {
		if errors.Is(err, measure.ErrTooLarge) {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("%s: truncated or corrupt BPF object: %w", path, err)
		}
		return nil, nil, fmt.Errorf("%s: cannot read BPF object: %w", path, err)
	}
	structOps := false
	for _, m := range spec.Maps {
		structOps = structOps || m.Type == ebpf.StructOpsMap
	}
	if len(spec.Programs) == 0 && !structOps {
		return nil, nil, fmt.Errorf("%s: %w", path, measure.ErrNoPrograms)
	}
	return spec, raw, nil
}

func orderName(bo binary.ByteOrder) string {
	if bo == binary.BigEndian {
		return "big-endian"
	}
	return "little-endian"
}

func targetName(bo binary.ByteOrder) string {
	if bo == binary.BigEndian {
		return "bpfeb"
	}
	return "bpfel"
}

func measureObject(path string, opts cli.Options, w io.Writer) error {
	_, raw, err := loadObject(path)
	if err != nil {
		return fmt.Errorf("measure object %w", err)
	}
	// The object's sealing plan: the one bpf2go-signed wrote next to it,
	// or the one its __sealed annotations declare.
	src, err := build.SourceOf(gen.ReadFile(path+build.PlanSuffix, gen.MaxJSONFile))
	if err != nil {
		return fmt.Errorf("measure object %s: %w", path, err)
	}
	targets, err := measure.LoadTargets(opts.TargetBTF)
	if err != nil {
		return fmt.Errorf("measure object %s: %w", path, err)
	}
	// Programs measurement v2 cannot predict are reported, not refused.
	m, _, _, err := build.Measure(raw, src, targets)
	if err != nil && (m == nil || !errors.Is(err, measure.ErrUnsupported)) {
		return fmt.Errorf("measure object %s: %w", path, err)
	}
	sum := sha256.Sum256(raw)
	rep := objectReport{Object: path, SHA256: hex.EncodeToString(sum[:]), Manifest: m}
	if opts.JSON {
		return cli.WriteJSON(w, rep, opts.Pretty)
	}
	return printObject(w, &rep)
}

func printObject(w io.Writer, rep *objectReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "object\t%s\n", rep.Object)
	fmt.Fprintf(tw, "sha256\t%s\n", rep.SHA256)
	fmt.Fprintf(tw, "measurement\tv%d  digest %s  meas_id %s\n", rep.Version, rep.Digest, rep.MeasID)
	for _, p := range rep.Programs {
		fmt.Fprintf(tw, "\n%s\t%s  attach_type %d  insns %d  meas_id %s\n", p.Name, ebpf.ProgramType(p.Type), p.AttachType, p.Insns, p.MeasID)
		for _, d := range p.Digests() {
			if d.Target != "" {
				fmt.Fprintf(tw, "  target\t%s\n", d.Target)
			}
			fmt.Fprintf(tw, "  digest\t%s\n", d.Digest)
			fmt.Fprintf(tw, "  tag\t%s  tag_sha1 %s\n", d.Tag, d.TagSHA1)
		}
		for _, r := range p.Relocations {
			kind := "CO-RE"
			if strings.HasPrefix(r.Relocation, "kfunc ") {
				kind = "kernel"
			}
			fmt.Fprintf(tw, "  %s\tinsn %d  %s\n", kind, r.Insn, r.Relocation)
		}
		for i, m := range p.Maps {
			fmt.Fprintf(tw, "  map %d\t%s  %s  key %d  value %d  max_entries %d  flags %#x", i, m.Name, ebpf.MapType(m.Type), m.KeySize, m.ValueSize, m.MaxEntries, m.Flags)
			switch {
			case m.Sealed && m.Content != nil:
				fmt.Fprintf(tw, "  sealed %s %s", m.Content.Algorithm, m.Content.Hash)
			case m.Sealed:
				fmt.Fprintf(tw, "  sealed %s", measure.AlgSlots)
			case m.IsProgramArray():
				fmt.Fprintf(tw, "  UNSEALED: tail-call targets not bound")
			}
			if m.Inner != nil {
				fmt.Fprintf(tw, "  inner %s key %d value %d max_entries %d flags %#x", ebpf.MapType(m.Inner.Type), m.Inner.KeySize, m.Inner.ValueSize, m.Inner.MaxEntries, m.Inner.Flags)
			}
			fmt.Fprintln(tw)
			for _, sl := range m.Slots {
				if sl.Program != "" {
					fmt.Fprintf(tw, "    slot %s\tprogram %s  measurement %s\n", sl.Key, sl.Program, sl.Measurement)
				} else if sl.Map != nil {
					fmt.Fprintf(tw, "    slot %s\tmap %s  %s", sl.Key, sl.Map.Name, ebpf.MapType(sl.Map.Type))
					if sl.Map.Content != nil {
						fmt.Fprintf(tw, "  sealed %s %s", sl.Map.Content.Algorithm, sl.Map.Content.Hash)
					}
					fmt.Fprintln(tw)
				}
			}
		}
		for _, u := range p.Unsupported {
			fmt.Fprintf(tw, "  UNSUPPORTED\t%s\n", u)
		}
	}
	for _, so := range rep.StructOps {
		fmt.Fprintf(tw, "\nstruct_ops %s\t%s  flags %#x\n", so.Name, so.Type, so.Flags)
		for _, m := range so.Members {
			switch {
			case m.Func && m.Program != "":
				fmt.Fprintf(tw, "  %s\tprogram %s\n", m.Name, m.Program)
			case m.Func:
				fmt.Fprintf(tw, "  %s\tno program\n", m.Name)
			default:
				fmt.Fprintf(tw, "  %s\tdata %s\n", m.Name, m.Data)
			}
		}
	}
	return tw.Flush()
}
