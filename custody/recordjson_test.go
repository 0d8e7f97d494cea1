package custody

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzRecordJSON holds appendHistoryStep and appendExhibitRecord to
// json.Marshal: when they report ok, they wrote its bytes.
func FuzzRecordJSON(f *testing.F) {
	f.Add("CERT-UA-0042", "lab", "aGFzaA==", "dd", int64(7), int64(1767225600), int64(0), true, false)
	f.Add("HX/7", "a<b", "", "\u2028", int64(-1), int64(-62167219201), int64(999999999), false, true)
	f.Add("x", "", "\"", "é", int64(1<<62), int64(253402300800), int64(1), true, true)
	f.Fuzz(func(t *testing.T, s1, s2, s3, s4 string, n, sec, nsec int64, flag1, flag2 bool) {
		tm := time.Unix(sec, nsec%1_000_000_000).UTC()
		var keyIDs, list []string
		var digests, detail map[string]string
		if flag1 {
			keyIDs, list = []string{s1, s2}, []string{s3}
			digests, detail = map[string]string{"sha256": s3, s4: s1}, map[string]string{}
		} else if flag2 {
			keyIDs, list = []string{}, []string{}
			detail = map[string]string{s2: s4}
		}
		steps := []HistoryStep{
			{Index: n, LeafHash: s1, Time: tm, Event: s2, Party: s3, KeyIDs: keyIDs, To: s4, From: s1, Reason: s2, Digests: digests, Mismatch: flag2, Detail: detail},
			{Index: n, Time: tm, KeyIDs: keyIDs},
			{Index: n, Time: tm.In(time.FixedZone("X", 3600)), KeyIDs: keyIDs},
		}
		for _, st := range steps {
			want, err := json.Marshal(&st)
			if got, ok := appendHistoryStep(nil, &st); ok && (err != nil || !bytes.Equal(got, want)) {
				t.Fatalf("appendHistoryStep(%+v) = %s, json.Marshal gives %s, %v", st, got, want, err)
			}
		}
		var open *OpenRelease
		if flag2 {
			open = &OpenRelease{To: s4, Ref: LeafRef{Index: n, LeafHash: s3}}
		}
		var mismatches []int64
		if flag1 {
			mismatches = []int64{n, sec}
		}
		records := []ExhibitRecord{
			{ID: s1, Digests: digests, Size: n, Holder: s2, Status: s3, OpenRelease: open, Last: LeafRef{Index: sec, LeafHash: s4},
				Parents: list, Acquired: nsec, Mismatches: mismatches, Derived: keyIDs},
			{},
		}
		for _, x := range records {
			want, err := json.Marshal(&x)
			if got, ok := appendExhibitRecord(nil, &x); ok && (err != nil || !bytes.Equal(got, want)) {
				t.Fatalf("appendExhibitRecord(%+v) = %s, json.Marshal gives %s, %v", x, got, want, err)
			}
		}
	})
}

// TestRecordJSONTakes requires that the encoders write the records of a
// plain acquisition themselves.
func TestRecordJSONTakes(t *testing.T) {
	st := &HistoryStep{Index: 3, LeafHash: "aGFzaA==", Time: time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC), Event: EventAcquire,
		Party: "collector", KeyIDs: []string{"sha256:aa"}, Digests: map[string]string{"sha256": sha256A}, Detail: map[string]string{"source": "bench", "method": "dd"}}
	if _, ok := appendHistoryStep(nil, st); !ok {
		t.Errorf("appendHistoryStep(%+v) gives up", st)
	}
	x := &ExhibitRecord{ID: "BENCH-1", Digests: st.Digests, Size: 4096, Holder: "collector", Status: StatusHeld, Last: LeafRef{Index: 3, LeafHash: "aGFzaA=="}, Acquired: 3}
	b, ok := appendExhibitRecord(nil, x)
	if !ok {
		t.Errorf("appendExhibitRecord(%+v) gives up", x)
	}
	if !fastDecode(len(b), b, new(ExhibitRecord)) {
		t.Errorf("fastDecode(%s) into an ExhibitRecord gives up", b)
	}
}
