package ledger_test

import (
	"testing"

	"github.com/custos-ledger/custos/ledger/badgerstore"
)

func reopenStore(t *testing.T, dir string) *badgerstore.Store {
	t.Helper()
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
