package ledger_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
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
)

// crashWriters is how many goroutines of a child append concurrently, so
// that kills land inside multi-leaf group commits.
const crashWriters = 4

// TestCrashKill kills a process appending to a ledger with SIGKILL at a
// random moment, again and again on the same directory, and checks after
// each kill that every append the child saw acknowledged survived with the
// leaf hash it was given, and that the store passes Fsck (no half-written
// batch, hash chain and tree intact, checkpoint file not ahead of the
// store). Some kills land while the child is still opening the ledger
// (badger's replay and log file creation, the first checkpoint of a new
// store).
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
	dir := filepath.Join(t.TempDir(), "store")
	skey, vkey := generateKey(t, "example.org/crash")
	keys := parseKeys(t, skey, vkey)

	start := time.Now()
	var duringOpen, beforeAck, acked int
	var lastSize int64
	initialised := false // a child committed the first checkpoint
	for round := range rounds {
		// One round in four kills the child as soon as it says it is
		// opening the ledger, the others after 20-250 ms of appends.
		mode := "delay"
		if round%4 == 1 {
			mode = "open"
		}
		r := crashRound(t, dir, skey, vkey, mode)
		switch {
		case !r.opened:
			duringOpen++
		case len(r.acks) == 0:
			beforeAck++
		default:
			acked++
		}

		st, err := badgerstore.Open(dir, badgerstore.Options{})
		if err != nil {
			t.Fatalf("round %d (%s): reopening store after kill: %v", round, r, err)
		}
		if !initialised {
			// Killed before its first checkpoint was committed, the
			// store must still be empty: the next child initialises it.
			size, cp, err := st.Head()
			if err != nil {
				t.Fatalf("round %d (%s): Head() = %v", round, r, err)
			}
			if cp == nil {
				if size != 0 {
					t.Fatalf("round %d (%s): store holds %d leaves and no checkpoint", round, r, size)
				}
				st.Close()
				continue
			}
			initialised = true
		}
		rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: dir + ".checkpoint"})
		if err != nil {
			st.Close()
			t.Fatalf("round %d (%s): Fsck after kill = %v (report %+v)", round, r, err, rep)
		}
		if rep.Size < lastSize {
			t.Errorf("round %d (%s): store holds %d leaves, fewer than the %d after the previous round", round, r, rep.Size, lastSize)
		}
		lastSize = rep.Size
		for idx, h := range r.acks {
			if idx >= rep.Size {
				t.Errorf("round %d (%s): leaf %d was acknowledged but the store holds %d leaves", round, r, idx, rep.Size)
				continue
			}
			leaves, err := st.ReadLeaves(idx, 1)
			if err != nil {
				t.Errorf("round %d: reading acknowledged leaf %d: %v", round, idx, err)
				continue
			}
			if got := ledger.LeafHash(leaves[0]); got != h {
				t.Errorf("round %d: LeafHash(leaf %d) = %s, acknowledged %s", round, idx, got, h)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	// The log itself opens what the kills left, and appends to it.
	l, err := ledgertest.OpenErr(dir, keys)
	if err != nil {
		t.Fatalf("Open after %d kills = %v", rounds, err)
	}
	idx, _, err := l.Append(context.Background(), ledgertest.Entry(-1))
	if err != nil {
		t.Fatalf("Append after %d kills = %v", rounds, err)
	}
	if idx != lastSize {
		t.Errorf("Append after %d kills = index %d, want %d", rounds, idx, lastSize)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds in %v: %d killed while opening, %d before the first ack, %d after acks; %d leaves",
		rounds, time.Since(start).Round(time.Millisecond), duringOpen, beforeAck, acked, lastSize+1)
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

// crashRound runs one child on dir and kills it: in mode "open" right after
// it announces that it is opening the ledger, in mode "delay" 20-250 ms
// after it starts.
func crashRound(t *testing.T, dir, skey, vkey, mode string) crashResult {
	t.Helper()
	r := crashResult{mode: mode, acks: make(map[int64]ledger.Hash)}
	if mode == "open" {
		r.delay = time.Duration(mrand.Int64N(int64(3 * time.Millisecond)))
	} else {
		r.delay = 20*time.Millisecond + time.Duration(mrand.Int64N(int64(230*time.Millisecond)))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+dir, envSKey+"="+skey, envVKey+"="+vkey)
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
	if mode == "delay" {
		timer = time.AfterFunc(r.delay, kill)
	}
	var bad []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch f := strings.Fields(line); {
		case line == "opening":
			if mode == "open" {
				timer = time.AfterFunc(r.delay, kill)
			}
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
// from crashWriters goroutines until it is killed, printing one line per
// acknowledged append. It never returns.
func crashChild(dir string) {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	keys, err := envKeys()
	if err != nil {
		die(err)
	}
	// os.Stdout is unbuffered: every Fprintf below is one write(2) of a
	// whole line, which a pipe delivers without interleaving.
	fmt.Fprintln(os.Stdout, "opening")
	l, err := ledgertest.OpenErr(dir, keys)
	if err != nil {
		die(err)
	}
	fmt.Fprintln(os.Stdout, "opened")
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
