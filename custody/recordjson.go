package custody

// Apply writes an exhibit record and a history step for nearly every
// entry. These encoders write them as json.Marshal does, byte for byte,
// when every string in them is plain (json.Marshal writes it as it is) and
// the time is a UTC time of years 0 to 9999; for anything else they report
// false and tx.put calls json.Marshal. FuzzRecordJSON holds them to it.

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// appendHistoryStep appends json.Marshal(st).
func appendHistoryStep(b []byte, st *HistoryStep) ([]byte, bool) {
	t := st.Time
	if t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999 {
		return nil, false
	}
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, st.Index, 10)
	ok := true
	b, ok = appendField(b, ok, `,"leaf_hash":`, st.LeafHash)
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b, ok = appendField(b, ok, `,"event":`, st.Event)
	b, ok = appendField(b, ok, `,"party":`, st.Party)
	b = append(b, `,"key_ids":`...)
	b, ok = appendStrings(b, ok, st.KeyIDs)
	if st.To != "" {
		b, ok = appendField(b, ok, `,"to":`, st.To)
	}
	if st.From != "" {
		b, ok = appendField(b, ok, `,"from":`, st.From)
	}
	if st.Reason != "" {
		b, ok = appendField(b, ok, `,"reason":`, st.Reason)
	}
	if len(st.Digests) > 0 {
		b = append(b, `,"digests":`...)
		b, ok = appendStringMap(b, ok, st.Digests)
	}
	if st.Mismatch {
		b = append(b, `,"mismatch":true`...)
	}
	if len(st.Detail) > 0 {
		b = append(b, `,"detail":`...)
		b, ok = appendStringMap(b, ok, st.Detail)
	}
	return append(b, '}'), ok
}

// appendExhibitRecord appends json.Marshal(x).
func appendExhibitRecord(b []byte, x *ExhibitRecord) ([]byte, bool) {
	ok := true
	b, ok = appendField(b, ok, `{"id":`, x.ID)
	b = append(b, `,"digests":`...)
	b, ok = appendStringMap(b, ok, x.Digests)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, x.Size, 10)
	b, ok = appendField(b, ok, `,"holder":`, x.Holder)
	b, ok = appendField(b, ok, `,"status":`, x.Status)
	if r := x.OpenRelease; r != nil {
		b, ok = appendField(b, ok, `,"open_release":{"to":`, r.To)
		b = append(b, `,"ref":`...)
		b, ok = appendLeafRef(b, ok, r.Ref)
		b = append(b, '}')
	}
	b = append(b, `,"last":`...)
	b, ok = appendLeafRef(b, ok, x.Last)
	if len(x.Parents) > 0 {
		b = append(b, `,"parents":`...)
		b, ok = appendStrings(b, ok, x.Parents)
	}
	b = append(b, `,"acquired":`...)
	b = strconv.AppendInt(b, x.Acquired, 10)
	if len(x.Mismatches) > 0 {
		b = append(b, `,"mismatches":[`...)
		for i, n := range x.Mismatches {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, n, 10)
		}
		b = append(b, ']')
	}
	if len(x.Derived) > 0 {
		b = append(b, `,"derived":`...)
		b, ok = appendStrings(b, ok, x.Derived)
	}
	return append(b, '}'), ok
}

func appendLeafRef(b []byte, ok bool, r LeafRef) ([]byte, bool) {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, r.Index, 10)
	b, ok = appendField(b, ok, `,"leaf_hash":`, r.LeafHash)
	return append(b, '}'), ok
}

// appendField appends name and s quoted, and reports ok and whether s is
// plain.
func appendField(b []byte, ok bool, name, s string) ([]byte, bool) {
	b = append(b, name...)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), ok && plainName(s)
}

func appendStrings(b []byte, ok bool, list []string) ([]byte, bool) {
	if list == nil {
		return append(b, "null"...), ok
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b, ok = appendField(b, ok, "", s)
	}
	return append(b, ']'), ok
}

// appendStringMap appends m as json.Marshal does: keys in order.
func appendStringMap(b []byte, ok bool, m map[string]string) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), ok
	}
	type entry struct{ k, v string }
	var arr [8]entry // taken with the keys: no lookup per key
	entries := arr[:0]
	for k, v := range m {
		entries = append(entries, entry{k, v})
	}
	slices.SortFunc(entries, func(x, y entry) int { return strings.Compare(x.k, y.k) })
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b, ok = appendField(b, ok, "", e.k)
		b = append(b, ':')
		b, ok = appendField(b, ok, "", e.v)
	}
	return append(b, '}'), ok
}
