package measure

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MapLoad is one instruction that loads a map, by the map's index in its
// program's Maps (the kernel's map_ids order): the map's address
// (BPF_PSEUDO_MAP_FD), or with Value the address of byte Off of its value
// (BPF_PSEUDO_MAP_VALUE, arrays: .rodata, .data, .bss, .kconfig).
type MapLoad struct {
	Map   int
	Value bool
	Off   uint32
}

// String is the load's token in [Program.MapLoads]: "2" for the address of
// map 2, "2+16" for the address of byte 16 of its value.
func (l MapLoad) String() string {
	if l.Value {
		return strconv.Itoa(l.Map) + "+" + strconv.FormatUint(uint64(l.Off), 10)
	}
	return strconv.Itoa(l.Map)
}

// FormatMapLoads is the [Program.MapLoads] encoding of loads: their tokens
// separated by single spaces, in instruction order.
func FormatMapLoads(loads []MapLoad) string {
	parts := make([]string, len(loads))
	for i, l := range loads {
		parts[i] = l.String()
	}
	return strings.Join(parts, " ")
}

// ErrBadMapLoads is wrapped by [ParseMapLoads].
var ErrBadMapLoads = errors.New("malformed map_loads")

// ParseMapLoads decodes a [Program.MapLoads] string of a program with
// maps maps, accepting only what [FormatMapLoads] writes (decimal without
// leading zeros or signs, single spaces, indexes below maps).
func ParseMapLoads(s string, maps int) ([]MapLoad, error) {
	if s == "" {
		return nil, nil
	}
	var out []MapLoad
	for _, tok := range strings.Split(s, " ") {
		idx, off, value := strings.Cut(tok, "+")
		i, err := canonicalUint(idx, 31)
		if err != nil || int(i) >= maps {
			return nil, fmt.Errorf("%w: %q: want a map index below %d", ErrBadMapLoads, tok, maps)
		}
		l := MapLoad{Map: int(i), Value: value}
		if value {
			o, err := canonicalUint(off, 32)
			if err != nil {
				return nil, fmt.Errorf("%w: %q: offset: %v", ErrBadMapLoads, tok, err)
			}
			l.Off = uint32(o)
		}
		out = append(out, l)
	}
	return out, nil
}

// canonicalUint parses a decimal number as strconv.FormatUint writes it.
func canonicalUint(s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, err
	}
	if strconv.FormatUint(v, 10) != s {
		return 0, fmt.Errorf("%q is not in canonical form", s)
	}
	return v, nil
}

// loadsSubsequence reports whether found, the map loads of the kernel's
// translated instructions, is an order-preserving subsequence of want,
// the signed ones: the verifier removes dead code (branches on frozen
// values it knows), so loads may be missing, but none may be added,
// reordered or pointed at another map or offset.
func loadsSubsequence(found, want []MapLoad) bool {
	j := 0
	for _, f := range found {
		for j < len(want) && want[j] != f {
			j++
		}
		if j == len(want) {
			return false
		}
		j++
	}
	return true
}
