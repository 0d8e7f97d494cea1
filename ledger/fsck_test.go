package ledger_test

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// tamperFixture builds a closed ledger of n leaves and returns its store
// directory and keys.
func tamperFixture(t *testing.T, n int) (string, ledgertest.Keys) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/tamper")
	l := ledgertest.Open(t, dir, keys)
	for i := range n {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, keys
}

func key(prefix byte, n int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, uint64(n))
}

func rawGet(t *testing.T, db *badger.DB, k []byte) []byte {
	t.Helper()
	var v []byte
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rawSet(t *testing.T, db *badger.DB, k, v []byte) {
	t.Helper()
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) }); err != nil {
		t.Fatal(err)
	}
}

// wantBadIndex requires an *IntegrityError naming index.
func wantBadIndex(t *testing.T, what string, err error, index int64) {
	t.Helper()
	var ie *ledger.IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("%s: error = %v, want *IntegrityError", what, err)
	}
	if ie.Index != index {
		t.Fatalf("%s: first bad index = %d, want %d (%v)", what, ie.Index, index, err)
	}
}

// TestFsckFlipEveryLeafByte flips each byte of one leaf in the store: fsck
// must name that leaf every time, and Open (whose tail check covers it)
// must refuse the store.
func TestFsckFlipEveryLeafByte(t *testing.T) {
	const n, bad = 6, 3
	dir, keys := tamperFixture(t, n)
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := st.DB()
	orig := rawGet(t, db, key('l', bad))
	for i := range orig {
		b := append([]byte(nil), orig...)
		b[i] ^= 0x01
		rawSet(t, db, key('l', bad), b)
		_, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier})
		wantBadIndex(t, "Fsck after flipping leaf byte", err, bad)
		_, err = ledger.Open(st, ledger.Options{Verifier: keys.Verifier})
		wantBadIndex(t, "Open after flipping leaf byte", err, bad)
	}
	rawSet(t, db, key('l', bad), orig)
	if _, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier}); err != nil {
		t.Fatalf("Fsck after restoring the leaf = %v", err)
	}
}

func TestFsckStoreTampering(t *testing.T) {
	const n = 9
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *badger.DB)
		index  int64
	}{
		{"reordered-leaves", func(t *testing.T, db *badger.DB) {
			a, b := rawGet(t, db, key('l', 2)), rawGet(t, db, key('l', 5))
			rawSet(t, db, key('l', 2), b)
			rawSet(t, db, key('l', 5), a)
		}, 2},
		{"deleted-leaf", func(t *testing.T, db *badger.DB) {
			if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(key('l', 4)) }); err != nil {
				t.Fatal(err)
			}
		}, 4},
		{"flipped-interior-hash", func(t *testing.T, db *badger.DB) {
			k := key('h', tlog.StoredHashIndex(1, 3)) // covers leaves 6 and 7
			h := rawGet(t, db, k)
			h[0] ^= 0x80
			rawSet(t, db, k, h)
		}, 6},
		{"flipped-leaf-hash", func(t *testing.T, db *badger.DB) {
			k := key('h', tlog.StoredHashIndex(0, 1))
			h := rawGet(t, db, k)
			h[31] ^= 0x01
			rawSet(t, db, k, h)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, keys := tamperFixture(t, n)
			st, err := badgerstore.Open(dir, badgerstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			tt.tamper(t, st.DB())
			_, err = ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier})
			wantBadIndex(t, "Fsck", err, tt.index)
		})
	}
}

// TestFsckReplayRefusal: an entry the Indexer refuses on replay (stored
// before the rules that now apply, or written around them) fails fsck,
// naming its index.
func TestFsckReplayRefusal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/replay")
	l := ledgertest.Open(t, dir, keys) // no indexer: the ledger takes anything
	for i, e := range []string{"ok 0", "ok 1", "refuse 2", "ok 3"} {
		if _, _, err := l.Append(context.Background(), []byte(e)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st := reopenStore(t, dir)
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, Indexer: counter{}})
	wantBadIndex(t, "Fsck replaying a refused entry", err, 2)
	if !errors.Is(err, errRefused) {
		t.Errorf("Fsck error %v does not wrap the indexer's refusal", err)
	}
	if rep.EntriesAdmitted != 2 {
		t.Errorf("Fsck admitted %d entries before the refusal, want 2", rep.EntriesAdmitted)
	}
}
