package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Options configure Open.
type Options struct {
	// Verifier is the log's checkpoint key; its name is the log's origin.
	// Required.
	Verifier note.Verifier

	// Signer signs checkpoints with the same key. Without it the log is
	// read-only and Append returns ErrReadOnly.
	Signer note.Signer

	// CheckpointFile is where the latest checkpoint is also kept, outside
	// the store, so that a store restored from an older copy is caught on
	// open. Empty disables the file (tests of the sequencer alone).
	CheckpointFile string

	// Now is the clock for integration times. Default time.Now.
	Now func() time.Time

	// MaxBatch caps how many entries one commit takes. Default 1024.
	MaxBatch int

	// Indexer, if set, admits every entry before it is appended and keeps
	// the derived index (custos's custody state). Open rebuilds the index
	// where it lags the leaves.
	Indexer Indexer
}

// tailLeaves is how many leaves at the end of the log Open re-reads and
// re-links before it accepts appends. Fsck checks them all.
const tailLeaves = 16

// maxBatchBytes caps the entry bytes of one commit, so that a batch stays
// well inside a store transaction's limit (badger: about 15% of a 64 MiB
// memtable). A single entry is always taken, whatever its size.
const maxBatchBytes = 4 << 20

// checkpointFileInterval is the least time between two writes of the
// checkpoint file. The file may lag the store by this much (never lead it);
// a lagging file is harmless, since the check on open is that the store is
// not behind the file. Close writes the final checkpoint.
const checkpointFileInterval = 200 * time.Millisecond

// A Log is an open ledger. Its methods are safe for concurrent use: Append
// calls from any number of goroutines are sequenced into group commits.
type Log struct {
	store  Store
	opts   Options
	origin string

	mu         sync.Mutex // guards the fields below
	size       int64
	last       Hash           // leaf hash of leaf size-1
	lastTime   time.Time      // integration time of leaf size-1
	checkpoint []byte         // signed checkpoint of size
	frontier   map[int64]Hash // stored hashes of the maximal complete subtrees of size
	broken     error          // set when the store's state became unknown

	reqs      chan *request
	closing   chan struct{}
	seqDone   chan struct{}
	publish   chan struct{}
	pubDone   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type request struct {
	entry []byte
	done  chan result
}

type result struct {
	index int64
	hash  Hash
	err   error
}

// Open opens the log held by store. It checks the stored checkpoint's
// signature, that its size and root match the stored tree, the hash chain
// of the last leaves, and that the store is not behind the checkpoint file;
// any disagreement is an *IntegrityError and the log is not opened. A new,
// empty store gets its first checkpoint (size 0), which needs a Signer.
func Open(store Store, opts Options) (*Log, error) {
	if opts.Verifier == nil {
		return nil, errors.New("ledger: Options.Verifier is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	l := &Log{store: store, opts: opts, origin: opts.Verifier.Name()}
	size, cp, err := store.Head()
	if err != nil {
		return nil, err
	}
	if cp == nil {
		if size != 0 {
			return nil, &IntegrityError{Index: -1, Msg: fmt.Sprintf("store holds %d leaves but no checkpoint", size)}
		}
		if opts.Signer == nil {
			return nil, errors.New("ledger: empty store and no signer to create its first checkpoint")
		}
		cp, err = SignCheckpoint(Checkpoint{Origin: l.origin, Size: 0, Root: emptyRoot()}, opts.Signer)
		if err != nil {
			return nil, err
		}
		if opts.CheckpointFile != "" {
			// The file is written before the store's first commit, so that
			// a crash between the two leaves an empty store and a size-0
			// file, which the next Open accepts, and never a checkpointed
			// store without its file. A file already there (that crash, or
			// a store wiped after it was used) is checked as on any open:
			// an empty store behind a published checkpoint is a rollback.
			if _, err := os.Stat(opts.CheckpointFile); !errors.Is(err, os.ErrNotExist) {
				if err := l.checkCheckpointFile(); err != nil {
					return nil, err
				}
			}
			if err := WriteFileAtomic(opts.CheckpointFile, cp, 0o644); err != nil {
				return nil, fmt.Errorf("writing checkpoint file: %w", err)
			}
		}
		if err := store.Commit(&Batch{Size: 0, Checkpoint: cp, Indexed: -1}); err != nil {
			return nil, err
		}
	}
	if err := l.checkHead(size, cp); err != nil {
		return nil, err
	}
	l.size, l.checkpoint = size, cp
	if l.frontier, err = l.readFrontier(size); err != nil {
		return nil, err
	}
	if l.opts.CheckpointFile != "" {
		if err := l.checkCheckpointFile(); err != nil {
			return nil, err
		}
	}
	if opts.Indexer != nil {
		if err := l.catchUpIndex(); err != nil {
			return nil, err
		}
	}
	if opts.Signer != nil {
		l.reqs = make(chan *request)
		l.closing = make(chan struct{})
		l.seqDone = make(chan struct{})
		l.publish = make(chan struct{}, 1)
		l.pubDone = make(chan struct{})
		go l.sequence()
		go l.publishCheckpoints()
	}
	return l, nil
}

// checkHead verifies the stored checkpoint against the stored tree and
// re-links the last leaves.
func (l *Log) checkHead(size int64, cp []byte) error {
	c, _, err := OpenCheckpoint(cp, l.opts.Verifier)
	if err != nil {
		return &IntegrityError{Index: -1, Msg: "stored checkpoint: " + err.Error(), Err: err}
	}
	if c.Size != size {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("stored checkpoint is for size %d, store holds %d leaves", c.Size, size)}
	}
	root, err := l.treeHash(size)
	if err != nil {
		return err
	}
	if root != c.Root {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("stored tree root at size %d does not match its checkpoint", size)}
	}
	start := max(0, size-tailLeaves)
	var prev Hash
	if start > 0 {
		hs, err := l.store.ReadHashes([]int64{tlog.StoredHashIndex(0, start-1)})
		if err != nil {
			return err
		}
		prev = hs[0]
	}
	leaves, err := l.store.ReadLeaves(start, int(size-start))
	if err != nil {
		return err
	}
	idx := make([]int64, len(leaves))
	for i := range leaves {
		idx[i] = tlog.StoredHashIndex(0, start+int64(i))
	}
	stored, err := l.store.ReadHashes(idx)
	if err != nil {
		return err
	}
	for i, b := range leaves {
		n := start + int64(i)
		leaf, err := checkLeaf(n, b, prev, stored[i])
		if err != nil {
			return err
		}
		prev = stored[i]
		l.lastTime = leaf.Time
	}
	l.last = prev
	return nil
}

// checkLeaf parses leaf n and checks its index, prev link and stored hash.
func checkLeaf(n int64, b []byte, prev, stored Hash) (*Leaf, error) {
	leaf, err := ParseLeaf(b)
	if err != nil {
		return nil, &IntegrityError{Index: n, Msg: err.Error(), Err: err}
	}
	if leaf.Index != n {
		return nil, &IntegrityError{Index: n, Msg: fmt.Sprintf("leaf records index %d", leaf.Index)}
	}
	if leaf.Prev != prev {
		return nil, &IntegrityError{Index: n, Msg: fmt.Sprintf("prev link %s, want hash of leaf %d %s", leaf.Prev, n-1, prev)}
	}
	if h := LeafHash(b); h != stored {
		return nil, &IntegrityError{Index: n, Msg: fmt.Sprintf("leaf hash %s, stored tree has %s", h, stored)}
	}
	return leaf, nil
}

// checkCheckpointFile refuses a store that is behind, or disagrees with,
// the checkpoint kept in the file beside it.
func (l *Log) checkCheckpointFile() error {
	path := l.opts.CheckpointFile
	b, err := ReadFileCapped(path, MaxCheckpointSize)
	if errors.Is(err, os.ErrNotExist) {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("checkpoint file %s is missing; it is written at init and never removed", path)}
	}
	if err != nil {
		return fmt.Errorf("reading checkpoint file: %w", err)
	}
	c, _, err := OpenCheckpoint(b, l.opts.Verifier)
	if err != nil {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("checkpoint file %s: %v", path, err), Err: err}
	}
	if c.Size > l.size {
		return &IntegrityError{Index: -1, Err: ErrRollback,
			Msg: fmt.Sprintf("store holds %d leaves but checkpoint file %s was signed at size %d: the store was rolled back or lost entries", l.size, path, c.Size)}
	}
	root, err := l.treeHash(c.Size)
	if err != nil {
		return err
	}
	if root != c.Root {
		return &IntegrityError{Index: -1,
			Msg: fmt.Sprintf("store's tree at size %d has a different root from checkpoint file %s: history was rewritten", c.Size, path)}
	}
	return nil
}

func (l *Log) treeHash(n int64) (Hash, error) {
	if n == 0 {
		return emptyRoot(), nil
	}
	return tlog.TreeHash(n, l.store)
}

// frontierIndexes returns the stored-hash indexes of the maximal complete
// subtrees of a tree of size n, one per set bit of n. They are all the older
// hashes that appending leaves and computing the new root read
// (tlog.StoredHashesForRecordHash, tlog.TreeHash), so the sequencer keeps
// them in memory and its commits read nothing from the store.
func frontierIndexes(n int64) []int64 {
	var idx []int64
	for level := 0; n>>level > 0; level++ {
		if (n>>level)&1 == 1 {
			idx = append(idx, tlog.StoredHashIndex(level, (n>>level)-1))
		}
	}
	return idx
}

func (l *Log) readFrontier(n int64) (map[int64]Hash, error) {
	idx := frontierIndexes(n)
	hs, err := l.store.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]Hash, len(idx))
	for k, i := range idx {
		m[i] = hs[k]
	}
	return m, nil
}

// emptyRoot is the RFC 6962 root of the empty tree, SHA-256 of nothing.
func emptyRoot() Hash {
	h, _ := tlog.TreeHash(0, nil)
	return h
}

// Origin returns the log's origin, the first line of its checkpoints.
func (l *Log) Origin() string { return l.origin }

// Size returns the number of leaves covered by the latest checkpoint.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Checkpoint returns the latest signed checkpoint and its size.
func (l *Log) Checkpoint() (signed []byte, size int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpoint, l.size
}

// Leaf returns the encoded leaf at index.
func (l *Log) Leaf(index int64) ([]byte, error) {
	if size := l.Size(); index < 0 || index >= size {
		return nil, fmt.Errorf("leaf %d does not exist: log size is %d", index, size)
	}
	bs, err := l.store.ReadLeaves(index, 1)
	if err != nil {
		return nil, err
	}
	return bs[0], nil
}

// ProveInclusion returns a C2SP tlog-proof of leaf index in the latest
// checkpoint. It reads O(log n) stored hashes.
func (l *Log) ProveInclusion(index int64) (*InclusionProof, error) {
	cp, size := l.Checkpoint()
	if index < 0 || index >= size {
		return nil, fmt.Errorf("leaf %d does not exist: log size is %d", index, size)
	}
	p, err := tlog.ProveRecord(size, index, l.store)
	if err != nil {
		return nil, err
	}
	return &InclusionProof{Index: index, Path: p, Checkpoint: cp}, nil
}

// ProveConsistency returns a proof that the tree of size old is a prefix of
// the tree in the latest checkpoint. It reads O(log n) stored hashes.
//
// From old 0 the path is empty: the empty tree is a prefix of every tree
// and RFC 6962 §2.1.2 defines no proof for it. C2SP tlog-witness uses
// "old 0" with no hashes for a witness that has not seen the log before,
// so the proof from 0 is that request body.
func (l *Log) ProveConsistency(old int64) (*ConsistencyProof, error) {
	cp, size := l.Checkpoint()
	if old < 0 || old > size {
		return nil, fmt.Errorf("no consistency proof from size %d: want 0..%d (the current size)", old, size)
	}
	if old == 0 {
		return &ConsistencyProof{Old: 0, Checkpoint: cp}, nil
	}
	p, err := tlog.ProveTree(size, old, l.store)
	if err != nil {
		return nil, err
	}
	return &ConsistencyProof{Old: old, Path: p, Checkpoint: cp}, nil
}

// ProveInclusionAt returns the RFC 6962 inclusion path of leaf index in
// the tree of size treeSize (an earlier checkpoint's, e.g. one witnesses
// cosigned), for the caller to pair with that checkpoint.
func (l *Log) ProveInclusionAt(index, treeSize int64) ([]Hash, error) {
	if size := l.Size(); treeSize < 1 || treeSize > size {
		return nil, fmt.Errorf("no tree of size %d: log size is %d", treeSize, size)
	}
	if index < 0 || index >= treeSize {
		return nil, fmt.Errorf("leaf %d is not in the tree of size %d", index, treeSize)
	}
	return tlog.ProveRecord(treeSize, index, l.store)
}

// ProveConsistencyBetween returns the RFC 6962 consistency path from the
// tree of size old to the tree of size new.
func (l *Log) ProveConsistencyBetween(old, new int64) ([]Hash, error) {
	if size := l.Size(); new < 1 || new > size || old < 1 || old > new {
		return nil, fmt.Errorf("no consistency proof from size %d to %d: want 1 <= old <= new <= %d", old, new, size)
	}
	return tlog.ProveTree(new, old, l.store)
}

// TreeHash returns the root of the first n leaves, read from stored hashes.
func (l *Log) TreeHash(n int64) (Hash, error) {
	if size := l.Size(); n < 0 || n > size {
		return Hash{}, fmt.Errorf("no tree of size %d: log size is %d", n, size)
	}
	return l.treeHash(n)
}

// Append adds entry to the log and returns its index and leaf hash once the
// batch holding it is durable and covered by a signed checkpoint. Entries
// are opaque here; the caller checks them before. Once a request is
// accepted Append waits for its outcome even if ctx ends, so that every
// caller learns whether its entry was stored.
func (l *Log) Append(ctx context.Context, entry []byte) (int64, Hash, error) {
	if l.reqs == nil {
		return 0, Hash{}, ErrReadOnly
	}
	if len(entry) == 0 || len(entry) > MaxEntrySize {
		return 0, Hash{}, &ParseError{What: "entry", Msg: fmt.Sprintf("%d bytes, want 1..%d", len(entry), MaxEntrySize)}
	}
	r := &request{entry: entry, done: make(chan result, 1)}
	select {
	case l.reqs <- r:
	case <-l.closing:
		return 0, Hash{}, ErrClosed
	case <-ctx.Done():
		return 0, Hash{}, ctx.Err()
	}
	res := <-r.done
	return res.index, res.hash, res.err
}

// sequence is the single writer: it takes every request waiting, commits
// them as one batch, and answers them (group commit).
func (l *Log) sequence() {
	defer close(l.seqDone)
	batch := make([]*request, 0, l.opts.MaxBatch)
	var carry *request // taken from the queue but over the byte budget
	for {
		batch = batch[:0]
		if carry != nil {
			batch, carry = append(batch, carry), nil
		} else {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			case <-l.closing:
				return
			}
		}
		bytes := len(batch[0].entry)
	drain:
		for len(batch) < l.opts.MaxBatch {
			select {
			case r := <-l.reqs:
				if bytes+len(r.entry) > maxBatchBytes {
					carry = r
					break drain
				}
				bytes += len(r.entry)
				batch = append(batch, r)
			default:
				break drain
			}
		}
		l.commit(batch)
	}
}

// commit builds the leaves and tree hashes of a batch, signs the new
// checkpoint and commits all of it in one store transaction.
func (l *Log) commit(batch []*request) {
	// unanswered holds the requests still waiting for a result.
	unanswered := batch
	fail := func(err error) {
		for _, r := range unanswered {
			r.done <- result{err: err}
		}
	}
	l.mu.Lock()
	size, prev, lastTime, broken, frontier := l.size, l.last, l.lastTime, l.broken, l.frontier
	l.mu.Unlock()
	if broken != nil {
		fail(broken)
		return
	}
	now := l.opts.Now().UTC()
	if now.Before(lastTime) {
		now = lastTime // integration time never goes backwards
	}
	base := tlog.StoredHashCount(size)
	var pending []Hash
	hashReader := tlog.HashReaderFunc(func(idx []int64) ([]Hash, error) {
		out := make([]Hash, len(idx))
		var old []int64
		for _, i := range idx {
			if _, ok := frontier[i]; i < base && !ok {
				old = append(old, i)
			}
		}
		var oldHashes []Hash
		if len(old) > 0 {
			var err error
			if oldHashes, err = l.store.ReadHashes(old); err != nil {
				return nil, err
			}
		}
		for k, i := range idx {
			if i >= base {
				if i-base >= int64(len(pending)) {
					return nil, fmt.Errorf("stored hash %d not yet computed", i)
				}
				out[k] = pending[i-base]
			} else if h, ok := frontier[i]; ok {
				out[k] = h
			} else {
				out[k], oldHashes = oldHashes[0], oldHashes[1:]
			}
		}
		return out, nil
	})
	// Each request is built into a leaf at the next index and, with an
	// Indexer, admitted against the index as it stands after the requests
	// before it; a refused request gets its error and takes no index.
	var ov *overlay
	if l.opts.Indexer != nil {
		ov = newOverlay(l.store)
	}
	leaves := make([][]byte, 0, len(batch))
	accepted := make([]*request, 0, len(batch))
	results := make([]result, 0, len(batch))
	for i, r := range batch {
		n := size + int64(len(leaves))
		leaf := &Leaf{Index: n, Prev: prev, Time: now, Entry: r.entry}
		b := leaf.Marshal()
		h := LeafHash(b)
		if ov != nil {
			recs, err := l.opts.Indexer.Admit(ov, leaf, h)
			if err != nil {
				r.done <- result{err: err}
				continue
			}
			ov.set(recs)
		}
		hs, err := tlog.StoredHashesForRecordHash(n, h, hashReader)
		if err != nil {
			unanswered = append(accepted, batch[i:]...)
			fail(fmt.Errorf("computing tree hashes: %w", err))
			return
		}
		pending = append(pending, hs...)
		leaves = append(leaves, b)
		accepted = append(accepted, r)
		results = append(results, result{index: n, hash: h})
		prev = h
	}
	batch, unanswered = accepted, accepted
	if len(batch) == 0 {
		return
	}
	newSize := size + int64(len(batch))
	root, err := tlog.TreeHash(newSize, hashReader)
	if err != nil {
		fail(fmt.Errorf("computing tree root: %w", err))
		return
	}
	cp, err := SignCheckpoint(Checkpoint{Origin: l.origin, Size: newSize, Root: root}, l.opts.Signer)
	if err != nil {
		fail(fmt.Errorf("signing checkpoint: %w", err))
		return
	}
	b := &Batch{Size: size, Leaves: leaves, Hashes: pending, Checkpoint: cp, Indexed: -1}
	if ov != nil {
		b.Index, b.Indexed = ov.records(), newSize
	}
	if err := l.store.Commit(b); err != nil {
		// The transaction failed. If the store still holds size leaves,
		// nothing changed and later appends may succeed (space freed);
		// otherwise its state is unknown and this log stops appending.
		if s, _, herr := l.store.Head(); herr != nil || s != size {
			l.mu.Lock()
			l.broken = fmt.Errorf("ledger stopped after a failed commit left the store in an unknown state (reopen to recheck): %w", err)
			l.mu.Unlock()
		}
		fail(fmt.Errorf("committing leaves %d..%d: %w", size, newSize-1, err))
		return
	}
	next := make(map[int64]Hash)
	for _, i := range frontierIndexes(newSize) {
		if i >= base {
			next[i] = pending[i-base]
		} else if h, ok := frontier[i]; ok {
			next[i] = h
		}
	}
	l.mu.Lock()
	l.size, l.last, l.lastTime, l.checkpoint, l.frontier = newSize, prev, now, cp, next
	l.mu.Unlock()
	for i, r := range batch {
		r.done <- results[i]
	}
	select {
	case l.publish <- struct{}{}:
	default:
	}
}

// publishCheckpoints keeps the checkpoint file beside the store up to date,
// at most once per checkpointFileInterval, off the append path.
func (l *Log) publishCheckpoints() {
	defer close(l.pubDone)
	var written int64 = -1
	write := func() {
		cp, size := l.Checkpoint()
		if size == written || l.opts.CheckpointFile == "" {
			return
		}
		if err := WriteFileAtomic(l.opts.CheckpointFile, cp, 0o644); err == nil {
			written = size
		}
	}
	for {
		select {
		case <-l.publish:
			write()
			select {
			case <-time.After(checkpointFileInterval):
			case <-l.seqDone:
			}
		case <-l.seqDone:
			return // Close writes the final checkpoint and reports errors
		}
	}
}

// Close stops the sequencer (appends waiting get ErrClosed), writes the
// final checkpoint file and closes the store.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		if l.closing != nil {
			close(l.closing)
			<-l.seqDone
			<-l.pubDone
			if l.opts.CheckpointFile != "" {
				cp, _ := l.Checkpoint()
				if err := WriteFileAtomic(l.opts.CheckpointFile, cp, 0o644); err != nil {
					l.closeErr = fmt.Errorf("writing checkpoint file: %w", err)
				}
			}
		}
		if err := l.store.Close(); err != nil && l.closeErr == nil {
			l.closeErr = err
		}
	})
	return l.closeErr
}
