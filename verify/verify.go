package verify

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
)

// maxLogKeySize caps the verifier key string ParseLogKey accepts. An Ed25519
// key string is its name, 8 hex digits and 44 base64 characters.
const maxLogKeySize = 1 << 10

// ParseLogKey parses a golang.org/x/mod/sumdb/note verifier key string
// (name+hash+base64), such as the line `custos init` prints. Surrounding
// whitespace, a trailing newline included, is trimmed; input over 1 KiB is
// refused before parsing. The key's name is the log's origin. Errors are
// *ledger.ParseError.
func ParseLogKey(vkey string) (note.Verifier, error) {
	if len(vkey) > maxLogKeySize {
		return nil, &ledger.ParseError{What: "log key", Msg: fmt.Sprintf("%d bytes exceeds the %d-byte cap", len(vkey), maxLogKeySize)}
	}
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, &ledger.ParseError{What: "log key", Msg: err.Error()}
	}
	return v, nil
}

// Checkpoint verifies a signed checkpoint (a C2SP signed note holding a C2SP
// tlog-checkpoint) and returns its body. It promises that the note carries a
// valid signature by logKey, that the body is a canonical custos checkpoint,
// and that its origin is logKey's name. Signatures by other keys (witness
// cosignatures) are ignored here. Errors are *ledger.ParseError for
// malformed input and *Error (Check "checkpoint signature" or "origin")
// otherwise.
func Checkpoint(signed []byte, logKey note.Verifier) (ledger.Checkpoint, error) {
	return openCheckpoint(signed, logKey, "checkpoint")
}

// openCheckpoint is Checkpoint naming the checkpoint which in its errors.
func openCheckpoint(signed []byte, logKey note.Verifier, which string) (ledger.Checkpoint, error) {
	if len(signed) > ledger.MaxCheckpointSize {
		return ledger.Checkpoint{}, &ledger.ParseError{What: which, Msg: fmt.Sprintf("%d bytes exceeds the %d-byte cap", len(signed), ledger.MaxCheckpointSize)}
	}
	key := fmt.Sprintf("%s+%08x", logKey.Name(), logKey.KeyHash())
	n, err := note.Open(signed, note.VerifierList(logKey))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case err == nil:
	case errors.As(err, &unverified):
		return ledger.Checkpoint{}, &Error{Check: "checkpoint signature", Index: -1,
			Msg: fmt.Sprintf("%s has no signature by log key %s", which, key), Err: err}
	case errors.As(err, &invalid):
		return ledger.Checkpoint{}, &Error{Check: "checkpoint signature", Index: -1,
			Msg: fmt.Sprintf("%s signature by log key %s does not verify", which, key), Err: err}
	default:
		return ledger.Checkpoint{}, &ledger.ParseError{What: which, Msg: "not a signed note: " + err.Error()}
	}
	c, err := ledger.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		var pe *ledger.ParseError
		if errors.As(err, &pe) {
			pe.What = which
		}
		return ledger.Checkpoint{}, err
	}
	if c.Origin != logKey.Name() {
		return ledger.Checkpoint{}, &Error{Check: "origin", Index: -1,
			Msg: fmt.Sprintf("%s of size %d is for origin %q, log key %s is for %q", which, c.Size, c.Origin, key, logKey.Name())}
	}
	return c, nil
}

// Inclusion verifies a C2SP tlog-proof that leaf, given as its encoded
// bytes, is in the log. It parses the proof and the leaf, verifies the
// proof's checkpoint as Checkpoint does, requires that the leaf records the
// proof's index and that the index is below the checkpoint's size, and runs
// the inclusion path with tlog.CheckRecord from the leaf hash it computes
// itself (ledger.LeafHash) to the signed root. It returns the checkpoint the
// leaf was proved against.
//
// Errors are *ledger.ParseError for malformed input and *Error (Check
// "checkpoint signature", "origin", "index" or "inclusion") otherwise. Check
// with errors.As.
func Inclusion(proofText, leaf []byte, logKey note.Verifier) (ledger.Checkpoint, error) {
	p, err := ledger.ParseInclusionProof(proofText)
	if err != nil {
		return ledger.Checkpoint{}, err
	}
	c, err := openCheckpoint(p.Checkpoint, logKey, "checkpoint")
	if err != nil {
		return ledger.Checkpoint{}, err
	}
	l, err := ledger.ParseLeaf(leaf)
	if err != nil {
		return ledger.Checkpoint{}, err
	}
	if l.Index != p.Index {
		return ledger.Checkpoint{}, &Error{Check: "index", Index: p.Index,
			Msg: fmt.Sprintf("inclusion proof is for leaf %d, but the leaf given records index %d", p.Index, l.Index)}
	}
	if p.Index >= c.Size {
		return ledger.Checkpoint{}, &Error{Check: "index", Index: p.Index,
			Msg: fmt.Sprintf("inclusion proof for leaf %d is against a tree of size %d, which has no such leaf", p.Index, c.Size)}
	}
	h := ledger.LeafHash(leaf)
	if err := tlog.CheckRecord(p.Path, c.Size, c.Root, p.Index, h); err != nil {
		return ledger.Checkpoint{}, &Error{Check: "inclusion", Index: p.Index,
			Msg: fmt.Sprintf("inclusion proof for leaf %d (leaf hash %s, %d path hashes) in tree of size %d does not verify against root %s",
				p.Index, h, len(p.Path), c.Size, c.Root),
			Err: err}
	}
	return c, nil
}

// Consistency verifies that the tree in oldCheckpoint, a signed checkpoint
// the caller kept from before, is a prefix of the tree in the signed
// checkpoint inside proofText (the body of a C2SP tlog-witness
// add-checkpoint request, see ledger.ConsistencyProof). It verifies both
// checkpoints as Checkpoint does (so both have the log key's name as their
// origin), requires that the proof is from the old checkpoint's size and
// that the new size is not smaller, and runs the proof with tlog.CheckTree.
// Two checkpoints of the same size must have the same root; if they do not,
// the error wraps ErrEquivocation. A tree of size 0 is a prefix of every
// tree.
//
// Errors are *ledger.ParseError for malformed input and *Error (Check
// "checkpoint signature", "origin", "size" or "consistency") otherwise.
// Check with errors.Is and errors.As.
func Consistency(proofText, oldCheckpoint []byte, logKey note.Verifier) (old, new ledger.Checkpoint, err error) {
	p, err := ledger.ParseConsistencyProof(proofText)
	if err != nil {
		return ledger.Checkpoint{}, ledger.Checkpoint{}, err
	}
	old, err = openCheckpoint(oldCheckpoint, logKey, "old checkpoint")
	if err != nil {
		return ledger.Checkpoint{}, ledger.Checkpoint{}, err
	}
	new, err = openCheckpoint(p.Checkpoint, logKey, "new checkpoint")
	if err != nil {
		return ledger.Checkpoint{}, ledger.Checkpoint{}, err
	}
	fail := func(check, format string, args ...any) (ledger.Checkpoint, ledger.Checkpoint, error) {
		return ledger.Checkpoint{}, ledger.Checkpoint{}, &Error{Check: check, Index: -1, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case p.Old != old.Size:
		return fail("size", "consistency proof is from size %d, but the old checkpoint is of size %d", p.Old, old.Size)
	case old.Size > new.Size:
		return fail("consistency", "old checkpoint of size %d is larger than the new checkpoint of size %d", old.Size, new.Size)
	case old.Size == new.Size && old.Root != new.Root:
		return ledger.Checkpoint{}, ledger.Checkpoint{}, &Error{Check: "consistency", Index: -1, Err: ErrEquivocation,
			Msg: fmt.Sprintf("log key %s+%08x signed two checkpoints of size %d with different roots %s and %s",
				logKey.Name(), logKey.KeyHash(), old.Size, old.Root, new.Root)}
	case old.Size == 0:
		// tlog.CheckTree proves only non-empty prefixes. The empty tree is a
		// prefix of any tree; its root is fixed (RFC 6962 §2.1: the hash of
		// the empty string) and it needs no proof hashes.
		empty, err := tlog.TreeHash(0, nil)
		if err != nil {
			return ledger.Checkpoint{}, ledger.Checkpoint{}, err
		}
		if old.Root != empty {
			return fail("consistency", "old checkpoint of size 0 has root %s, not the empty tree's root %s", old.Root, empty)
		}
		if len(p.Path) != 0 {
			return fail("consistency", "consistency proof from size 0 has %d hashes, want none", len(p.Path))
		}
		return old, new, nil
	}
	if err := tlog.CheckTree(p.Path, new.Size, new.Root, old.Size, old.Root); err != nil {
		return ledger.Checkpoint{}, ledger.Checkpoint{}, &Error{Check: "consistency", Index: -1,
			Msg: fmt.Sprintf("consistency proof (%d hashes) from size %d (root %s) to size %d (root %s) does not verify",
				len(p.Path), old.Size, old.Root, new.Size, new.Root),
			Err: err}
	}
	return old, new, nil
}
