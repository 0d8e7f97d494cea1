package ledger

import (
	"fmt"
)

// An Indexer derives records from entries as they are appended (custos's
// custody state) and may refuse an entry. The log calls it in leaf order,
// inside the sequencer, and stores its records in the same transaction as
// the leaves, so the index always describes exactly the stored leaves. The
// index is derived: Store.ResetIndex and a new Open rebuild it from the
// leaves.
type Indexer interface {
	// Admit checks leaf (whose leaf hash is h) against the records in
	// view and returns the records it sets. An error refuses the entry;
	// the log returns it to the submitter, unchanged.
	Admit(view IndexView, leaf *Leaf, h Hash) ([]Record, error)
}

// An IndexView reads index records.
type IndexView interface {
	Get(key string) (value []byte, ok bool, err error)
}

// overlay is an IndexView over the store with the records of the batch
// being built laid on top.
type overlay struct {
	store Store
	recs  map[string][]byte // nil value: deleted
	order []string          // keys in first-set order, for a deterministic commit
}

func newOverlay(s Store) *overlay { return &overlay{store: s, recs: map[string][]byte{}} }

func (o *overlay) Get(key string) ([]byte, bool, error) {
	if v, ok := o.recs[key]; ok {
		return v, v != nil, nil
	}
	return o.store.ReadIndex(key)
}

func (o *overlay) set(recs []Record) {
	for _, r := range recs {
		if _, ok := o.recs[r.Key]; !ok {
			o.order = append(o.order, r.Key)
		}
		o.recs[r.Key] = r.Value
	}
}

func (o *overlay) records() []Record {
	out := make([]Record, len(o.order))
	for i, k := range o.order {
		out[i] = Record{Key: k, Value: o.recs[k]}
	}
	return out
}

// indexChunk is how many leaves an index rebuild reads per transaction.
const indexChunk = 1024

// catchUpIndex replays the leaves the index does not yet describe through
// the indexer. A leaf the indexer refuses stops the rebuild: stored history
// that breaks the custody rules is an integrity failure, named by index.
func (l *Log) catchUpIndex() error {
	from, err := l.store.IndexedSize()
	if err != nil {
		return err
	}
	if from > l.size {
		return &IntegrityError{Index: -1, Msg: fmt.Sprintf("index describes %d leaves, store holds %d", from, l.size)}
	}
	if from < l.size && l.opts.Signer == nil {
		return &IntegrityError{Index: from, Msg: fmt.Sprintf("the custody index covers %d of %d leaves; open the ledger for writing (or run reindex) to rebuild it", from, l.size)}
	}
	for from < l.size {
		n := int(min(indexChunk, l.size-from))
		leaves, err := l.store.ReadLeaves(from, n)
		if err != nil {
			return err
		}
		ov := newOverlay(l.store)
		for i, b := range leaves {
			leaf, err := ParseLeaf(b)
			if err != nil {
				return &IntegrityError{Index: from + int64(i), Msg: err.Error(), Err: err}
			}
			recs, err := l.opts.Indexer.Admit(ov, leaf, LeafHash(b))
			if err != nil {
				return &IntegrityError{Index: leaf.Index, Msg: "rebuilding the index: stored entry refused: " + err.Error(), Err: err}
			}
			ov.set(recs)
		}
		if err := l.store.WriteIndex(from, from+int64(n), ov.records()); err != nil {
			return err
		}
		from += int64(n)
	}
	return nil
}

// An IndexReader reads committed index records, for queries.
type IndexReader interface {
	IndexView
	// Scan calls fn for each record whose key starts with prefix, in key
	// order, until fn returns an error.
	Scan(prefix string, fn func(key string, value []byte) error) error
}

type storeIndex struct{ s Store }

func (x storeIndex) Get(key string) ([]byte, bool, error) { return x.s.ReadIndex(key) }
func (x storeIndex) Scan(prefix string, fn func(string, []byte) error) error {
	return x.s.ScanIndex(prefix, fn)
}

// Index returns a reader of the committed index records.
func (l *Log) Index() IndexReader { return storeIndex{l.store} }
