package custody

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// BenchmarkApplyReplay measures custody.Apply of the acquisitions that
// verify's BenchmarkVerifyBundle replays (distinct exhibits, one sha256
// digest, source and method, by one collector) against an in-memory view.
// Take away BenchmarkEd25519Verify for the cost beyond the signature.
func BenchmarkApplyReplay(b *testing.B) {
	l := baseLedger(b)
	envs := make([][]byte, b.N)
	for i := range envs {
		sum := sha256.Sum256(fmt.Appendf(nil, "bench artifact %d", i))
		id := fmt.Sprintf("BENCH-%06d", i)
		envs[i] = l.env(PredicateAcquire, Subject{Name: id, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}},
			Acquire{Exhibit: id, Size: 4096, Source: "bench", Method: "dd"}, l.keys[pCERT])
	}
	entries := make([]Entry, b.N)
	for i := range entries {
		entries[i] = l.entry(envs[i])
		l.entries = append(l.entries, entries[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	replayApply(b, l.v, entries)
}

// replayApply applies entries to v in order. It is a function of its own
// for a profiler to single out, as in
//
//	valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*custody.replayApply' ...
//
//go:noinline
func replayApply(b *testing.B, v *MemView, entries []Entry) {
	for _, e := range entries {
		recs, _, err := Apply(v, e)
		if err != nil {
			b.Fatal(err)
		}
		v.Set(recs)
	}
}

// BenchmarkParseStatementAcquire parses the statement of one of
// BenchmarkApplyReplay's acquisitions, and decodes its predicate.
func BenchmarkParseStatementAcquire(b *testing.B) {
	sum := sha256.Sum256([]byte("bench artifact 1"))
	st, err := NewStatement(PredicateAcquire, Subject{Name: "BENCH-000001", Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}},
		Acquire{Exhibit: "BENCH-000001", Size: 4096, Source: "bench", Method: "dd"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := ParseStatement(st)
		if err != nil {
			b.Fatal(err)
		}
		var p Acquire
		if err := decodeStrict("predicate", MaxStatementSize, s.Predicate, &p); err != nil {
			b.Fatal(err)
		}
	}
}
