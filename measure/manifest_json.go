package measure

import (
	"fmt"

	"github.com/bpf2go-signed/bpf2go-signed/internal/jsonread"
)

// ParseManifest decodes a manifest from its JSON, as encoding/json would
// into a [Manifest] but without reflection and more strictly (package
// internal/jsonread: duplicate keys, keys that differ from a field only
// in case, invalid UTF-8 and out-of-range numbers are refused; unknown
// fields are skipped). It does not check the manifest: call
// [Manifest.Check]. Errors wrap [ErrBadManifest].
func ParseManifest(data []byte) (*Manifest, error) {
	m, err := jsonread.Document(data, ReadManifest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	return m, nil
}

// ReadManifest reads a manifest object from r into m: the predicate of a
// statement that package attest reads.
func ReadManifest(r *jsonread.Reader, m *Manifest) error {
	return r.Object(manifestFields, false, func(f int) (err error) {
		switch f {
		case 0:
			m.Version, err = r.IntValue()
		case 1:
			m.Programs, err = jsonread.Slice(r, func(p *Program) error { return readProgram(r, p) })
		case 2:
			m.Digest, err = r.String()
		case 3:
			m.MeasID, err = r.String()
		case 4:
			m.StructOps, err = jsonread.Slice(r, func(s *StructOps) error { return readStructOps(r, s) })
		}
		return err
	})
}

// The JSON field names of the manifest types, in the order the readers
// switch on (package-level so that reading allocates no field lists).
var (
	manifestFields   = []string{"version", "programs", "digest", "meas_id", "struct_ops"}
	relocationFields = []string{"insn", "relocation"}
	contentFields    = []string{"algorithm", "hash", "source"}
	paramFields      = []string{"name", "offset", "size"}
	slotFields       = []string{"key", "program", "measurement", "map"}
	structOpsFields  = []string{"name", "type", "flags", "members"}
	memberFields     = []string{"name", "func", "program", "data"}
)

var programFields = []string{
	"name", "type", "attach_type", "insns",
	"target", "digest", "tag", "tag_sha1", // InsnDigest, promoted
	"alternatives", "maps", "relocations", "map_loads", "unsupported", "measurement", "meas_id",
}

func readProgram(r *jsonread.Reader, p *Program) error {
	return r.Object(programFields, false, func(f int) (err error) {
		switch f {
		case 0:
			p.Name, err = r.String()
		case 1:
			p.Type, err = r.Uint32()
		case 2:
			p.AttachType, err = r.Uint32()
		case 3:
			p.Insns, err = r.IntValue()
		case 4, 5, 6, 7:
			err = readInsnDigestField(r, &p.InsnDigest, f-4)
		case 8:
			p.Alternatives, err = jsonread.Slice(r, func(d *InsnDigest) error {
				return r.Object(programFields[4:8], false, func(f int) error { return readInsnDigestField(r, d, f) })
			})
		case 9:
			p.Maps, err = jsonread.Slice(r, func(m *Map) error { return readMap(r, m) })
		case 10:
			p.Relocations, err = jsonread.Slice(r, func(rel *Relocation) error {
				return r.Object(relocationFields, false, func(f int) (err error) {
					if f == 0 {
						rel.Insn, err = r.IntValue()
					} else {
						rel.Relocation, err = r.String()
					}
					return err
				})
			})
		case 11:
			p.MapLoads, err = r.String()
		case 12:
			p.Unsupported, err = jsonread.Strings(r)
		case 13:
			p.Measurement, err = r.String()
		case 14:
			p.MeasID, err = r.String()
		}
		return err
	})
}

func readInsnDigestField(r *jsonread.Reader, d *InsnDigest, f int) (err error) {
	switch f {
	case 0:
		d.Target, err = r.String()
	case 1:
		d.Digest, err = r.String()
	case 2:
		d.Tag, err = r.String()
	case 3:
		d.TagSHA1, err = r.String()
	}
	return err
}

var mapFields = []string{
	"name", "type", "key_size", "value_size", "max_entries", "flags", "map_extra", // MapDescriptor, promoted
	"sealed", "content", "params", "inner", "slots",
}

func readMap(r *jsonread.Reader, m *Map) error {
	return r.Object(mapFields, false, func(f int) (err error) {
		switch f {
		case 0:
			m.Name, err = r.String()
		case 1:
			m.Type, err = r.Uint32()
		case 2:
			m.KeySize, err = r.Uint32()
		case 3:
			m.ValueSize, err = r.Uint32()
		case 4:
			m.MaxEntries, err = r.Uint32()
		case 5:
			m.Flags, err = r.Uint32()
		case 6:
			m.MapExtra, err = r.Uint64()
		case 7:
			m.Sealed, err = r.Bool()
		case 8:
			m.Content, err = jsonread.Pointer(r, func(c *Content) error {
				return r.Object(contentFields, false, func(f int) (err error) {
					switch f {
					case 0:
						c.Algorithm, err = r.String()
					case 1:
						c.Hash, err = r.String()
					case 2:
						c.Source, err = r.String()
					}
					return err
				})
			})
		case 9:
			m.Params, err = jsonread.Slice(r, func(p *Param) error {
				return r.Object(paramFields, false, func(f int) (err error) {
					switch f {
					case 0:
						p.Name, err = r.String()
					case 1:
						p.Offset, err = r.Uint32()
					case 2:
						p.Size, err = r.Uint32()
					}
					return err
				})
			})
		case 10:
			m.Inner, err = jsonread.Pointer(r, func(in *Map) error { return readMap(r, in) })
		case 11:
			m.Slots, err = jsonread.Slice(r, func(s *Slot) error {
				return r.Object(slotFields, false, func(f int) (err error) {
					switch f {
					case 0:
						s.Key, err = r.String()
					case 1:
						s.Program, err = r.String()
					case 2:
						s.Measurement, err = r.String()
					case 3:
						s.Map, err = jsonread.Pointer(r, func(in *Map) error { return readMap(r, in) })
					}
					return err
				})
			})
		}
		return err
	})
}

func readStructOps(r *jsonread.Reader, s *StructOps) error {
	return r.Object(structOpsFields, false, func(f int) (err error) {
		switch f {
		case 0:
			s.Name, err = r.String()
		case 1:
			s.Type, err = r.String()
		case 2:
			s.Flags, err = r.Uint32()
		case 3:
			s.Members, err = jsonread.Slice(r, func(m *StructOpsMember) error {
				return r.Object(memberFields, false, func(f int) (err error) {
					switch f {
					case 0:
						m.Name, err = r.String()
					case 1:
						m.Func, err = r.Bool()
					case 2:
						m.Program, err = r.String()
					case 3:
						m.Data, err = r.String()
					}
					return err
				})
			})
		}
		return err
	})
}
