package measure

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// KconfigMap is the name of the map cilium/ebpf creates for a program's
// __kconfig externs, filled from the running kernel at load time and
// frozen.
const KconfigMap = ".kconfig"

// kconfigMap returns the measured descriptor of an object's .kconfig map:
// sealed, its contents all parameters (one per extern, sorted by offset)
// whose values are facts of the kernel, so the signed content hash is that
// of the value with every extern zeroed. [Compare] checks the values found
// in the kernel against what the running kernel yields ([KconfigValues]).
func kconfigMap(coll *ebpf.CollectionSpec) (*Map, error) {
	if coll.Types == nil {
		return nil, errors.New("kconfig externs without BTF")
	}
	var ds *btf.Datasec
	if err := coll.Types.TypeByName(KconfigMap, &ds); err != nil {
		return nil, fmt.Errorf("kconfig externs: %w", err)
	}
	m := &Map{
		MapDescriptor: MapDescriptor{
			Name:       KernelName(KconfigMap),
			Type:       uint32(ebpf.Array),
			KeySize:    4,
			ValueSize:  ds.Size,
			MaxEntries: 1,
			Flags:      unix.BPF_F_RDONLY_PROG,
		},
		Sealed: true,
	}
	for _, v := range ds.Vars {
		vv, ok := v.Type.(*btf.Var)
		if !ok {
			return nil, fmt.Errorf("kconfig externs: unexpected %T in .kconfig", v.Type)
		}
		m.Params = append(m.Params, Param{Name: vv.Name, Offset: v.Offset, Size: v.Size})
	}
	slices.SortFunc(m.Params, func(a, b Param) int { return int(a.Offset) - int(b.Offset) })
	m.normalise()
	sum, err := HashArray(NativeOrder, ds.Size, 1, []Entry{{Key: make([]byte, 4), Value: make([]byte, ds.Size)}})
	if err != nil {
		return nil, err
	}
	m.Content = &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(sum[:]), Source: SourceELF}
	return m, nil
}

// IsKconfig reports whether a measured map is a program's .kconfig map.
func (m *Map) IsKconfig() bool { return m.Name == KernelName(KconfigMap) }

// KconfigValues returns, for each __kconfig extern, the bytes the running
// kernel yields, derived as cilium/ebpf v0.22 derives them when it fills
// .kconfig: LINUX_KERNEL_VERSION is the LINUX_VERSION_CODE in the kernel's
// vDSO; LINUX_HAS_SYSCALL_WRAPPER is 1 when the kernel has the
// architecture's syscall wrapper symbol (__x64_sys_bpf on amd64); a CONFIG_*
// extern is the option's value in /boot/config-$(uname -r), else
// /proc/config.gz ("y"/"n" as a 1-byte bool, "y"/"m"/"n" as a 4-byte
// libbpf_tristate, a quoted string as a char array, a number as an
// integer of the extern's size, in the host's byte order).
func KconfigValues(params []Param) (map[string][]byte, error) {
	out := map[string][]byte{}
	var configs []Param
	for _, p := range params {
		data := make([]byte, p.Size)
		switch p.Name {
		case "LINUX_KERNEL_VERSION":
			code, err := kernelVersionCode()
			if err != nil {
				return nil, fmt.Errorf("LINUX_KERNEL_VERSION: %w", err)
			}
			if p.Size != 4 {
				return nil, fmt.Errorf("LINUX_KERNEL_VERSION must be a 32-bit integer, is %d bytes", p.Size)
			}
			NativeOrder.PutUint32(data, code)
		case "LINUX_HAS_SYSCALL_WRAPPER":
			has, err := haveSyscallWrapper()
			if err != nil {
				return nil, fmt.Errorf("LINUX_HAS_SYSCALL_WRAPPER: %w", err)
			}
			var v uint64
			if has {
				v = 1
			}
			if err := putUint(data, v); err != nil {
				return nil, fmt.Errorf("LINUX_HAS_SYSCALL_WRAPPER: %w", err)
			}
		default:
			configs = append(configs, p)
			continue
		}
		out[p.Name] = data
	}
	if len(configs) == 0 {
		return out, nil
	}
	cfg, err := kernelConfig()
	if err != nil {
		return nil, err
	}
	for _, p := range configs {
		value, ok := cfg[p.Name]
		if !ok {
			return nil, fmt.Errorf("config option %s does not exist on this kernel", p.Name)
		}
		data := make([]byte, p.Size)
		if err := putConfigValue(data, value); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", p.Name, value, err)
		}
		out[p.Name] = data
	}
	return out, nil
}

// putConfigValue writes a kernel config value into an extern of
// len(data) bytes, by the rules cilium/ebpf and libbpf apply for the
// extern's type, which its size decides for every value they accept.
func putConfigValue(data []byte, value string) error {
	switch {
	case value == "y" || value == "n" || value == "m":
		tri := map[string]uint64{"n": 0, "y": 1, "m": 2}[value]
		switch len(data) {
		case 1: // bool
			if value == "m" {
				return errors.New(`"m" in a bool`)
			}
			data[0] = byte(tri)
		case 4: // enum libbpf_tristate
			NativeOrder.PutUint32(data, uint32(tri))
		default:
			return fmt.Errorf("a tristate in a %d-byte extern", len(data))
		}
	case strings.HasPrefix(value, `"`):
		if !strings.HasSuffix(value, `"`) || len(value) < 2 {
			return errors.New("unterminated string")
		}
		copy(data, strings.Trim(value, `"`))
	default:
		n, err := strconv.ParseInt(value, 0, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(value, 0, 64)
			if uerr != nil {
				return err
			}
			n = int64(u)
		}
		return putUint(data, uint64(n))
	}
	return nil
}

func putUint(data []byte, v uint64) error {
	switch len(data) {
	case 1:
		data[0] = byte(v)
	case 2:
		NativeOrder.PutUint16(data, uint16(v))
	case 4:
		NativeOrder.PutUint32(data, uint32(v))
	case 8:
		NativeOrder.PutUint64(data, v)
	default:
		return fmt.Errorf("an integer of %d bytes", len(data))
	}
	return nil
}

// kernelVersionCode reads LINUX_VERSION_CODE from the vDSO's "Linux" note.
var kernelVersionCode = sync.OnceValues(func() (uint32, error) {
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 0, err
	}
	var base uint64
	for i := 0; i+16 <= len(auxv); i += 16 {
		if NativeOrder.Uint64(auxv[i:]) == atSysinfoEhdr {
			base = NativeOrder.Uint64(auxv[i+8:])
		}
	}
	if base == 0 {
		return 0, errors.New("no vDSO in the auxiliary vector")
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return 0, err
	}
	defer mem.Close()
	f, err := elf.NewFile(io.NewSectionReader(mem, int64(base), 1<<20))
	if err != nil {
		return 0, fmt.Errorf("vDSO: %w", err)
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		notes, err := s.Data()
		if err != nil {
			return 0, fmt.Errorf("vDSO notes: %w", err)
		}
		for len(notes) >= 12 {
			namesz, descsz, typ := f.ByteOrder.Uint32(notes), f.ByteOrder.Uint32(notes[4:]), f.ByteOrder.Uint32(notes[8:])
			nameEnd := 12 + int(namesz)
			descStart := 12 + align4(int(namesz))
			descEnd := descStart + int(descsz)
			if descEnd > len(notes) {
				break
			}
			if string(bytes.TrimRight(notes[12:nameEnd], "\x00")) == "Linux" && typ == 0 && descsz == 4 {
				return f.ByteOrder.Uint32(notes[descStart:]), nil
			}
			notes = notes[min(align4(descEnd), len(notes)):]
		}
	}
	return 0, errors.New("no LINUX_VERSION_CODE note in the vDSO")
})

func align4(n int) int { return (n + 3) &^ 3 }

// syscallPrefix is the prefix of the architecture's syscall wrappers.
func syscallPrefix() string {
	return map[string]string{
		"386": "__ia32_", "amd64": "__x64_", "arm": "__arm_", "arm64": "__arm64_",
		"mips": "__mips_", "mipsle": "__mips_", "mips64": "__mips_", "mips64le": "__mips_",
		"s390": "__s390_", "s390x": "__s390x_", "riscv64": "__riscv_",
		"ppc": "__powerpc_", "ppc64": "__powerpc_", "ppc64le": "__powerpc_",
	}[runtime.GOARCH]
}

// haveSyscallWrapper reports whether the kernel routes syscalls through
// wrappers named <prefix>sys_<name>. It asks the kernel the way
// cilium/ebpf does when it fills LINUX_HAS_SYSCALL_WRAPPER, so that the
// verifier derives the value the loader did: by creating (and removing) a
// kprobe event on <prefix>sys_bpf through tracefs; a kernel that does not
// find the symbol has no wrapper.
var haveSyscallWrapper = sync.OnceValues(func() (bool, error) {
	prefix := syscallPrefix()
	if prefix == "" {
		return false, fmt.Errorf("no syscall wrapper prefix known for %s", runtime.GOARCH)
	}
	dir, err := tracefsDir()
	if err != nil {
		return false, err
	}
	symbol := prefix + "sys_bpf"
	event := fmt.Sprintf("bpf2go_signed_%d/%s", os.Getpid(), strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, symbol), "_"))
	f, err := os.OpenFile(filepath.Join(dir, "kprobe_events"), os.O_APPEND|os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		// No kprobe events: cilium/ebpf then says there is no wrapper.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.WriteString("p:" + event + " " + symbol)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EILSEQ):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("kprobe on %s: %w", symbol, err)
	}
	if _, err := f.WriteString("-:" + event); err != nil {
		return true, fmt.Errorf("remove kprobe event %s: %w", event, err)
	}
	return true, nil
})

// tracefsDir is where tracefs is mounted: /sys/kernel/tracing, or
// debugfs's tracing directory.
func tracefsDir() (string, error) {
	for _, c := range []struct {
		path  string
		magic int64
	}{{"/sys/kernel/tracing", unix.TRACEFS_MAGIC}, {"/sys/kernel/debug/tracing", unix.TRACEFS_MAGIC}, {"/sys/kernel/debug/tracing", unix.DEBUGFS_MAGIC}} {
		var st unix.Statfs_t
		if err := unix.Statfs(c.path, &st); err == nil && int64(st.Type) == c.magic {
			return c.path, nil
		}
	}
	return "", errors.New("neither tracefs nor debugfs is mounted (LINUX_HAS_SYSCALL_WRAPPER is derived through a kprobe event)")
}

// kernelConfig parses the running kernel's config.
var kernelConfig = sync.OnceValues(func() (map[string]string, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return nil, err
	}
	path := "/boot/config-" + unix.ByteSliceToString(uts.Release[:])
	raw, err := os.ReadFile(path)
	if err != nil {
		raw, err = os.ReadFile("/proc/config.gz")
		if err != nil {
			return nil, fmt.Errorf("neither %s nor /proc/config.gz holds the kernel config", path)
		}
	}
	var r io.Reader = bytes.NewReader(raw)
	if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
		r = zr
	}
	out := map[string]string{}
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, "CONFIG_") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("kernel config line %q", line)
		}
		if _, dup := out[k]; !dup {
			out[k] = v
		}
	}
	return out, s.Err()
})

// checkKconfig compares the extern values found in a kernel's .kconfig map
// with what the running kernel yields.
func checkKconfig(prefix string, want *Map, got *KernelMap) []Mismatch {
	values, err := KconfigValues(want.Params)
	if err != nil {
		return []Mismatch{{prefix + "kconfig", "the values this kernel yields", "cannot derive them: " + err.Error()}}
	}
	var ms []Mismatch
	found := map[string]string{}
	for _, p := range got.Params {
		found[p.Name] = p.Value
	}
	for _, p := range want.Params {
		w := hex.EncodeToString(values[p.Name])
		if found[p.Name] != w {
			ms = append(ms, Mismatch{prefix + "kconfig." + p.Name, w + " (this kernel's)", found[p.Name]})
		}
	}
	return ms
}

// atSysinfoEhdr is the auxiliary vector entry holding the vDSO's address.
const atSysinfoEhdr = 33
