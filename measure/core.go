package measure

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
)

// Target is kernel BTF that CO-RE relocations are resolved against at
// build time, giving one more acceptable digest per program.
type Target struct {
	// Name identifies the target: the kernel release for the running
	// kernel's BTF, else the file's name.
	Name string
	// SHA256 is the hex SHA-256 of the BTF file.
	SHA256 string
	Spec   *btf.Spec
	// ByteOrder is the BTF's byte order: CO-RE relocations of an object
	// resolve only against BTF of the object's byte order.
	ByteOrder binary.ByteOrder
}

// Label is how the target is named in a manifest.
func (t *Target) Label() string { return t.Name + " btf-sha256:" + t.SHA256 }

// LoadTargets reads BTF targets: each path is a BTF file (such as a copy
// of /sys/kernel/btf/vmlinux) or a directory of them.
func LoadTargets(paths []string) ([]Target, error) {
	var out []Target
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("target BTF: %w", err)
		}
		files := []string{p}
		if st.IsDir() {
			files = nil
			err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					files = append(files, path)
				}
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("target BTF: %w", err)
			}
			sort.Strings(files)
		}
		for _, f := range files {
			t, err := loadTarget(f)
			if err != nil {
				return nil, err
			}
			out = append(out, *t)
		}
	}
	return out, nil
}

// MaxTargetBTF is the largest target BTF file read: 64 MiB (a kernel's
// BTF is a few megabytes).
const MaxTargetBTF = 64 << 20

func loadTarget(path string) (*Target, error) {
	raw, err := safefs.ReadRegular(path, MaxTargetBTF)
	if err != nil {
		return nil, fmt.Errorf("target BTF: %w", err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("target BTF %s: %w", path, err)
	}
	sum := sha256.Sum256(raw)
	name := filepath.Base(path)
	if abs, _ := filepath.Abs(path); abs == "/sys/kernel/btf/vmlinux" {
		if rel, err := kernelRelease(); err == nil {
			name = rel
		}
	}
	bo, err := btfByteOrder(raw)
	if err != nil {
		return nil, fmt.Errorf("target BTF %s: %w", path, err)
	}
	return &Target{Name: name, SHA256: hex.EncodeToString(sum[:]), Spec: spec, ByteOrder: bo}, nil
}

// btfByteOrder reads the byte order of raw BTF (from its magic) or of an
// ELF file holding it (from the ELF header).
func btfByteOrder(raw []byte) (binary.ByteOrder, error) {
	switch {
	case len(raw) >= 6 && string(raw[:4]) == elf.ELFMAG:
		switch elf.Data(raw[elf.EI_DATA]) {
		case elf.ELFDATA2LSB:
			return binary.LittleEndian, nil
		case elf.ELFDATA2MSB:
			return binary.BigEndian, nil
		}
	case len(raw) >= 2 && binary.LittleEndian.Uint16(raw) == btfMagic:
		return binary.LittleEndian, nil
	case len(raw) >= 2 && binary.BigEndian.Uint16(raw) == btfMagic:
		return binary.BigEndian, nil
	}
	return nil, errors.New("cannot tell the byte order: neither BTF nor ELF")
}

// btfMagic starts a BTF header, in the BTF's byte order.
const btfMagic = 0xeb9f

// OrderName names a byte order: "little-endian" or "big-endian".
func OrderName(bo binary.ByteOrder) string {
	if bo == binary.BigEndian {
		return "big-endian"
	}
	return "little-endian"
}

func kernelRelease() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	return string(bytes.TrimSpace(b)), err
}

// Relocation is a CO-RE relocation site of a program, as the object
// declares it.
type Relocation struct {
	// Insn is the raw instruction index.
	Insn int `json:"insn"`
	// Relocation describes the kind, the local type and the accessor.
	Relocation string `json:"relocation"`
}

// Fixup is a CO-RE relocation site resolved against a target.
type Fixup struct {
	Relocation
	// Fixup is the change made: kind, local and target values.
	Fixup string `json:"fixup"`
}

// relocations lists the sites of a program that the loader resolves
// against the kernel's BTF: CO-RE relocations and kfunc calls.
func relocations(spec *ebpf.ProgramSpec) []Relocation {
	var out []Relocation
	iter := spec.Instructions.Iterate()
	for iter.Next() {
		if r := btf.CORERelocationMetadata(iter.Ins); r != nil {
			out = append(out, Relocation{Insn: int(iter.Offset), Relocation: r.String()})
		} else if iter.Ins.IsKfuncCall() {
			out = append(out, Relocation{Insn: int(iter.Offset), Relocation: kfuncSite(iter.Ins)})
		} else if isKsymLoad(iter.Ins) {
			out = append(out, Relocation{Insn: int(iter.Offset), Relocation: ksymSite(iter.Ins)})
		}
	}
	return out
}

// isKsymLoad reports whether ins loads the address of a __ksym variable,
// which the loader writes from /proc/kallsyms.
func isKsymLoad(ins *asm.Instruction) bool {
	return ins.OpCode == asm.LoadImmOp(asm.DWord) && ins.Src == asm.R0 && ins.Reference() != "" &&
		!ins.IsLoadFromMap() && btf.CORERelocationMetadata(ins) == nil
}

// ksymSite describes a __ksym address site: its value is the symbol's
// address in the running kernel, different on every boot (KASLR).
func ksymSite(ins *asm.Instruction) string { return "ksym " + ins.Reference() }

// ErrKsymNoTarget is returned by [Relocate] for programs that load __ksym
// addresses: they are facts of the running kernel (each boot places
// symbols elsewhere), not of a kernel's BTF, so no per-target digest
// exists; such programs are PARTIAL, their sites checked against
// /proc/kallsyms.
var ErrKsymNoTarget = errors.New("__ksym addresses are known only on the running kernel")

// resolveKsyms writes the address of every __ksym a program loads, from
// addrs, as cilium/ebpf does when it loads it.
func resolveKsyms(name string, insns asm.Instructions, addrs map[string]uint64) ([]Fixup, error) {
	var fixups []Fixup
	iter := insns.Iterate()
	for iter.Next() {
		ins := iter.Ins
		if !isKsymLoad(ins) {
			continue
		}
		if addrs == nil {
			return nil, fmt.Errorf("program %s: ksym %s: %w", name, ins.Reference(), ErrKsymNoTarget)
		}
		addr, ok := addrs[ins.Reference()]
		if !ok || addr == 0 {
			return nil, fmt.Errorf("program %s: ksym %s is not in /proc/kallsyms (or its address is hidden: kptr_restrict)", name, ins.Reference())
		}
		ins.Constant = int64(addr)
		fixups = append(fixups, Fixup{Relocation: Relocation{Insn: int(iter.Offset), Relocation: ksymSite(ins)}, Fixup: fmt.Sprintf("address %#x", addr)})
	}
	return fixups, nil
}

// kallsymsAddrs reads the addresses of names from /proc/kallsyms; a name
// found twice is an error, as for cilium/ebpf and libbpf.
func kallsymsAddrs(names []string) (map[string]uint64, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || !want[fields[2]] {
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/kallsyms: %w", err)
		}
		if _, dup := out[fields[2]]; dup {
			return nil, fmt.Errorf("ksym %s appears twice in /proc/kallsyms", fields[2])
		}
		out[fields[2]] = addr
	}
	return out, sc.Err()
}

// kfuncSite describes a kfunc call site: the kernel resolves the call by
// the BTF id of the function, which each kernel numbers its own way.
func kfuncSite(ins *asm.Instruction) string { return "kfunc " + ins.Reference() }

// resolveKfuncs sets the BTF id (and, for a kfunc of a module, the index
// of the module's BTF in the program's fd array) of every kfunc call in
// insns, as cilium/ebpf does when it loads a program: the function is
// looked up by name in targets[0] (vmlinux), then in the other targets
// (modules); each call of a module's kfunc takes the next fd array index,
// from 1. It returns the fixups in instruction order.
func resolveKfuncs(name string, insns asm.Instructions, targets []*btf.Spec) ([]Fixup, error) {
	var fixups []Fixup
	module := 0
	iter := insns.Iterate()
	for iter.Next() {
		ins := iter.Ins
		if !ins.IsKfuncCall() || btf.CORERelocationMetadata(ins) != nil {
			continue
		}
		fn := ins.Reference()
		var id btf.TypeID
		found := -1
		for i, t := range targets {
			var f *btf.Func
			if err := t.TypeByName(fn, &f); err != nil {
				continue
			}
			tid, err := t.TypeID(f)
			if err != nil {
				return nil, fmt.Errorf("program %s: kfunc %s: %w", name, fn, err)
			}
			id, found = tid, i
			break
		}
		if found < 0 {
			return nil, fmt.Errorf("program %s: kfunc %s is not in the target's BTF (a kfunc of a module needs the module's BTF)", name, fn)
		}
		idx := 0
		if found > 0 {
			module++
			idx = module
		}
		ins.Constant = int64(id)
		ins.Offset = int16(idx)
		fixups = append(fixups, Fixup{
			Relocation: Relocation{Insn: int(iter.Offset), Relocation: kfuncSite(ins)},
			Fixup:      fmt.Sprintf("btf id %d, fd array index %d", id, idx),
		})
	}
	return fixups, nil
}

// Relocate resolves the CO-RE relocations and kfunc calls of spec against
// targets, the way cilium/ebpf does at load time, and returns the submitted
// instructions (map immediates zeroed), their digest and the fixups.
// spec is not modified.
func Relocate(spec *ebpf.ProgramSpec, targets []*btf.Spec) ([]byte, InsnDigest, []Fixup, error) {
	return relocate(spec, targets, nil)
}

// relocate is [Relocate] with the addresses of __ksym variables (nil: not
// known, an error for programs that load any).
func relocate(spec *ebpf.ProgramSpec, targets []*btf.Spec, ksyms map[string]uint64) ([]byte, InsnDigest, []Fixup, error) {
	insns := make(asm.Instructions, len(spec.Instructions))
	copy(insns, spec.Instructions)
	var relos []*btf.CORERelocation
	var sites []*asm.Instruction
	var fixups []Fixup
	iter := insns.Iterate()
	for iter.Next() {
		if r := btf.CORERelocationMetadata(iter.Ins); r != nil {
			relos = append(relos, r)
			sites = append(sites, iter.Ins)
			fixups = append(fixups, Fixup{Relocation: Relocation{Insn: int(iter.Offset), Relocation: r.String()}})
		}
	}
	bo := byteOrder(spec)
	if len(relos) > 0 {
		var b btf.Builder
		fs, err := btf.CORERelocate(relos, targets, bo, b.Add)
		if err != nil {
			return nil, InsnDigest{}, nil, fmt.Errorf("program %s: CO-RE: %w", spec.Name, err)
		}
		for i := range fs {
			if err := fs[i].Apply(sites[i]); err != nil {
				return nil, InsnDigest{}, nil, fmt.Errorf("program %s: CO-RE fixup %s: %w", spec.Name, &fs[i], err)
			}
			fixups[i].Fixup = fs[i].String()
		}
	}
	kfuncs, err := resolveKfuncs(spec.Name, insns, targets)
	if err != nil {
		return nil, InsnDigest{}, nil, err
	}
	ksymFixups, err := resolveKsyms(spec.Name, insns, ksyms)
	if err != nil {
		return nil, InsnDigest{}, nil, err
	}
	kfuncs = append(kfuncs, ksymFixups...)
	if len(kfuncs) > 0 {
		fixups = append(fixups, kfuncs...)
		sort.Slice(fixups, func(i, j int) bool { return fixups[i].Insn < fixups[j].Insn }) // see sortNote in manifest.go
	}
	cp := *spec
	cp.Instructions = insns
	raw, err := SubmittedInstructions(&cp)
	if err != nil {
		return nil, InsnDigest{}, nil, err
	}
	d := DigestInstructions(raw, bo)
	return raw, d, fixups, nil
}

var kernelBTF = btf.NewCache()

// ErrNotOnlyRelocations is returned by [RelocateForKernel] when relocating
// changes instructions that are not CO-RE sites.
var ErrNotOnlyRelocations = errors.New("instructions other than CO-RE sites differ")

// RelocateForKernel resolves the CO-RE relocations of spec against the
// running kernel's BTF (vmlinux and modules), as cilium/ebpf does when it
// loads the program, checks that only CO-RE sites changed, and returns the
// digest and every fixup.
func RelocateForKernel(spec *ebpf.ProgramSpec) (InsnDigest, []Fixup, error) {
	kernel, err := kernelBTF.Kernel()
	if err != nil {
		return InsnDigest{}, nil, fmt.Errorf("kernel BTF: %w", err)
	}
	targets := []*btf.Spec{kernel}
	mods, err := kernelBTF.Modules()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return InsnDigest{}, nil, fmt.Errorf("kernel module BTF: %w", err)
	}
	for _, m := range mods {
		s, err := kernelBTF.Module(m)
		if err != nil {
			return InsnDigest{}, nil, fmt.Errorf("BTF of module %s: %w", m, err)
		}
		targets = append(targets, s)
	}
	var ksyms map[string]uint64
	var names []string
	for _, ins := range spec.Instructions {
		if isKsymLoad(&ins) {
			names = append(names, ins.Reference())
		}
	}
	if len(names) > 0 {
		if ksyms, err = kallsymsAddrs(names); err != nil {
			return InsnDigest{}, nil, err
		}
	}
	relocated, d, fixups, err := relocate(spec, targets, ksyms)
	if err != nil {
		return InsnDigest{}, nil, err
	}
	base, err := SubmittedInstructions(spec)
	if err != nil {
		return InsnDigest{}, nil, err
	}
	ZeroMapImmediates(base, byteOrder(spec))
	var allowed []int
	for _, f := range fixups {
		allowed = append(allowed, f.Insn)
		if off := f.Insn * insnSize; off < len(base) && base[off] == opLdImm64 {
			allowed = append(allowed, f.Insn+1) // the second half of an ldimm64
		}
	}
	for i := 0; i+insnSize <= len(base) && i+insnSize <= len(relocated); i += insnSize {
		if !bytes.Equal(base[i:i+insnSize], relocated[i:i+insnSize]) && !slices.Contains(allowed, i/insnSize) {
			return InsnDigest{}, nil, fmt.Errorf("program %s: instruction %d: %w", spec.Name, i/insnSize, ErrNotOnlyRelocations)
		}
	}
	if len(base) != len(relocated) {
		return InsnDigest{}, nil, fmt.Errorf("program %s: relocation changed the length: %w", spec.Name, ErrNotOnlyRelocations)
	}
	return d, fixups, nil
}
