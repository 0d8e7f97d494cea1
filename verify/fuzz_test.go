package verify_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"reflect"
	"strconv"
	"strings"
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

// FuzzInclusionProofAgrees holds ledger.ParseInclusionProof, which walks
// the bytes in place, to refParseInclusionProof, the parser it replaced,
// which splits the text into lines: every input gives both the same proof,
// or both the same error.
func FuzzInclusionProofAgrees(f *testing.F) {
	l := fuzzLog(f)
	for _, i := range []int64{0, 3, 8, 10} {
		p := l.inclusion(f, i)
		f.Add(p.Marshal())
		p.Extra = []byte("extra data")
		f.Add(p.Marshal())
	}
	for _, s := range []string{"", "\n\nx", "c2sp.org/tlog-proof@v1\n\nx", "c2sp.org/tlog-proof@v1\nextra AA==\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 0\n\nx", "c2sp.org/tlog-proof@v1\nindex 01\n\nx", "c2sp.org/tlog-proof@v1\nindex 99999999999999999999\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\nx", "\nc2sp.org/tlog-proof@v1\nindex 1\n\nx"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ledger.ParseInclusionProof(b)
		want, werr := refParseInclusionProof(b)
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("ParseInclusionProof(%q) error = %v, the line parser's %v", b, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseInclusionProof(%q) = %+v, the line parser's %+v", b, got, want)
		}
	})
}

// refParseInclusionProof is the former ledger.ParseInclusionProof.
func refParseInclusionProof(b []byte) (*ledger.InclusionProof, error) {
	const what = "inclusion proof"
	if len(b) > ledger.MaxProofSize {
		return nil, &ledger.ParseError{What: what, Msg: fmt.Sprintf("%d bytes exceeds the %d-byte cap", len(b), ledger.MaxProofSize)}
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return nil, &ledger.ParseError{What: what, Msg: "no checkpoint after an empty line"}
	}
	lines := strings.Split(string(head), "\n")
	bad := func(field, format string, args ...any) error {
		return &ledger.ParseError{What: what, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(lines) == 0 || lines[0] != "c2sp.org/tlog-proof@v1" {
		return nil, bad("header", "first line must be %q", "c2sp.org/tlog-proof@v1")
	}
	lines = lines[1:]
	p := &ledger.InclusionProof{Checkpoint: cp}
	canonical := func(s string) ([]byte, bool) {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		return b, err == nil && base64.StdEncoding.EncodeToString(b) == s
	}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		var ok bool
		if p.Extra, ok = canonical(lines[0][len("extra "):]); !ok {
			return nil, bad("extra", "not base64")
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return nil, bad("index", "missing index line")
	}
	s := lines[0][len("index "):]
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return nil, bad("index", "%v", fmt.Errorf("%q is not a canonical decimal", s))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, bad("index", "%v", fmt.Errorf("%q out of range", s))
	}
	p.Index = n
	lines = lines[1:]
	if len(lines) > ledger.MaxProofHashes {
		return nil, bad("path", "%v", fmt.Errorf("%d hashes, at most %d allowed", len(lines), ledger.MaxProofHashes))
	}
	p.Path = make([]ledger.Hash, len(lines))
	for i, l := range lines {
		raw, ok := canonical(l)
		if !ok || len(raw) != len(ledger.Hash{}) {
			return nil, bad("path", "%v", fmt.Errorf("line %d: want a base64 SHA-256 hash", i+1))
		}
		copy(p.Path[i][:], raw)
	}
	return p, nil
}
