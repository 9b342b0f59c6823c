// Package jsonread reads JSON documents of a known shape without
// reflection. Verifying loaders decode the signed envelope, the statement
// with its manifest, and the sealing plan with it, so that they link no
// encoding/json and pay for no per-type reflection on their first load.
//
// It is stricter than encoding/json, so that whatever it accepts,
// encoding/json accepts with the same meaning (the callers' fuzz tests
// check this against encoding/json):
//
//   - a key that appears twice in one object is refused (encoding/json
//     keeps the last);
//   - a key that equals a known field name only when case is ignored, or
//     an unknown key with non-ASCII bytes, is refused (encoding/json would
//     match it to the field);
//   - strings must be valid UTF-8 and escapes must not leave a surrogate
//     unpaired (encoding/json replaces both with U+FFFD);
//   - an integer must be an integer literal within the range of its type;
//   - null is accepted only where the caller asks for it ([Reader.Null]);
//   - objects and arrays nest at most [MaxDepth] deep.
package jsonread

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every error this package returns about the
// document itself: invalid JSON, or valid JSON it refuses.
var ErrSyntax = errors.New("invalid JSON")

// MaxDepth is how deeply objects and arrays may nest.
const MaxDepth = 256

// Reader reads one JSON document from a byte slice.
type Reader struct {
	data  []byte
	off   int
	depth int
}

// New returns a reader of data.
func New(data []byte) *Reader { return &Reader{data: data} }

func (r *Reader) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrSyntax, r.off, fmt.Sprintf(format, args...))
}

func (r *Reader) space() {
	for r.off < len(r.data) {
		switch r.data[r.off] {
		case ' ', '\t', '\n', '\r':
			r.off++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (r *Reader) peek() byte {
	r.space()
	if r.off < len(r.data) {
		return r.data[r.off]
	}
	return 0
}

func (r *Reader) found() string {
	if r.off >= len(r.data) {
		return "the end of the document"
	}
	return strconv.QuoteRune(rune(r.data[r.off]))
}

// End returns an error unless only white space is left.
func (r *Reader) End() error {
	if r.peek(); r.off != len(r.data) {
		return r.errorf("data after the document: %s", r.found())
	}
	return nil
}

func (r *Reader) literal(word string) bool {
	if r.peek() != word[0] || len(r.data)-r.off < len(word) || string(r.data[r.off:r.off+len(word)]) != word {
		return false
	}
	r.off += len(word)
	return true
}

// Null reads a null if one comes next and reports whether it did.
func (r *Reader) Null() bool { return r.literal("null") }

// Bool reads true or false.
func (r *Reader) Bool() (bool, error) {
	switch {
	case r.literal("true"):
		return true, nil
	case r.literal("false"):
		return false, nil
	}
	return false, r.errorf("want true or false, found %s", r.found())
}

// String reads a string.
func (r *Reader) String() (string, error) {
	b, err := r.str()
	return string(b), err
}

// str reads a string and returns its bytes: a slice of the document when
// it has no escapes.
func (r *Reader) str() ([]byte, error) {
	if r.peek() != '"' {
		return nil, r.errorf("want a string, found %s", r.found())
	}
	start := r.off + 1
	for i := start; i < len(r.data); i++ {
		switch c := r.data[i]; {
		case c == '"':
			s := r.data[start:i]
			if !utf8.Valid(s) {
				return nil, r.errorf("string is not valid UTF-8")
			}
			r.off = i + 1
			return s, nil
		case c == '\\':
			return r.escaped(start, i)
		case c < 0x20:
			r.off = i
			return nil, r.errorf("control character %#02x in a string", c)
		}
	}
	return nil, r.errorf("unterminated string")
}

// escaped reads the rest of a string from its first escape at i.
func (r *Reader) escaped(start, i int) ([]byte, error) {
	out := append([]byte(nil), r.data[start:i]...)
	for i < len(r.data) {
		c := r.data[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return nil, r.errorf("string is not valid UTF-8")
			}
			r.off = i + 1
			return out, nil
		case c < 0x20:
			r.off = i
			return nil, r.errorf("control character %#02x in a string", c)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(r.data) {
			break
		}
		i += 2
		switch e := r.data[i-1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r1, ok := hex4(r.data, i)
			if !ok {
				r.off = i
				return nil, r.errorf("bad \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r1) {
				r2, ok := rune(0), false
				if i+6 <= len(r.data) && r.data[i] == '\\' && r.data[i+1] == 'u' {
					r2, ok = hex4(r.data, i+2)
				}
				dec := utf16.DecodeRune(r1, r2)
				if !ok || dec == utf8.RuneError {
					r.off = i
					return nil, r.errorf("unpaired surrogate in a \\u escape")
				}
				r1 = dec
				i += 6
			}
			out = utf8.AppendRune(out, r1)
		default:
			r.off = i - 1
			return nil, r.errorf("unknown escape \\%c", e)
		}
	}
	r.off = len(r.data)
	return nil, r.errorf("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// number reads a number literal and returns it, and whether it is an
// integer literal (no fraction, no exponent).
func (r *Reader) number() ([]byte, bool, error) {
	r.space()
	start, i, b := r.off, r.off, r.data
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return nil, false, r.errorf("want a number, found %s", r.found())
	}
	integer := true
	digits := func() bool {
		n := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if !digits() {
			r.off = i
			return nil, false, r.errorf("want digits after the decimal point")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			r.off = i
			return nil, false, r.errorf("want digits in the exponent")
		}
	}
	r.off = i
	return b[start:i], integer, nil
}

// Uint reads a non-negative integer of at most bits bits.
func (r *Reader) Uint(bits int) (uint64, error) {
	r.space()
	at := r.off
	lit, integer, err := r.number()
	if err != nil {
		return 0, err
	}
	v, ok := parseDecimal(lit, uint64(1)<<(bits-1)-1+uint64(1)<<(bits-1))
	if !integer || !ok || lit[0] == '-' {
		r.off = at
		return 0, r.errorf("want an unsigned %d-bit integer, found %s", bits, lit)
	}
	return v, nil
}

// Int reads an integer of at most bits bits.
func (r *Reader) Int(bits int) (int64, error) {
	r.space()
	at := r.off
	lit, integer, err := r.number()
	if err != nil {
		return 0, err
	}
	found := lit
	limit := uint64(1)<<(bits-1) - 1
	neg := lit[0] == '-'
	if neg {
		lit, limit = lit[1:], limit+1
	}
	v, ok := parseDecimal(lit, limit)
	if !integer || !ok {
		r.off = at
		return 0, r.errorf("want a %d-bit integer, found %s", bits, found)
	}
	if neg {
		return int64(-v), nil
	}
	return int64(v), nil
}

// parseDecimal reads the digits of an integer literal, refusing values
// above limit.
func parseDecimal(lit []byte, limit uint64) (uint64, bool) {
	var v uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, len(lit) > 0
}

// Uint32 reads a uint32.
func (r *Reader) Uint32() (uint32, error) {
	v, err := r.Uint(32)
	return uint32(v), err
}

// Uint64 reads a uint64.
func (r *Reader) Uint64() (uint64, error) { return r.Uint(64) }

// IntValue reads an int.
func (r *Reader) IntValue() (int, error) {
	v, err := r.Int(strconv.IntSize)
	return int(v), err
}

func (r *Reader) open(c byte) error {
	if r.peek() != c {
		return r.errorf("want %q, found %s", c, r.found())
	}
	if r.depth == MaxDepth {
		return r.errorf("nested more than %d deep", MaxDepth)
	}
	r.off++
	r.depth++
	return nil
}

// Array reads an array, calling elem once per element; elem reads it.
func (r *Reader) Array(elem func() error) error {
	if err := r.open('['); err != nil {
		return err
	}
	if r.peek() == ']' {
		r.off++
		r.depth--
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.off++
		case ']':
			r.off++
			r.depth--
			return nil
		default:
			return r.errorf("want ',' or ']' in an array, found %s", r.found())
		}
	}
}

// members reads an object, calling member with each key; member reads
// the value. With dupCheck it refuses a key seen before in the same
// object.
func (r *Reader) members(dupCheck bool, member func(key []byte) error) error {
	if err := r.open('{'); err != nil {
		return err
	}
	if r.peek() == '}' {
		r.off++
		r.depth--
		return nil
	}
	var seen [][]byte
	var seenSet map[string]struct{}
	for {
		at := r.off
		key, err := r.str()
		if err != nil {
			return err
		}
		dup := false
		switch {
		case !dupCheck:
		case seenSet != nil:
			_, dup = seenSet[string(key)]
			seenSet[string(key)] = struct{}{}
		default:
			for _, s := range seen {
				dup = dup || string(s) == string(key)
			}
			seen = append(seen, key)
			if len(seen) > 16 {
				seenSet = make(map[string]struct{}, 32)
				for _, s := range seen {
					seenSet[string(s)] = struct{}{}
				}
				seen = nil
			}
		}
		if dup {
			r.off = at
			return r.errorf("key %q appears twice in one object", key)
		}
		if r.peek() != ':' {
			return r.errorf("want ':' after a key, found %s", r.found())
		}
		r.off++
		if err := member(key); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.off++
		case '}':
			r.off++
			r.depth--
			return nil
		default:
			return r.errorf("want ',' or '}' in an object, found %s", r.found())
		}
	}
}

// Map reads an object whose keys are data, not field names (a JSON
// object decoded into a Go map), calling member with each key.
func (r *Reader) Map(member func(key string) error) error {
	return r.members(true, func(key []byte) error { return member(string(key)) })
}

// Object reads an object whose keys are field names. For a key in fields
// it calls member with the key's index; member reads the value. A key
// not in fields is skipped, or refused when strict (encoding/json's
// DisallowUnknownFields), when it equals a field name ignoring case, or
// when it is not ASCII.
func (r *Reader) Object(fields []string, strict bool, member func(field int) error) error {
	if len(fields) > 64 {
		panic("jsonread: more than 64 fields")
	}
	var seen uint64
	return r.members(false, func(key []byte) error {
		for i, f := range fields {
			if string(key) != f {
				continue
			}
			if seen&(1<<i) != 0 {
				return r.errorf("field %q appears twice in one object", key)
			}
			seen |= 1 << i
			return member(i)
		}
		if strict {
			return r.errorf("unknown field %q", key)
		}
		for _, c := range key {
			if c >= utf8.RuneSelf {
				return r.errorf("unknown field %q is not ASCII", key)
			}
		}
		for _, f := range fields {
			if equalFoldASCII(string(key), f) {
				return r.errorf("field %q differs from %q only in case", key, f)
			}
		}
		return r.Skip()
	})
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Document reads data as one JSON document: read reads its value into a
// new T, and nothing but white space may follow it.
func Document[T any](data []byte, read func(r *Reader, v *T) error) (*T, error) {
	r := New(data)
	v := new(T)
	if err := read(r, v); err != nil {
		return nil, err
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return v, nil
}

// Skip reads any value and drops it.
func (r *Reader) Skip() error {
	switch c := r.peek(); {
	case c == '{':
		return r.members(false, func([]byte) error { return r.Skip() })
	case c == '[':
		return r.Array(r.Skip)
	case c == '"':
		_, err := r.str()
		return err
	case c == '-' || '0' <= c && c <= '9':
		_, _, err := r.number()
		return err
	case r.literal("true"), r.literal("false"), r.literal("null"):
		return nil
	}
	return r.errorf("want a value, found %s", r.found())
}

// Raw reads any value and returns its bytes as they are in the document.
func (r *Reader) Raw() ([]byte, error) {
	r.space()
	start := r.off
	if err := r.Skip(); err != nil {
		return nil, err
	}
	return r.data[start:r.off], nil
}

// Slice reads an array of T, each element read by elem, or null (a nil
// slice). An empty array gives an empty, non-nil slice, as encoding/json.
func Slice[T any](r *Reader, elem func(*T) error) ([]T, error) {
	if r.Null() {
		return nil, nil
	}
	out := []T{}
	err := r.Array(func() error {
		var v T
		if err := elem(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Strings reads an array of strings, or null.
func Strings(r *Reader) ([]string, error) {
	return Slice(r, func(s *string) (err error) {
		*s, err = r.String()
		return err
	})
}

// Pointer reads an object into a new T, or null (nil).
func Pointer[T any](r *Reader, read func(*T) error) (*T, error) {
	if r.Null() {
		return nil, nil
	}
	v := new(T)
	if err := read(v); err != nil {
		return nil, err
	}
	return v, nil
}
