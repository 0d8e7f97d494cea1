package ledger_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

func TestAppendProveInterop(t *testing.T) {
	l := ledgertest.New(t)
	ctx := context.Background()
	var hashes []ledger.Hash
	for i := range 23 {
		idx, h, err := l.Append(ctx, ledgertest.Entry(i))
		if err != nil {
			t.Fatal(err)
		}
		if idx != int64(i) {
			t.Fatalf("Append #%d index = %d, want %d", i, idx, i)
		}
		hashes = append(hashes, h)
	}
	cp, size := l.Checkpoint()
	if size != 23 {
		t.Fatalf("size = %d, want 23", size)
	}
	// The checkpoint opens with sumdb/note and a verifier built from the
	// published key string alone.
	v, err := note.NewVerifier(l.Keys.VKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(checkpoint) = %v", err)
	}
	c, err := ledger.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(23) {
		leaf, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		if got := ledger.LeafHash(leaf); got != hashes[i] {
			t.Fatalf("LeafHash(leaf %d) = %s, want %s", i, got, hashes[i])
		}
		p, err := l.ProveInclusion(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(size), hashes[i][:], toBytes(p.Path), c.Root[:]); err != nil {
			t.Errorf("merkle/proof.VerifyInclusion(leaf %d) = %v", i, err)
		}
	}
	for old := int64(1); old <= size; old++ {
		p, err := l.ProveConsistency(old)
		if err != nil {
			t.Fatal(err)
		}
		oldRoot, err := l.TreeHash(old)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(size), toBytes(p.Path), oldRoot[:], c.Root[:]); err != nil {
			t.Errorf("merkle/proof.VerifyConsistency(%d -> %d) = %v", old, size, err)
		}
	}
}

func toBytes(hs []ledger.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

func TestConcurrentAppend(t *testing.T) {
	l := ledgertest.New(t)
	const writers, each = 64, 8
	var wg sync.WaitGroup
	seen := make([]bool, writers*each)
	var mu sync.Mutex
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				idx, _, err := l.Append(context.Background(), ledgertest.Entry(w*each+i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[idx] {
					t.Errorf("index %d returned twice", idx)
				}
				seen[idx] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i, ok := range seen {
		if !ok {
			t.Errorf("index %d never returned: indices not contiguous", i)
		}
	}
	dir, keys := l.Dir, l.Keys
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st := reopenStore(t, dir)
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: dir + ".checkpoint"})
	if err != nil {
		t.Fatalf("Fsck after concurrent appends = %v", err)
	}
	if rep.LeavesChecked != writers*each || rep.CheckpointSize != writers*each {
		t.Errorf("Fsck checked %d leaves, checkpoint file size %d; want %d for both", rep.LeavesChecked, rep.CheckpointSize, writers*each)
	}
}

func TestRollbackRefused(t *testing.T) {
	dir := t.TempDir() + "/store"
	keys := ledgertest.NewKeys(t, "example.org/rollback")
	l := ledgertest.Open(t, dir, keys)
	for i := range 5 {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	backup := t.TempDir() + "/backup"
	if err := os.CopyFS(backup, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	l = ledgertest.Open(t, dir, keys)
	for i := 5; i < 9; i++ {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dir, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	_, err := ledgertest.OpenErr(dir, keys)
	if !errors.Is(err, ledger.ErrRollback) {
		t.Fatalf("Open(rolled-back store) = %v, want ErrRollback", err)
	}
	for _, want := range []string{"store holds 5 leaves", "size 9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rollback error %q does not name %q", err, want)
		}
	}
}

// readCounter counts the hash reads a store serves.
type readCounter struct {
	ledger.Store
	reads atomic.Int64
}

func (r *readCounter) ReadHashes(idx []int64) ([]ledger.Hash, error) {
	r.reads.Add(int64(len(idx)))
	return r.Store.ReadHashes(idx)
}

// TestCommitReadsNoHashes: the sequencer keeps the tree's right edge in
// memory, so appends read no stored hash, and the roots it signs still
// match what tlog computes from the store.
func TestCommitReadsNoHashes(t *testing.T) {
	keys := ledgertest.NewKeys(t, "example.org/frontier")
	st := reopenStore(t, t.TempDir()+"/store")
	rc := &readCounter{Store: st}
	l, err := ledger.Open(rc, ledger.Options{Verifier: keys.Verifier, Signer: keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	rc.reads.Store(0)
	for i := range 100 {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
		if n := rc.reads.Load(); n != 0 {
			t.Fatalf("append %d read %d stored hashes, want 0", i, n)
		}
		cp, size := l.Checkpoint()
		c, _, err := ledger.OpenCheckpoint(cp, keys.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tlog.TreeHash(size, st)
		if err != nil {
			t.Fatal(err)
		}
		if c.Root != want {
			t.Fatalf("checkpoint root at size %d = %s, tlog.TreeHash = %s", size, c.Root, want)
		}
		rc.reads.Store(0)
	}
}

func TestProveAtEarlierSize(t *testing.T) {
	l := ledgertest.New(t)
	for i := range 20 {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int64{1, 7, 13, 20} {
		root, err := l.TreeHash(size)
		if err != nil {
			t.Fatal(err)
		}
		for i := range size {
			leaf, _ := l.Leaf(i)
			p, err := l.ProveInclusionAt(i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, size, root, i, ledger.LeafHash(leaf)); err != nil {
				t.Errorf("CheckRecord(ProveInclusionAt(%d, %d)) = %v", i, size, err)
			}
		}
		for old := int64(1); old <= size; old++ {
			oldRoot, _ := l.TreeHash(old)
			p, err := l.ProveConsistencyBetween(old, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(p, size, root, old, oldRoot); err != nil {
				t.Errorf("CheckTree(ProveConsistencyBetween(%d, %d)) = %v", old, size, err)
			}
		}
	}
	if _, err := l.ProveInclusionAt(5, 21); err == nil {
		t.Errorf("ProveInclusionAt(5, 21) in a log of 20 = nil error")
	}
	if _, err := l.ProveInclusionAt(7, 7); err == nil {
		t.Errorf("ProveInclusionAt(7, 7) = nil error")
	}
}
