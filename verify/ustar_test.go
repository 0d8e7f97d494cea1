package verify

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestUstarHeader holds ustarHeader, the header isHeader compares with, equal to the
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

// TestIsHeader holds isHeader(b, tmpl, headerSum(tmpl), nameLen) to the
// comparison it replaces, b == ustarHeader(tmpl, b[:nameLen], size), for
// the headers of TestUstarHeader and for each of them damaged: every byte
// set to other values, and random bytes changed at random places.
func TestIsHeader(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{ManifestName, CheckpointName, ReportName, KnownConsistencyName(1<<40 + 7), LeafName(0), ProofName(99_999_999_999), "x"}
	sizes := []int64{0, 1, 511, 4095, 1 << 20, MaxReportSize}
	check := func(tmpl *[512]byte, b [512]byte) {
		t.Helper()
		nameLen := 0
		for nameLen < 100 && b[nameLen] != 0 {
			nameLen++
		}
		size, ok := parseSize(b[124:136])
		if nameLen == 0 || nameLen == 100 || !ok {
			return // fast gives such a block to slow without asking
		}
		want := b == ustarHeader(tmpl, b[:nameLen], size)
		if got := isHeader(&b, tmpl, headerSum(tmpl), nameLen); got != want {
			t.Fatalf("isHeader(%q) = %v, want %v", b, got, want)
		}
	}
	for _, created := range []time.Time{time.Unix(0, 0), time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)} {
		tmpl := (*[512]byte)(headerBlock("", 0, created))
		for _, name := range names {
			for _, size := range sizes {
				h := ustarHeader(tmpl, []byte(name), size)
				check(tmpl, h)
				for i := range h {
					for _, v := range []byte{0, ' ', '0', '7', h[i] + 1, h[i] - 1, byte(rng.UintN(256))} {
						b := h
						b[i] = v
						check(tmpl, b)
					}
				}
				for range 200 {
					b := h
					for range 1 + rng.IntN(3) {
						b[rng.IntN(512)] = byte(rng.UintN(256))
					}
					check(tmpl, b)
				}
			}
		}
	}
}

// ustarHeader returns the header a BundleWriter writes for a member of this
// name and size: tmpl (headerBlock's, for an empty name and size 0) with
// the name, size and checksum filled in. It is the reference isHeader
// is held to; TestUstarHeader holds it equal to headerBlock.
func ustarHeader(tmpl *[512]byte, name []byte, size int64) [512]byte {
	h := *tmpl
	copy(h[:100], name)
	for i := 10; i >= 0; i-- {
		h[124+i] = byte('0' + size&7)
		size >>= 3
	}
	// The checksum (POSIX ustar): the sum of the header's bytes with the
	// checksum field taken as eight spaces, in six octal digits, a NUL and
	// a space.
	sum := 8 * int64(' ')
	for i, c := range h {
		if i < 148 || i >= 156 {
			sum += int64(c)
		}
	}
	for i := 5; i >= 0; i-- {
		h[148+i] = byte('0' + sum&7)
		sum >>= 3
	}
	h[154], h[155] = 0, ' '
	return h
}
