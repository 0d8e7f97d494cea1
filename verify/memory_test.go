package verify_test

import (
	"bytes"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/custos-ledger/custos/verify"
)

// TestVerifyBundleMemory holds VerifyBundle to the bound its Memory doc
// states, on 20,000 acquisitions of distinct exhibits (the worst case): the
// live heap (as the GC last marked it, so garbage not yet collected does
// not count) stays under a fixed allowance for the windows plus 2 KiB per
// entry, and the report keeps under 1.25 KiB per exhibit.
func TestVerifyBundleMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds a 20,000-entry bundle; the race detector's shadow memory would count")
	}
	const entries = 20_000
	bundle, policy := buildBenchBundle(t, entries, false)
	runtime.GC()
	base := liveHeap()

	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			peak = max(peak, liveHeap())
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	r, err := verify.VerifyBundle(bytes.NewReader(bundle), verify.BundleOptions{Policy: policy})
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatalf("VerifyBundle = %v", err)
	}
	runtime.GC()
	now := liveHeap()
	kept := now - min(base, now)
	runtime.KeepAlive(r)
	runtime.KeepAlive(bundle)

	const fixed = 32 << 20 // the windows of leaves and proofs, the tar reader, the runtime
	used := peak - min(base, peak)
	t.Logf("%d entries: live heap peaked %.1f MiB above the bundle's bytes (%.0f bytes/entry); the report keeps %.1f MiB (%.0f bytes/exhibit)",
		entries, float64(used)/(1<<20), float64(used)/entries, float64(kept)/(1<<20), float64(kept)/entries)
	if limit := uint64(fixed + 2<<10*entries); used > limit {
		t.Errorf("live heap peaked %d bytes above the start, want at most %d (32 MiB + 2 KiB per entry)", used, limit)
	}
	if limit := uint64(5 << 8 * entries); kept > limit {
		t.Errorf("the report keeps %d bytes, want at most %d (1.25 KiB per exhibit)", kept, limit)
	}
}

// liveHeap is the heap the GC found live at its last mark.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
