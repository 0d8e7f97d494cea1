package custody

import (
	"maps"
	"slices"
	"strings"
)

// MemView is a ScanView held in memory: what the offline verifier replays a
// bundle into, and what tests use. Its zero value is not usable; call
// NewMemView.
type MemView struct {
	m map[string][]byte
}

// NewMemView returns an empty MemView.
func NewMemView() *MemView { return &MemView{m: map[string][]byte{}} }

// Get returns the record at key. The caller must not modify the value.
func (v *MemView) Get(key string) ([]byte, bool, error) {
	b, ok := v.m[key]
	return b, ok, nil
}

// Scan calls fn for each record whose key starts with prefix, in key order,
// and stops at fn's first error, which it returns.
func (v *MemView) Scan(prefix string, fn func(key string, value []byte) error) error {
	keys := slices.Sorted(maps.Keys(v.m))
	for _, k := range keys[searchPrefix(keys, prefix):] {
		if !strings.HasPrefix(k, prefix) {
			break
		}
		if err := fn(k, v.m[k]); err != nil {
			return err
		}
	}
	return nil
}

func searchPrefix(keys []string, prefix string) int {
	i, _ := slices.BinarySearch(keys, prefix)
	return i
}

// Set writes records (a nil Value deletes).
func (v *MemView) Set(recs []Record) {
	for _, r := range recs {
		if r.Value == nil {
			delete(v.m, r.Key)
		} else {
			v.m[r.Key] = r.Value
		}
	}
}

// Len returns the number of records.
func (v *MemView) Len() int { return len(v.m) }

// ApplyAll applies entries in order to v, writing each one's records before
// the next, and stops at the first refusal, which it returns.
func ApplyAll(v *MemView, entries []Entry) error {
	for _, e := range entries {
		recs, _, err := Apply(v, e)
		if err != nil {
			return err
		}
		v.Set(recs)
	}
	return nil
}
