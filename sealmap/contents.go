package sealmap

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/internal/jsonread"
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

// contentsEntry is one entry. Typed keys and values are kept as their
// JSON text, which the build side's [ValueEncoder] reads.
type contentsEntry struct {
	Key      json.RawMessage `json:"key,omitempty"`
	KeyHex   *string         `json:"key_hex,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	ValueHex *string         `json:"value_hex,omitempty"`
}

var (
	contentsFields = []string{"entries"}
	entryFields    = []string{"key", "key_hex", "value", "value_hex"}
)

// decodeContents reads a contents file with package internal/jsonread,
// refusing unknown fields, so that loaders link no JSON decoder.
func decodeContents(data []byte) (*contentsFile, error) {
	return jsonread.Document(data, func(r *jsonread.Reader, f *contentsFile) error {
		hexField := func() (*string, error) {
			if r.Null() {
				return nil, nil
			}
			s, err := r.String()
			return &s, err
		}
		return r.Object(contentsFields, true, func(int) (err error) {
			f.Entries, err = jsonread.Slice(r, func(e *contentsEntry) error {
				return r.Object(entryFields, true, func(i int) (err error) {
					switch i {
					case 0:
						e.Key, err = r.Raw()
					case 1:
						e.KeyHex, err = hexField()
					case 2:
						e.Value, err = r.Raw()
					case 3:
						e.ValueHex, err = hexField()
					}
					return err
				})
			})
			return err
		})
	})
}

// ValueEncoder writes a typed key or value of a contents file: raw, its
// JSON text, shaped like typ, into buf (typ's size). path names the field
// in errors. Package sealmap/build has the BTF-shaped encoder; the loader
// passes none, as plans hold raw hex only.
type ValueEncoder func(buf []byte, typ btf.Type, raw []byte, path string, bo binary.ByteOrder) error

// ParseContents reads a contents file for the map ms. Keys and values are
// given either typed, as JSON shaped like the map's BTF key and value types,
// written by enc (nil refuses typed fields), or raw, as hex of exactly the
// key or value size in the host's byte order. It refuses entries that do
// not fit the map: wrong sizes, array indexes out of range, more entries
// than max_entries, duplicate keys. The build side reads contents files
// with sealmap/build.ParseContents.
func ParseContents(data []byte, ms *ebpf.MapSpec, bo binary.ByteOrder, enc ValueEncoder) ([]measure.Entry, error) {
	field := func(typed json.RawMessage, rawHex *string, typ btf.Type, size uint32, what string) ([]byte, error) {
		if enc == nil {
			return hexField(typed, rawHex, size, what)
		}
		return typedField(typed, rawHex, typ, size, what, bo, enc)
	}
	f, err := decodeContents(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContents, err)
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
		key, err := field(e.Key, e.KeyHex, ms.Key, ms.KeySize, "key")
		if err != nil {
			return nil, fmt.Errorf("%w: entries[%d]: %v", ErrBadContents, i, err)
		}
		value, err := field(e.Value, e.ValueHex, ms.Value, ms.ValueSize, "value")
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

// hexField decodes one key or value given in hex, as plans hold them.
func hexField(typed json.RawMessage, rawHex *string, size uint32, what string) ([]byte, error) {
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

// typedField decodes one key or value, typed (written by enc) or hex.
func typedField(typed json.RawMessage, rawHex *string, typ btf.Type, size uint32, what string, bo binary.ByteOrder, enc ValueEncoder) ([]byte, error) {
	switch {
	case typed != nil && rawHex != nil:
		return nil, fmt.Errorf("both %s and %s_hex given", what, what)
	case rawHex != nil:
		return hexField(nil, rawHex, size, what)
	case typed == nil:
		return nil, fmt.Errorf("no %s (give %s or %s_hex)", what, what, what)
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
	if err := enc(buf, typ, typed, what, bo); err != nil {
		return nil, err
	}
	return buf, nil
}

// EncodeContents writes entries as a contents file in raw hex form, with
// entries sorted by key: what the generator embeds so that the loader fills
// sealed maps with exactly the contents that were measured.
func EncodeContents(entries []measure.Entry) []byte {
	f := contentsFile{Entries: make([]contentsEntry, len(entries))}
	sorted := slices.Clone(entries)
	// sort.Slice, not slices.SortFunc: one sort shared by every element
	// type instead of one instantiation per type in every loader (see
	// measure's sortNote).
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].Key, sorted[j].Key) < 0 })
	for i, e := range sorted {
		k, v := hex.EncodeToString(e.Key), hex.EncodeToString(e.Value)
		f.Entries[i] = contentsEntry{KeyHex: &k, ValueHex: &v}
	}
	b, _ := json.Marshal(f)
	return b
}
