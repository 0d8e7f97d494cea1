package witness_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/verify"
	"github.com/custos-ledger/custos/verify/witness"
)

var password = []byte("witness password")

// logKey is a log's note key pair and its key line.
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

// testLog is a real ledger, badger in a temporary directory, and every
// checkpoint it signed.
type testLog struct {
	*ledger.Log
	key    logKey
	branch string
	signed [][]byte // signed[n]: the checkpoint at size n
}

func newTestLog(t testing.TB, key logKey, branch string) *testLog {
	t.Helper()
	st, err := badgerstore.Open(filepath.Join(t.TempDir(), "store"), badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A fixed clock makes leaves depend on their entries alone: two logs
	// fed the same entries hold the same leaves.
	clock := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	l, err := ledger.Open(st, ledger.Options{Verifier: key.verifier, Signer: key.signer, Now: clock})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cp, _ := l.Checkpoint()
	return &testLog{Log: l, key: key, branch: branch, signed: [][]byte{cp}}
}

// grow appends n entries, one at a time; entries before size common are
// the same in every branch.
func (l *testLog) grow(t testing.TB, n int, common int64) {
	t.Helper()
	for range n {
		i := int64(len(l.signed) - 1)
		branch := l.branch
		if i < common {
			branch = "common"
		}
		if _, _, err := l.Append(context.Background(), fmt.Appendf(nil, `{"branch":%q,"entry":%d}`, branch, i)); err != nil {
			t.Fatal(err)
		}
		cp, _ := l.Checkpoint()
		l.signed = append(l.signed, cp)
	}
}

// proof returns the consistency proof from old to the latest checkpoint.
func (l *testLog) proof(t testing.TB, old int64) []byte {
	t.Helper()
	p, err := l.ProveConsistency(old)
	if err != nil {
		t.Fatal(err)
	}
	return p.Marshal()
}

// newWitness creates and opens a witness that knows key.
func newWitness(t testing.TB, key logKey, name string) (*witness.Witness, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "witness")
	if _, err := witness.Init(dir, name, password); err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(dir, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.AddLog(key.vkey); err != nil {
		t.Fatal(err)
	}
	return w, dir
}

var now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// checkCosigned requires that cosigned is signed's note with the witness's
// cosignature added, verifiable with libraries we did not write: the log's
// signature, first, with golang.org/x/mod/sumdb/note, the witness's with
// transparency-dev/formats/note's cosignature/v1 verifier.
func checkCosigned(t testing.TB, cosigned, signed []byte, key logKey, w *witness.Witness) {
	t.Helper()
	if !bytes.HasPrefix(cosigned, signed) {
		t.Fatalf("cosigned note %q does not start with the log's note %q", cosigned, signed)
	}
	n, err := note.Open(cosigned, note.VerifierList(key.verifier))
	if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 {
		t.Fatalf("sumdb/note.Open(cosigned, log key) = %v; want the log's signature and one other", err)
	}
	cv, err := tnote.VKeyToCosignatureV1(w.VKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := tnote.NewVerifierForCosignatureV1(cv)
	if err != nil {
		t.Fatal(err)
	}
	n, err = note.Open(cosigned, note.VerifierList(v))
	if err != nil || len(n.Sigs) != 1 {
		t.Fatalf("note.Open(cosigned, cosignature/v1 verifier of %s) = %v", w.VKey(), err)
	}
	ts, err := tnote.CoSigV1Timestamp(n.Sigs[0])
	if d := time.Since(ts); err != nil || d < -time.Minute || d > time.Minute {
		t.Errorf("cosignature timestamp %v, %v; want about now", ts, err)
	}
}

// TestCosign follows a log as it grows: first sight from 0, then real
// consistency proofs, and the same checkpoint again.
func TestCosign(t *testing.T) {
	key := newLogKey(t, "example.org/witnessed")
	l := newTestLog(t, key, "main")
	w, dir := newWitness(t, key, "witness.example.org")
	policy, err := verify.NewPolicy(key.vkey, []string{w.VKey()}, 1)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(0)
	for _, grow := range []int{3, 1, 0, 5, 8, 0, 13} {
		l.grow(t, grow, 0)
		old := size
		size += int64(grow)
		out, err := w.Cosign(l.proof(t, old), now)
		if err != nil {
			t.Fatalf("Cosign(%d -> %d) = %v", old, size, err)
		}
		checkCosigned(t, out, l.signed[size], key, w)
		if _, cosigs, err := policy.CheckCheckpoint(out); err != nil || len(cosigs) != 1 {
			t.Errorf("Policy.CheckCheckpoint(cosigned at %d) = %v, %v; want one cosignature", size, cosigs, err)
		}
		// Cosigning the same checkpoint again is idempotent.
		again, err := w.Cosign(l.proof(t, size), now)
		if err != nil {
			t.Fatalf("Cosign(%d -> %d) again = %v", size, size, err)
		}
		checkCosigned(t, again, l.signed[size], key, w)
	}
	// The state is the last checkpoint with the log's signature and the
	// witness's, nothing else.
	entries, err := os.ReadDir(filepath.Join(dir, "state"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("state/ holds %v, %v; want one file", entries, err)
	}
	state, err := os.ReadFile(filepath.Join(dir, "state", entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	checkCosigned(t, state, l.signed[size], key, w)
}

// TestCosignKeepsOtherCosignatures: a checkpoint that arrives with other
// witnesses' cosignatures goes back with them, the log's line first.
func TestCosignKeepsOtherCosignatures(t *testing.T) {
	key := newLogKey(t, "example.org/others")
	l := newTestLog(t, key, "main")
	l.grow(t, 4, 0)
	first, _ := newWitness(t, key, "first.example.org")
	second, _ := newWitness(t, key, "second.example.org")
	p := l.proof(t, 0)
	out1, err := first.Cosign(p, now)
	if err != nil {
		t.Fatal(err)
	}
	text, _, _ := bytes.Cut(p, []byte("\n\n"))
	out2, err := second.Cosign(append(append(text, "\n\n"...), out1...), now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out2, out1) || bytes.Count(out2, []byte("\n— ")) != 3 {
		t.Errorf("second Cosign = %q, want the first's %q and one more line", out2, out1)
	}
	policy, err := verify.NewPolicy(key.vkey, []string{first.VKey(), second.VKey()}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := policy.CheckCheckpoint(out2); err != nil {
		t.Errorf("CheckCheckpoint(cosigned by both) = %v", err)
	}
}

func TestCosignRefusals(t *testing.T) {
	key := newLogKey(t, "example.org/refusals")
	l := newTestLog(t, key, "main")
	l.grow(t, 7, 0)
	w, _ := newWitness(t, key, "witness.example.org")

	// First sight must be from 0, with no hashes.
	var conflict *witness.ConflictError
	if _, err := w.Cosign(l.proof(t, 3), now); !errors.As(err, &conflict) || conflict.StateSize != 0 || conflict.Old != 3 {
		t.Errorf("first Cosign(from 3) = %v, want a ConflictError with state size 0", err)
	}
	withHash := (&ledger.ConsistencyProof{Old: 0, Path: []ledger.Hash{{1}}, Checkpoint: l.signed[7]}).Marshal()
	if _, err := w.Cosign(withHash, now); !errors.Is(err, witness.ErrBadProof) {
		t.Errorf("first Cosign(from 0 with a hash) = %v, want ErrBadProof", err)
	}
	if _, err := w.Cosign(l.proof(t, 0), now); err != nil {
		t.Fatalf("Cosign(0 -> 7) = %v", err)
	}
	l.grow(t, 5, 0)

	tests := []struct {
		name  string
		proof []byte
		check func(error) bool
		want  string
	}{
		{"wrong old size", l.proof(t, 3), func(err error) bool { return errors.As(err, &conflict) && conflict.StateSize == 7 && conflict.Old == 3 },
			"old size 3 is not the witness's latest size 7"},
		{"old size 0 again", l.proof(t, 0), func(err error) bool { return errors.As(err, &conflict) && conflict.StateSize == 7 }, "latest size 7"},
		{"rollback", (&ledger.ConsistencyProof{Old: 7, Checkpoint: l.signed[5]}).Marshal(), func(err error) bool { return errors.Is(err, witness.ErrRollback) },
			"checkpoint of size 5, but the witness cosigned size 7"},
		{"garbage hashes", garbageHashes(t, l.proof(t, 7)), func(err error) bool { return errors.Is(err, witness.ErrBadProof) }, "from size 7"},
		{"proof for another size", proofWithPathFrom(t, l, 7, 6), func(err error) bool { return errors.Is(err, witness.ErrBadProof) }, "does not verify"},
		{"hashes for the same size", (&ledger.ConsistencyProof{Old: 7, Path: []ledger.Hash{{1}}, Checkpoint: l.signed[7]}).Marshal(),
			func(err error) bool { return errors.Is(err, witness.ErrBadProof) }, "does not verify"},
		{"unparsable", []byte("old seven\n\n" + string(l.signed[12])), verify.IsMalformed, "malformed consistency proof"},
		{"not signed by the log", forged(t, l.signed[12]), func(err error) bool { var e *verify.Error; return errors.As(err, &e) }, "no signature by log key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.Cosign(tt.proof, now)
			if !tt.check(err) || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Errorf("Cosign = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	// None of them moved the state: the proof from 7 is accepted.
	out, err := w.Cosign(l.proof(t, 7), now)
	if err != nil {
		t.Fatalf("Cosign(7 -> 12) after the refusals = %v", err)
	}
	checkCosigned(t, out, l.signed[12], key, w)
}

// garbageHashes replaces every hash of a consistency proof.
func garbageHashes(t testing.TB, proofText []byte) []byte {
	p, err := ledger.ParseConsistencyProof(proofText)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Path {
		rand.Read(p.Path[i][:])
	}
	if len(p.Path) == 0 {
		t.Fatal("proof has no hashes")
	}
	return p.Marshal()
}

// proofWithPathFrom returns the request "old old" carrying the path of a
// proof from another size.
func proofWithPathFrom(t testing.TB, l *testLog, old, other int64) []byte {
	path, err := l.ProveConsistencyBetween(other, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := l.Checkpoint()
	return (&ledger.ConsistencyProof{Old: old, Path: path, Checkpoint: cp}).Marshal()
}

// forged returns the request from 7 for signed's body signed by another key
// of the same name.
func forged(t testing.TB, signed []byte) []byte {
	_, err := note.Open(signed, note.VerifierList())
	var u *note.UnverifiedNoteError
	if !errors.As(err, &u) {
		t.Fatal(err)
	}
	other := newLogKey(t, strings.SplitN(u.Note.Text, "\n", 2)[0])
	b, err := note.Sign(&note.Note{Text: u.Note.Text}, other.signer)
	if err != nil {
		t.Fatal(err)
	}
	return (&ledger.ConsistencyProof{Old: 7, Checkpoint: b}).Marshal()
}

func TestLogKeys(t *testing.T) {
	key := newLogKey(t, "example.org/keys")
	l := newTestLog(t, key, "main")
	l.grow(t, 2, 0)
	dir := filepath.Join(t.TempDir(), "w")
	if _, err := witness.Init(dir, "witness.example.org", password); err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(dir, password)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Cosign(l.proof(t, 0), now); !errors.Is(err, witness.ErrUnknownLog) || !strings.Contains(err.Error(), `"example.org/keys"`) {
		t.Errorf("Cosign(unknown origin) = %v, want ErrUnknownLog naming the origin", err)
	}
	if err := w.AddLog(key.vkey + "\n"); err != nil {
		t.Fatalf("AddLog = %v", err)
	}
	if err := w.AddLog(key.vkey); err != nil {
		t.Errorf("AddLog(same key again) = %v, want nil", err)
	}
	other := newLogKey(t, "example.org/keys")
	if err := w.AddLog(other.vkey); !errors.Is(err, witness.ErrLogKeyChanged) {
		t.Errorf("AddLog(another key for the origin) = %v, want ErrLogKeyChanged", err)
	}
	if err := w.AddLog("not a key"); !verify.IsMalformed(err) {
		t.Errorf("AddLog(malformed) = %v, want a *ledger.ParseError", err)
	}
	if _, err := w.Cosign(l.proof(t, 0), now); err != nil {
		t.Errorf("Cosign after AddLog = %v", err)
	}
}

// TestEquivocation: two ledgers under one log key share their first
// entries and then fork. The witness cosigns one; the other's checkpoint of
// the same size is refused, and both notes are kept.
func TestEquivocation(t *testing.T) {
	const common, size = 6, 11
	key := newLogKey(t, "example.org/forked")
	a, b := newTestLog(t, key, "a"), newTestLog(t, key, "b")
	a.grow(t, size, common)
	b.grow(t, size, common)
	body := func(signed []byte) []byte { return bytes.SplitN(signed, []byte("\n\n"), 2)[0] }
	if !bytes.Equal(body(a.signed[common]), body(b.signed[common])) || bytes.Equal(body(a.signed[size]), body(b.signed[size])) {
		t.Fatalf("the logs should agree at size %d and differ at %d", common, size)
	}
	w, dir := newWitness(t, key, "witness.example.org")
	if _, err := w.Cosign(a.proof(t, 0), now); err != nil {
		t.Fatal(err)
	}
	// B's proof from the common prefix is consistent in B, but the witness
	// has seen A at size 11.
	fork := (&ledger.ConsistencyProof{Old: size, Checkpoint: b.signed[size]}).Marshal()
	_, err := w.Cosign(fork, now)
	if !errors.Is(err, verify.ErrEquivocation) {
		t.Fatalf("Cosign(B's checkpoint %d after A's) = %v, want ErrEquivocation", size, err)
	}
	records, _ := filepath.Glob(filepath.Join(dir, "equivocation", "*.txt"))
	if len(records) != 1 || !strings.Contains(err.Error(), records[0]) {
		t.Fatalf("equivocation records %v; error %q; want one, named in the error", records, err)
	}
	if want := fmt.Sprintf("%d-", now.Unix()); !strings.HasPrefix(filepath.Base(records[0]), want) {
		t.Errorf("record %s, want its name to start with %s", records[0], want)
	}
	rec, err := os.ReadFile(records[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rec, a.signed[size]) || !bytes.Contains(rec, b.signed[size]) {
		t.Errorf("record %q does not hold both checkpoints", rec)
	}
	// A second refusal in the same second keeps the first record.
	if _, err := w.Cosign(fork, now); !errors.Is(err, verify.ErrEquivocation) {
		t.Fatalf("Cosign(B's checkpoint) again = %v", err)
	}
	if records, _ := filepath.Glob(filepath.Join(dir, "equivocation", "*.txt")); len(records) != 2 {
		t.Errorf("after two refusals: records %v, want two", records)
	}
	// B as it grows further is not consistent with A's state either.
	b.grow(t, 3, common)
	if _, err := w.Cosign(b.proof(t, size), now); !errors.Is(err, witness.ErrBadProof) {
		t.Errorf("Cosign(B %d -> %d) = %v, want ErrBadProof", size, size+3, err)
	}
	// A goes on being cosigned.
	a.grow(t, 2, common)
	if _, err := w.Cosign(a.proof(t, size), now); err != nil {
		t.Errorf("Cosign(A %d -> %d) = %v", size, size+2, err)
	}
}

// TestReopen: the state survives Close and Open; one process at a time.
func TestReopen(t *testing.T) {
	key := newLogKey(t, "example.org/reopen")
	l := newTestLog(t, key, "main")
	l.grow(t, 5, 0)
	dir := filepath.Join(t.TempDir(), "w")
	vkey, err := witness.Init(dir, "witness.example.org", password)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(vkey, "witness.example.org+") {
		t.Errorf("Init = %q, want a note key named witness.example.org", vkey)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "witness.vkey")); err != nil || string(b) != vkey+"\n" {
		t.Errorf("witness.vkey = %q, %v; want %q", b, err, vkey+"\n")
	}
	if st, err := os.Stat(filepath.Join(dir, "witness.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("witness.key: %v, %v; want mode 0600", st, err)
	}
	if _, err := witness.Init(dir, "witness.example.org", password); err == nil {
		t.Errorf("Init(existing dir) = nil error")
	}
	if _, err := witness.Open(dir, []byte("wrong")); !errors.Is(err, custody.ErrWrongPassword) {
		t.Errorf("Open(wrong password) = %v, want custody.ErrWrongPassword", err)
	}
	w, err := witness.Open(dir, password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := witness.Open(dir, password); !errors.Is(err, witness.ErrInUse) || !strings.Contains(err.Error(), "witness state in use") {
		t.Errorf("second Open = %v, want ErrInUse", err)
	}
	if err := w.AddLog(key.vkey); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(l.proof(t, 0), now); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	w, err = witness.Open(dir, password)
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	defer w.Close()
	l.grow(t, 4, 0)
	var conflict *witness.ConflictError
	if _, err := w.Cosign(l.proof(t, 0), now); !errors.As(err, &conflict) || conflict.StateSize != 5 {
		t.Errorf("Cosign(from 0) after reopening = %v, want a ConflictError with state size 5", err)
	}
	out, err := w.Cosign(l.proof(t, 5), now)
	if err != nil {
		t.Fatalf("Cosign(5 -> 9) after reopening = %v", err)
	}
	checkCosigned(t, out, l.signed[9], key, w)
}

// TestConcurrentCosign: requests racing on one witness all see a
// consistent state (run with -race).
func TestConcurrentCosign(t *testing.T) {
	key := newLogKey(t, "example.org/concurrent")
	l := newTestLog(t, key, "main")
	l.grow(t, 6, 0)
	w, _ := newWitness(t, key, "witness.example.org")
	if _, err := w.Cosign(l.proof(t, 0), now); err != nil {
		t.Fatal(err)
	}
	l.grow(t, 3, 0)
	fromOld, same := l.proof(t, 6), l.proof(t, 9)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			// Whichever request runs first moves the state to 9; after it
			// only the proof from 9 fits.
			_, errs[i] = w.Cosign(fromOld, now)
			if errs[i] != nil {
				_, errs[i] = w.Cosign(same, now)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: Cosign = %v", i, err)
		}
	}
}
