package verify

import (
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
)

// A pathMemo checks RFC 6962 inclusion proofs (RFC 6962 §2.1.1, as
// tlog.CheckRecord runs them) against one tree, remembering the path of the
// last proof it accepted. The proofs of nearby leaves share most of their
// path: every node above the leaves' lowest common ancestor, and the
// siblings of those nodes. Those are authenticated once a proof leads from
// them to the root, so a later proof need only carry the same hashes there,
// and be hashed from its leaf up to the first node the memo knows: for
// leaves checked in index order, one or two hashes instead of one a level.
//
// A proof that does not agree with the memo is run by tlog.CheckRecord,
// whose verdict and error are the answer. With SHA-256 collision
// resistance, a proof that agrees with the memo is exactly one that
// CheckRecord accepts: an authenticated node has one hash.
//
// The memo holds one path, at most 63 levels (ledger.ParseCheckpoint
// refuses trees of 2^62 leaves or more). Its zero value is not usable; call
// newPathMemo.
type pathMemo struct {
	size int64
	root tlog.Hash
	// depth is the last path's length: node[0] is the root, node[depth]
	// its leaf. sib[d] is the hash of node[d]'s sibling, for d ≥ 1.
	depth int
	node  [64]memoNode
	sib   [64]tlog.Hash
	// proofs parses the proofs the memo checks. It is the worker's, as the
	// memo is, and decodes only the hash lines that differ from those it
	// decoded before at the same level: for leaves taken in order, the
	// lower levels, the ones the memo hashes.
	proofs ledger.InclusionProofParser
}

// A memoNode is the subtree over leaves [lo, hi) and its hash.
type memoNode struct {
	lo, hi int64
	hash   tlog.Hash
}

func newPathMemo(size int64, root tlog.Hash) *pathMemo {
	m := &pathMemo{size: size, root: root}
	m.node[0] = memoNode{lo: 0, hi: size, hash: root}
	return m
}

// check is tlog.CheckRecord(proof, m.size, m.root, index, leaf).
func (m *pathMemo) check(proof tlog.RecordProof, index int64, leaf tlog.Hash) error {
	if index < 0 || index >= m.size {
		return tlog.CheckRecord(proof, m.size, m.root, index, leaf)
	}
	// The leaf's path from the root down: at each level the subtree is
	// split at the largest power of two below its size (RFC 6962 §2.1).
	var path [64]memoNode
	path[0] = memoNode{lo: 0, hi: m.size}
	d := 0
	for lo, hi := int64(0), m.size; hi-lo > 1; d++ {
		k := split(hi - lo)
		if index < lo+k {
			hi = lo + k
		} else {
			lo += k
		}
		if d+1 >= len(path) {
			return tlog.CheckRecord(proof, m.size, m.root, index, leaf)
		}
		path[d+1] = memoNode{lo: lo, hi: hi}
	}
	depth := d
	if len(proof) != depth {
		return tlog.CheckRecord(proof, m.size, m.root, index, leaf)
	}
	// proof[depth-d] is the sibling of path[d]. The shared levels: the
	// same subtrees, so the same authenticated siblings.
	k := 0
	for k < m.depth && k < depth && path[k+1].lo == m.node[k+1].lo && path[k+1].hi == m.node[k+1].hi {
		k++
		if proof[depth-k] != m.sib[k] {
			return m.fallback(proof, index, leaf)
		}
	}
	// Below them, path[k+1], if the memo goes deeper, is the sibling of
	// the memo's node[k+1], and their hashes swap places; else path[k] is
	// the memo's node[k].
	top, want := k, m.node[k].hash
	if k < m.depth && k < depth {
		if proof[depth-k-1] != m.node[k+1].hash {
			return m.fallback(proof, index, leaf)
		}
		top, want = k+1, m.sib[k+1]
	}
	// Hash from the leaf up to path[top].
	path[depth].hash = leaf
	for d := depth; d > top; d-- {
		s := proof[depth-d]
		if path[d].lo == path[d-1].lo {
			path[d-1].hash = tlog.NodeHash(path[d].hash, s)
		} else {
			path[d-1].hash = tlog.NodeHash(s, path[d].hash)
		}
	}
	if path[top].hash != want {
		return m.fallback(proof, index, leaf)
	}
	// Accepted: its path below the shared levels is authenticated too.
	for d := k + 1; d <= depth; d++ {
		m.node[d] = path[d]
		m.sib[d] = proof[depth-d]
	}
	m.depth = depth
	return nil
}

// fallback runs a proof that does not agree with the memo.
func (m *pathMemo) fallback(proof tlog.RecordProof, index int64, leaf tlog.Hash) error {
	return tlog.CheckRecord(proof, m.size, m.root, index, leaf)
}

// split returns the largest power of two less than n, for n > 1.
func split(n int64) int64 {
	return 1 << (bits.Len64(uint64(n-1)) - 1)
}
