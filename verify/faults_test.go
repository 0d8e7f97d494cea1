package verify_test

// Bad inputs of the offline verifier (reliability-anchors §5): malicious
// signed notes (row 25), oversized proofs and absurd tree sizes (row 26), a
// verifier whose clock is wrong (row 29) and a checkpoint of another ledger
// (row 32).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// TestVerifyHostileNotes (rows 25, 32): checkpoints with more than 100
// signature lines, control characters, megabyte lines, another ledger's
// origin or only unknown keys are refused by verify.Checkpoint with an
// error; unknown cosignature lines beside the log's signature are ignored.
func TestVerifyHostileNotes(t *testing.T) {
	key := newLogKey(t, "example.org/hostile-notes")
	other := newLogKey(t, "example.org/other-ledger")
	l := newTestLog(t, key, entries("a", 0, 5), nil)
	good := l.signed[5]
	body, logSig, _ := bytes.Cut(good, []byte("\n\n"))

	sign := func(k logKey, text string) []byte {
		b, err := note.Sign(&note.Note{Text: text}, k.signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	otherSigned := sign(other, strings.Replace(string(body), "example.org/hostile-notes", "example.org/other-ledger", 1)+"\n")
	_, otherSig, _ := bytes.Cut(otherSigned, []byte("\n\n"))

	if c, err := verify.Checkpoint(append(bytes.Clone(good), otherSig...), key.verifier); err != nil || c.Size != 5 {
		t.Errorf("Checkpoint(log signature + an unknown key's) = size %d, %v; want 5, nil", c.Size, err)
	}
	var many bytes.Buffer
	many.Write(good)
	for i := 0; i < 101; i++ {
		many.WriteString(strings.Replace(string(logSig), "example.org/hostile-notes", fmt.Sprintf("w%d.example.org", i), 1))
	}
	cases := []struct {
		name string
		note []byte
	}{
		{"another ledger's checkpoint", otherSigned},
		{"another ledger's body, this log's signature", sign(key, string(bytes.SplitAfter(otherSigned, []byte("\n\n"))[0][:len(body)+1]))},
		{"102 signature lines", many.Bytes()},
		{"1 MiB line", append([]byte(strings.Repeat("A", 1<<20)+"\n\n"), logSig...)},
		{"control character", bytes.Replace(good, []byte("hostile-notes\n"), []byte("hostile-\x07notes\n"), 1)},
		{"only another key's signature", append(append(bytes.Clone(body), "\n\n"...), otherSig...)},
		{"signature on a different size", append(bytes.Replace(bytes.Clone(body), []byte("\n5\n"), []byte("\n6\n"), 1), append([]byte("\n\n"), logSig...)...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verify.Checkpoint(tc.note, key.verifier)
			if err == nil {
				t.Fatalf("Checkpoint = size %d, nil; want an error", c.Size)
			}
			if len(err.Error()) > 2048 {
				t.Errorf("error is %d bytes long; it should not echo its input", len(err.Error()))
			}
		})
	}
}

// TestVerifyAbsurdSizes (row 26): an index at or past the tree size, a
// proof of 10^6 hashes, and a validly signed checkpoint claiming 2^63-1
// leaves with an inclusion proof of 63 hashes (the most any tree needs):
// each must be refused with an error, quickly, without a panic. The last
// hung in sumdb/tlog until ledger.MaxTreeSize; it runs in a child process,
// killed after a deadline, so a regression fails instead of hanging.
func TestVerifyAbsurdSizes(t *testing.T) {
	key := newLogKey(t, "example.org/absurd")
	l := newTestLog(t, key, entries("a", 0, 3), nil)
	leaf := l.leaves[1]
	huge := ledger.Checkpoint{Origin: key.verifier.Name(), Size: 1<<63 - 1}
	hugeSigned, err := ledger.SignCheckpoint(huge, key.signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Checkpoint(hugeSigned, key.verifier); !verify.IsMalformed(err) || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("Checkpoint(size 2^63-1) = %v, want a malformed checkpoint: size out of range", err)
	}
	path := make([]ledger.Hash, 63)
	for i := range path {
		path[i][0] = byte(i)
	}
	start := time.Now()
	cases := []struct {
		name  string
		proof []byte
	}{
		{"index past the size", (&ledger.InclusionProof{Index: 5, Path: path[:2], Checkpoint: l.signed[3]}).Marshal()},
		{"index equal to the size", (&ledger.InclusionProof{Index: 3, Path: path[:2], Checkpoint: l.signed[3]}).Marshal()},
		{"10^6 hashes", []byte("c2sp.org/tlog-proof@v1\nindex 1\n" + strings.Repeat("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 1_000_000) + "\n" + string(l.signed[3]))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verify.Inclusion(tc.proof, leaf, key.verifier)
			if err == nil {
				t.Fatalf("Inclusion = %+v, nil; want an error", c)
			}
			var ve *verify.Error
			if !verify.IsMalformed(err) && !errors.As(err, &ve) {
				t.Errorf("Inclusion = %v (%T), want a *ledger.ParseError or a *verify.Error", err, err)
			}
		})
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing the absurd proofs took %v", d)
	}

	// 63 hashes in a tree of 2^63-1 leaves: sumdb/tlog's maxpow2 loops
	// forever for sizes above 2^62 (1<<(l+1) overflows), so the check runs
	// in a child process that is killed after a deadline.
	proof := (&ledger.InclusionProof{Index: 1, Path: path, Checkpoint: hugeSigned}).Marshal()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "proof"), proof, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "leaf"), leaf, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestVerifyAbsurdSizes$")
	cmd.Env = append(os.Environ(), envAbsurdChild+"="+dir, "CUSTOS_TEST_VKEY="+key.vkey)
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		t.Errorf("verify.Inclusion did not return within 5 s for a signed checkpoint of size 2^63-1 (sumdb/tlog loops forever above 2^62; ledger.MaxTreeSize must refuse it)")
	case err != nil:
		t.Errorf("Inclusion(tree of 2^63-1) child: %v\n%s", err, out)
	case !strings.Contains(string(out), "refused"):
		t.Errorf("Inclusion(tree of 2^63-1) child: %s, want refused", out)
	}
}

const envAbsurdChild = "CUSTOS_ABSURD_CHILD"

func init() {
	dir := os.Getenv(envAbsurdChild)
	if dir == "" {
		return
	}
	proof, err1 := os.ReadFile(filepath.Join(dir, "proof"))
	leaf, err2 := os.ReadFile(filepath.Join(dir, "leaf"))
	v, err3 := note.NewVerifier(os.Getenv("CUSTOS_TEST_VKEY"))
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	if _, err := verify.Inclusion(proof, leaf, v); err != nil {
		fmt.Println("refused:", err)
		os.Exit(0)
	}
	fmt.Println("accepted")
	os.Exit(0)
}

// TestVerifierClock (row 29): the verifier's clock is used for nothing but
// refusing cosignatures dated more than MaxCosignatureSkew after it. A
// verifier a year ahead verifies the golden bundle as valid; one a year
// behind sees every cosignature from its future and reports the quorum
// not met (a quorum problem; ErrInvalid when a verdict that counted on
// the witnesses fails with it), never "valid".
func TestVerifierClock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		now   time.Time
		class error
	}{
		{"a year ahead", goldenNow().AddDate(1, 0, 0), nil},
		{"ten years ahead", goldenNow().AddDate(10, 0, 0), nil},
		{"a year behind", goldenNow().AddDate(-1, 0, 0), verify.ErrQuorum},
		{"the epoch", time.Unix(0, 0), verify.ErrQuorum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := goldenPolicy(t)
			p.Now = func() time.Time { return tc.now }
			r, err := verifyGolden(t, "valid.custos", verify.BundleOptions{Policy: p, Now: func() time.Time { return tc.now }})
			if tc.class == nil {
				if err != nil || !r.Valid {
					t.Fatalf("VerifyBundle(clock %v) = %v, want valid", tc.now, err)
				}
				return
			}
			// Other checks that count witnessed checkpoints (verdicts)
			// fail with it, so the class may be ErrInvalid; the quorum
			// problem must be there.
			if !(errors.Is(err, tc.class) || errors.Is(err, verify.ErrInvalid)) || r == nil || r.Valid {
				t.Fatalf("VerifyBundle(clock %v) = %v, want an error wrapping %v and an invalid report", tc.now, err, tc.class)
			}
			for _, p := range r.Problems {
				if p.Check == "quorum" && strings.Contains(p.String(), "quorum not met") {
					return
				}
			}
			t.Errorf("VerifyBundle(clock %v) problems %v, want a quorum problem", tc.now, r.Problems)
		})
	}
}
