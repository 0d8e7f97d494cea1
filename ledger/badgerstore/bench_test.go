package badgerstore_test

// Benchmarks of the ledger on badger against the physical limits of the
// same badger options on the same disk. .ci/bench runs them and prints the
// ratios; by hand:
//
//	go test -run '^$' -bench . -benchtime 2000x ./ledger/badgerstore
//
// -benchtime Nx fixes the number of leaves per sub-benchmark, so that
// every submitter count appends the same amount; 2000 is enough for the
// append rate to settle on an SSD (1 submitter: one fsync per leaf).

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// benchEntrySize is the entry size of the append benchmarks; a leaf is
// 60 bytes of header more.
const benchEntrySize = 256

func TestMain(m *testing.M) {
	code := m.Run()
	if prove1M != nil {
		prove1M.log.Close()
		os.RemoveAll(prove1M.dir)
	}
	os.Exit(code)
}

// A countingStore counts commits, one per batch the sequencer writes.
type countingStore struct {
	ledger.Store
	commits atomic.Int64
	nanos   atomic.Int64
}

func (s *countingStore) Commit(b *ledger.Batch) error {
	s.commits.Add(1)
	t := time.Now()
	defer func() { s.nanos.Add(int64(time.Since(t))) }()
	return s.Store.Commit(b)
}

// BenchmarkAppend appends b.N entries of benchEntrySize bytes to a new
// ledger from a number of concurrent submitters, each waiting for its
// append to be durable before the next. It reports leaves/s and the mean
// number of leaves per commit (group commit's batch size) and the mean time
// of a commit in the store, to tell the store's time from the sequencer's.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 8, 64, 256} {
		b.Run(fmt.Sprintf("submitters=%d", n), func(b *testing.B) { benchAppend(b, n) })
	}
}

func benchAppend(b *testing.B, submitters int) {
	keys := ledgertest.NewKeys(b, "example.org/bench")
	dir := filepath.Join(b.TempDir(), "store")
	bs, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st := &countingStore{Store: bs}
	l, err := ledger.Open(st, ledger.Options{Verifier: keys.Verifier, Signer: keys.Signer, CheckpointFile: dir + ".checkpoint"})
	if err != nil {
		bs.Close()
		b.Fatal(err)
	}
	defer l.Close()
	entry := make([]byte, benchEntrySize)
	rand.Read(entry)
	st.commits.Store(0) // not the first checkpoint's
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range submitters {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, _, err := l.Append(ctx, entry); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
	b.ReportMetric(float64(b.N)/float64(st.commits.Load()), "leaves/batch")
	b.ReportMetric(float64(st.nanos.Load())/1e3/float64(st.commits.Load()), "µs/commit")
}

// BenchmarkRawBadger is the physical limit for BenchmarkAppend: badger with
// badgerstore's options writing what a commit of batch leaves writes (per
// leaf the leaf and two stored hashes, on average; per commit the size and
// a signed checkpoint) in one synced transaction, and nothing else: no
// hashing, no signing, no reads, no sequencer. batch=32 is there because
// n submitters keep about n/2 leaves per commit: while one half's batch is
// being committed, the other half queues.
func BenchmarkRawBadger(b *testing.B) {
	for _, n := range []int{1, 8, 32, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) { benchRaw(b, n) })
	}
}

func benchRaw(b *testing.B, batch int) {
	st, err := badgerstore.Open(b.TempDir(), badgerstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db := st.DB()
	keys := ledgertest.NewKeys(b, "example.org/bench")
	var root ledger.Hash
	rand.Read(root[:])
	cp, err := ledger.SignCheckpoint(ledger.Checkpoint{Origin: keys.Verifier.Name(), Size: 1 << 20, Root: root}, keys.Signer)
	if err != nil {
		b.Fatal(err)
	}
	leaf := make([]byte, 60+benchEntrySize)
	rand.Read(leaf)
	hash := make([]byte, 32)
	rand.Read(hash)
	key := func(prefix byte, n int) []byte { return binary.BigEndian.AppendUint64([]byte{prefix}, uint64(n)) }
	b.ResetTimer()
	for i := 0; i < b.N; {
		n := min(batch, b.N-i)
		err := db.Update(func(txn *badger.Txn) error {
			for j := i; j < i+n; j++ {
				if err := errors.Join(
					txn.Set(key('l', j), leaf),
					txn.Set(key('h', 2*j), hash),
					txn.Set(key('h', 2*j+1), hash),
				); err != nil {
					return err
				}
			}
			return errors.Join(
				txn.Set([]byte("m/size"), binary.BigEndian.AppendUint64(nil, uint64(i+n))),
				txn.Set([]byte("m/checkpoint"), cp),
			)
		})
		if err != nil {
			b.Fatal(err)
		}
		i += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
}

// prove1M is the million-leaf ledger of BenchmarkProveInclusion1M, built
// once per test process and removed by TestMain.
var (
	prove1M     *proveLedger
	prove1MErr  error
	prove1MOnce sync.Once
)

type proveLedger struct {
	dir  string
	log  *ledger.Log // read-only
	v    note.Verifier
	size int64
}

const (
	prove1MSize  = 1_000_000
	prove1MChunk = 20_000 // leaves per store commit, well inside badger's transaction limit
)

// buildProve1M writes a ledger of prove1MSize leaves straight through
// Store.Commit, with the stored hashes computed in memory, which is much
// faster than appending: one commit per prove1MChunk leaves, each with a
// checkpoint signed over the tree so far.
func buildProve1M() (*proveLedger, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.org/prove1m")
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "custos-prove1m-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*proveLedger, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		return fail(err)
	}
	hashes := make([]ledger.Hash, 0, tlog.StoredHashCount(prove1MSize))
	mem := tlog.HashReaderFunc(func(idx []int64) ([]ledger.Hash, error) {
		out := make([]ledger.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("stored hash %d not computed", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	var prev ledger.Hash
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	entry := make([]byte, benchEntrySize)
	rand.Read(entry)
	for start := int64(0); start < prove1MSize; start += prove1MChunk {
		leaves := make([][]byte, 0, prove1MChunk)
		base := len(hashes)
		for n := start; n < start+prove1MChunk; n++ {
			binary.BigEndian.PutUint64(entry, uint64(n))
			leaf := (&ledger.Leaf{Index: n, Prev: prev, Time: when, Entry: entry}).Marshal()
			h := ledger.LeafHash(leaf)
			hs, err := tlog.StoredHashesForRecordHash(n, h, mem)
			if err != nil {
				st.Close()
				return fail(err)
			}
			hashes = append(hashes, hs...)
			leaves = append(leaves, leaf)
			prev = h
		}
		size := start + prove1MChunk
		root, err := tlog.TreeHash(size, mem)
		if err != nil {
			st.Close()
			return fail(err)
		}
		cp, err := ledger.SignCheckpoint(ledger.Checkpoint{Origin: v.Name(), Size: size, Root: root}, signer)
		if err != nil {
			st.Close()
			return fail(err)
		}
		if err := st.Commit(&ledger.Batch{Size: start, Leaves: leaves, Hashes: hashes[base:], Checkpoint: cp, Indexed: -1}); err != nil {
			st.Close()
			return fail(fmt.Errorf("committing leaves %d..%d: %w", start, size-1, err))
		}
	}
	l, err := ledger.Open(st, ledger.Options{Verifier: v})
	if err != nil {
		st.Close()
		return fail(err)
	}
	return &proveLedger{dir: dir, log: l, v: v, size: prove1MSize}, nil
}

// BenchmarkProveInclusion1M generates inclusion proofs of random leaves in
// a million-leaf ledger (target: under 200 µs each).
func BenchmarkProveInclusion1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a million-leaf ledger")
	}
	prove1MOnce.Do(func() { prove1M, prove1MErr = buildProve1M() })
	if prove1MErr != nil {
		b.Fatal(prove1MErr)
	}
	p := prove1M
	// One proof checked by sumdb/tlog before the clock starts.
	c, _, err := ledger.OpenCheckpoint(func() []byte { cp, _ := p.log.Checkpoint(); return cp }(), p.v)
	if err != nil {
		b.Fatal(err)
	}
	idx := p.size / 3
	pr, err := p.log.ProveInclusion(idx)
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := p.log.Leaf(idx)
	if err != nil {
		b.Fatal(err)
	}
	if err := tlog.CheckRecord(pr.Path, c.Size, c.Root, idx, ledger.LeafHash(leaf)); err != nil {
		b.Fatalf("tlog.CheckRecord(proof of leaf %d) = %v", idx, err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for b.Loop() {
		if _, err := p.log.ProveInclusion(rng.Int64N(p.size)); err != nil {
			b.Fatal(err)
		}
	}
}
