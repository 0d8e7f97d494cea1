// Package badgerstore is custos's embedded ledger store on
// github.com/dgraph-io/badger/v4.
//
// Every Commit is one badger transaction with SyncWrites on, so a batch of
// leaves, its tree hashes and its checkpoint become durable together or not
// at all. badger's directory lock keeps a second process out (ErrInUse);
// checksums are verified on every table and block read, and on value-log
// reads. badger is not the integrity layer: package ledger re-checks what it
// reads (leaf hashes, the hash chain, the signed root).
//
// Keys:
//
//	"l" + uint64 index (big-endian)          -> encoded leaf
//	"h" + uint64 stored-hash index           -> 32-byte hash (tlog.StoredHashIndex)
//	"m/size"                                 -> uint64 number of leaves
//	"m/checkpoint"                           -> latest signed checkpoint
//	"m/indexed"                              -> uint64 number of leaves the index describes
//	"x/" + key                               -> derived index record (custody state)
package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
)

var (
	keySize       = []byte("m/size")
	keyCheckpoint = []byte("m/checkpoint")
	keyIndexed    = []byte("m/indexed")
)

// indexPrefix namespaces the derived index records.
const indexPrefix = "x/"

// Options configure Open.
type Options struct {
	// ReadOnly opens the store with a shared lock: any number of readers,
	// no writer.
	ReadOnly bool
	// Logger receives badger's warnings and errors, and what Open set
	// aside (preflight); nil discards them.
	Logger *log.Logger
	// MemTableSize is badger's memtable size: 0 means 64 MiB.
	MemTableSize int64
	// MinFree is the free space, in bytes, that writes keep on the file
	// system: a write that would leave less is refused with an error
	// wrapping ledger.ErrNoSpace, and nothing of it is stored. 0 means
	// twice MemTableSize plus 16 MiB (144 MiB by default); negative turns
	// the check off.
	//
	// badger writes its write-ahead log and its tables through shared
	// mmaps of sparse files; on a full file system the kernel answers a
	// write to such a page with SIGBUS, which ends the process instead of
	// returning an error. The reserve covers one memtable being written,
	// the table it is flushed to, and a small compaction. It is a margin,
	// not a guarantee: another process filling the disk, or a compaction
	// of very large levels, can still exhaust it.
	MinFree int64
}

// Store is a ledger.Store in a badger directory.
type Store struct {
	db      *badger.DB
	dir     string
	minFree int64
}

var _ ledger.Store = (*Store)(nil)

// Open opens (creating if needed, unless read-only) the badger directory
// dir. Another process holding it gives an error wrapping ledger.ErrInUse.
func Open(dir string, o Options) (s *Store, err error) {
	memTable := o.MemTableSize
	if memTable <= 0 {
		memTable = 64 << 20
	}
	minFree := o.MinFree
	if minFree == 0 {
		minFree = 2*memTable + 16<<20
	}
	opts := badger.DefaultOptions(dir).
		WithMemTableSize(memTable).
		WithSyncWrites(true).
		WithReadOnly(o.ReadOnly).
		// preflight has verified every table; badger checks each block
		// as it reads it.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true).
		WithLogger(quietLogger{o.Logger}).
		WithNumVersionsToKeep(1)
	if o.ReadOnly {
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
			if ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(ssts) == 0 {
				return nil, fmt.Errorf("no ledger store at %s: %w", dir, err)
			}
		}
	}
	var logf func(string, ...any)
	if o.Logger != nil {
		logf = func(f string, a ...any) { o.Logger.Printf("ledger store %s: "+f, append([]any{dir}, a...)...) }
	}
	if err := prepare(dir, o.ReadOnly, logf); err != nil {
		return nil, fmt.Errorf("opening ledger store %s: %w", dir, err)
	}
	// badger panics on some damaged directories (dgraph-io/badger#1797);
	// report them as errors. (preflight has opened every table already;
	// this recover catches what it does not foresee.)
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("opening ledger store %s: storage corrupt: %v", dir, r)
		}
	}()
	db, err := badger.Open(opts)
	// badger wraps ErrTruncateNeeded with %+v (y.Wrapf), which errors.Is
	// cannot see through: its text is matched as well.
	if o.ReadOnly && err != nil && (errors.Is(err, badger.ErrTruncateNeeded) || strings.Contains(err.Error(), badger.ErrTruncateNeeded.Error())) {
		// The last writer died mid-write (kill -9, power loss): the write-ahead
		// log ends in a torn record that was never acknowledged. Only a
		// read-write open drops it, which is what the next writer would do.
		db, err = badger.Open(opts.WithReadOnly(false))
	}
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%w: %s%s", ledger.ErrInUse, dir, lockHolder(dir))
		}
		return nil, fmt.Errorf("opening ledger store %s: %w", dir, err)
	}
	return &Store{db: db, dir: dir, minFree: minFree}, nil
}

// checkSpace refuses a write of about n bytes that would leave less than
// the reserve free (Options.MinFree). The bytes count twice: once in the
// write-ahead log, once in the table it is flushed to.
func (s *Store) checkSpace(n int64) error {
	if s.minFree < 0 {
		return nil
	}
	free, ok := freeBytes(s.dir)
	if !ok || free-2*n >= s.minFree {
		return nil
	}
	return fmt.Errorf("%w: the ledger store %s has %s free, and custos keeps %s free for the store's logs and tables (a write needs %s): free space, then retry",
		ledger.ErrNoSpace, s.dir, size(free), size(s.minFree), size(2*n))
}

// size formats n bytes for a person.
func size(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// lockHolder names the process that badger recorded in its lock file.
func lockHolder(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		return ""
	}
	pid := strings.TrimSpace(string(b))
	if pid == "" || len(pid) > 20 {
		return ""
	}
	return " (held by pid " + pid + ")"
}

func leafKey(n int64) []byte { return binary.BigEndian.AppendUint64([]byte{'l'}, uint64(n)) }
func hashKey(n int64) []byte { return binary.BigEndian.AppendUint64([]byte{'h'}, uint64(n)) }

// ReadHashes implements ledger.Store.
func (s *Store) ReadHashes(indexes []int64) ([]ledger.Hash, error) {
	out := make([]ledger.Hash, len(indexes))
	err := s.db.View(func(txn *badger.Txn) error {
		for i, n := range indexes {
			item, err := txn.Get(hashKey(n))
			if err != nil {
				return fmt.Errorf("stored hash %d: %w", n, err)
			}
			err = item.Value(func(v []byte) error {
				if len(v) != len(ledger.Hash{}) {
					return fmt.Errorf("stored hash %d is %d bytes", n, len(v))
				}
				copy(out[i][:], v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ReadLeaves implements ledger.Store.
func (s *Store) ReadLeaves(start int64, n int) ([][]byte, error) {
	out := make([][]byte, n)
	err := s.db.View(func(txn *badger.Txn) error {
		for i := range out {
			item, err := txn.Get(leafKey(start + int64(i)))
			if err != nil {
				return fmt.Errorf("leaf %d: %w", start+int64(i), err)
			}
			if out[i], err = item.ValueCopy(nil); err != nil {
				return fmt.Errorf("leaf %d: %w", start+int64(i), err)
			}
		}
		return nil
	})
	return out, err
}

// Head implements ledger.Store.
func (s *Store) Head() (size int64, checkpoint []byte, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		size, err = readCounter(txn, keySize)
		if err != nil {
			return err
		}
		item, err := txn.Get(keyCheckpoint)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		checkpoint, err = item.ValueCopy(nil)
		return err
	})
	return size, checkpoint, err
}

// readCounter reads a uint64 counter (size, indexed size); absent is 0.
func readCounter(txn *badger.Txn, key []byte) (int64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var size int64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 || binary.BigEndian.Uint64(v) >= 1<<63 {
			return fmt.Errorf("stored %s is malformed (%d bytes)", key, len(v))
		}
		size = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return size, err
}

// Commit implements ledger.Store: one synced badger transaction.
func (s *Store) Commit(b *ledger.Batch) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	have, err := readCounter(txn, keySize)
	if err != nil {
		return err
	}
	if have != b.Size {
		return fmt.Errorf("store holds %d leaves, commit expected %d", have, b.Size)
	}
	n := int64(len(b.Checkpoint)) + 64
	for _, l := range b.Leaves {
		n += int64(len(l)) + 16
	}
	n += int64(len(b.Hashes)) * 48
	n += recordsSize(b.Index)
	if err := s.checkSpace(n); err != nil {
		return err
	}
	for i, leaf := range b.Leaves {
		if err := txn.Set(leafKey(b.Size+int64(i)), leaf); err != nil {
			return err
		}
	}
	base := tlog.StoredHashCount(b.Size)
	for i, h := range b.Hashes {
		if err := txn.Set(hashKey(base+int64(i)), h[:]); err != nil {
			return err
		}
	}
	newSize := b.Size + int64(len(b.Leaves))
	if err := txn.Set(keySize, binary.BigEndian.AppendUint64(nil, uint64(newSize))); err != nil {
		return err
	}
	if err := txn.Set(keyCheckpoint, b.Checkpoint); err != nil {
		return err
	}
	if err := setIndex(txn, b.Index); err != nil {
		return err
	}
	if b.Indexed >= 0 {
		if err := txn.Set(keyIndexed, binary.BigEndian.AppendUint64(nil, uint64(b.Indexed))); err != nil {
			return err
		}
	}
	return txn.Commit()
}

// recordsSize is about what recs take in a write.
func recordsSize(recs []ledger.Record) int64 {
	var n int64
	for _, r := range recs {
		n += int64(len(indexPrefix)+len(r.Key)+len(r.Value)) + 16
	}
	return n
}

func setIndex(txn *badger.Txn, recs []ledger.Record) error {
	for _, r := range recs {
		k := append([]byte(indexPrefix), r.Key...)
		var err error
		if r.Value == nil {
			err = txn.Delete(k)
		} else {
			err = txn.Set(k, r.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadIndex implements ledger.Store.
func (s *Store) ReadIndex(key string) (value []byte, ok bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(append([]byte(indexPrefix), key...))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		value, err = item.ValueCopy(nil)
		ok = err == nil
		return err
	})
	return value, ok, err
}

// ScanIndex implements ledger.Store.
func (s *Store) ScanIndex(prefix string, fn func(key string, value []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		p := append([]byte(indexPrefix), prefix...)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(string(item.Key()[len(indexPrefix):]), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// IndexedSize implements ledger.Store.
func (s *Store) IndexedSize() (n int64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		n, err = readCounter(txn, keyIndexed)
		return err
	})
	return n, err
}

// WriteIndex implements ledger.Store.
func (s *Store) WriteIndex(from, to int64, recs []ledger.Record) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	have, err := readCounter(txn, keyIndexed)
	if err != nil {
		return err
	}
	if have != from {
		return fmt.Errorf("index covers %d leaves, write expected %d", have, from)
	}
	if err := s.checkSpace(recordsSize(recs) + 64); err != nil {
		return err
	}
	if err := setIndex(txn, recs); err != nil {
		return err
	}
	if err := txn.Set(keyIndexed, binary.BigEndian.AppendUint64(nil, uint64(to))); err != nil {
		return err
	}
	return txn.Commit()
}

// ResetIndex implements ledger.Store.
func (s *Store) ResetIndex() error {
	if err := s.checkSpace(1 << 20); err != nil {
		return err
	}
	if err := s.db.DropPrefix([]byte(indexPrefix)); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(keyIndexed, binary.BigEndian.AppendUint64(nil, 0))
	})
}

// Close implements ledger.Store.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying badger handle, for tests and benchmarks that
// compare with raw badger writes.
func (s *Store) DB() *badger.DB { return s.db }

// quietLogger forwards badger's warnings and errors and drops its chatter.
type quietLogger struct{ l *log.Logger }

func (q quietLogger) Errorf(f string, a ...any) {
	if q.l != nil {
		q.l.Printf("badger error: "+f, a...)
	}
}
func (q quietLogger) Warningf(f string, a ...any) {
	if q.l != nil {
		q.l.Printf("badger warning: "+f, a...)
	}
}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}
