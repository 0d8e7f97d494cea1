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
	for i := range b.N {
		recs, _, err := Apply(l.v, entries[i])
		if err != nil {
			b.Fatal(err)
		}
		l.v.Set(recs)
	}
}
