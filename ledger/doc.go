// Package ledger is custos's append-only log: leaves, the hash chain, the
// sequencer, the RFC 6962 Merkle tree, C2SP checkpoints and proofs.
//
// Entries are opaque bytes here (DSSE envelopes, checked by the caller);
// this package knows nothing of custody rules and nothing of a particular
// storage engine. A Store persists leaves, stored tree hashes and the latest
// signed checkpoint in one durable transaction per batch; ledger/badgerstore
// is the embedded default.
//
// What the package promises:
//
//   - Leaves are deterministic bytes (see Leaf) and every leaf commits to the
//     hash of the one before it (prev), so history forms a hash chain as well
//     as a Merkle tree.
//   - Append returns only after the batch holding the entry is durable, and a
//     batch is all-or-nothing: a crash never leaves half a leaf visible.
//   - Every committed batch is covered by a new checkpoint, signed with the
//     log's Ed25519 key as a C2SP signed note (c2sp.org/tlog-checkpoint), that
//     golang.org/x/mod/sumdb/note verifies unchanged.
//   - Merkle math is golang.org/x/mod/sumdb/tlog's; nothing is hand-written.
//   - On open the tail of the log is checked against the stored checkpoint and
//     against the checkpoint file kept outside the store; a store that is
//     behind or disagrees refuses to append (ErrRollback, *IntegrityError).
//
// It is tamper-evident, not tamper-proof: an operator who rewrites the store
// and the checkpoint file together is caught only by parties holding an
// earlier checkpoint (witnesses, tribunals), through a consistency proof.
package ledger
