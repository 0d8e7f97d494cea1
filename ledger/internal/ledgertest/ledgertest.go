// Package ledgertest builds real ledgers for tests: a badger directory in
// t.TempDir(), a fresh Ed25519 note key, and entries of a given size.
package ledgertest

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
)

// Keys is a log key pair in sumdb/note form.
type Keys struct {
	Signer   note.Signer
	Verifier note.Verifier
	VKey     string // the verifier key string, name+hash+base64
}

// NewKeys generates a log key for origin.
func NewKeys(t testing.TB, origin string) Keys {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return Keys{Signer: s, Verifier: v, VKey: vkey}
}

// Ledger is an open test ledger and where it lives.
type Ledger struct {
	*ledger.Log
	Dir            string // badger directory
	CheckpointFile string
	Keys           Keys
}

// Open opens (creating) the ledger in dir with keys; the checkpoint file
// is dir + ".checkpoint".
func Open(t testing.TB, dir string, keys Keys) *Ledger {
	t.Helper()
	l, err := OpenErr(dir, keys)
	if err != nil {
		t.Fatalf("opening ledger %s: %v", dir, err)
	}
	return l
}

// OpenErr is Open returning the error.
func OpenErr(dir string, keys Keys) (*Ledger, error) {
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		return nil, err
	}
	cpf := dir + ".checkpoint"
	log, err := ledger.Open(st, ledger.Options{Verifier: keys.Verifier, Signer: keys.Signer, CheckpointFile: cpf})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Ledger{Log: log, Dir: dir, CheckpointFile: cpf, Keys: keys}, nil
}

// New creates a ledger in a fresh temporary directory, closed at cleanup.
func New(t testing.TB) *Ledger {
	t.Helper()
	l := Open(t, filepath.Join(t.TempDir(), "store"), NewKeys(t, "example.org/test-ledger"))
	t.Cleanup(func() { l.Close() })
	return l
}

// Entry returns a distinct entry for index i.
func Entry(i int) []byte { return []byte(fmt.Sprintf(`{"test-entry":%d}`, i)) }
