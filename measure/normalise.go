package measure

import (
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// KernelName returns the name the kernel stores for an object that
// cilium/ebpf creates with the given name: characters other than
// [A-Za-z0-9._] dropped, truncated to 15 bytes.
func KernelName(name string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			return r
		}
		return -1
	}, name)
	if len(clean) > 15 {
		clean = clean[:15]
	}
	return clean
}

// IsDataSection reports whether a map name is one of the loader's data
// section maps (.bss, .data*, .rodata*).
func IsDataSection(name string) bool {
	return name == ".bss" || strings.HasPrefix(name, ".data") || IsReadOnlySection(name)
}

// IsReadOnlySection reports whether a map name is one of the loader's
// read-only data section maps (.rodata, .rodata.*), which cilium/ebpf
// freezes itself.
func IsReadOnlySection(name string) bool {
	return strings.HasPrefix(name, ".rodata")
}

// IsAlwaysSealed reports whether a map is sealed whatever the developer
// declares: read-only data sections (.rodata*) and .kconfig.
func IsAlwaysSealed(name string) bool {
	return IsReadOnlySection(name) || name == ".kconfig"
}

// NormaliseFlags removes from a map's flags what the loader adds depending
// on the kernel: BPF_F_MMAPABLE on data-section maps.
func NormaliseFlags(name string, flags uint32) uint32 {
	if IsDataSection(name) {
		flags &^= unix.BPF_F_MMAPABLE
	}
	return flags
}

// normaliseDescriptor applies the rules of docs/measurement.md §Maps to a
// descriptor seen at build time or in the kernel, so the two compare equal.
func (m *MapDescriptor) normalise() {
	m.Flags = NormaliseFlags(m.Name, m.Flags)
	switch ebpf.MapType(m.Type) {
	case ebpf.PerfEventArray:
		// The loader sets key and value size to 4 and max_entries to the
		// number of possible CPUs of the host.
		m.KeySize, m.ValueSize, m.MaxEntries = 4, 4, 0
	case ebpf.CPUMap:
		m.MaxEntries = 0
	case ebpf.ArrayOfMaps, ebpf.HashOfMaps:
		m.ValueSize = 4
	}
}
