package main

import (
	"errors"
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
func progShow(words []string, opts options, w io.Writer) error {
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
	if opts.json {
		return writeJSON(w, progs, opts.pretty)
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

// errNotAllPassed: prog verify found programs whose verdict is not accepted.
var errNotAllPassed = errors.New("not every program passed")

// verifyReport is the JSON output of "prog verify".
type verifyReport struct {
	// Trust is what the trust directory holds, with its warnings.
	Trust *audit.Trust `json:"trust"`
	// Accept are the verdicts that pass.
	Accept   []bpfsigned.Verdict `json:"accept"`
	Programs []audit.Result      `json:"programs"`
}

func progVerify(words []string, opts options, w, stderr io.Writer) error {
	if opts.trust == "" {
		return fmt.Errorf("%w: prog verify needs --trust DIR", errUsage)
	}
	if opts.all == (len(words) > 0) {
		return fmt.Errorf("%w: prog verify takes id N, pinned PATH or --all", errUsage)
	}
	accept, err := parseAccept(opts.accept)
	if err != nil {
		return err
	}
	trust, err := audit.LoadTrustDir(opts.trust)
	if err != nil {
		return fmt.Errorf("prog verify: %w", err)
	}
	trust.FullDigest = true
	for _, s := range trust.Skipped {
		fmt.Fprintf(stderr, "bpf2go-signed: prog verify: not trusted: %s\n", s)
	}
	for _, s := range trust.Warnings {
		fmt.Fprintf(stderr, "bpf2go-signed: prog verify: warning: %s\n", s)
	}
	results := []audit.Result{}
	if opts.all {
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
	if opts.json {
		if results == nil {
			results = []audit.Result{}
		}
		if err := writeJSON(w, verifyReport{Trust: trust, Accept: accept, Programs: results}, opts.pretty); err != nil {
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
	failed := 0
	for _, r := range results {
		if !slices.Contains(accept, r.Verdict) {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("prog verify: %d of %s have a verdict outside %s: %w", failed, plural(len(results), "program"), joinVerdicts(accept), errNotAllPassed)
	}
	return nil
}

// mapVerifyReport is the JSON output of "map verify".
type mapVerifyReport struct {
	Trust  *audit.Trust        `json:"trust"`
	Accept []bpfsigned.Verdict `json:"accept"`
	Maps   []audit.MapResult   `json:"maps"`
}

func mapVerify(words []string, opts options, w, stderr io.Writer) error {
	if opts.trust == "" {
		return fmt.Errorf("%w: map verify needs --trust DIR", errUsage)
	}
	if opts.all == (len(words) > 0) {
		return fmt.Errorf("%w: map verify takes id N, pinned PATH or --all", errUsage)
	}
	accept, err := parseAccept(opts.accept)
	if err != nil {
		return err
	}
	trust, err := audit.LoadTrustDir(opts.trust)
	if err != nil {
		return fmt.Errorf("map verify: %w", err)
	}
	for _, s := range trust.Skipped {
		fmt.Fprintf(stderr, "bpf2go-signed: map verify: not trusted: %s\n", s)
	}
	for _, s := range trust.Warnings {
		fmt.Fprintf(stderr, "bpf2go-signed: map verify: warning: %s\n", s)
	}
	results := []audit.MapResult{}
	if opts.all {
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
	if opts.json {
		if err := writeJSON(w, mapVerifyReport{Trust: trust, Accept: accept, Maps: results}, opts.pretty); err != nil {
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
	failed := 0
	for _, r := range results {
		if !slices.Contains(accept, r.Verdict) {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("map verify: %d of %s have a verdict outside %s: %w", failed, plural(len(results), "map"), joinVerdicts(accept), errNotAllPassed)
	}
	return nil
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
			return nil, fmt.Errorf("%w: --accept %q: want verdicts among OK,PARTIAL,UNSIGNED,BADSIG", errUsage, s)
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

func mapShow(fd int, hashOnly bool, opts options, w io.Writer) error {
	km, err := measure.KernelMapFD(fd, &measure.KernelOptions{Readback: opts.readback})
	if err != nil {
		return fmt.Errorf("map: %w", err)
	}
	if hashOnly && km.Content == nil {
		if !km.Frozen {
			return fmt.Errorf("map hash: map %d (%s) is not frozen: its contents can change, so it has no content hash; only a frozen (sealed) map does", km.ID, km.Name)
		}
		return fmt.Errorf("map hash: map %d (%s): %s", km.ID, km.Name, km.ContentError)
	}
	if opts.json {
		if hashOnly {
			return writeJSON(w, km.Content, opts.pretty)
		}
		return writeJSON(w, km, opts.pretty)
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
