package ledger

import (
	"bytes"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// FsckOptions configure Fsck.
type FsckOptions struct {
	// Verifier is the log's checkpoint key. Required.
	Verifier note.Verifier
	// CheckpointFile, if set, is compared with the store like Open does.
	CheckpointFile string
	// Indexer, if set, replays every leaf through the same admission the
	// log applies on append (custody rules, signatures by enrolled keys),
	// into an index held in memory; a refused leaf fails the check. When
	// the store's index covers every leaf, the rebuilt records must equal
	// the stored ones, record for record.
	Indexer Indexer

	// Progress, if set, is called after each chunk of leaves.
	Progress func(done, total int64)
}

// An FsckReport says what Fsck read and recomputed.
type FsckReport struct {
	Size            int64 // leaves in the store
	Root            Hash  // root recomputed from the leaves
	LeavesChecked   int64 // leaves whose bytes, index, prev link and hash were checked
	HashesChecked   int64 // stored tree hashes compared with recomputed ones
	EntriesAdmitted int64 // leaves the Indexer replayed and accepted
	IndexRecords    int64 // index records rebuilt (and compared, if IndexCompared)
	IndexCompared   bool  // the stored index was compared with the rebuilt one
	CheckpointSize  int64 // size of the checkpoint file, -1 if not checked
}

// fsckChunk is how many leaves Fsck reads per store call.
const fsckChunk = 1024

// Fsck checks a store from genesis without trusting anything it holds: it
// re-parses every leaf, checks its index and prev link, recomputes its leaf
// hash and every stored tree hash (with transparency-dev/merkle's compact
// ranges, an implementation independent of the tlog code that wrote them),
// replays each entry through the Indexer, recomputes the root from the leaves and
// compares it with the signed checkpoint in the store and in the checkpoint
// file. The first problem ends the check: the returned error is an
// *IntegrityError naming the first bad leaf when there is one, and the
// report says how far the check got.
func Fsck(store Store, opts FsckOptions) (*FsckReport, error) {
	rep := &FsckReport{CheckpointSize: -1}
	size, cp, err := store.Head()
	if err != nil {
		return rep, err
	}
	rep.Size = size
	if cp == nil {
		return rep, &IntegrityError{Index: -1, Msg: "store has no checkpoint (not initialised?)"}
	}
	stored, _, err := OpenCheckpoint(cp, opts.Verifier)
	if err != nil {
		return rep, &IntegrityError{Index: -1, Msg: "stored checkpoint: " + err.Error(), Err: err}
	}

	hasher := rfc6962.DefaultHasher
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	var prev Hash
	mem := memIndex{}
	var wantIdx []int64 // stored-hash indexes of nodes recomputed in this chunk
	var wantHash []Hash
	visit := func(id compact.NodeID, h []byte) {
		wantIdx = append(wantIdx, tlog.StoredHashIndex(int(id.Level), int64(id.Index)))
		var hh Hash
		copy(hh[:], h)
		wantHash = append(wantHash, hh)
	}
	for start := int64(0); start < size; start += fsckChunk {
		n := int(min(fsckChunk, size-start))
		leaves, err := store.ReadLeaves(start, n)
		if err != nil {
			return rep, firstUnreadable(store, start, n, err)
		}
		leafIdx := make([]int64, n)
		for i := range leafIdx {
			leafIdx[i] = tlog.StoredHashIndex(0, start+int64(i))
		}
		storedLeaf, err := store.ReadHashes(leafIdx)
		if err != nil {
			return rep, &IntegrityError{Index: start, Msg: "reading leaf hashes: " + err.Error(), Err: err}
		}
		wantIdx, wantHash = wantIdx[:0], wantHash[:0]
		for i, b := range leaves {
			idx := start + int64(i)
			leaf, err := ParseLeaf(b)
			if err != nil {
				return rep, &IntegrityError{Index: idx, Msg: err.Error(), Err: err}
			}
			if leaf.Index != idx {
				return rep, &IntegrityError{Index: idx, Msg: fmt.Sprintf("leaf records index %d", leaf.Index)}
			}
			if leaf.Prev != prev {
				return rep, &IntegrityError{Index: idx, Msg: fmt.Sprintf("prev link %s, want hash of leaf %d %s", leaf.Prev, idx-1, prev)}
			}
			h := LeafHash(b)
			if h != storedLeaf[i] {
				return rep, &IntegrityError{Index: idx, Msg: fmt.Sprintf("leaf hash %s, stored tree has %s", h, storedLeaf[i])}
			}
			if err := cr.Append(h[:], visit); err != nil {
				return rep, err
			}
			prev = h
			if opts.Indexer != nil {
				recs, err := opts.Indexer.Admit(mem, leaf, h)
				if err != nil {
					return rep, &IntegrityError{Index: idx, Msg: "refused on replay: " + err.Error(), Err: err}
				}
				for _, r := range recs {
					mem[r.Key] = r.Value
				}
				rep.EntriesAdmitted++
			}
		}
		got, err := store.ReadHashes(wantIdx)
		if err != nil {
			return rep, &IntegrityError{Index: start, Msg: "reading tree hashes: " + err.Error(), Err: err}
		}
		for k := range wantIdx {
			if got[k] != wantHash[k] {
				level, n := tlog.SplitStoredHashIndex(wantIdx[k])
				return rep, &IntegrityError{Index: n << level,
					Msg: fmt.Sprintf("stored tree hash (level %d, node %d) is %s, recomputed %s", level, n, got[k], wantHash[k])}
			}
		}
		rep.LeavesChecked += int64(n)
		rep.HashesChecked += int64(len(wantIdx))
		if opts.Progress != nil {
			opts.Progress(rep.LeavesChecked, size)
		}
	}
	root := emptyRoot()
	if size > 0 {
		r, err := cr.GetRootHash(nil)
		if err != nil {
			return rep, err
		}
		copy(root[:], r)
	}
	rep.Root = root
	if stored.Size != size || stored.Root != root {
		return rep, &IntegrityError{Index: -1, Msg: fmt.Sprintf("stored checkpoint (size %d) does not match the %d leaves' recomputed root", stored.Size, size)}
	}
	if opts.Indexer != nil {
		if err := compareIndex(store, mem, size, rep); err != nil {
			return rep, err
		}
	}
	if opts.CheckpointFile != "" {
		b, err := ReadFileCapped(opts.CheckpointFile, MaxCheckpointSize)
		if err != nil {
			return rep, &IntegrityError{Index: -1, Msg: "checkpoint file: " + err.Error(), Err: err}
		}
		c, _, err := OpenCheckpoint(b, opts.Verifier)
		if err != nil {
			return rep, &IntegrityError{Index: -1, Msg: "checkpoint file: " + err.Error(), Err: err}
		}
		rep.CheckpointSize = c.Size
		if c.Size > size {
			return rep, &IntegrityError{Index: -1, Err: ErrRollback,
				Msg: fmt.Sprintf("store holds %d leaves but checkpoint file %s was signed at size %d", size, opts.CheckpointFile, c.Size)}
		}
		// The root at the file's size, recomputed from the leaves' hashes
		// (already checked against the recomputed tree above).
		fileRoot := emptyRoot()
		if c.Size > 0 {
			fileRoot, err = tlog.TreeHash(c.Size, store)
			if err != nil {
				return rep, err
			}
		}
		if fileRoot != c.Root {
			return rep, &IntegrityError{Index: -1, Msg: fmt.Sprintf("tree at size %d differs from checkpoint file %s", c.Size, opts.CheckpointFile)}
		}
	}
	return rep, nil
}

// firstUnreadable finds which leaf of a chunk could not be read.
func firstUnreadable(store Store, start int64, n int, chunkErr error) error {
	for i := range int64(n) {
		if _, err := store.ReadLeaves(start+i, 1); err != nil {
			return &IntegrityError{Index: start + i, Msg: "unreadable or missing: " + err.Error(), Err: err}
		}
	}
	return &IntegrityError{Index: start, Msg: "reading leaves: " + chunkErr.Error(), Err: chunkErr}
}

// memIndex is an index held in memory, for replays. A nil value is a
// deleted record.
type memIndex map[string][]byte

func (m memIndex) Get(key string) ([]byte, bool, error) {
	v, ok := m[key]
	return v, ok && v != nil, nil
}

// compareIndex checks the store's index against the one rebuilt from the
// leaves, when the store's index claims to cover them all.
func compareIndex(store Store, mem memIndex, size int64, rep *FsckReport) error {
	for _, v := range mem {
		if v != nil {
			rep.IndexRecords++
		}
	}
	indexed, err := store.IndexedSize()
	if err != nil {
		return err
	}
	if indexed != size {
		return nil // a lagging index is rebuilt on the next writing open
	}
	seen := 0
	err = store.ScanIndex("", func(key string, value []byte) error {
		want, ok := mem[key]
		if !ok || want == nil {
			return &IntegrityError{Index: -1, Msg: fmt.Sprintf("stored index record %q is not derived from any leaf", key)}
		}
		if !bytes.Equal(want, value) {
			return &IntegrityError{Index: -1, Msg: fmt.Sprintf("stored index record %q differs from the one rebuilt from the leaves", key)}
		}
		seen++
		return nil
	})
	if err != nil {
		return err
	}
	if int64(seen) != rep.IndexRecords {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("stored index holds %d records, the leaves give %d", seen, rep.IndexRecords)}
	}
	rep.IndexCompared = true
	return nil
}
