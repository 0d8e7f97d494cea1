package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// Verifier is the imported log's checkpoint key. Required.
	Verifier note.Verifier

	// CheckpointFile is the checkpoint file Open will check the store
	// against (Options.CheckpointFile). Finish writes it.
	CheckpointFile string

	// Indexer, if set, admits every imported leaf as the log that wrote it
	// did, and its records are committed with the leaves, so that Open with
	// the same Indexer finds the index complete. A leaf it refuses stops
	// the import.
	Indexer Indexer

	// BatchSize is how many leaves one store commit takes. Default 1024.
	BatchSize int
}

// An Importer builds a store from another log's exact leaves, for a
// mirror: the store ends up as the log that wrote the leaves would have
// written it (the same leaves, stored hashes, index and checkpoint), but
// the importer signs nothing; it adopts the log's own signed checkpoint
// once the leaves it holds give that checkpoint's root.
//
// Leaves are committed in batches as they come, with the store's previous
// checkpoint left in place, so between an Add and Finish the store holds
// leaves its checkpoint does not cover: Open and Fsck refuse it (an
// *IntegrityError: the checkpoint is not of the store's size) and Import
// continues it. Nothing the store held before is changed.
//
// An Importer is not safe for concurrent use.
type Importer struct {
	store Store
	opts  ImportOptions

	checkpoint []byte // the store's signed checkpoint; nil for a new store
	cpSize     int64  // its size
	committed  int64  // leaves in the store
	size       int64  // leaves in the store and pending
	prev       Hash   // leaf hash of leaf size-1
	frontier   map[int64]Hash

	leaves  [][]byte // pending, from index committed
	hashes  []Hash   // pending stored hashes, from tlog.StoredHashCount(committed)
	bytes   int
	ov      *overlay
	err     error // sticky: the first failure ends the import
	retired bool
}

// Import prepares store for leaves of the log whose key is opts.Verifier.
// The store is new (empty), an earlier import's result, or an import
// interrupted before Finish; Import checks what it holds as Open does
// (checkpoint signature and root, the hash chain from the checkpoint's
// last leaves to the store's end, the checkpoint file) and the next leaf
// to Add is leaf Size().
func Import(store Store, opts ImportOptions) (*Importer, error) {
	if opts.Verifier == nil {
		return nil, errors.New("ledger: ImportOptions.Verifier is required")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1024
	}
	size, cp, err := store.Head()
	if err != nil {
		return nil, err
	}
	im := &Importer{store: store, opts: opts, committed: size, size: size}
	if len(cp) > 0 {
		c, _, err := OpenCheckpoint(cp, opts.Verifier)
		if err != nil {
			return nil, &IntegrityError{Index: -1, Msg: "stored checkpoint: " + err.Error(), Err: err}
		}
		if c.Size > size {
			return nil, &IntegrityError{Index: -1, Err: ErrRollback,
				Msg: fmt.Sprintf("stored checkpoint is for size %d, store holds %d leaves", c.Size, size)}
		}
		root, err := treeHashOf(store, c.Size)
		if err != nil {
			return nil, err
		}
		if root != c.Root {
			return nil, &IntegrityError{Index: -1, Msg: fmt.Sprintf("stored tree root at size %d does not match its checkpoint", c.Size)}
		}
		im.checkpoint, im.cpSize = cp, c.Size
	}
	// Re-link the checkpoint's last leaves and every leaf after it (an
	// interrupted import's, not yet covered by a signed root).
	if err := im.relink(max(0, im.cpSize-tailLeaves)); err != nil {
		return nil, err
	}
	idx := frontierIndexes(size)
	hs, err := store.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	im.frontier = make(map[int64]Hash, len(idx))
	for k, i := range idx {
		im.frontier[i] = hs[k]
	}
	if err := im.checkFile(); err != nil {
		return nil, err
	}
	if opts.Indexer != nil {
		if err := im.catchUpIndex(); err != nil {
			return nil, err
		}
		im.ov = newOverlay(store)
	}
	return im, nil
}

func treeHashOf(s Store, n int64) (Hash, error) {
	if n == 0 {
		return emptyRoot(), nil
	}
	return tlog.TreeHash(n, s)
}

// relink checks the hash chain of the stored leaves from start on and sets
// im.prev to the last leaf's hash.
func (im *Importer) relink(start int64) error {
	if start > 0 {
		hs, err := im.store.ReadHashes([]int64{tlog.StoredHashIndex(0, start-1)})
		if err != nil {
			return err
		}
		im.prev = hs[0]
	}
	for start < im.committed {
		n := int(min(fsckChunk, im.committed-start))
		leaves, err := im.store.ReadLeaves(start, n)
		if err != nil {
			return err
		}
		idx := make([]int64, n)
		for i := range idx {
			idx[i] = tlog.StoredHashIndex(0, start+int64(i))
		}
		stored, err := im.store.ReadHashes(idx)
		if err != nil {
			return err
		}
		for i, b := range leaves {
			if _, err := checkLeaf(start+int64(i), b, im.prev, stored[i]); err != nil {
				return err
			}
			im.prev = stored[i]
		}
		start += int64(n)
	}
	return nil
}

// checkFile refuses a store behind, or disagreeing with, the checkpoint
// file, as Open does. A missing file is fine here: Finish writes it.
func (im *Importer) checkFile() error {
	path := im.opts.CheckpointFile
	if path == "" {
		return nil
	}
	b, err := ReadFileCapped(path, MaxCheckpointSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading checkpoint file: %w", err)
	}
	c, _, err := OpenCheckpoint(b, im.opts.Verifier)
	if err != nil {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("checkpoint file %s: %v", path, err), Err: err}
	}
	if c.Size > im.cpSize {
		return &IntegrityError{Index: -1, Err: ErrRollback,
			Msg: fmt.Sprintf("store's checkpoint is of size %d but checkpoint file %s was signed at size %d", im.cpSize, path, c.Size)}
	}
	root, err := treeHashOf(im.store, c.Size)
	if err != nil {
		return err
	}
	if root != c.Root {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("store's tree at size %d has a different root from checkpoint file %s", c.Size, path)}
	}
	return nil
}

// catchUpIndex replays the stored leaves the index does not describe.
func (im *Importer) catchUpIndex() error {
	from, err := im.store.IndexedSize()
	if err != nil {
		return err
	}
	if from > im.committed {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("index describes %d leaves, store holds %d", from, im.committed)}
	}
	for from < im.committed {
		n := int(min(indexChunk, im.committed-from))
		leaves, err := im.store.ReadLeaves(from, n)
		if err != nil {
			return err
		}
		ov := newOverlay(im.store)
		for i, b := range leaves {
			leaf, err := ParseLeaf(b)
			if err != nil {
				return &IntegrityError{Index: from + int64(i), Msg: err.Error(), Err: err}
			}
			recs, err := im.opts.Indexer.Admit(ov, leaf, LeafHash(b))
			if err != nil {
				return &IntegrityError{Index: leaf.Index, Msg: "rebuilding the index: stored entry refused: " + err.Error(), Err: err}
			}
			ov.set(recs)
		}
		if err := im.store.WriteIndex(from, from+int64(n), ov.records()); err != nil {
			return err
		}
		from += int64(n)
	}
	return nil
}

// Size returns how many leaves the store holds with those added since.
func (im *Importer) Size() int64 { return im.size }

// Checkpoint returns the store's signed checkpoint (nil for a new store)
// and its size, which is less than Size while an import is under way.
func (im *Importer) Checkpoint() (signed []byte, size int64) { return im.checkpoint, im.cpSize }

// TreeHash returns the root of the first n stored leaves (n at most the
// committed leaves), for checking a remote checkpoint against the store.
func (im *Importer) TreeHash(n int64) (Hash, error) {
	if n < 0 || n > im.committed {
		return Hash{}, fmt.Errorf("no tree of size %d: %d leaves are stored", n, im.committed)
	}
	return treeHashOf(im.store, n)
}

// Add appends the exact bytes of the log's next leaf, leaf Size(). It
// checks that the leaf parses, records that index and links to the
// previous leaf's hash, and, with an Indexer, that the Indexer admits it;
// a failure is an *IntegrityError naming the leaf and ends the import
// (every later call returns it). The leaf is committed with its tree
// hashes and index records in the next batch.
func (im *Importer) Add(leaf []byte) error {
	if im.err != nil {
		return im.err
	}
	if im.retired {
		return errors.New("ledger: Importer.Add after Finish")
	}
	im.err = im.add(leaf)
	return im.err
}

func (im *Importer) add(b []byte) error {
	n := im.size
	leaf, err := ParseLeaf(b)
	if err != nil {
		return &IntegrityError{Index: n, Msg: err.Error(), Err: err}
	}
	if leaf.Index != n {
		return &IntegrityError{Index: n, Msg: fmt.Sprintf("leaf records index %d", leaf.Index)}
	}
	if leaf.Prev != im.prev {
		return &IntegrityError{Index: n, Msg: fmt.Sprintf("prev link %s, want hash of leaf %d %s", leaf.Prev, n-1, im.prev)}
	}
	h := LeafHash(b)
	if im.ov != nil {
		recs, err := im.opts.Indexer.Admit(im.ov, leaf, h)
		if err != nil {
			return &IntegrityError{Index: n, Msg: "refused by the index: " + err.Error(), Err: err}
		}
		im.ov.set(recs)
	}
	hs, err := tlog.StoredHashesForRecordHash(n, h, im.hashReader())
	if err != nil {
		return fmt.Errorf("computing tree hashes of leaf %d: %w", n, err)
	}
	im.hashes = append(im.hashes, hs...)
	im.leaves = append(im.leaves, append([]byte(nil), b...))
	im.bytes += len(b)
	im.size++
	im.prev = h
	if len(im.leaves) >= im.opts.BatchSize || im.bytes >= maxBatchBytes {
		return im.flush()
	}
	return nil
}

// hashReader reads stored hashes from the pending batch, the frontier of
// the committed tree, or the store, as the log's commit does.
func (im *Importer) hashReader() tlog.HashReader {
	base := tlog.StoredHashCount(im.committed)
	return tlog.HashReaderFunc(func(idx []int64) ([]Hash, error) {
		out := make([]Hash, len(idx))
		for k, i := range idx {
			switch h, ok := im.frontier[i]; {
			case i >= base:
				if i-base >= int64(len(im.hashes)) {
					return nil, fmt.Errorf("stored hash %d not yet computed", i)
				}
				out[k] = im.hashes[i-base]
			case ok:
				out[k] = h
			default:
				hs, err := im.store.ReadHashes([]int64{i})
				if err != nil {
					return nil, err
				}
				out[k] = hs[0]
			}
		}
		return out, nil
	})
}

// flush commits the pending leaves, keeping the store's checkpoint.
func (im *Importer) flush() error {
	if len(im.leaves) == 0 {
		return nil
	}
	b := &Batch{Size: im.committed, Leaves: im.leaves, Hashes: im.hashes, Checkpoint: im.checkpoint, Indexed: -1}
	if im.ov != nil {
		b.Index, b.Indexed = im.ov.records(), im.size
	}
	if err := im.store.Commit(b); err != nil {
		return fmt.Errorf("committing leaves %d..%d: %w", im.committed, im.size-1, err)
	}
	base := tlog.StoredHashCount(im.committed)
	next := make(map[int64]Hash)
	for _, i := range frontierIndexes(im.size) {
		if i >= base {
			next[i] = im.hashes[i-base]
		} else if h, ok := im.frontier[i]; ok {
			next[i] = h
		}
	}
	im.frontier, im.committed = next, im.size
	im.leaves, im.hashes, im.bytes = nil, nil, 0
	if im.ov != nil {
		im.ov = newOverlay(im.store)
	}
	return nil
}

// Finish commits the pending leaves and adopts signed, the log's
// checkpoint of exactly Size() leaves, as the store's checkpoint, then
// writes the checkpoint file. The checkpoint must verify with the log's
// key, and its root must be the root recomputed from the stored leaves;
// otherwise Finish returns an *IntegrityError and the store keeps its old
// checkpoint. Cosignatures on signed are dropped: the store and the file
// keep the log's signature only, as the log itself does.
func (im *Importer) Finish(signed []byte) error {
	if im.err != nil {
		return im.err
	}
	if im.retired {
		return errors.New("ledger: Importer.Finish called twice")
	}
	if im.err = im.flush(); im.err != nil {
		return im.err
	}
	c, n, err := OpenCheckpoint(signed, im.opts.Verifier)
	if err != nil {
		return err
	}
	if c.Size != im.size {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("checkpoint is of size %d, %d leaves were imported", c.Size, im.size)}
	}
	root, err := treeHashOf(im.store, c.Size)
	if err != nil {
		return err
	}
	if root != c.Root {
		return &IntegrityError{Index: -1,
			Msg: fmt.Sprintf("the %d leaves give root %s, the log's checkpoint of that size says %s", c.Size, root, c.Root)}
	}
	cp, err := logSignedOnly(n, im.opts.Verifier)
	if err != nil {
		return err
	}
	b := &Batch{Size: im.size, Checkpoint: cp, Indexed: -1}
	if im.ov != nil {
		b.Indexed = im.size
	}
	if !bytes.Equal(cp, im.checkpoint) {
		if err := im.store.Commit(b); err != nil {
			return fmt.Errorf("committing the checkpoint of size %d: %w", c.Size, err)
		}
	}
	im.checkpoint, im.cpSize, im.retired = cp, c.Size, true
	// The file is written after the store's commit: a crash between the
	// two leaves the file behind the store, which Open accepts.
	if im.opts.CheckpointFile != "" {
		if err := WriteFileAtomic(im.opts.CheckpointFile, cp, 0o644); err != nil {
			return fmt.Errorf("writing checkpoint file: %w", err)
		}
	}
	return nil
}

// logSignedOnly re-encodes an opened checkpoint note with the log's
// signature line alone (C2SP signed-note: text, blank line, one
// "— name base64(keyhash||sig)" line per signature).
func logSignedOnly(n *note.Note, log note.Verifier) ([]byte, error) {
	for _, s := range n.Sigs {
		if s.Name == log.Name() && s.Hash == log.KeyHash() {
			out := []byte(n.Text + "\n\u2014 " + s.Name + " " + s.Base64 + "\n")
			if _, _, err := OpenCheckpoint(out, log); err != nil {
				return nil, err
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("checkpoint carries no signature by log key %s", log.Name())
}
