package custody

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// Counts are the numbers a public dashboard shows about the custody state:
// how many records of each kind, never which. They name no party, exhibit,
// source or person, so they may be served to anyone; the only strings are
// the level names of registered policies, which are public documents.
type Counts struct {
	Parties          int `json:"parties"`           // enrolled parties
	Exhibits         int `json:"exhibits"`          // registered exhibits, acquired or derived
	HandOvers        int `json:"hand_overs"`        // accepted releases
	OpenReleases     int `json:"open_releases"`     // releases not yet accepted or rejected
	Rejected         int `json:"rejected"`          // rejected releases
	RejectedMismatch int `json:"rejected_mismatch"` // of those, how many observed other digests
	Findings         int `json:"findings"`
	Hypotheses       int `json:"hypotheses"`
	Verdicts         int `json:"verdicts"` // logged verdicts, each counted once

	// VerdictLevels counts the verdicts by the level they reached, most
	// verdicts first (then by name). Level "" is a verdict that reached no
	// level of its policy.
	VerdictLevels []LevelCount `json:"verdict_levels,omitempty"`
}

// LevelCount is the number of logged verdicts that reached Level.
type LevelCount struct {
	Level    string `json:"level"`
	Verdicts int    `json:"verdicts"`
}

// PublicCounts counts the custody records in v (see state.go and
// attribution.go for their keys). Hand-overs and rejections are counted
// from the exhibits' history steps, so an exhibit handed over twice counts
// twice; open releases from the exhibits' current records. A record that
// does not decode is an error, as in the other queries.
func PublicCounts(v ScanView) (Counts, error) {
	var c Counts
	count := func(prefix string, n *int) error {
		return v.Scan(prefix, func(string, []byte) error { *n++; return nil })
	}
	if err := count("p/", &c.Parties); err != nil {
		return Counts{}, err
	}
	if err := count("f/", &c.Findings); err != nil {
		return Counts{}, err
	}
	if err := count("y/", &c.Hypotheses); err != nil {
		return Counts{}, err
	}

	err := v.Scan("e/", func(key string, value []byte) error {
		var x struct {
			OpenRelease *OpenRelease `json:"open_release"`
		}
		if err := json.Unmarshal(value, &x); err != nil {
			return fmt.Errorf("custody: record %s does not decode: %w", key, err)
		}
		c.Exhibits++
		if x.OpenRelease != nil {
			c.OpenReleases++
		}
		return nil
	})
	if err != nil {
		return Counts{}, err
	}

	// Every h/ key is one step of one exhibit (an exhibit "A/B" has its
	// own keys under h/A/B/), so a scan of all of them counts each once.
	err = v.Scan("h/", func(key string, value []byte) error {
		var st struct {
			Event    string `json:"event"`
			Mismatch bool   `json:"mismatch"`
		}
		if err := json.Unmarshal(value, &st); err != nil {
			return fmt.Errorf("custody: record %s does not decode: %w", key, err)
		}
		switch st.Event {
		case EventAccept:
			c.HandOvers++
		case EventReject:
			c.Rejected++
			if st.Mismatch {
				c.RejectedMismatch++
			}
		}
		return nil
	})
	if err != nil {
		return Counts{}, err
	}

	levels := map[string]int{}
	err = v.Scan("v/", func(key string, value []byte) error {
		var vr struct {
			Level string `json:"level"`
		}
		if err := json.Unmarshal(value, &vr); err != nil {
			return fmt.Errorf("custody: record %s does not decode: %w", key, err)
		}
		c.Verdicts++
		levels[vr.Level]++
		return nil
	})
	if err != nil {
		return Counts{}, err
	}
	for l, n := range levels {
		c.VerdictLevels = append(c.VerdictLevels, LevelCount{Level: l, Verdicts: n})
	}
	slices.SortFunc(c.VerdictLevels, func(a, b LevelCount) int {
		return cmp.Or(cmp.Compare(b.Verdicts, a.Verdicts), cmp.Compare(a.Level, b.Level))
	})
	return c, nil
}
