package ledger_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/custos-ledger/custos/ledger"
)

func sampleLeaf() *ledger.Leaf {
	l := &ledger.Leaf{Index: 7, Time: time.Unix(1764140000, 123456789).UTC(), Entry: []byte(`{"payloadType":"x"}`)}
	for i := range l.Prev {
		l.Prev[i] = byte(i)
	}
	return l
}

func TestLeafRoundTrip(t *testing.T) {
	l := sampleLeaf()
	b := l.Marshal()
	got, err := ledger.ParseLeaf(b)
	if err != nil {
		t.Fatalf("ParseLeaf(Marshal()) = %v", err)
	}
	if got.Index != l.Index || got.Prev != l.Prev || !got.Time.Equal(l.Time) || !bytes.Equal(got.Entry, l.Entry) {
		t.Fatalf("ParseLeaf(Marshal(%+v)) = %+v", l, got)
	}
	if !bytes.Equal(got.Marshal(), b) {
		t.Fatalf("re-encoding differs")
	}
	if got.Hash() != ledger.LeafHash(b) {
		t.Fatalf("Leaf.Hash() != LeafHash(bytes)")
	}
}

func TestParseLeafRejects(t *testing.T) {
	good := sampleLeaf().Marshal()
	zeroPrev := (&ledger.Leaf{Index: 0, Time: time.Unix(0, 0), Entry: []byte("e")}).Marshal()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name  string
		in    []byte
		field string
	}{
		{"empty", nil, ""},
		{"truncated-header", good[:40], ""},
		{"truncated-entry", good[:len(good)-1], "entry"},
		{"trailing-byte", append(append([]byte(nil), good...), 0), "entry"},
		{"bad-magic", mut(func(b []byte) []byte { b[7] = '2'; return b }), "magic"},
		{"index-high-bit", mut(func(b []byte) []byte { b[8] |= 0x80; return b }), "index"},
		{"zero-length-entry", mut(func(b []byte) []byte { b[56], b[57], b[58], b[59] = 0, 0, 0, 0; return b[:60] }), "entry length"},
		{"huge-length", mut(func(b []byte) []byte { b[56] = 0xff; return b }), "entry length"},
		{"leaf0-nonzero-prev", func() []byte { b := append([]byte(nil), zeroPrev...); b[20] = 1; return b }(), "prev"},
		{"oversize", make([]byte, ledger.MaxLeafSize+1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ledger.ParseLeaf(tt.in)
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseLeaf(%s) = %v, want *ParseError", tt.name, err)
			}
			if pe.Field != tt.field {
				t.Errorf("ParseLeaf(%s) field = %q, want %q (%v)", tt.name, pe.Field, tt.field, err)
			}
		})
	}
}

// FuzzParseLeaf: no input panics, and any input that parses re-encodes to
// exactly itself (no malleability).
func FuzzParseLeaf(f *testing.F) {
	f.Add(sampleLeaf().Marshal())
	f.Add((&ledger.Leaf{Index: 0, Time: time.Unix(0, 0), Entry: []byte("e")}).Marshal())
	f.Add([]byte("CUSTOSL1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ledger.ParseLeaf(b)
		if err != nil {
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseLeaf error %T, want *ParseError", err)
			}
			return
		}
		if got := l.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("ParseLeaf accepted a non-canonical encoding:\n in  %x\n out %x", b, got)
		}
	})
}
