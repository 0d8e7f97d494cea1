package ledger_test

// Bad inputs and faults of the ledger package (reliability-anchors §5):
// a clock that goes backwards (row 29), malicious signed notes (row 25),
// oversized proofs (row 26), and a read-only open of a store a kill left
// behind (rows 19 and 22: verify works read-only).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// TestClockBackwards (row 29): the sequencer's clock jumps a year ahead,
// then two years back, and the ledger is reopened with a clock behind its
// last leaf. Integration times never go backwards (a leaf sequenced while
// the clock is behind takes the previous leaf's time), every append
// succeeds, and Fsck passes.
func TestClockBackwards(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/clock")
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var now time.Time
	clock := func() time.Time { return now }
	open := func() *ledger.Log {
		st, err := badgerstore.Open(dir, badgerstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := ledger.Open(st, ledger.Options{Verifier: keys.Verifier, Signer: keys.Signer, CheckpointFile: dir + ".checkpoint", Now: clock})
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		return l
	}
	steps := []struct {
		clock  time.Time
		reopen bool
		want   time.Time // the leaf's integration time
	}{
		{base, false, base},
		{base.Add(time.Second), false, base.Add(time.Second)},
		{base.AddDate(1, 0, 0), false, base.AddDate(1, 0, 0)},     // a year ahead
		{base.AddDate(-1, 0, 0), false, base.AddDate(1, 0, 0)},    // two years back: held
		{base.Add(2 * time.Second), false, base.AddDate(1, 0, 0)}, // still behind
		{base.AddDate(-5, 0, 0), true, base.AddDate(1, 0, 0)},     // reopened behind the last leaf
		{base.AddDate(1, 0, 0).Add(time.Nanosecond), false, base.AddDate(1, 0, 0).Add(time.Nanosecond)},
		{time.Unix(0, 0), true, base.AddDate(1, 0, 0).Add(time.Nanosecond)}, // the epoch
	}
	now = base
	l := open()
	for i, s := range steps {
		if s.reopen {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			now = s.clock
			l = open()
		}
		now = s.clock
		idx, _, err := l.Append(context.Background(), ledgertest.Entry(i))
		if err != nil || idx != int64(i) {
			t.Fatalf("step %d (clock %v): Append = %d, %v; want %d, nil", i, s.clock, idx, err, i)
		}
		b, err := l.Leaf(idx)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := ledger.ParseLeaf(b)
		if err != nil {
			t.Fatal(err)
		}
		if !leaf.Time.Equal(s.want) {
			t.Errorf("step %d (clock %v): leaf %d time = %v, want %v", i, s.clock, idx, leaf.Time, s.want)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := badgerstore.Open(dir, badgerstore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: dir + ".checkpoint"})
	if err != nil || rep.Size != int64(len(steps)) {
		t.Fatalf("Fsck = %v, %d leaves; want nil, %d", err, rep.Size, len(steps))
	}
	var last time.Time
	for i := range rep.Size {
		b, err := st.ReadLeaves(i, 1)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := ledger.ParseLeaf(b[0])
		if leaf.Time.Before(last) {
			t.Errorf("leaf %d time %v is before leaf %d's %v", i, leaf.Time, i-1, last)
		}
		last = leaf.Time
	}
}

// signedCheckpoint returns a checkpoint of size n signed by keys.
func signedCheckpoint(t *testing.T, keys ledgertest.Keys, n int64) []byte {
	t.Helper()
	var root ledger.Hash
	root[0] = byte(n)
	b, err := ledger.SignCheckpoint(ledger.Checkpoint{Origin: keys.Verifier.Name(), Size: n, Root: root}, keys.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otherSigLine returns a signature line by a fresh key named name.
func otherSigLine(t *testing.T, name string, text []byte) string {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		t.Fatal(err)
	}
	_, sig, _ := bytes.Cut(signed, []byte("\n\n"))
	return string(sig)
}

// TestMaliciousCheckpoint (row 25): signed notes with too many signature
// lines, control characters, invalid UTF-8, megabyte lines, a body that is
// not a canonical checkpoint, and signature lines by unknown keys. Each
// malformed note is refused with an error (a *ledger.ParseError where the
// size cap or the body is at fault) and no panic; unknown keys are ignored
// and kept as unverified signatures.
func TestMaliciousCheckpoint(t *testing.T) {
	keys := ledgertest.NewKeys(t, "example.org/notes")
	good := signedCheckpoint(t, keys, 7)
	body, logSig, _ := bytes.Cut(good, []byte("\n\n"))
	body = append(body, '\n')

	// A note with an unknown key's signature is valid; the signature is
	// kept, unverified (C2SP tlog-checkpoint: clients ignore unknown keys).
	withUnknown := append(bytes.Clone(good), otherSigLine(t, "witness.example.org", body)...)
	c, n, err := ledger.OpenCheckpoint(withUnknown, keys.Verifier)
	if err != nil || c.Size != 7 || len(n.UnverifiedSigs) != 1 {
		t.Errorf("OpenCheckpoint(log signature + unknown key) = size %d, %v; want size 7, one unverified signature", c.Size, err)
	}

	var many bytes.Buffer
	many.Write(good)
	for many.Len() < ledger.MaxCheckpointSize-200 && strings.Count(many.String(), "\n— ") <= 100 {
		many.WriteString(strings.Replace(string(logSig), keys.Verifier.Name(), fmt.Sprintf("w%d.example.org", strings.Count(many.String(), "\n— ")), 1))
	}
	cases := []struct {
		name    string
		note    []byte
		isParse bool // a *ledger.ParseError
	}{
		{"101 signature lines", many.Bytes(), false},
		{"1 MiB line", append([]byte(strings.Repeat("A", 1<<20)+"\n\n"), logSig...), true},
		{"1 MiB signature line", append(bytes.Clone(good), "— x "+strings.Repeat("A", 1<<20)+"\n"...), true},
		{"control character in body", bytes.Replace(good, []byte("example.org/notes\n"), []byte("example.org/no\x1btes\n"), 1), false},
		{"NUL in body", bytes.Replace(good, []byte("\n7\n"), []byte("\n7\x00\n"), 1), false},
		{"invalid UTF-8 in body", bytes.Replace(good, []byte("example.org/notes\n"), []byte("example.org/\xff\xfe\n"), 1), false},
		{"invalid UTF-8 in signature", append(bytes.Clone(good), "— \xff\xfe AAAA\n"...), false},
		{"carriage returns", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), false},
		{"no signature", body, false},
		{"only an unknown key", append(bytes.Clone(body), "\n"+otherSigLine(t, "witness.example.org", body)...), false},
		{"empty", nil, false},
		{"signature lines only", logSig, false},
		{"size 2^64-1", reSign(t, keys, "example.org/notes\n18446744073709551615\n"+rootB64(7)+"\n"), true},
		{"size -1", reSign(t, keys, "example.org/notes\n-1\n"+rootB64(7)+"\n"), true},
		{"size with leading zero", reSign(t, keys, "example.org/notes\n07\n"+rootB64(7)+"\n"), true},
		{"extension line", reSign(t, keys, "example.org/notes\n7\n"+rootB64(7)+"\nextra\n"), true},
		{"root of 31 bytes", reSign(t, keys, "example.org/notes\n7\n"+base64.StdEncoding.EncodeToString(make([]byte, 31))+"\n"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := ledger.OpenCheckpoint(tc.note, keys.Verifier)
			if err == nil {
				t.Fatalf("OpenCheckpoint = size %d, nil; want an error", c.Size)
			}
			var pe *ledger.ParseError
			if tc.isParse && !errors.As(err, &pe) {
				t.Errorf("OpenCheckpoint = %v (%T), want a *ledger.ParseError", err, err)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("OpenCheckpoint error is %d bytes long; an error should not echo its input", len(err.Error()))
			}
		})
	}
}

func rootB64(b byte) string {
	var h ledger.Hash
	h[0] = b
	return base64.StdEncoding.EncodeToString(h[:])
}

// reSign signs text, which need not be a valid checkpoint, with the log key.
func reSign(t *testing.T, keys ledgertest.Keys, text string) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: text}, keys.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOversizedProofs (row 26): proofs with more hash lines than any tree
// of fewer than 2^63 leaves needs, a megabyte of hashes, and indexes or
// sizes beyond int64 are refused by the parsers with a *ledger.ParseError,
// before any hash is used.
func TestOversizedProofs(t *testing.T) {
	keys := ledgertest.NewKeys(t, "example.org/proofs")
	cp := signedCheckpoint(t, keys, 7)
	hashes := func(n int) string { return strings.Repeat(rootB64(1)+"\n", n) }
	inclusion := []struct {
		name string
		text string
	}{
		{"64 hashes", "c2sp.org/tlog-proof@v1\nindex 3\n" + hashes(64) + "\n" + string(cp)},
		{"10^6 hashes", "c2sp.org/tlog-proof@v1\nindex 3\n" + hashes(1_000_000) + "\n" + string(cp)},
		{"index 2^64-1", "c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n" + hashes(3) + "\n" + string(cp)},
		{"index 2^63", "c2sp.org/tlog-proof@v1\nindex 9223372036854775808\n" + hashes(3) + "\n" + string(cp)},
		{"index -1", "c2sp.org/tlog-proof@v1\nindex -1\n" + hashes(3) + "\n" + string(cp)},
		{"index +3", "c2sp.org/tlog-proof@v1\nindex +3\n" + hashes(3) + "\n" + string(cp)},
		{"1 MiB extra line", "c2sp.org/tlog-proof@v1\nextra " + strings.Repeat("A", 1<<20) + "\nindex 3\n" + hashes(3) + "\n" + string(cp)},
		{"1 MiB checkpoint", "c2sp.org/tlog-proof@v1\nindex 3\n" + hashes(3) + "\n" + strings.Repeat("A", 1<<20)},
	}
	for _, tc := range inclusion {
		t.Run("inclusion/"+tc.name, func(t *testing.T) {
			p, err := ledger.ParseInclusionProof([]byte(tc.text))
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseInclusionProof = %+v, %v; want a *ledger.ParseError", p, err)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("error is %d bytes long; it should not echo its input", len(err.Error()))
			}
		})
	}
	consistency := []struct {
		name string
		text string
	}{
		{"64 hashes", "old 3\n" + hashes(64) + "\n" + string(cp)},
		{"10^6 hashes", "old 3\n" + hashes(1_000_000) + "\n" + string(cp)},
		{"old 2^64-1", "old 18446744073709551615\n" + hashes(3) + "\n" + string(cp)},
		{"old 2^63", "old 9223372036854775808\n" + hashes(3) + "\n" + string(cp)},
		{"old -1", "old -1\n" + hashes(3) + "\n" + string(cp)},
	}
	for _, tc := range consistency {
		t.Run("consistency/"+tc.name, func(t *testing.T) {
			p, err := ledger.ParseConsistencyProof([]byte(tc.text))
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseConsistencyProof = %+v, %v; want a *ledger.ParseError", p, err)
			}
		})
	}
	// The largest proof that parses: 63 hashes.
	if _, err := ledger.ParseInclusionProof([]byte("c2sp.org/tlog-proof@v1\nindex 3\n" + hashes(63) + "\n" + string(cp))); err != nil {
		t.Errorf("ParseInclusionProof(63 hashes) = %v, want nil", err)
	}
}

// TestReadOnlyOpenAfterKill (rows 19, 22): `custos fsck`, `verify` and the
// queries open the store read-only. After a writer was killed, the store's
// write-ahead log ends before its preallocated size, which badger refuses
// to open read-only (ErrTruncateNeeded); badgerstore.Open then retries
// read-write, as the next writer would. The store must open and pass Fsck
// with every leaf.
func TestReadOnlyOpenAfterKill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/ro-after-kill")
	l := ledgertest.Open(t, dir, keys)
	for i := range 10 {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A copy taken between commits is what a kill leaves: no Close.
	killed := filepath.Join(t.TempDir(), "store")
	copyDir(t, dir, killed)
	cp, _ := l.Checkpoint()
	if err := os.WriteFile(killed+".checkpoint", cp, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := badgerstore.Open(killed, badgerstore.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open(read-only, after a kill) = %v", err)
	}
	defer st.Close()
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: killed + ".checkpoint"})
	if err != nil || rep.Size != 10 {
		t.Errorf("Fsck(read-only, after a kill) = %v, %d leaves; want nil, 10", err, rep.Size)
	}
}

// copyDir copies the files of src to dst up to their first hole (badger
// preallocates its log files sparsely), keeping each file's size.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		f, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		end, err := f.Seek(0, 4) // SEEK_HOLE
		if err != nil {
			end = st.Size()
		}
		b := make([]byte, end)
		f.ReadAt(b, 0)
		f.Close()
		b = bytes.TrimRight(b, "\x00")
		dstPath := filepath.Join(dst, e.Name())
		if err := os.WriteFile(dstPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(dstPath, st.Size()); err != nil {
			t.Fatal(err)
		}
	}
}
