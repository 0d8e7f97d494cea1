package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// TestLockInUse opens a ledger, then has a second process open it too: the
// second Open must fail with an error wrapping ErrInUse that says so, and
// the first process must go on appending as if nothing happened.
func TestLockInUse(t *testing.T) {
	if dir := os.Getenv(envLockChild); dir != "" {
		lockChild(dir)
		return
	}
	dir := filepath.Join(t.TempDir(), "store")
	skey, vkey := generateKey(t, "example.org/lock")
	keys := parseKeys(t, skey, vkey)
	l := ledgertest.Open(t, dir, keys)
	defer l.Close()
	ctx := context.Background()
	if _, _, err := l.Append(ctx, ledgertest.Entry(0)); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestLockInUse$")
	cmd.Env = append(os.Environ(), envLockChild+"="+dir, envSKey+"="+skey, envVKey+"="+vkey)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("second process: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	// The child prints "in-use <errors.Is(err, ErrInUse)>" then the error.
	first, msg, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if first != "in-use true" {
		t.Errorf("second process: %q, error %q; want an error wrapping ErrInUse", first, msg)
	}
	if !strings.Contains(msg, "in use") {
		t.Errorf("second process's Open error %q does not say \"in use\"", msg)
	}
	t.Logf("second process: %s", msg)
	if !strings.Contains(msg, dir) {
		t.Errorf("second process's Open error %q does not name the store %s", msg, dir)
	}

	for i := 1; i < 4; i++ {
		idx, _, err := l.Append(ctx, ledgertest.Entry(i))
		if err != nil {
			t.Fatalf("Append after a second process tried to open = %v", err)
		}
		if idx != int64(i) {
			t.Fatalf("Append #%d index = %d, want %d", i, idx, i)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st := reopenStore(t, dir)
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: l.CheckpointFile})
	if err != nil {
		t.Fatalf("Fsck = %v", err)
	}
	if rep.Size != 4 {
		t.Errorf("Fsck: store holds %d leaves, want 4", rep.Size)
	}
}

// lockChild tries to open the ledger in dir, which its parent holds, and
// reports the outcome on stdout.
func lockChild(dir string) {
	keys, err := envKeys()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock child:", err)
		os.Exit(3)
	}
	l, err := ledgertest.OpenErr(dir, keys)
	if err == nil {
		l.Close()
		fmt.Println("in-use false\nopened a ledger another process holds")
		os.Exit(0)
	}
	fmt.Printf("in-use %v\n%v\n", errors.Is(err, ledger.ErrInUse), err)
	os.Exit(0)
}
