package ledger

// A Store persists the log. It holds three things: the leaves, the RFC 6962
// stored hashes (golang.org/x/mod/sumdb/tlog's layout: StoredHashIndex), and
// the latest signed checkpoint. The log is the only writer; a store needs no
// locking of its own beyond making Commit atomic and durable, and keeping a
// second process out (ErrInUse).
//
// ledger/badgerstore is the embedded implementation; stores share one
// conformance suite (ledger/storetest).
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

	// Commit appends leaves at indexes size, size+1, ..., stores hashes at
	// stored-hash indexes tlog.StoredHashCount(size) onwards, and replaces
	// the checkpoint, all in one transaction that is durable when Commit
	// returns nil. It fails, changing nothing, if the store does not hold
	// exactly size leaves.
	Commit(size int64, leaves [][]byte, hashes []Hash, checkpoint []byte) error

	// Close releases the store. It is safe to call once.
	Close() error
}
