package audit

import (
	"encoding/json"
	"strconv"
)

// AppendJSON appends r encoded exactly as encoding/json encodes it (the
// same bytes as json.Marshal), without reflection for the common result:
// a program with nothing but its identity, verdict and manifest to
// report. Any other result, and any string that encoding/json would
// escape, goes through json.Marshal.
func (r *Result) AppendJSON(b []byte) ([]byte, error) {
	if len(r.Mismatches) > 0 || len(r.Params) > 0 || len(r.Relocations) > 0 || len(r.Unbound) > 0 ||
		len(r.TailCalls) > 0 || len(r.BoundMaps) > 0 || len(r.Links) > 0 {
		return appendMarshal(b, r)
	}
	var err error
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, uint64(r.ID), 10)
	fields := [...]struct {
		key, val  string
		omitEmpty bool
	}{
		{`,"type":`, r.Type, false},
		{`,"name":`, r.Name, false},
		{`,"tag":`, r.Tag, false},
		{`,"verdict":`, string(r.Verdict), false},
		{`,"manifest":`, r.Manifest, true},
		{`,"meas_id":`, r.MeasID, true},
		{`,"hint":`, r.Hint, true},
	}
	for _, f := range fields {
		if f.omitEmpty && f.val == "" {
			continue
		}
		b = append(b, f.key...)
		if b, err = appendJSONString(b, f.val); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"tag_bits":`...)
	b = strconv.AppendInt(b, int64(r.TagBits), 10)
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string as encoding/json writes it:
// printable ASCII but for the characters it escapes (", \, and <, > and
// & for HTML) as is, anything else through json.Marshal.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
			return appendMarshal(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}
