// Package verify checks, offline, what a custos ledger hands out: signed
// checkpoints, inclusion proofs of leaves and consistency proofs between
// checkpoints. It trusts nothing it is handed and nothing the ledger
// stored. Every leaf hash is recomputed from the leaf bytes given, every
// root is taken only from a checkpoint whose signature by the log key has
// just been verified, and every Merkle path is run from the one to the
// other. A stored hash or root is never an input (DESIGN §1; immudb's
// audit mode missed on-disk tampering by trusting one).
//
// What each function checks:
//
//   - Checkpoint: a C2SP signed note (c2sp.org/signed-note) with a valid
//     Ed25519 signature by the log key, whose text is a canonical C2SP
//     tlog-checkpoint (c2sp.org/tlog-checkpoint) whose origin is the key's
//     name.
//   - Inclusion: a C2SP tlog-proof (c2sp.org/tlog-proof) whose checkpoint
//     passes Checkpoint, for a leaf that records the proof's index, with an
//     index inside the tree, and an RFC 6962 inclusion path (§2.1.1) from
//     the leaf's hash to the signed root.
//   - Consistency: two checkpoints that pass Checkpoint, and an RFC 6962
//     consistency path (§2.1.2) showing the older tree is a prefix of the
//     newer; two signed checkpoints of one size must have one root
//     (ErrEquivocation).
//
// Malformed input is reported as the *ledger.ParseError of the parser that
// refused it (IsMalformed); a check that fails on well-formed input is an
// *Error saying which check failed, for which leaf and tree size, against
// which root. Check with errors.Is and errors.As. No input makes this
// package panic.
//
// The Merkle math is golang.org/x/mod/sumdb/tlog's (CheckRecord,
// CheckTree) and the signatures are golang.org/x/mod/sumdb/note's; this
// package only parses the formats and decides what must equal what. A
// clerk who does not want to trust custos's code can do the same with those
// two packages alone:
//
//	v, _ := note.NewVerifier(logKey)            // the log's published key line
//	n, err := note.Open(checkpoint, note.VerifierList(v))
//	// n.Text is "<origin>\n<size>\n<base64 root>\n": check the origin is
//	// v.Name(), and decode the size and root.
//	leafHash := tlog.RecordHash(leafBytes)      // SHA-256(0x00 || leaf)
//	err = tlog.CheckRecord(path, size, root, index, leafHash)
//	err = tlog.CheckTree(consistencyPath, newSize, newRoot, oldSize, oldRoot)
//
// where path and consistencyPath are the base64 hash lines of the proof
// text, in order, and index is the proof's "index" line (which must also be
// the index recorded in bytes 8..16 of the leaf, see ledger.Leaf). The leaf
// hash can be recomputed without Go at all:
//
//	( printf '\0'; cat leaf.bin ) | sha256sum
//
// This package imports the ledger's formats, never its storage: it runs
// where no ledger is.
package verify
