package verify_test

import (
	"bytes"
	"testing"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// fuzzLog is a small real ledger whose proofs seed the fuzz targets.
func fuzzLog(f *testing.F) *testLog {
	return newTestLog(f, newLogKey(f, "example.org/fuzz"), entries("fuzz", 0, 11), nil)
}

// FuzzParseInclusionProof requires that the parser never panics and
// accepts only canonical text: whatever it parses re-encodes to the input
// (no two encodings of one proof).
func FuzzParseInclusionProof(f *testing.F) {
	l := fuzzLog(f)
	for _, i := range []int64{0, 3, 8, 10} {
		p := l.inclusion(f, i)
		f.Add(p.Marshal())
		p.Extra = []byte("extra data")
		f.Add(p.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ledger.ParseInclusionProof(b)
		if err != nil {
			if !verify.IsMalformed(err) {
				t.Fatalf("ParseInclusionProof(%q) = %v, want a *ledger.ParseError", b, err)
			}
			return
		}
		if got := p.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("ParseInclusionProof(%q).Marshal() = %q, want the input", b, got)
		}
	})
}

// FuzzParseConsistencyProof is FuzzParseInclusionProof for consistency
// proofs.
func FuzzParseConsistencyProof(f *testing.F) {
	l := fuzzLog(f)
	for _, old := range []int64{1, 4, 7, 11} {
		f.Add(l.consistency(f, old).Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ledger.ParseConsistencyProof(b)
		if err != nil {
			if !verify.IsMalformed(err) {
				t.Fatalf("ParseConsistencyProof(%q) = %v, want a *ledger.ParseError", b, err)
			}
			return
		}
		if got := p.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("ParseConsistencyProof(%q).Marshal() = %q, want the input", b, got)
		}
	})
}

// FuzzInclusion requires that Inclusion never panics, that every failure is
// either malformed input or a named check, and that what it accepts is
// consistent with itself.
func FuzzInclusion(f *testing.F) {
	l := fuzzLog(f)
	for _, i := range []int64{0, 5, 10} {
		f.Add(l.inclusion(f, i).Marshal(), l.leaves[i])
	}
	f.Add(l.inclusion(f, 2).Marshal(), l.leaves[3])
	v := l.key.verifier
	f.Fuzz(func(t *testing.T, proofText, leaf []byte) {
		c, err := verify.Inclusion(proofText, leaf, v)
		if got := outcome(err); got != "ok" && got != "malformed" && got != "checkpoint signature" &&
			got != "origin" && got != "index" && got != "inclusion" {
			t.Fatalf("Inclusion(%q, %q) = %v, want nil, a *ledger.ParseError or a *verify.Error", proofText, leaf, err)
		}
		if err != nil {
			return
		}
		lf, perr := ledger.ParseLeaf(leaf)
		if perr != nil || c.Origin != v.Name() || lf.Index >= c.Size {
			t.Fatalf("Inclusion(%q, %q) = %+v, nil for leaf %+v (%v)", proofText, leaf, c, lf, perr)
		}
	})
}

// FuzzConsistency requires that Consistency never panics and that every
// failure is either malformed input or a named check.
func FuzzConsistency(f *testing.F) {
	l := fuzzLog(f)
	for _, old := range []int64{1, 6, 11} {
		f.Add(l.consistency(f, old).Marshal(), l.signed[old])
	}
	v := l.key.verifier
	f.Fuzz(func(t *testing.T, proofText, oldCP []byte) {
		o, n, err := verify.Consistency(proofText, oldCP, v)
		if got := outcome(err); got != "ok" && got != "malformed" && got != "checkpoint signature" &&
			got != "origin" && got != "size" && got != "consistency" {
			t.Fatalf("Consistency(%q, %q) = %v, want nil, a *ledger.ParseError or a *verify.Error", proofText, oldCP, err)
		}
		if err == nil && (o.Size > n.Size || o.Origin != v.Name() || n.Origin != v.Name()) {
			t.Fatalf("Consistency(%q, %q) = %+v, %+v, nil", proofText, oldCP, o, n)
		}
	})
}
