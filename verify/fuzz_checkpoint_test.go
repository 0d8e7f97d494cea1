package verify_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// FuzzCheckpoint feeds arbitrary signed notes to verify.Checkpoint, the
// check every checkpoint file a user hands custos goes through (a bundle's
// checkpoint, --known-checkpoint, a witness's input). It must never panic,
// refuse malformed input with a *ledger.ParseError or a check error, and
// accept only a note whose body is the canonical encoding of the
// checkpoint it returns, for the log key's origin.
func FuzzCheckpoint(f *testing.F) {
	l := fuzzLog(f)
	for _, n := range []int{0, 1, 7, 11} {
		f.Add(l.signed[n])
	}
	// Extra signature lines (as a cosignature would add) and absurd ones.
	f.Add(append(bytes.Clone(l.signed[3]), "— other.example AAAAAAAAAAAAAAAA\n"...))
	f.Add([]byte("example.org/fuzz\n99999999999999999999\nAAAA\n\n— example.org/fuzz AAAA\n"))
	f.Fuzz(func(t *testing.T, signed []byte) {
		c, err := verify.Checkpoint(signed, l.key.verifier)
		if err != nil {
			if !verify.IsMalformed(err) && !isCheck(err) {
				t.Fatalf("Checkpoint(%q) = %v (%T), want a parse or check error", signed, err, err)
			}
			return
		}
		body := c.Marshal()
		if !bytes.HasPrefix(signed, append(body, '\n')) {
			t.Fatalf("Checkpoint(%q) accepted a body other than %q", signed, body)
		}
		if c.Origin != l.key.verifier.Name() || c.Size < 0 || c.Size >= ledger.MaxTreeSize {
			t.Fatalf("Checkpoint(%q) = %+v: origin or size out of place", signed, c)
		}
	})
}

func isCheck(err error) bool {
	var e *verify.Error
	return errors.As(err, &e)
}
