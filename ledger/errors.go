package ledger

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by Append after Close. Check with errors.Is.
	ErrClosed = errors.New("ledger is closed")

	// ErrReadOnly is returned by Append on a log opened without a checkpoint
	// signer. Check with errors.Is.
	ErrReadOnly = errors.New("ledger is open read-only")

	// ErrInUse is returned by stores when another process holds the ledger
	// open. Check with errors.Is.
	ErrInUse = errors.New("ledger in use by another process")

	// ErrRollback is returned (wrapped in an *IntegrityError) by Open when
	// the store holds fewer leaves than a checkpoint the log has published:
	// the store was restored from an older copy or lost acknowledged
	// entries. Check with errors.Is.
	ErrRollback = errors.New("store is behind a published checkpoint")

	// ErrNoSpace is returned by stores that refuse a write because the file
	// system is (nearly) full. Nothing of the refused write is stored. Check
	// with errors.Is.
	ErrNoSpace = errors.New("no space left on device")
)

// A ParseError reports malformed input: which structure, which field, what
// was wrong. Parsers in this package return no other error type.
type ParseError struct {
	What  string // "leaf", "checkpoint", "proof", ...
	Field string // may be empty
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("malformed %s: %s", e.What, e.Msg)
	}
	return fmt.Sprintf("malformed %s: %s: %s", e.What, e.Field, e.Msg)
}

// An IntegrityError reports stored state that contradicts itself: a leaf
// whose hash, prev link or index is wrong, a root that does not match the
// leaves, a checkpoint the store is behind. Index is the first bad leaf, or
// -1 when the problem is not tied to one leaf.
type IntegrityError struct {
	Index int64
	Msg   string
	Err   error // optional cause, e.g. ErrRollback
}

func (e *IntegrityError) Error() string {
	s := "ledger integrity: "
	if e.Index >= 0 {
		s += fmt.Sprintf("leaf %d: ", e.Index)
	}
	s += e.Msg
	if e.Err != nil && e.Msg == "" {
		s += e.Err.Error()
	}
	return s
}

func (e *IntegrityError) Unwrap() error { return e.Err }
