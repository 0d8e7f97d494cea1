package ledger_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/custos-ledger/custos/ledger"
)

// FuzzParseCheckpoint requires that ParseCheckpoint never panics, refuses
// with a *ledger.ParseError, and accepts only the canonical body of the
// checkpoint it returns (one encoding per checkpoint).
func FuzzParseCheckpoint(f *testing.F) {
	f.Add(ledger.Checkpoint{Origin: "example.org/cert-ledger", Size: 7, Root: ledger.Hash{1, 2, 3}}.Marshal())
	f.Add(ledger.Checkpoint{Origin: "o", Size: 0}.Marshal())
	f.Add([]byte("example.org/x\n4611686018427387904\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Add([]byte("example.org/x\n07\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextension\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ledger.ParseCheckpoint(b)
		if err != nil {
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseCheckpoint(%q) = %v (%T), want a *ledger.ParseError", b, err, err)
			}
			return
		}
		if got := c.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("ParseCheckpoint(%q).Marshal() = %q, want the input", b, got)
		}
		if c.Size < 0 || c.Size >= ledger.MaxTreeSize || c.Origin == "" {
			t.Fatalf("ParseCheckpoint(%q) = %+v, out of range", b, c)
		}
	})
}
