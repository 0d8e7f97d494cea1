package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// counter is a toy Indexer: it refuses entries starting with "refuse",
// keeps a count of admitted entries and one record per entry.
type counter struct{}

var errRefused = errors.New("refused by the test indexer")

func (counter) Admit(v ledger.IndexView, leaf *ledger.Leaf, h ledger.Hash) ([]ledger.Record, error) {
	if bytes.HasPrefix(leaf.Entry, []byte("refuse")) {
		return nil, errRefused
	}
	n := 0
	if b, ok, err := v.Get("count"); err != nil {
		return nil, err
	} else if ok {
		n, _ = strconv.Atoi(string(b))
	}
	return []ledger.Record{
		{Key: "count", Value: []byte(strconv.Itoa(n + 1))},
		{Key: fmt.Sprintf("e/%016d", leaf.Index), Value: append([]byte(h.String()+" "), leaf.Entry...)},
	}, nil
}

func openIndexed(t *testing.T, dir string, keys ledgertest.Keys) (*ledger.Log, *badgerstore.Store) {
	t.Helper()
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(st, ledger.Options{Verifier: keys.Verifier, Signer: keys.Signer, Indexer: counter{}, CheckpointFile: dir + ".checkpoint"})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return l, st
}

func TestIndexerRefusalTakesNoIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/indexer")
	l, _ := openIndexed(t, dir, keys)
	var wg sync.WaitGroup
	var mu sync.Mutex
	indexes := map[int64]bool{}
	refusals := 0
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				entry := []byte(fmt.Sprintf("ok %d/%d", w, i))
				if i%3 == 0 {
					entry = []byte(fmt.Sprintf("refuse %d/%d", w, i))
				}
				idx, _, err := l.Append(context.Background(), entry)
				mu.Lock()
				switch {
				case errors.Is(err, errRefused):
					refusals++
				case err != nil:
					t.Error(err)
				default:
					indexes[idx] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if refusals != 32*3 {
		t.Errorf("refusals = %d, want %d", refusals, 32*3)
	}
	for i := range int64(len(indexes)) {
		if !indexes[i] {
			t.Fatalf("index %d missing: refused entries must not take an index", i)
		}
	}
	if got, ok, _ := l.Index().Get("count"); !ok || string(got) != strconv.Itoa(len(indexes)) {
		t.Errorf("index count = %q, want %d", got, len(indexes))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestIndexRebuild: a reset index is rebuilt on the next writing open, to
// the same records; fsck compares the stored index with a replay and names
// a record that was tampered with.
func TestIndexRebuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/rebuild")
	l, _ := openIndexed(t, dir, keys)
	for i := range 2500 { // more than one rebuild chunk
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	snapshot := func(st ledger.Store) map[string]string {
		m := map[string]string{}
		if err := st.ScanIndex("", func(k string, v []byte) error { m[k] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	st := reopenStore(t, dir)
	before := snapshot(st)
	if len(before) != 2501 {
		t.Fatalf("index holds %d records, want 2501", len(before))
	}
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, Indexer: counter{}})
	if err != nil || !rep.IndexCompared || rep.EntriesAdmitted != 2500 {
		t.Fatalf("Fsck = %+v, %v; want index compared, 2500 admitted", rep, err)
	}
	if err := st.WriteIndex(2500, 2500, []ledger.Record{{Key: "e/0000000000000007", Value: []byte("forged")}}); err != nil {
		t.Fatal(err)
	}
	_, err = ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, Indexer: counter{}})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("e/0000000000000007")) {
		t.Fatalf("Fsck after forging an index record = %v, want an error naming it", err)
	}
	if err := st.ResetIndex(); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.IndexedSize(); n != 0 {
		t.Fatalf("IndexedSize after ResetIndex = %d, want 0", n)
	}
	st.Close()

	l, st2 := openIndexed(t, dir, keys)
	after := snapshot(st2)
	l.Close()
	if len(after) != len(before) {
		t.Fatalf("rebuilt index holds %d records, want %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("rebuilt record %q = %q, want %q", k, after[k], v)
		}
	}
}
