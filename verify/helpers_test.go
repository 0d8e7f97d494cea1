package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
)

// logKey is a log's note key pair and its published key line.
type logKey struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

func newLogKey(t testing.TB, origin string) logKey {
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
	return logKey{s, v, vkey}
}

// testLog is a real ledger (badger in a temporary directory) and what it
// handed out while it grew.
type testLog struct {
	*ledger.Log
	key    logKey
	leaves [][]byte // leaves[i] is leaf i's encoding
	signed [][]byte // signed[n] is the checkpoint the log signed at size n
}

// newTestLog opens a ledger with key and appends entries one at a time, so
// that it signs a checkpoint at every size. Its clock is fixed. after, if not nil, runs after
// each append.
func newTestLog(t testing.TB, key logKey, entries [][]byte, after func(l *testLog)) *testLog {
	t.Helper()
	st, err := badgerstore.Open(filepath.Join(t.TempDir(), "store"), badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A fixed clock makes leaves depend on their entries alone, so that two
	// logs fed the same entries hold the same leaves.
	clock := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	log, err := ledger.Open(st, ledger.Options{Verifier: key.verifier, Signer: key.signer, Now: clock})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	l := &testLog{Log: log, key: key}
	cp, _ := log.Checkpoint()
	l.signed = append(l.signed, cp)
	for i, e := range entries {
		n, _, err := log.Append(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(i) {
			t.Fatalf("Append(entry %d) index = %d, want %d", i, n, i)
		}
		leaf, err := log.Leaf(n)
		if err != nil {
			t.Fatal(err)
		}
		l.leaves = append(l.leaves, leaf)
		cp, size := log.Checkpoint()
		if size != n+1 {
			t.Fatalf("after Append(entry %d): checkpoint size = %d, want %d", i, size, n+1)
		}
		l.signed = append(l.signed, cp)
		if after != nil {
			after(l)
		}
	}
	return l
}

// entries returns n distinct entries tagged with branch.
func entries(branch string, from, n int) [][]byte {
	var es [][]byte
	for i := from; i < from+n; i++ {
		es = append(es, fmt.Appendf(nil, `{"branch":%q,"entry":%d}`, branch, i))
	}
	return es
}

func (l *testLog) inclusion(t testing.TB, i int64) *ledger.InclusionProof {
	t.Helper()
	p, err := l.ProveInclusion(i)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (l *testLog) consistency(t testing.TB, old int64) *ledger.ConsistencyProof {
	t.Helper()
	p, err := l.ProveConsistency(old)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flipBit returns a copy of b with bit i (counting from the first byte's
// lowest bit) flipped.
func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i/8] ^= 1 << (i % 8)
	return c
}

// splitNote splits a signed note into its text and its signature lines.
func splitNote(t testing.TB, signed []byte) (text, sigs []byte) {
	t.Helper()
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		t.Fatalf("not a signed note: %q", signed)
	}
	return signed[:i+1], signed[i+2:]
}

// withBody returns signed with its text replaced by c's. With s nil the
// original signature lines are kept (and no longer match); otherwise the
// note is signed again by s.
func withBody(t testing.TB, signed []byte, c ledger.Checkpoint, s note.Signer) []byte {
	t.Helper()
	if s != nil {
		b, err := ledger.SignCheckpoint(c, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	_, sigs := splitNote(t, signed)
	return append(append(c.Marshal(), '\n'), sigs...)
}

// body parses the text of signed without checking its signatures.
func body(t testing.TB, signed []byte) ledger.Checkpoint {
	t.Helper()
	text, _ := splitNote(t, signed)
	c, err := ledger.ParseCheckpoint(text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signatureBits returns, for a note with one signature line, the number of
// bits in the decoded signature (key hash and Ed25519 signature) and a
// function rebuilding the note with bit i of it flipped.
func signatureBits(t testing.TB, signed []byte) (int, func(i int) []byte) {
	t.Helper()
	text, sigs := splitNote(t, signed)
	line := string(bytes.TrimSuffix(sigs, []byte("\n")))
	var name, b64 string
	if _, err := fmt.Sscanf(line, "— %s %s", &name, &b64); err != nil {
		t.Fatalf("signature line %q: %v", line, err)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return len(raw) * 8, func(i int) []byte {
		sig := base64.StdEncoding.EncodeToString(flipBit(raw, i))
		return fmt.Appendf(bytes.Clone(text), "\n— %s %s\n", name, sig)
	}
}

// toBytes converts hashes for github.com/transparency-dev/merkle.
func toBytes(hs []ledger.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
