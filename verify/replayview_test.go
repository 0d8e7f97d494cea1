package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

// TestReplayViewLikeMemView holds the replay's compact view to what
// custody.MemView, which keeps every record as it is, gives for the same
// records: Get and Scan (history steps included, for exhibit ids that
// prefix one another), after writes, rewrites and deletes.
func TestReplayViewLikeMemView(t *testing.T) {
	step := func(i int64, event string) []byte {
		b, err := json.Marshal(&custody.HistoryStep{Index: i, LeafHash: "aGFzaA==", Time: time.Unix(i, 0).UTC(), Event: event,
			Party: "collector", KeyIDs: []string{"sha256:k"}, Detail: map[string]string{"source": "bench"}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hkey := func(ex string, i int64) string { return fmt.Sprintf("h/%s/%016d", ex, i) }
	batches := [][]custody.Record{
		{{Key: "e/A", Value: []byte(`{"id":"A"}`)}, {Key: hkey("A", 1), Value: step(1, "acquire")},
			{Key: "n/" + fmt.Sprintf("%064x", 1), Value: []byte("1")}, {Key: "p/collector", Value: []byte(`{"name":"collector"}`)}},
		{{Key: "e/A/B", Value: []byte(`{"id":"A/B"}`)}, {Key: hkey("A/B", 2), Value: step(2, "derive")}, {Key: hkey("A", 2), Value: step(2, "derive")}},
		{{Key: "e/AB", Value: []byte(`{"id":"AB"}`)}, {Key: hkey("AB", 3), Value: step(3, "acquire")}},
		{{Key: hkey("A", 4), Value: step(4, "seal")}, {Key: "e/A", Value: []byte(`{"id":"A","status":"sealed"}`)}},
		{{Key: hkey("A", 4), Value: step(4, "unseal")}, {Key: hkey("AB", 3)}, {Key: "p/collector"}},
	}
	mem, rv := custody.NewMemView(), newReplayView()
	for _, recs := range batches {
		mem.Set(recs)
		steps, rest := splitSteps(recs)
		rv.Set(rest, steps)
	}
	for _, key := range []string{"e/A", "e/A/B", hkey("A", 1), hkey("A", 4), hkey("AB", 3), hkey("A/B", 2), "p/collector", "n/" + fmt.Sprintf("%064x", 1), "x"} {
		want, wok, _ := mem.Get(key)
		got, gok, _ := rv.Get(key)
		if gok != wok || string(got) != string(want) {
			t.Errorf("Get(%s) = %s, %v, want %s, %v", key, got, gok, want, wok)
		}
	}
	scan := func(v custody.ScanView, prefix string) []string {
		var out []string
		v.Scan(prefix, func(k string, b []byte) error {
			if k[:2] != "n/" {
				out = append(out, k+"="+string(b))
			}
			return nil
		})
		return out
	}
	for _, prefix := range []string{"h/A/", "h/A", "h/AB/", "h/A/B/", "h/", "e/", "e/A", "p/", ""} {
		if got, want := scan(rv, prefix), scan(mem, prefix); !slices.Equal(got, want) {
			t.Errorf("Scan(%q) = %q, want %q", prefix, got, want)
		}
	}
	x, steps, err := custody.History(rv, "A")
	if err != nil || x == nil || len(steps) != 3 || steps[2].Event != "unseal" {
		t.Errorf("History(A) = %v, %+v, %v, want 3 steps, the last an unseal", x, steps, err)
	}
}

// TestReplayViewApplied holds the replay's view to custody.MemView over the
// records custody.Apply makes for the leaves of the golden bundles (exhibit
// records and history steps handed over decoded): each leaf gets the same
// verdict from both, and every record reads back the same, by Get and by
// Scan.
func TestReplayViewApplied(t *testing.T) {
	for _, name := range []string{"valid.custos", "dropped-history-entry.custos", "verdict-count-altered.custos"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "bundles", name))
		if err != nil {
			t.Fatal(err)
		}
		mem, rv := custody.NewMemView(), newReplayView()
		br := NewBundleReader(bytes.NewReader(b))
		applied := 0
		for {
			m, err := br.Next()
			if err != nil {
				break
			}
			if m.Kind != KindLeaf {
				continue
			}
			l, err := ledger.ParseLeaf(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			e := custody.Entry{Index: l.Index, LeafHash: ledger.LeafHash(m.Data), Time: l.Time, Envelope: l.Entry}
			want, _, werr := custody.Apply(mem, e)
			got, _, gerr := custody.Apply(rv, e)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || len(got) != len(want) {
				t.Fatalf("%s: leaf %d: Apply on the replay view = %d records, %v; on a MemView %d, %v", name, l.Index, len(got), gerr, len(want), werr)
			}
			if werr == nil {
				applied++
				mem.Set(want)
				steps, rest := splitSteps(got)
				rv.Set(rest, steps)
			}
		}
		if applied < 5 || len(rv.ex) == 0 {
			t.Fatalf("%s: %d leaves applied, %d exhibit records kept decoded: the test tests nothing", name, applied, len(rv.ex))
		}
		var keys []string
		mem.Scan("", func(k string, want []byte) error {
			keys = append(keys, k)
			if got, ok, err := rv.Get(k); !ok || err != nil || string(got) != string(want) {
				t.Errorf("%s: Get(%s) = %s, %v, %v, want %s", name, k, got, ok, err, want)
			}
			return nil
		})
		prefixes := []string{"", "e", "e/", "h/", "p/", "k/", "d/"}
		for _, k := range keys {
			if len(k) > 4 && k[:2] == "e/" {
				prefixes = append(prefixes, k, k[:len(k)-1])
			}
		}
		scan := func(v custody.ScanView, prefix string) []string {
			var out []string
			v.Scan(prefix, func(k string, b []byte) error {
				if k[:2] != "n/" {
					out = append(out, k+"="+string(b))
				}
				return nil
			})
			return out
		}
		for _, prefix := range prefixes {
			if got, want := scan(rv, prefix), scan(mem, prefix); !slices.Equal(got, want) {
				t.Errorf("%s: Scan(%q) = %q, want %q", name, prefix, got, want)
			}
		}
	}
}
