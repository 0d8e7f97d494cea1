package custody

import (
	"strings"
	"testing"
	"time"
)

// TestAcquiredAtClaim (reliability-anchors §5 row 12): an acquisition's
// claimed time may lie before its leaf's time (evidence is logged after it
// is taken) or up to MaxClaimSkew after it, not later; it must be RFC 3339.
// A refusal changes nothing.
func TestAcquiredAtClaim(t *testing.T) {
	l := baseLedger(t)
	acquire := func(id, at string) []byte {
		return l.env(PredicateAcquire, Subject{Name: id, Digest: digestsOf(id)},
			Acquire{Exhibit: id, Size: 1, Source: "s", Method: "m", AcquiredAt: at}, l.keys[pCERT])
	}
	for _, tc := range []struct {
		after time.Duration // the claim, after the next leaf's time
		at    string        // or this text
		rule  string        // "" accepted
	}{
		{after: -20 * time.Hour},
		{after: 0},
		{after: MaxClaimSkew - time.Minute},
		{after: MaxClaimSkew + time.Minute, rule: "claimed-time"},
		{after: 30 * 24 * time.Hour, rule: "claimed-time"},
		{at: "yesterday", rule: "bad-predicate"},
		{at: "2026-03-01 09:00:00", rule: "bad-predicate"},
	} {
		next := l.entry(nil).Time // the next leaf's time, by the test ledger's clock
		if tc.at == "" {
			tc.at = next.Add(tc.after).Format(time.RFC3339)
		}
		id := "E-" + strings.NewReplacer(":", "", " ", "-").Replace(tc.at)
		before := len(l.entries)
		_, err := l.submit(acquire(id, tc.at))
		if tc.rule == "" {
			if err != nil {
				t.Errorf("acquire with acquired_at %s (its leaf at %s) = %v, want accepted", tc.at, next.Format(time.RFC3339), err)
			}
		} else {
			checkRule(t, "acquire with acquired_at "+tc.at, err, tc.rule, id, "")
			if _, found, _ := l.v.Get(exhibitKey(id)); len(l.entries) != before || found {
				t.Errorf("a refused acquire of %s changed the ledger", id)
			}
		}
	}

	// Without a leaf time (a check before signing) only the format counts.
	e := Entry{Index: int64(len(l.entries)), Envelope: acquire("E-no-time", l.entry(nil).Time.Add(time.Hour).Format(time.RFC3339))}
	if _, _, err := Apply(l.v, e); err != nil {
		t.Errorf("Apply without a leaf time = %v, want the claim judged on its format only", err)
	}
}
