// Package custodyindex joins the custody rules to the ledger: its Indexer
// runs custody.Apply on every entry before it is appended, and the custody
// records go into the same transaction. The CLI, the server and the mirror
// all open ledgers with it: one code path for the rules.
package custodyindex

import (
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

// Indexer is the custody ledger.Indexer.
type Indexer struct{}

// Admit applies the entry to the custody state, refusing it with the
// custody rule's error, and returns the records it changes.
func (Indexer) Admit(v ledger.IndexView, leaf *ledger.Leaf, h ledger.Hash) ([]ledger.Record, error) {
	recs, _, err := custody.Apply(v, custody.Entry{Index: leaf.Index, LeafHash: h, Time: leaf.Time, Envelope: leaf.Entry})
	if err != nil {
		return nil, err
	}
	out := make([]ledger.Record, len(recs))
	for i, r := range recs {
		out[i] = ledger.Record{Key: r.Key, Value: r.Value}
	}
	return out, nil
}
