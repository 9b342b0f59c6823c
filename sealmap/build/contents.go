package build

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
)

// Resolve checks a developer's declarations against an object and returns
// the sealing plan, reading typed contents files: [sealmap.Resolve] with
// the BTF-shaped encoder of [ParseContents].
func Resolve(spec *ebpf.CollectionSpec, cfg sealmap.Config) (*sealmap.Plan, error) {
	return sealmap.Resolve(spec, cfg, encodeValue)
}

// ParseContents reads a contents file for the map ms. Keys and values are
// given either typed, as JSON shaped like the map's BTF key and value types
// (numbers, enum names, objects for structs, arrays, strings for char
// arrays), or raw, as hex of exactly the key or value size in the host's
// byte order. It refuses entries that do not fit the map: wrong sizes, array
// indexes out of range, more entries than max_entries, duplicate keys.
// Errors wrap [sealmap.ErrBadContents].
func ParseContents(data []byte, ms *ebpf.MapSpec, bo binary.ByteOrder) ([]measure.Entry, error) {
	return sealmap.ParseContents(data, ms, bo, encodeValue)
}

// encoder writes typed JSON values in a target's byte order.
type encoder struct{ bo binary.ByteOrder }

// encodeValue is the [sealmap.ValueEncoder] of typed contents files: it
// decodes the value's JSON, numbers as json.Number, and writes it.
func encodeValue(buf []byte, typ btf.Type, raw []byte, path string, bo binary.ByteOrder) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return encoder{bo}.encode(buf, typ, v, path)
}

// encode writes v, shaped like typ, into buf (exactly typ's size).
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
			return fmt.Errorf("%s: %w", path, err)
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
			return fmt.Errorf("%s: %w", path, err)
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
