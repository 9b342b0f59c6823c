package sealmap

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// ErrBadContents is wrapped by every error of [ParseContents].
var ErrBadContents = errors.New("bad contents file")

// MaxContents is the most bytes of keys and values a contents file may
// describe: 256 MiB. The map's key and value sizes come from the object,
// so a short file could otherwise ask for gigabytes.
const MaxContents = 256 << 20

// contentsFile is the JSON format of a contents file; see docs/sealing.md.
type contentsFile struct {
	Entries []contentsEntry `json:"entries"`
}

type contentsEntry struct {
	Key      json.RawMessage `json:"key,omitempty"`
	KeyHex   *string         `json:"key_hex,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	ValueHex *string         `json:"value_hex,omitempty"`
}

// ParseContents reads a contents file for the map ms. Keys and values are
// given either typed, as JSON shaped like the map's BTF key and value types
// (numbers, enum names, objects for structs, arrays, strings for char
// arrays), or raw, as hex of exactly the key or value size in the host's
// byte order. It refuses entries that do not fit the map: wrong sizes, array
// indexes out of range, more entries than max_entries, duplicate keys.
func ParseContents(data []byte, ms *ebpf.MapSpec, bo binary.ByteOrder) ([]measure.Entry, error) {
	return parseContents(data, ms, bo, field)
}

// parseHexContents is [ParseContents] for contents in raw hex form only,
// as [EncodeContents] writes them into a plan: what the loader reads. It
// leaves out the typed encoder (BTF-shaped JSON), which only the build
// needs, so shipped binaries do not link it.
func parseHexContents(data []byte, ms *ebpf.MapSpec, bo binary.ByteOrder) ([]measure.Entry, error) {
	return parseContents(data, ms, bo, hexField)
}

// fieldDecoder decodes one key or value of a contents entry.
type fieldDecoder func(typed json.RawMessage, rawHex *string, typ btf.Type, size uint32, what string, bo binary.ByteOrder) ([]byte, error)

func parseContents(data []byte, ms *ebpf.MapSpec, bo binary.ByteOrder, field fieldDecoder) ([]measure.Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var f contentsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContents, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBadContents)
	}
	if f.Entries == nil {
		return nil, fmt.Errorf(`%w: no "entries" array`, ErrBadContents)
	}
	if uint64(len(f.Entries)) > uint64(ms.MaxEntries) {
		return nil, fmt.Errorf("%w: %d entries, but map %s holds at most %d (max_entries)", ErrBadContents, len(f.Entries), ms.Name, ms.MaxEntries)
	}
	if total := uint64(len(f.Entries)) * (uint64(ms.KeySize) + uint64(ms.ValueSize)); total > MaxContents {
		return nil, fmt.Errorf("%w: %w: %d entries of %d+%d bytes for map %s, more than the %d bytes of contents read", ErrBadContents, measure.ErrTooLarge, len(f.Entries), ms.KeySize, ms.ValueSize, ms.Name, uint64(MaxContents))
	}
	if ms.Type == ebpf.Array && ms.KeySize != 4 {
		return nil, fmt.Errorf("%w: map %s is an array with %d-byte keys; array keys are 4-byte indexes", ErrBadContents, ms.Name, ms.KeySize)
	}
	out := make([]measure.Entry, 0, len(f.Entries))
	seen := map[string]int{}
	for i, e := range f.Entries {
		key, err := field(e.Key, e.KeyHex, ms.Key, ms.KeySize, "key", bo)
		if err != nil {
			return nil, fmt.Errorf("%w: entries[%d]: %v", ErrBadContents, i, err)
		}
		value, err := field(e.Value, e.ValueHex, ms.Value, ms.ValueSize, "value", bo)
		if err != nil {
			return nil, fmt.Errorf("%w: entries[%d]: %v", ErrBadContents, i, err)
		}
		if ms.Type == ebpf.Array {
			if idx := bo.Uint32(key); idx >= ms.MaxEntries {
				return nil, fmt.Errorf("%w: entries[%d]: index %d out of range for map %s (max_entries %d)", ErrBadContents, i, idx, ms.Name, ms.MaxEntries)
			}
		}
		if j, dup := seen[string(key)]; dup {
			return nil, fmt.Errorf("%w: entries[%d]: same key as entries[%d]", ErrBadContents, i, j)
		}
		seen[string(key)] = i
		out = append(out, measure.Entry{Key: key, Value: value})
	}
	return out, nil
}

// hexField decodes one key or value given in hex.
func hexField(typed json.RawMessage, rawHex *string, _ btf.Type, size uint32, what string, _ binary.ByteOrder) ([]byte, error) {
	switch {
	case typed != nil:
		return nil, fmt.Errorf("typed %s in a plan (plans hold %s_hex only)", what, what)
	case rawHex == nil:
		return nil, fmt.Errorf("no %s_hex", what)
	}
	b, err := hex.DecodeString(*rawHex)
	if err != nil {
		return nil, fmt.Errorf("%s_hex: %v", what, err)
	}
	if uint32(len(b)) != size {
		return nil, fmt.Errorf("%s_hex has %d bytes, the map's %s size is %d", what, len(b), what, size)
	}
	return b, nil
}

// field decodes one key or value, typed or hex.
func field(typed json.RawMessage, rawHex *string, typ btf.Type, size uint32, what string, bo binary.ByteOrder) ([]byte, error) {
	switch {
	case typed != nil && rawHex != nil:
		return nil, fmt.Errorf("both %s and %s_hex given", what, what)
	case rawHex != nil:
		return hexField(nil, rawHex, typ, size, what, bo)
	case typed == nil:
		return nil, fmt.Errorf("no %s (give %s or %s_hex)", what, what, what)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(typed))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if typ == nil {
		// No BTF: plain integers of the map's size still work.
		switch size {
		case 1, 2, 4, 8:
			typ = &btf.Int{Size: size}
		default:
			return nil, fmt.Errorf("the map has no BTF for its %s; give %s_hex", what, what)
		}
	}
	buf := make([]byte, size)
	got, err := btf.Sizeof(typ)
	if err != nil {
		return nil, fmt.Errorf("%s type: %v", what, err)
	}
	if uint32(got) != size {
		return nil, fmt.Errorf("%s type %s has %d bytes, the map's %s size is %d", what, typ, got, what, size)
	}
	if err := (encoder{bo}).encode(buf, typ, v, what); err != nil {
		return nil, err
	}
	return buf, nil
}

// encode writes v, shaped like typ, into buf (exactly typ's size).
// encoder writes typed JSON values in a target's byte order.
type encoder struct{ bo binary.ByteOrder }

func (enc encoder) encode(buf []byte, typ btf.Type, v any, path string) error {
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		if t.Encoding == btf.Bool {
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("%s: want true or false, got %s", path, show(v))
			}
			if b {
				buf[0] = 1
			}
			return nil
		}
		return enc.putInt(buf, t.Size, t.Encoding == btf.Signed, v, path)
	case *btf.Enum:
		if s, ok := v.(string); ok {
			for _, val := range t.Values {
				if val.Name == s {
					return enc.putInt(buf, t.Size, t.Signed, json.Number(strconv.FormatUint(val.Value, 10)), path)
				}
			}
			names := make([]string, len(t.Values))
			for i, val := range t.Values {
				names[i] = val.Name
			}
			return fmt.Errorf("%s: %q is not a value of enum %s (%s)", path, s, t.Name, strings.Join(names, ", "))
		}
		return enc.putInt(buf, t.Size, t.Signed, v, path)
	case *btf.Float:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want a number, got %s", path, show(v))
		}
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		switch t.Size {
		case 4:
			enc.bo.PutUint32(buf, math.Float32bits(float32(f)))
		case 8:
			enc.bo.PutUint64(buf, math.Float64bits(f))
		default:
			return fmt.Errorf("%s: %d-byte floats are not supported; use hex", path, t.Size)
		}
		return nil
	case *btf.Array:
		elem, err := btf.Sizeof(t.Type)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if s, ok := v.(string); ok {
			if it, isInt := btf.UnderlyingType(t.Type).(*btf.Int); isInt && it.Size == 1 {
				if uint32(len(s)) > t.Nelems {
					return fmt.Errorf("%s: string of %d bytes does not fit char[%d]", path, len(s), t.Nelems)
				}
				copy(buf, s)
				return nil
			}
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want a JSON array for %s, got %s", path, t, show(v))
		}
		if uint32(len(list)) > t.Nelems {
			return fmt.Errorf("%s: %d elements do not fit an array of %d", path, len(list), t.Nelems)
		}
		for i, item := range list {
			if err := enc.encode(buf[i*elem:(i+1)*elem], t.Type, item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case *btf.Struct:
		return enc.encodeMembers(buf, t.Members, v, path, t.Name, false)
	case *btf.Union:
		return enc.encodeMembers(buf, t.Members, v, path, t.Name, true)
	default:
		return fmt.Errorf("%s: type %s cannot be written in a contents file; use hex", path, typ)
	}
}

func (enc encoder) encodeMembers(buf []byte, members []btf.Member, v any, path, name string, union bool) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want a JSON object for struct %s, got %s", path, name, show(v))
	}
	if union && len(obj) > 1 {
		return fmt.Errorf("%s: give one member of union %s, got %d", path, name, len(obj))
	}
	for key, val := range obj {
		idx := -1
		for i, m := range members {
			if m.Name == key {
				idx = i
			}
		}
		if idx < 0 {
			names := make([]string, 0, len(members))
			for _, m := range members {
				names = append(names, m.Name)
			}
			return fmt.Errorf("%s: %s has no member %q (members: %s)", path, name, key, strings.Join(names, ", "))
		}
		m := members[idx]
		if m.BitfieldSize != 0 || m.Offset%8 != 0 {
			return fmt.Errorf("%s.%s: bitfields are not supported; use hex", path, key)
		}
		size, err := btf.Sizeof(m.Type)
		if err != nil {
			return fmt.Errorf("%s.%s: %v", path, key, err)
		}
		off := int(m.Offset / 8)
		if off+size > len(buf) {
			return fmt.Errorf("%s.%s: member lies outside the value", path, key)
		}
		if err := enc.encode(buf[off:off+size], m.Type, val, path+"."+key); err != nil {
			return err
		}
	}
	return nil
}

// putInt writes an integer given as a JSON number or a "0x" string.
func (enc encoder) putInt(buf []byte, size uint32, signed bool, v any, path string) error {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return fmt.Errorf("%s: want an integer, got %s", path, show(v))
	}
	n, ok := new(big.Int).SetString(s, 0)
	if !ok {
		return fmt.Errorf("%s: %q is not an integer", path, s)
	}
	bits := uint(size) * 8
	lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), bits)
	if signed {
		lo.Neg(new(big.Int).Lsh(big.NewInt(1), bits-1))
		hi.Lsh(big.NewInt(1), bits-1)
	}
	if n.Cmp(lo) < 0 || n.Cmp(hi) >= 0 {
		kind := "unsigned"
		if signed {
			kind = "signed"
		}
		return fmt.Errorf("%s: %s does not fit a %d-byte %s integer", path, s, size, kind)
	}
	if n.Sign() < 0 {
		n.Add(n, new(big.Int).Lsh(big.NewInt(1), bits))
	}
	u := n.Uint64()
	switch size {
	case 1:
		buf[0] = byte(u)
	case 2:
		enc.bo.PutUint16(buf, uint16(u))
	case 4:
		enc.bo.PutUint32(buf, uint32(u))
	case 8:
		enc.bo.PutUint64(buf, u)
	default:
		return fmt.Errorf("%s: %d-byte integers are not supported; use hex", path, size)
	}
	return nil
}

func show(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// EncodeContents writes entries as a contents file in raw hex form, with
// entries sorted by key: what the generator embeds so that the loader fills
// sealed maps with exactly the contents that were measured.
func EncodeContents(entries []measure.Entry) []byte {
	f := contentsFile{Entries: make([]contentsEntry, len(entries))}
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b measure.Entry) int { return bytes.Compare(a.Key, b.Key) })
	for i, e := range sorted {
		k, v := hex.EncodeToString(e.Key), hex.EncodeToString(e.Value)
		f.Entries[i] = contentsEntry{KeyHex: &k, ValueHex: &v}
	}
	b, _ := json.Marshal(f)
	return b
}
