package ledger_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// source is a writable indexed ledger with n entries.
func importSource(t *testing.T, n int) (*ledger.Log, ledgertest.Keys) {
	t.Helper()
	keys := ledgertest.NewKeys(t, "example.org/import-source")
	l, _ := openIndexed(t, filepath.Join(t.TempDir(), "store"), keys)
	t.Cleanup(func() { l.Close() })
	appendN(t, l, 0, n)
	return l, keys
}

func appendN(t *testing.T, l *ledger.Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// importFrom adds the source's leaves from the importer's size to the
// source's size and finishes with the source's checkpoint.
func importFrom(t *testing.T, im *ledger.Importer, src *ledger.Log) error {
	t.Helper()
	cp, size := src.Checkpoint()
	for i := im.Size(); i < size; i++ {
		leaf, err := src.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := im.Add(leaf); err != nil {
			return err
		}
	}
	return im.Finish(cp)
}

// TestImport copies a log leaf by leaf, in batches smaller than the log,
// resumes after more appends, and requires that Open (read-only, no
// signer) and Fsck accept the copy with its index complete and equal to
// the source's.
func TestImport(t *testing.T) {
	src, keys := importSource(t, 300)
	dir := filepath.Join(t.TempDir(), "mirror")
	cpFile := dir + ".checkpoint"
	opts := ledger.ImportOptions{Verifier: keys.Verifier, CheckpointFile: cpFile, Indexer: counter{}, BatchSize: 64}
	run := func() {
		st, err := badgerstore.Open(dir, badgerstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		im, err := ledger.Import(st, opts)
		if err != nil {
			t.Fatalf("Import = %v", err)
		}
		if err := importFrom(t, im, src); err != nil {
			t.Fatalf("importing: %v", err)
		}
	}
	check := func(want int64) {
		st, err := badgerstore.Open(dir, badgerstore.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		l, err := ledger.Open(st, ledger.Options{Verifier: keys.Verifier, CheckpointFile: cpFile, Indexer: counter{}})
		if err != nil {
			t.Fatalf("Open(mirror) = %v", err)
		}
		if got := l.Size(); got != want {
			t.Errorf("mirror size = %d, want %d", got, want)
		}
		srcRoot, _ := src.TreeHash(want)
		if got, _ := l.TreeHash(want); got != srcRoot {
			t.Errorf("mirror root = %s, want %s", got, srcRoot)
		}
		if v, _, _ := l.Index().Get("count"); string(v) != strconv.FormatInt(want, 10) {
			t.Errorf("mirror index count = %s, want %d", v, want)
		}
		rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: cpFile, Indexer: counter{}})
		if err != nil {
			t.Fatalf("Fsck(mirror) = %v", err)
		}
		if !rep.IndexCompared || rep.LeavesChecked != want {
			t.Errorf("Fsck(mirror) = %+v, want %d leaves and the index compared", rep, want)
		}
	}
	run()
	check(300)
	appendN(t, src, 300, 77)
	run()
	check(377)
	run() // nothing new: a no-op
	check(377)
}

// TestImportFinished: an Importer is done after Finish.
func TestImportFinished(t *testing.T) {
	src, keys := importSource(t, 3)
	st := reopenStore(t, filepath.Join(t.TempDir(), "m"))
	im, err := ledger.Import(st, ledger.ImportOptions{Verifier: keys.Verifier})
	if err != nil {
		t.Fatal(err)
	}
	if err := importFrom(t, im, src); err != nil {
		t.Fatal(err)
	}
	leaf, _ := src.Leaf(0)
	if err := im.Add(leaf); err == nil {
		t.Error("Add after Finish = nil, want an error")
	}
	cp, _ := src.Checkpoint()
	if err := im.Finish(cp); err == nil {
		t.Error("Finish twice = nil, want an error")
	}
}

// TestImportInterrupted: an import stopped between batches leaves a store
// Open refuses and Import continues.
func TestImportInterrupted(t *testing.T) {
	src, keys := importSource(t, 100)
	dir := filepath.Join(t.TempDir(), "mirror")
	opts := ledger.ImportOptions{Verifier: keys.Verifier, CheckpointFile: dir + ".checkpoint", Indexer: counter{}, BatchSize: 16}
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	im, err := ledger.Import(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(40) {
		leaf, _ := src.Leaf(i)
		if err := im.Add(leaf); err != nil {
			t.Fatal(err)
		}
	}
	st.Close() // no Finish: 32 leaves committed, 8 lost

	st = reopenStore(t, dir)
	var integ *ledger.IntegrityError
	if _, err := ledger.Open(st, ledger.Options{Verifier: keys.Verifier, CheckpointFile: opts.CheckpointFile}); !errors.As(err, &integ) {
		t.Fatalf("Open(interrupted import) = %v, want an *IntegrityError", err)
	}
	im, err = ledger.Import(st, opts)
	if err != nil {
		t.Fatalf("Import(interrupted import) = %v", err)
	}
	if im.Size() != 32 {
		t.Fatalf("resumed import Size = %d, want 32", im.Size())
	}
	if err := importFrom(t, im, src); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: opts.CheckpointFile, Indexer: counter{}}); err != nil {
		t.Fatalf("Fsck after the resumed import = %v", err)
	}
}

// TestImportRefuses: a leaf out of order, a broken prev link, a leaf the
// indexer refuses, and a checkpoint whose root or size is not the leaves'
// are refused, naming the leaf where there is one.
func TestImportRefuses(t *testing.T) {
	src, keys := importSource(t, 10)
	other, _ := importSource(t, 10) // another log's leaves: different prev links from leaf 1
	leaf := func(l *ledger.Log, i int64) []byte {
		b, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	newImporter := func() *ledger.Importer {
		st, err := badgerstore.Open(filepath.Join(t.TempDir(), "m"), badgerstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		im, err := ledger.Import(st, ledger.ImportOptions{Verifier: keys.Verifier, Indexer: counter{}})
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	refuse := ledger.Leaf{Index: 0, Entry: []byte("refuse me")}
	flipped := append([]byte(nil), leaf(src, 0)...)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name   string
		leaves [][]byte
		bad    int64
	}{
		{"skipped index", [][]byte{leaf(src, 1)}, 0},
		{"foreign prev link", [][]byte{leaf(src, 0), leaf(src, 1), leaf(other, 2)}, 2},
		{"refused by the indexer", [][]byte{refuse.Marshal()}, 0},
		{"truncated", [][]byte{leaf(src, 0)[:20]}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := newImporter()
			var err error
			for _, b := range tc.leaves {
				if err = im.Add(b); err != nil {
					break
				}
			}
			var integ *ledger.IntegrityError
			if !errors.As(err, &integ) || integ.Index != tc.bad {
				t.Fatalf("Add = %v, want an *IntegrityError at leaf %d", err, tc.bad)
			}
			if err2 := im.Add(leaf(src, 0)); err2 != err {
				t.Errorf("Add after a failure = %v, want the first failure again", err2)
			}
		})
	}
	t.Run("root mismatch", func(t *testing.T) {
		im := newImporter()
		if err := im.Add(flipped); err != nil {
			t.Fatal(err) // a valid leaf, just not the log's
		}
		cp := signedAt(t, keys, src, 1)
		var integ *ledger.IntegrityError
		if err := im.Finish(cp); !errors.As(err, &integ) {
			t.Fatalf("Finish(checkpoint of another leaf 0) = %v, want an *IntegrityError", err)
		}
	})
	t.Run("size mismatch", func(t *testing.T) {
		im := newImporter()
		im.Add(leaf(src, 0))
		cp, _ := src.Checkpoint()
		if err := im.Finish(cp); err == nil {
			t.Fatal("Finish(checkpoint of 10 leaves) after 1 leaf = nil, want an error")
		}
	})
}

// signedAt returns a checkpoint of the source's first n leaves, signed
// with its key (as an earlier checkpoint of the source would be).
func signedAt(t *testing.T, keys ledgertest.Keys, l *ledger.Log, n int64) []byte {
	t.Helper()
	root, err := l.TreeHash(n)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.SignCheckpoint(ledger.Checkpoint{Origin: l.Origin(), Size: n, Root: root}, keys.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
