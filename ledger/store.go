package ledger

// A Store persists the log. It holds the leaves, the RFC 6962 stored hashes
// (golang.org/x/mod/sumdb/tlog's layout: StoredHashIndex), the latest signed
// checkpoint, and the derived index an Indexer keeps (custody state). The
// log is the only writer; a store needs no locking of its own beyond making
// Commit and WriteIndex atomic and durable, and keeping a second process out
// (ErrInUse).
//
// ledger/badgerstore is the embedded implementation.
type Store interface {
	// ReadHashes returns the stored hashes at the given stored-hash
	// indexes, in order. It is tlog.HashReader.
	ReadHashes(indexes []int64) ([]Hash, error)

	// ReadLeaves returns the encoded leaves start, start+1, ...,
	// start+n-1, all of which must exist.
	ReadLeaves(start int64, n int) ([][]byte, error)

	// Head returns the number of committed leaves and the signed
	// checkpoint committed with them (nil for a new store).
	Head() (size int64, checkpoint []byte, err error)

	// Commit appends a batch in one transaction that is durable when
	// Commit returns nil. It fails, changing nothing, if the store does
	// not hold exactly b.Size leaves.
	Commit(b *Batch) error

	// ReadIndex returns the index record at key.
	ReadIndex(key string) (value []byte, ok bool, err error)

	// ScanIndex calls fn for each index record whose key starts with
	// prefix, in key order, until fn returns an error.
	ScanIndex(prefix string, fn func(key string, value []byte) error) error

	// IndexedSize returns how many leaves the index records describe.
	IndexedSize() (int64, error)

	// WriteIndex sets records and moves the indexed size from `from` to
	// `to` in one durable transaction; it fails, changing nothing, if the
	// indexed size is not `from`.
	WriteIndex(from, to int64, records []Record) error

	// ResetIndex deletes every index record and sets the indexed size to
	// zero, so that the next Open with an Indexer rebuilds the index.
	ResetIndex() error

	// Close releases the store. It is safe to call once.
	Close() error
}

// A Batch is what one Commit writes.
type Batch struct {
	Size       int64    // leaves in the store before the batch
	Leaves     [][]byte // stored at indexes Size, Size+1, ...
	Hashes     []Hash   // stored from stored-hash index tlog.StoredHashCount(Size) on
	Checkpoint []byte   // replaces the stored checkpoint
	Index      []Record // index records the batch sets
	Indexed    int64    // the indexed size after the batch, or -1 to leave it
}

// A Record is one derived index record. A nil Value deletes the key.
type Record struct {
	Key   string
	Value []byte
}
