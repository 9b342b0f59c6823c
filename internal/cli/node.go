package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// The node commands: what a host's operator runs against the programs
// and maps loaded in its kernel. Both executables run these.

// NodeGroups are the groups of the node commands.
var NodeGroups = []Group{
	{"prog", "programs loaded in the kernel: list, measure, give a verdict", "prog show"},
	{"map", "maps loaded in the kernel: descriptor, frozen state, content hash, struct_ops verdicts", ""},
}

// NodeCommands returns the node commands, in the order of the help.
func NodeCommands() []*Command {
	return []*Command{ProgShow, ProgMeasure, ProgVerify, MapShow, MapHash, MapVerify}
}

// ProgShow lists loaded programs.
var ProgShow = &Command{
	Name:     "prog show",
	Synopsis: "[id N | pinned PATH] [-j|-p]",
	Summary:  "list loaded programs like bpftool prog show",
	Detail:   `Without a program, lists every program loaded in the kernel.`,
	Examples: []string{
		"bpf2go-signed prog show",
		"bpf2go-signed prog show id 42 -j",
	},
	Run: runProgShow,
}

// ProgMeasure prints the kernel's measurement of a loaded program.
var ProgMeasure = &Command{
	Name:     "prog measure",
	Synopsis: "(id N | pinned PATH) [--readback] [-j|-p]",
	Summary:  "print the kernel's measurement of a loaded program",
	Detail: `Asks the kernel what it loaded: the program's tag, translated
instructions (when readable) and maps, with the content hash of each
frozen map.`,
	Examples: []string{
		"bpf2go-signed prog measure id 42",
		"bpf2go-signed prog measure pinned /sys/fs/bpf/xdp_filter -p",
	},
	Run: runProgMeasure,
}

// ProgVerify gives loaded programs a verdict against a trust directory.
var ProgVerify = &Command{
	Name:     "prog verify",
	Synopsis: "(id N | pinned PATH | --all) --trust DIR [--accept VERDICTS] [-j|-p]",
	Summary:  "give loaded programs a verdict against signed envelopes",
	Detail: `DIR holds public keys (*.pub) and signed envelopes (*.intoto.json), in any
subdirectory; the objects themselves may sit next to their envelopes.
Keyless signatures: Sigstore bundles (*.sigstore.json), trusted
identities (*.identity, one a line) and trusted_root.json at the top.
Envelopes are matched to a program by their measurement, never by file
name, so envelopes with the same name in different subdirectories are
fine. Only envelopes of objects for this host's byte order are
considered. Verdicts: OK (matches a signed measurement), PARTIAL (matches
except at CO-RE or kernel-resolved sites whose values this kernel
yields), UNSIGNED (no envelope covers it), BADSIG (it differs from the
envelope that names it, or the signature is not trusted).
Exit status 0 only when every verdict is one --accept names (OK by default,
as the loader's default policy). A PARTIAL verdict needs the signed object
in the trust directory, as the loader has it: it relocates the object's
program for this kernel and compares the kernel's tag; with the envelope
alone such a program is BADSIG, with a hint.`,
	Examples: []string{
		"bpf2go-signed prog verify id 42 --trust /etc/bpf2go-signed",
		"bpf2go-signed prog verify --all --trust /etc/bpf2go-signed -p",
	},
	Run: runProgVerify,
}

// MapShow prints a map's descriptor, frozen state and content hash.
var MapShow = &Command{
	Name:     "map show",
	Synopsis: "(id N | pinned PATH) [--readback] [-j|-p]",
	Summary:  "a map's descriptor, frozen state and content hash",
	Examples: []string{
		"bpf2go-signed map show id 7",
	},
	Run: runMapShow,
}

// MapHash prints a frozen map's content hash.
var MapHash = &Command{
	Name:     "map hash",
	Synopsis: "(id N | pinned PATH) [--readback] [-j|-p]",
	Summary:  "the content hash of a frozen map",
	Detail: `Only a frozen (sealed) map has a content hash: the kernel's own hash where
it computes one, else a hash of the contents read back.`,
	Examples: []string{
		"bpf2go-signed map hash pinned /sys/fs/bpf/config",
	},
	Run: runMapShow,
}

// MapVerify gives struct_ops maps a verdict.
var MapVerify = &Command{
	Name:     "map verify",
	Synopsis: "(id N | pinned PATH | --all) --trust DIR [--accept VERDICTS] [-j|-p]",
	Summary:  "give loaded struct_ops maps a verdict against signed envelopes",
	Detail: `A struct_ops map (a TCP congestion control, a sched_ext scheduler) binds
programs to the members of a kernel struct. It is OK when a trusted
envelope measures a struct_ops map of its name whose every member the
kernel's value matches: each function member holds a program whose own
verdict passes against the same envelope, each data member the signed
bytes. --all verifies every struct_ops map on the host. The trust
directory is the one of prog verify.`,
	Examples: []string{
		"bpf2go-signed map verify --all --trust /etc/bpf2go-signed",
		"bpf2go-signed map verify pinned /sys/fs/bpf/my_cc --trust /etc/bpf2go-signed -j",
	},
	Run: runMapVerify,
}

func runProgShow(c *Command, args []string, stdout, stderr io.Writer) error {
	var o Options
	words, err := o.Parse(c, args, nil)
	if err != nil {
		return err
	}
	return progShow(words, o, stdout)
}

func readbackFlag(o *Options) func(fs *flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.BoolVar(&o.Readback, "readback", false, "hash frozen maps in user space from contents read back through the kernel, even where the kernel hashes them")
	}
}

func runProgMeasure(c *Command, args []string, stdout, stderr io.Writer) error {
	var o Options
	words, err := o.Parse(c, args, readbackFlag(&o))
	if err != nil {
		return err
	}
	prog, err := openProgram(words)
	if err != nil {
		return err
	}
	defer prog.Close()
	return progMeasure(prog.FD(), o, stdout)
}

func runProgVerify(c *Command, args []string, stdout, stderr io.Writer) error {
	var o Options
	words, err := o.Parse(c, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.All, "all", false, "every loaded program")
		fs.StringVar(&o.Accept, "accept", "OK", "the `VERDICTS` that pass, comma-separated, like the loader's policy (OK,PARTIAL accepts CO-RE programs relocated for an unsigned kernel)")
		TrustFlag(fs, &o.Trust)
	})
	if err != nil {
		return err
	}
	return progVerify(c.ToolName(), words, o, stdout, stderr)
}

func runMapVerify(c *Command, args []string, stdout, stderr io.Writer) error {
	var o Options
	words, err := o.Parse(c, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.All, "all", false, "every struct_ops map loaded")
		fs.StringVar(&o.Accept, "accept", "OK", "the `VERDICTS` that pass, comma-separated")
		TrustFlag(fs, &o.Trust)
	})
	if err != nil {
		return err
	}
	return mapVerify(c.ToolName(), words, o, stdout, stderr)
}

func runMapShow(c *Command, args []string, stdout, stderr io.Writer) error {
	var o Options
	words, err := o.Parse(c, args, readbackFlag(&o))
	if err != nil {
		return err
	}
	m, err := openMap(words)
	if err != nil {
		return err
	}
	defer m.Close()
	return mapShow(m.FD(), c.Name == "map hash", o, stdout)
}

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
		return none, fmt.Errorf("%w: name a %s with id N or pinned PATH", ErrUsage, kind)
	}
	switch words[0] {
	case "id":
		id, err := strconv.ParseUint(words[1], 10, 32)
		if err != nil {
			return none, fmt.Errorf("%w: %s id %q is not a number", ErrUsage, kind, words[1])
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
		return none, fmt.Errorf("%w: name a %s with id N or pinned PATH, not %q", ErrUsage, kind, words[0])
	}
}

func progMeasure(fd int, opts Options, w io.Writer) error {
	// The kernel's whole digest where it can be read; else the tag.
	digests, _ := measure.FullDigestsIfAvailable()
	kp, err := measure.KernelFD(fd, &measure.KernelOptions{Readback: opts.Readback, FullDigests: digests})
	if err != nil {
		return fmt.Errorf("prog measure: %w", err)
	}
	if opts.JSON {
		return WriteJSON(w, kp, opts.Pretty)
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

// progInfo is one line of "prog show".
type progInfo struct {
	ID     uint32   `json:"id"`
	Type   string   `json:"type"`
	Name   string   `json:"name"`
	Tag    string   `json:"tag"`
	MapIDs []uint32 `json:"map_ids"`
}

// describeProg describes a program through cilium/ebpf's Info: "prog
// show" is no measured path.
func describeProg(prog *ebpf.Program) (*progInfo, error) {
	info, err := prog.Info()
	if err != nil {
		return nil, err
	}
	id, _ := info.ID()
	mapIDs, _ := info.MapIDs()
	ids := make([]uint32, len(mapIDs))
	for i, m := range mapIDs {
		ids[i] = uint32(m)
	}
	return &progInfo{ID: uint32(id), Type: info.Type.String(), Name: info.Name, Tag: info.Tag, MapIDs: ids}, nil
}

// progShow lists one program, or every loaded one.
func progShow(words []string, opts Options, w io.Writer) error {
	var progs []progInfo
	if len(words) > 0 {
		prog, err := openProgram(words)
		if err != nil {
			return err
		}
		defer prog.Close()
		p, err := describeProg(prog)
		if err != nil {
			return fmt.Errorf("prog show: %w", err)
		}
		progs = append(progs, *p)
	} else {
		err := audit.EachProgram(func(_ uint32, prog *ebpf.Program) error {
			p, err := describeProg(prog)
			if err == nil {
				progs = append(progs, *p)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("prog show: %w", err)
		}
	}
	if opts.JSON {
		return WriteJSON(w, progs, opts.Pretty)
	}
	for _, p := range progs {
		fmt.Fprintf(w, "%d: %s  name %s  tag %s\n", p.ID, p.Type, p.Name, p.Tag)
		if len(p.MapIDs) > 0 {
			fmt.Fprintf(w, "\tmap_ids %s\n", joinIDs(p.MapIDs))
		}
	}
	return nil
}

func joinIDs(ids []uint32) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(int(id))
	}
	return s
}

// errNotAllPassed: prog verify or map verify found a verdict not accepted.
var errNotAllPassed = errors.New("not every program passed")

// verifyReport is the JSON output of "prog verify".
type verifyReport struct {
	// Trust is what the trust directory holds, with its warnings.
	Trust *audit.Trust `json:"trust"`
	// Accept are the verdicts that pass.
	Accept   []bpfsigned.Verdict `json:"accept"`
	Programs []audit.Result      `json:"programs"`
}

// writeVerifyReport writes rep as [WriteJSON] does, byte for byte; unless
// pretty, the programs (one per program on the host) are appended without
// encoding/json's reflection ([audit.Result.AppendJSON]).
func writeVerifyReport(w io.Writer, rep verifyReport, pretty bool) error {
	if pretty || rep.Programs == nil {
		return WriteJSON(w, rep, pretty)
	}
	trust, err := json.Marshal(rep.Trust)
	if err != nil {
		return err
	}
	accept, err := json.Marshal(rep.Accept)
	if err != nil {
		return err
	}
	b := make([]byte, 0, len(trust)+len(accept)+256*len(rep.Programs)+64)
	b = append(b, `{"trust":`...)
	b = append(b, trust...)
	b = append(b, `,"accept":`...)
	b = append(b, accept...)
	b = append(b, `,"programs":[`...)
	for i := range rep.Programs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = rep.Programs[i].AppendJSON(b); err != nil {
			return err
		}
	}
	b = append(b, "]}\n"...)
	_, err = w.Write(b)
	return err
}

// loadTrust checks the words and options common to prog verify and map
// verify (cmd), reads --accept and the trust directory, and reports on
// stderr the envelopes not trusted and the directory's warnings.
func loadTrust(tool, cmd string, words []string, opts Options, stderr io.Writer) (*audit.Trust, []bpfsigned.Verdict, error) {
	if opts.Trust == "" {
		return nil, nil, fmt.Errorf("%w: %s needs --trust DIR", ErrUsage, cmd)
	}
	if opts.All == (len(words) > 0) {
		return nil, nil, fmt.Errorf("%w: %s takes id N, pinned PATH or --all", ErrUsage, cmd)
	}
	accept, err := parseAccept(opts.Accept)
	if err != nil {
		return nil, nil, err
	}
	trust, err := audit.LoadTrustDir(opts.Trust)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cmd, err)
	}
	for _, s := range trust.Skipped {
		fmt.Fprintf(stderr, "%s: %s: not trusted: %s\n", tool, cmd, s)
	}
	for _, s := range trust.Warnings {
		fmt.Fprintf(stderr, "%s: %s: warning: %s\n", tool, cmd, s)
	}
	return trust, accept, nil
}

// checkVerdicts fails when a verdict is not one of accept.
func checkVerdicts(cmd, noun string, verdicts []bpfsigned.Verdict, accept []bpfsigned.Verdict) error {
	failed := 0
	for _, v := range verdicts {
		if !slices.Contains(accept, v) {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %s have a verdict outside %s: %w", cmd, failed, Plural(len(verdicts), noun), joinVerdicts(accept), errNotAllPassed)
	}
	return nil
}

func progVerify(tool string, words []string, opts Options, w, stderr io.Writer) error {
	trust, accept, err := loadTrust(tool, "prog verify", words, opts, stderr)
	if err != nil {
		return err
	}
	trust.FullDigest = true
	results := []audit.Result{}
	if opts.All {
		if results, err = trust.All(); err != nil {
			return fmt.Errorf("prog verify: %w", err)
		}
	} else {
		prog, err := openProgram(words)
		if err != nil {
			return err
		}
		r, err := trust.Program(prog.FD())
		prog.Close()
		if err != nil {
			return fmt.Errorf("prog verify: %w", err)
		}
		results = append(results, *r)
	}
	if opts.JSON {
		if results == nil {
			results = []audit.Result{}
		}
		if err := writeVerifyReport(w, verifyReport{Trust: trust, Accept: accept, Programs: results}, opts.Pretty); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tNAME\tTAG\tVERDICT\tMANIFEST")
		for _, r := range results {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Type, r.Name, r.Tag, r.Verdict, r.Manifest)
			for _, m := range r.Mismatches {
				fmt.Fprintf(tw, "\t\t\t\t\t%s\n", m)
			}
			for _, f := range r.Relocations {
				fmt.Fprintf(tw, "\t\t\t\t\tCO-RE insn %d  %s  %s\n", f.Insn, f.Relocation.Relocation, f.Fixup)
			}
			if r.Hint != "" {
				fmt.Fprintf(tw, "\t\t\t\t\thint: %s\n", r.Hint)
			}
		}
		tw.Flush()
	}
	var verdicts []bpfsigned.Verdict
	for _, r := range results {
		verdicts = append(verdicts, r.Verdict)
	}
	return checkVerdicts("prog verify", "program", verdicts, accept)
}

// mapVerifyReport is the JSON output of "map verify".
type mapVerifyReport struct {
	Trust  *audit.Trust        `json:"trust"`
	Accept []bpfsigned.Verdict `json:"accept"`
	Maps   []audit.MapResult   `json:"maps"`
}

func mapVerify(tool string, words []string, opts Options, w, stderr io.Writer) error {
	trust, accept, err := loadTrust(tool, "map verify", words, opts, stderr)
	if err != nil {
		return err
	}
	results := []audit.MapResult{}
	if opts.All {
		all, err := trust.AllStructOps()
		if err != nil {
			return fmt.Errorf("map verify: %w", err)
		}
		results = append(results, all...)
	} else {
		m, err := openMap(words)
		if err != nil {
			return err
		}
		r, err := trust.StructOpsMap(m)
		m.Close()
		if err != nil {
			return fmt.Errorf("map verify: %w", err)
		}
		results = append(results, *r)
	}
	if opts.JSON {
		if err := WriteJSON(w, mapVerifyReport{Trust: trust, Accept: accept, Maps: results}, opts.Pretty); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tNAME\tVERDICT\tMANIFEST")
		for _, r := range results {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.ID, r.Type, r.Name, r.Verdict, r.Manifest)
			for _, m := range r.Mismatches {
				fmt.Fprintf(tw, "\t\t\t\t%s\n", m)
			}
		}
		tw.Flush()
	}
	var verdicts []bpfsigned.Verdict
	for _, r := range results {
		verdicts = append(verdicts, r.Verdict)
	}
	return checkVerdicts("map verify", "map", verdicts, accept)
}

// parseAccept reads --accept: verdicts separated by commas.
func parseAccept(s string) ([]bpfsigned.Verdict, error) {
	var out []bpfsigned.Verdict
	for _, v := range strings.Split(s, ",") {
		v := bpfsigned.Verdict(strings.ToUpper(strings.TrimSpace(v)))
		switch v {
		case bpfsigned.OK, bpfsigned.Partial, bpfsigned.Unsigned, bpfsigned.BadSig:
			out = append(out, v)
		default:
			return nil, fmt.Errorf("%w: --accept %q: want verdicts among OK,PARTIAL,UNSIGNED,BADSIG", ErrUsage, s)
		}
	}
	return out, nil
}

func joinVerdicts(vs []bpfsigned.Verdict) string {
	var s []string
	for _, v := range vs {
		s = append(s, string(v))
	}
	return strings.Join(s, ",")
}

func mapShow(fd int, hashOnly bool, opts Options, w io.Writer) error {
	km, err := measure.KernelMapFD(fd, &measure.KernelOptions{Readback: opts.Readback})
	if err != nil {
		return fmt.Errorf("map: %w", err)
	}
	if hashOnly && km.Content == nil {
		if !km.Frozen {
			return fmt.Errorf("map hash: map %d (%s) is not frozen: its contents can change, so it has no content hash; only a frozen (sealed) map does", km.ID, km.Name)
		}
		return fmt.Errorf("map hash: map %d (%s): %s", km.ID, km.Name, km.ContentError)
	}
	if opts.JSON {
		if hashOnly {
			return WriteJSON(w, km.Content, opts.Pretty)
		}
		return WriteJSON(w, km, opts.Pretty)
	}
	if hashOnly {
		fmt.Fprintf(w, "%s %s (%s)\n", km.Content.Algorithm, km.Content.Hash, km.Content.Source)
		return nil
	}
	fmt.Fprintf(w, "%d: %s  name %s  key %dB  value %dB  max_entries %d  flags %#x  frozen %v\n",
		km.ID, ebpf.MapType(km.Type), km.Name, km.KeySize, km.ValueSize, km.MaxEntries, km.RawFlags, km.Frozen)
	if km.Content != nil {
		fmt.Fprintf(w, "\tcontent %s %s (%s)\n", km.Content.Algorithm, km.Content.Hash, km.Content.Source)
	}
	if km.ContentError != "" {
		fmt.Fprintf(w, "\tno content hash: %s\n", km.ContentError)
	}
	return nil
}
