package ledger_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// Environment of a re-executed test binary (a child). The key travels as
// sumdb/note key strings so that parent and child sign with the same key.
const (
	envCrashChild = "CUSTOS_CRASH_CHILD" // ledger directory of a TestCrashKill child
	envLockChild  = "CUSTOS_LOCK_CHILD"  // ledger directory of a TestLockInUse child
	envSKey       = "CUSTOS_TEST_SKEY"
	envVKey       = "CUSTOS_TEST_VKEY"
	envRounds     = "CUSTOS_CRASH_ROUNDS"
	envEnvelopes  = "CUSTOS_CRASH_ENVELOPES" // custody events a TestCrashKill child appends in order
)

// crashWriters is how many goroutines of a child append concurrently, so
// that kills land inside multi-leaf group commits.
const crashWriters = 4

// TestCrashKill kills a process appending to a ledger with SIGKILL at a
// random moment, again and again, and checks after each kill that every
// append the child saw acknowledged survived with the leaf hash it was
// given, and that the store passes Fsck (no half-written batch, hash chain
// and tree intact, checkpoint file not ahead of the store). Some kills land
// while the child is still opening the ledger (badger's replay and log file
// creation, the first checkpoint of a new store).
//
// Rounds alternate between two ledgers. On the first the child appends raw
// entries from several goroutines, so kills land inside multi-leaf group
// commits. The second runs the custody indexer, as `custos` does, and the
// child appends custody events (enrolments, then acquire, release and
// accept, hand-over after hand-over); after each kill Fsck replays every
// leaf through the custody rules and requires the custody index the store
// holds to equal the one rebuilt from the leaves, record for record.
func TestCrashKill(t *testing.T) {
	if dir := os.Getenv(envCrashChild); dir != "" {
		crashChild(dir)
		return
	}
	rounds := 50
	if testing.Short() {
		rounds = 10
	}
	if s := os.Getenv(envRounds); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q, want a positive number", envRounds, s)
		}
		rounds = n
	}
	skey, vkey := generateKey(t, "example.org/crash")
	keys := parseKeys(t, skey, vkey)
	root := t.TempDir()
	ledgers := []*crashLedger{
		{name: "raw", dir: filepath.Join(root, "raw", "store")},
		{name: "custody", dir: filepath.Join(root, "custody", "store"), envelopes: filepath.Join(root, "custody-events")},
	}
	chain := newCustodyChain(t)

	start := time.Now()
	for _, cl := range ledgers {
		cl.lastRound = rounds / 2
	}
	for round := range rounds {
		cl := ledgers[round%2]
		if cl.envelopes != "" {
			// The next events from the store's size on: more than a
			// child appends in 250 ms (one that runs out waits for its
			// kill).
			chain.writeFrom(t, cl.envelopes, cl.lastSize, crashEventsPerRound)
		}
		// One round in four (per ledger) kills the child as soon as it
		// says it is opening the ledger, the others after 20-250 ms of
		// appends.
		mode := "delay"
		if round%8 >= 6 {
			mode = "open"
		}
		r := crashRound(t, cl, skey, vkey, mode)
		cl.tally(r)
		cl.check(t, round, r, keys)
		if t.Failed() {
			t.FailNow()
		}
	}

	// The log itself opens what the kills left, and appends to it.
	l, err := ledgertest.OpenErr(ledgers[0].dir, keys)
	if err != nil {
		t.Fatalf("Open after %d kills = %v", rounds, err)
	}
	idx, _, err := l.Append(context.Background(), ledgertest.Entry(-1))
	if err != nil {
		t.Fatalf("Append after %d kills = %v", rounds, err)
	}
	if idx != ledgers[0].lastSize {
		t.Errorf("Append after %d kills = index %d, want %d", rounds, idx, ledgers[0].lastSize)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, cl := range ledgers {
		t.Logf("%s: %d rounds: %d killed while opening, %d before the first ack, %d after acks; %d leaves, %d acknowledged, 0 lost",
			cl.name, cl.rounds, cl.duringOpen, cl.beforeAck, cl.acked, cl.lastSize, cl.totalAcks)
	}
	t.Logf("%d rounds in %v", rounds, time.Since(start).Round(time.Millisecond))
}

// A crashLedger is one ledger of TestCrashKill and what the kills did to it.
type crashLedger struct {
	name      string
	dir       string
	envelopes string // custody events file; empty for raw entries

	initialised bool  // a child committed the first checkpoint
	lastSize    int64 // leaves after the previous round
	totalAcks   int

	rounds, duringOpen, beforeAck, acked int
	lastRound                            int // the number of the ledger's last round

	replayed *custody.MemView // custody state rebuilt from leaves 0..lastSize-1
}

// tally counts round r by where the kill landed.
func (cl *crashLedger) tally(r crashResult) {
	cl.rounds++
	switch {
	case !r.opened:
		cl.duringOpen++
	case len(r.acks) == 0:
		cl.beforeAck++
	default:
		cl.acked++
	}
}

// compareIndex rebuilds the custody state from the leaves the store gained
// since the last round (custody.Apply, as the indexer does) and requires
// every index record the store holds to equal the rebuilt state's.
func (cl *crashLedger) compareIndex(t *testing.T, st *badgerstore.Store, size int64, where string) {
	t.Helper()
	if cl.replayed == nil {
		cl.replayed = custody.NewMemView()
	}
	if n, err := st.IndexedSize(); err != nil || n != size {
		t.Errorf("%s: custody index covers %d leaves (%v), store holds %d", where, n, err, size)
	}
	for i := cl.lastSize; i < size; i++ {
		b, err := st.ReadLeaves(i, 1)
		if err != nil {
			t.Fatalf("%s: leaf %d: %v", where, i, err)
		}
		leaf, err := ledger.ParseLeaf(b[0])
		if err != nil {
			t.Fatalf("%s: leaf %d: %v", where, i, err)
		}
		recs, _, err := custody.Apply(cl.replayed, custody.Entry{Index: i, LeafHash: ledger.LeafHash(b[0]), Time: leaf.Time, Envelope: leaf.Entry})
		if err != nil {
			t.Fatalf("%s: replaying leaf %d: %v", where, i, err)
		}
		cl.replayed.Set(recs)
	}
	stored := map[string]string{}
	if err := st.ScanIndex("", func(k string, v []byte) error { stored[k] = string(v); return nil }); err != nil {
		t.Fatalf("%s: reading the custody index: %v", where, err)
	}
	n := 0
	cl.replayed.Scan("", func(k string, v []byte) error {
		n++
		if got, ok := stored[k]; !ok || got != string(v) {
			t.Errorf("%s: index record %q is %q in the store, %q rebuilt from the leaves", where, k, got, v)
		}
		return nil
	})
	if n != len(stored) {
		t.Errorf("%s: store holds %d index records, the leaves give %d", where, len(stored), n)
	}
}

// check reopens the store after a kill and checks it: Fsck passes (with
// the custody rules replayed and the index compared, for the custody
// ledger), the store did not shrink, and every acknowledged leaf is there.
func (cl *crashLedger) check(t *testing.T, round int, r crashResult, keys ledgertest.Keys) {
	t.Helper()
	st, err := badgerstore.Open(cl.dir, badgerstore.Options{})
	if err != nil {
		t.Fatalf("round %d, %s (%s): reopening store after kill: %v", round, cl.name, r, err)
	}
	defer st.Close()
	if !cl.initialised {
		// Killed before its first checkpoint was committed, the store
		// must still be empty: the next child initialises it.
		size, cp, err := st.Head()
		if err != nil {
			t.Fatalf("round %d, %s (%s): Head() = %v", round, cl.name, r, err)
		}
		if cp == nil {
			if size != 0 {
				t.Fatalf("round %d, %s (%s): store holds %d leaves and no checkpoint", round, cl.name, r, size)
			}
			return
		}
		cl.initialised = true
	}
	opts := ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: cl.dir + ".checkpoint"}
	// Fsck with the custody indexer replays every rule and signature
	// from leaf 0, which grows with the ledger: it runs every tenth
	// round and at the end; the rounds between replay the new leaves
	// only (below).
	full := cl.envelopes != "" && (cl.rounds%10 == 0 || cl.rounds == cl.lastRound)
	if full {
		opts.Indexer = custodyIndexer{}
	}
	rep, err := ledger.Fsck(st, opts)
	if err != nil {
		t.Fatalf("round %d, %s (%s): Fsck after kill = %v (report %+v)", round, cl.name, r, err, rep)
	}
	if full && rep.Size > 0 && (!rep.IndexCompared || rep.EntriesAdmitted != rep.Size) {
		t.Errorf("round %d, %s (%s): Fsck admitted %d of %d leaves, index compared %v; want all, true",
			round, cl.name, r, rep.EntriesAdmitted, rep.Size, rep.IndexCompared)
	}
	if cl.envelopes != "" {
		cl.compareIndex(t, st, rep.Size, fmt.Sprintf("round %d, %s (%s)", round, cl.name, r))
	}
	if rep.Size < cl.lastSize {
		t.Errorf("round %d, %s (%s): store holds %d leaves, fewer than the %d after the previous round", round, cl.name, r, rep.Size, cl.lastSize)
	}
	cl.lastSize = rep.Size
	cl.totalAcks += len(r.acks)
	for idx, h := range r.acks {
		if idx >= rep.Size {
			t.Errorf("round %d, %s (%s): leaf %d was acknowledged but the store holds %d leaves", round, cl.name, r, idx, rep.Size)
			continue
		}
		leaves, err := st.ReadLeaves(idx, 1)
		if err != nil {
			t.Errorf("round %d, %s: reading acknowledged leaf %d: %v", round, cl.name, idx, err)
			continue
		}
		if got := ledger.LeafHash(leaves[0]); got != h {
			t.Errorf("round %d, %s: LeafHash(leaf %d) = %s, acknowledged %s", round, cl.name, idx, got, h)
		}
	}
}

// custodyIndexer is cmd/custos's: custody.Apply as the ledger's Indexer.
type custodyIndexer struct{}

func (custodyIndexer) Admit(v ledger.IndexView, leaf *ledger.Leaf, h ledger.Hash) ([]ledger.Record, error) {
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

// crashTime is the custody ledger's clock: fixed, so that leaf i's bytes,
// and so the leaf hashes later events name, are known in advance.
var crashTime = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

// crashEventsPerRound is how many custody events a child is given.
const crashEventsPerRound = 600

// A custodyChain signs the custody events of a new ledger in order, leaf 0
// first: the admin's enrolment, two parties', then for exhibit after
// exhibit an acquisition by the first party and two round trips of release
// and accept between the two. Each release and accept names the leaf it
// follows by index and leaf hash, computed here as the ledger will store it
// (leaf time crashTime), so a child that appends them in order from any
// size on gets every one admitted.
type custodyChain struct {
	keys   map[string]*custody.PrivateKey
	view   *custody.MemView
	events [][]byte
	prev   ledger.Hash
	next   int // the next exhibit
}

func newCustodyChain(t *testing.T) *custodyChain {
	t.Helper()
	pw := []byte("crash-test")
	key := func() *custody.PrivateKey {
		priv, _, err := custody.GenerateKey(custody.KeyEd25519, pw)
		if err != nil {
			t.Fatal(err)
		}
		k, err := custody.ParsePrivateKey(priv, pw)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	c := &custodyChain{keys: map[string]*custody.PrivateKey{"admin": key(), "lab-a": key(), "lab-b": key()}, view: custody.NewMemView()}
	c.enroll(t, "admin", []string{custody.RoleAdmin}, "admin")
	c.enroll(t, "lab-a", []string{custody.RoleCollector, custody.RoleCustodian}, "lab-a", "admin")
	c.enroll(t, "lab-b", []string{custody.RoleCollector, custody.RoleCustodian}, "lab-b", "admin")
	return c
}

// add signs one event and applies it to the chain's custody state as the
// ledger will, as leaf len(c.events).
func (c *custodyChain) add(t *testing.T, predType string, subject custody.Subject, pred any, signers ...string) {
	t.Helper()
	stmt, err := custody.NewStatement(predType, subject, pred)
	if err != nil {
		t.Fatal(err)
	}
	var ks []*custody.PrivateKey
	for _, s := range signers {
		ks = append(ks, c.keys[s])
	}
	env, err := custody.SignStatementMulti(stmt, ks...)
	if err != nil {
		t.Fatal(err)
	}
	idx := int64(len(c.events))
	leaf := &ledger.Leaf{Index: idx, Prev: c.prev, Time: crashTime, Entry: env}
	h := ledger.LeafHash(leaf.Marshal())
	recs, _, err := custody.Apply(c.view, custody.Entry{Index: idx, LeafHash: h, Time: crashTime, Envelope: env})
	if err != nil {
		t.Fatalf("custody event %d refused: %v", idx, err)
	}
	c.view.Set(recs)
	c.events = append(c.events, env)
	c.prev = h
}

func (c *custodyChain) enroll(t *testing.T, name string, roles []string, signers ...string) {
	pub := c.keys[name].Public()
	c.add(t, custody.PredicateEnroll, custody.PartySubject(name, pub), custody.Enroll{
		Party: name, Org: "Crash " + name, Roles: roles,
		Key: custody.KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}}, signers...)
}

// exhibit adds the nine events of one more exhibit.
func (c *custodyChain) exhibit(t *testing.T) {
	id := fmt.Sprintf("CRASH-%05d", c.next)
	c.next++
	sum := sha256.Sum256([]byte(id))
	subject := custody.Subject{Name: id, Digest: map[string]string{"sha256": fmt.Sprintf("%x", sum)}}
	c.add(t, custody.PredicateAcquire, subject, custody.Acquire{Exhibit: id, Size: int64(len(id)), Source: "crash test", Method: "sha256 of its id"}, "lab-a")
	from, to := "lab-a", "lab-b"
	for range 4 {
		rec, err := custody.Exhibit(c.view, id)
		if err != nil {
			t.Fatal(err)
		}
		c.add(t, custody.PredicateRelease, subject, custody.Release{Exhibit: id, To: to, Reason: "round trip", Prev: rec.Last}, from)
		if rec, err = custody.Exhibit(c.view, id); err != nil || rec.OpenRelease == nil {
			t.Fatalf("exhibit %s after release: %+v, %v", id, rec, err)
		}
		c.add(t, custody.PredicateAccept, subject, custody.Accept{Exhibit: id, Prev: rec.OpenRelease.Ref}, to)
		from, to = to, from
	}
}

// writeFrom writes events start to start+n (signing more as needed) to
// path: a line "start N", then one base64 envelope per line.
func (c *custodyChain) writeFrom(t *testing.T, path string, start int64, n int) {
	t.Helper()
	for int64(len(c.events)) < start+int64(n) {
		c.exhibit(t)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "start %d\n", start)
	for _, e := range c.events[start : start+int64(n)] {
		b.WriteString(base64.StdEncoding.EncodeToString(e))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A crashResult is what the parent learnt from one killed child.
type crashResult struct {
	mode   string
	delay  time.Duration
	opened bool
	acks   map[int64]ledger.Hash
}

func (r crashResult) String() string {
	return fmt.Sprintf("kill %s after %v, opened %v, %d acks", r.mode, r.delay, r.opened, len(r.acks))
}

// crashRound runs one child on cl and kills it after it announces that it
// is opening the ledger: in mode "open" within 3 ms, in mode "delay" after
// 20-250 ms.
func crashRound(t *testing.T, cl *crashLedger, skey, vkey, mode string) crashResult {
	t.Helper()
	r := crashResult{mode: mode, acks: make(map[int64]ledger.Hash)}
	if mode == "open" {
		r.delay = time.Duration(mrand.Int64N(int64(3 * time.Millisecond)))
	} else {
		r.delay = 20*time.Millisecond + time.Duration(mrand.Int64N(int64(230*time.Millisecond)))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+cl.dir, envSKey+"="+skey, envVKey+"="+vkey, envEnvelopes+"="+cl.envelopes)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { cmd.Process.Signal(syscall.SIGKILL) }) }
	var timer *time.Timer
	var bad []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch f := strings.Fields(line); {
		case line == "opening":
			timer = time.AfterFunc(r.delay, kill)
		case line == "opened":
			r.opened = true
		case len(f) == 3 && f[0] == "ack":
			idx, err1 := strconv.ParseInt(f[1], 10, 64)
			h, err2 := tlog.ParseHash(f[2])
			if err1 != nil || err2 != nil {
				bad = append(bad, line)
				continue
			}
			if _, dup := r.acks[idx]; dup {
				t.Errorf("child acknowledged index %d twice", idx)
			}
			r.acks[idx] = h
		default:
			bad = append(bad, line)
		}
	}
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child (%s) ended by itself: %v\nstdout (unparsed): %q\nstderr:\n%s", r, err, bad, stderr.String())
	}
	if len(bad) > 0 {
		t.Fatalf("child (%s) printed unexpected lines %q\nstderr:\n%s", r, bad, stderr.String())
	}
	return r
}

// crashChild is the killed process: it opens the ledger in dir and appends
// until it is killed, printing one line per acknowledged append. Raw
// entries come from crashWriters goroutines; custody events (when
// CUSTOS_CRASH_ENVELOPES names a file) are appended in order from the
// store's size on, through the custody indexer, by one goroutine, since
// each names the leaf before it. It never returns.
func crashChild(dir string) {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	keys, err := envKeys()
	if err != nil {
		die(err)
	}
	var events [][]byte // events[i] is leaf start+i
	var start int64
	if path := os.Getenv(envEnvelopes); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			die(err)
		}
		lines := strings.Fields(string(b))
		if len(lines) < 2 || lines[0] != "start" {
			die(fmt.Errorf("%s: no start line", path))
		}
		if start, err = strconv.ParseInt(lines[1], 10, 64); err != nil {
			die(err)
		}
		for _, line := range lines[2:] {
			e, err := base64.StdEncoding.DecodeString(line)
			if err != nil {
				die(err)
			}
			events = append(events, e)
		}
	}
	// os.Stdout is unbuffered: every Fprintf below is one write(2) of a
	// whole line, which a pipe delivers without interleaving.
	fmt.Fprintln(os.Stdout, "opening")
	var l *ledger.Log
	if events == nil {
		tl, err := ledgertest.OpenErr(dir, keys)
		if err != nil {
			die(err)
		}
		l = tl.Log
	} else {
		st, err := badgerstore.Open(dir, badgerstore.Options{})
		if err != nil {
			die(err)
		}
		l, err = ledger.Open(st, ledger.Options{Verifier: keys.Verifier, Signer: keys.Signer, CheckpointFile: dir + ".checkpoint",
			Indexer: custodyIndexer{}, Now: func() time.Time { return crashTime }})
		if err != nil {
			die(err)
		}
	}
	fmt.Fprintln(os.Stdout, "opened")
	if events != nil {
		if l.Size() != start {
			die(fmt.Errorf("store holds %d leaves, events start at %d", l.Size(), start))
		}
		for i := start; i < start+int64(len(events)); i++ {
			idx, h, err := l.Append(context.Background(), events[i-start])
			if err != nil {
				die(fmt.Errorf("append of custody event %d: %w", i, err))
			}
			if idx != i {
				die(fmt.Errorf("custody event %d appended at %d", i, idx))
			}
			fmt.Fprintf(os.Stdout, "ack %d %s\n", idx, h)
		}
		select {} // out of events: wait for the kill
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	for w := range crashWriters {
		go func() {
			for i := 0; ; i++ {
				// Entries of varied sizes, up to a few KiB.
				entry := fmt.Appendf(nil, `{"child":"%x","writer":%d,"n":%d,"pad":"%s"}`,
					nonce, w, i, strings.Repeat("x", mrand.IntN(4096)))
				idx, h, err := l.Append(context.Background(), entry)
				if err != nil {
					die(fmt.Errorf("append: %w", err))
				}
				fmt.Fprintf(os.Stdout, "ack %d %s\n", idx, h)
			}
		}()
	}
	select {}
}

func generateKey(t *testing.T, origin string) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

func parseKeys(t *testing.T, skey, vkey string) ledgertest.Keys {
	t.Helper()
	k, err := keysFrom(skey, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// envKeys reads the key a parent passed to its child.
func envKeys() (ledgertest.Keys, error) {
	return keysFrom(os.Getenv(envSKey), os.Getenv(envVKey))
}

func keysFrom(skey, vkey string) (ledgertest.Keys, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return ledgertest.Keys{}, fmt.Errorf("signer key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return ledgertest.Keys{}, fmt.Errorf("verifier key: %w", err)
	}
	return ledgertest.Keys{Signer: s, Verifier: v, VKey: vkey}, nil
}

// TestKilledInsideFirstOpen builds the state a kill leaves when it lands
// inside the Open that initialises a ledger, between the writes of the
// first checkpoint (size 0) to its two places: the checkpoint file is
// written first, then the store. The next Open must accept it: nothing was
// ever acknowledged, so nothing can have been rolled back. (Written the
// other way round, the kill left a checkpointed store without its file,
// which no Open accepted.)
func TestKilledInsideFirstOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/crash-init")
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	empty := ledger.Checkpoint{Origin: keys.Verifier.Name(), Size: 0, Root: tlog.Hash(sha256.Sum256(nil))}
	cp, err := ledger.SignCheckpoint(empty, keys.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.WriteFileAtomic(dir+".checkpoint", cp, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := ledgertest.OpenErr(dir, keys)
	if err != nil {
		t.Fatalf("Open(empty store, size-0 checkpoint file) = %v", err)
	}
	if _, _, err := l.Append(context.Background(), ledgertest.Entry(0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWipedStoreRefused: an empty store beside a checkpoint file that was
// published at a larger size is a rollback, not a new ledger to initialise
// (which would overwrite the file and erase the evidence).
func TestWipedStoreRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/wiped")
	l := ledgertest.Open(t, dir, keys)
	for i := range 3 {
		if _, _, err := l.Append(context.Background(), ledgertest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	_, err := ledgertest.OpenErr(dir, keys)
	if !errors.Is(err, ledger.ErrRollback) {
		t.Fatalf("Open(wiped store) = %v, want ErrRollback", err)
	}
	b, rerr := os.ReadFile(dir + ".checkpoint")
	if rerr != nil {
		t.Fatal(rerr)
	}
	if c, _, err := ledger.OpenCheckpoint(b, keys.Verifier); err != nil || c.Size != 3 {
		t.Errorf("checkpoint file after refused Open: size %d, %v; want size 3 kept", c.Size, err)
	}
}

// TestKilledWhileBadgerCreatesLogFile builds the state a kill leaves when
// it lands inside badger between creating a memtable or value log file and
// sizing it: an empty file, which badger v4 refuses to open
// (dgraph-io/badger#2207). The store must open anyway, with everything it
// held.
func TestKilledWhileBadgerCreatesLogFile(t *testing.T) {
	for _, name := range []string{"00009.mem", "000009.vlog"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			keys := ledgertest.NewKeys(t, "example.org/crash-badger")
			l := ledgertest.Open(t, dir, keys)
			if _, _, err := l.Append(context.Background(), ledgertest.Entry(0)); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := ledgertest.OpenErr(dir, keys)
			if err != nil {
				t.Fatalf("Open(store with an empty %s) = %v", name, err)
			}
			if idx, _, err := l.Append(context.Background(), ledgertest.Entry(1)); err != nil || idx != 1 {
				t.Errorf("Append after reopening = %d, %v; want 1, nil", idx, err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
