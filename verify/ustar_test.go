package verify

import (
	"testing"
	"time"
)

// TestUstarHeader holds the reader's own header builder equal to the
// archive/tar header a BundleWriter writes, for every name form and sizes
// up to the largest cap.
func TestUstarHeader(t *testing.T) {
	names := []string{ManifestName, CheckpointName, PolicyName, ReportName, VerifyDocName,
		KnownCheckpointName(1), KnownConsistencyName(1<<40 + 7), LeafName(0), ProofName(99_999_999_999)}
	sizes := []int64{0, 1, 511, 512, 513, 4095, 1 << 20, MaxReportSize - 1, MaxReportSize}
	for _, created := range []time.Time{time.Unix(0, 0), time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC)} {
		tmpl := (*[512]byte)(headerBlock("", 0, created))
		for _, name := range names {
			for _, size := range sizes {
				got := ustarHeader(tmpl, []byte(name), size)
				if want := headerBlock(name, size, created); string(got[:]) != string(want) {
					t.Errorf("ustarHeader(%s, %d, %s) = %q, want %q", name, size, created, got, want)
				}
				if n, ok := parseSize(got[124:136]); !ok || n != size {
					t.Errorf("parseSize(ustarHeader(%s, %d)) = %d, %v, want %d, true", name, size, n, ok, size)
				}
			}
		}
	}
}
