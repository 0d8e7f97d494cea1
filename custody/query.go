package custody

// Queries over the custody records that Apply writes (see state.go).

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Party returns the record of an enrolled party, or nil (and no error) if
// there is none.
func Party(v View, name string) (*PartyRecord, error) {
	return (&tx{v: v}).party(name)
}

// Exhibit returns the record of a registered exhibit, or nil (and no error)
// if there is none.
func Exhibit(v View, id string) (*ExhibitRecord, error) {
	return (&tx{v: v}).exhibit(id)
}

// ExhibitByDigest returns the exhibit whose SHA-256 is sha256hex (lowercase).
func ExhibitByDigest(v View, sha256hex string) (string, bool, error) {
	var id string
	ok, err := (&tx{v: v}).get(digestKey(sha256hex), &id)
	return id, ok, err
}

// History returns an exhibit's record and its history steps in index
// order, or a nil record (and no error) if there is no such exhibit.
func History(v ScanView, exhibit string) (*ExhibitRecord, []HistoryStep, error) {
	x, err := Exhibit(v, exhibit)
	if err != nil || x == nil {
		return nil, nil, err
	}
	prefix := historyPrefix(exhibit)
	var steps []HistoryStep
	err = v.Scan(prefix, func(key string, value []byte) error {
		// "h/A/" also prefixes the history of an exhibit "A/B": its keys
		// have a '/' after the prefix; ours are just the index.
		if rest := key[len(prefix):]; len(rest) != 16 || strings.Contains(rest, "/") {
			return nil
		}
		var st HistoryStep
		if err := json.Unmarshal(value, &st); err != nil {
			return fmt.Errorf("custody: record %s does not decode: %w", key, err)
		}
		steps = append(steps, st)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return x, steps, nil
}

// Status returns the exhibits held by party or released to it (an open
// release names it as receiver), or every exhibit if party is
// "", in exhibit id order.
func Status(v ScanView, party string) ([]ExhibitRecord, error) {
	var out []ExhibitRecord
	err := v.Scan("e/", func(key string, value []byte) error {
		var x ExhibitRecord
		if err := json.Unmarshal(value, &x); err != nil {
			return fmt.Errorf("custody: record %s does not decode: %w", key, err)
		}
		offered := x.OpenRelease != nil && x.OpenRelease.To == party
		if party == "" || x.Holder == party || offered {
			out = append(out, x)
		}
		return nil
	})
	return out, err
}

// Parties returns every enrolled party, in name order.
func Parties(v ScanView) ([]PartyRecord, error) {
	var out []PartyRecord
	err := v.Scan("p/", func(key string, value []byte) error {
		var p PartyRecord
		if err := json.Unmarshal(value, &p); err != nil {
			return fmt.Errorf("custody: record %s does not decode: %w", key, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}
