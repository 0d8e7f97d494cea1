package verify

import (
	"errors"

	"github.com/custos-ledger/custos/ledger"
)

// ErrEquivocation is wrapped in the *Error that Consistency returns when the
// log key has signed two checkpoints of the same size with different roots.
// Those two signed notes are, together, a proof that the log showed
// different histories to different parties: keep them. Check with
// errors.Is.
//
// A consistency proof that fails to verify between two validly signed
// checkpoints of different sizes is not reported as ErrEquivocation: the
// proof's hashes are not signed, so a damaged or substituted proof fails the
// same way a forked log does. That failure is an *Error with Check
// "consistency"; ask the log for a fresh proof, and treat the log as forked
// if it cannot produce one that verifies.
var ErrEquivocation = errors.New("log equivocation: two checkpoints signed by the log key cannot both be true")

// An Error reports a check that failed on well-formed input: a signature, an
// origin, an index, a Merkle proof. Malformed input is reported as the
// *ledger.ParseError of the parser that rejected it instead (see
// IsMalformed). Check errors with errors.As (and errors.Is for
// ErrEquivocation).
type Error struct {
	// Check names what failed:
	//
	//	"checkpoint signature"  no valid signature by the log key
	//	"origin"                checkpoint origin is not the log key's name
	//	"index"                 leaf or proof index is wrong or out of range
	//	"size"                  proof is from a size other than the old checkpoint's
	//	"inclusion"             inclusion proof does not lead to the signed root
	//	"consistency"           trees are not consistent (see ErrEquivocation)
	Check string
	// Index is the leaf concerned, or -1 when the check is not about one leaf.
	Index int64
	// Msg says what failed and where, with the numbers involved.
	Msg string
	// Err is the underlying cause, if any: ErrEquivocation, a
	// *note.InvalidSignatureError, a *note.UnverifiedNoteError, tlog's error.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "verify: " + e.Msg + ": " + e.Err.Error()
	}
	return "verify: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsMalformed reports whether err is, or wraps, a *ledger.ParseError: the
// input could not be parsed at all, as opposed to parsing and then failing
// a check (*Error).
func IsMalformed(err error) bool {
	var pe *ledger.ParseError
	return errors.As(err, &pe)
}
