package verify_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// outcome classifies a verification result: "ok", "malformed" for a
// *ledger.ParseError, the Check of a *verify.Error, or "unclassified".
func outcome(err error) string {
	var e *verify.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &e):
		return e.Check
	case verify.IsMalformed(err):
		return "malformed"
	}
	return "unclassified: " + err.Error()
}

// consistencyText returns the proof text from old to l's latest size; from
// size 0, which the log does not prove, it is the empty proof.
func consistencyText(t testing.TB, l *testLog, old int64) []byte {
	t.Helper()
	if old == 0 {
		cp, _ := l.Checkpoint()
		return (&ledger.ConsistencyProof{Old: 0, Checkpoint: cp}).Marshal()
	}
	return l.consistency(t, old).Marshal()
}

// TestInterop proves every inclusion and consistency proof the ledger hands
// out at every size, with this package and with
// github.com/transparency-dev/merkle, and opens every checkpoint with
// golang.org/x/mod/sumdb/note from the key line alone.
func TestInterop(t *testing.T) {
	key := newLogKey(t, "example.org/interop")
	v, err := verify.ParseLogKey("  " + key.vkey + "\n")
	if err != nil {
		t.Fatalf("ParseLogKey(key line) = %v", err)
	}
	nv, err := note.NewVerifier(key.vkey)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	l := newTestLog(t, key, entries("main", 0, n), func(l *testLog) {
		size := int64(len(l.leaves))
		cp := l.signed[size]
		c, err := verify.Checkpoint(cp, v)
		if err != nil || c.Size != size || c.Origin != key.verifier.Name() {
			t.Fatalf("Checkpoint(size %d) = %+v, %v; want size %d, origin %q", size, c, err, size, key.verifier.Name())
		}
		nn, err := note.Open(cp, note.VerifierList(nv))
		if err != nil || nn.Text != string(c.Marshal()) {
			t.Fatalf("note.Open(checkpoint %d) = %v; text %q, want %q", size, err, nn.Text, c.Marshal())
		}
		for i := range size {
			p := l.inclusion(t, i)
			got, err := verify.Inclusion(p.Marshal(), l.leaves[i], v)
			if err != nil || got != c {
				t.Errorf("Inclusion(leaf %d, size %d) = %v, %v; want %v, nil", i, size, got, err, c)
			}
			leafHash := rfc6962.DefaultHasher.HashLeaf(l.leaves[i])
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(size), leafHash, toBytes(p.Path), c.Root[:]); err != nil {
				t.Errorf("merkle/proof.VerifyInclusion(leaf %d, size %d) = %v, want nil", i, size, err)
			}
		}
		for old := int64(0); old <= size; old++ {
			text := consistencyText(t, l, old)
			o, nw, err := verify.Consistency(text, l.signed[old], v)
			if err != nil || o.Size != old || nw != c {
				t.Errorf("Consistency(%d -> %d) = size %d, %v, %v; want size %d, %v, nil", old, size, o.Size, nw, err, old, c)
			}
			p, err := ledger.ParseConsistencyProof(text)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(size), toBytes(p.Path), o.Root[:], c.Root[:]); err != nil {
				t.Errorf("merkle/proof.VerifyConsistency(%d -> %d) = %v, want nil", old, size, err)
			}
		}
	})
	if got := len(l.signed); got != n+1 {
		t.Fatalf("log signed %d checkpoints, want %d", got, n+1)
	}
}

func TestParseLogKey(t *testing.T) {
	key := newLogKey(t, "example.org/keys")
	// name+hash+base64: the name has no '+', the base64 may.
	parts := strings.SplitN(key.vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || raw[0] != 1 {
		t.Fatalf("key line %q: want an Ed25519 (algorithm 1) key", key.vkey)
	}
	raw[0] = 2
	otherAlg := parts[0] + "+" + parts[1] + "+" + base64.StdEncoding.EncodeToString(raw)
	tests := []struct {
		name, vkey, want string
	}{
		{"key line", key.vkey, "ok"},
		{"surrounding whitespace", "\t " + key.vkey + "\r\n", "ok"},
		{"empty", "", "malformed"},
		{"name only", "example.org/keys", "malformed"},
		{"truncated", key.vkey[:len(key.vkey)-4], "malformed"},
		{"over the cap", key.vkey + strings.Repeat(" ", 1024), "malformed"},
		{"unknown algorithm", otherAlg, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.ParseLogKey(tt.vkey)
			if got := outcome(err); got != tt.want {
				t.Fatalf("ParseLogKey(%q) = %v, want %s", tt.vkey, err, tt.want)
			}
			if err == nil && (v.Name() != key.verifier.Name() || v.KeyHash() != key.verifier.KeyHash()) {
				t.Errorf("ParseLogKey(%q) = %s+%08x, want %s+%08x", tt.vkey, v.Name(), v.KeyHash(), key.verifier.Name(), key.verifier.KeyHash())
			}
		})
	}
}

func TestCheckpoint(t *testing.T) {
	key := newLogKey(t, "example.org/checkpoints")
	l := newTestLog(t, key, entries("main", 0, 5), nil)
	cp := l.signed[5]
	c := body(t, cp)
	witness := newLogKey(t, "example.org/witness")
	cosigned, err := note.Sign(&note.Note{Text: string(c.Marshal())}, key.signer, witness.signer)
	if err != nil {
		t.Fatal(err)
	}
	impostor := newLogKey(t, key.verifier.Name()) // same name, another key
	other := newLogKey(t, "example.org/other")
	elsewhere := c
	elsewhere.Origin = "example.org/elsewhere"
	extension, err := note.Sign(&note.Note{Text: string(c.Marshal()) + "extension\n"}, key.signer)
	if err != nil {
		t.Fatal(err)
	}
	flipped := c
	flipped.Root[0] ^= 1
	tests := []struct {
		name   string
		signed []byte
		want   string
	}{
		{"as signed", cp, "ok"},
		{"cosigned by a witness", cosigned, "ok"},
		{"other key with the log's name", withBody(t, cp, c, impostor.signer), "checkpoint signature"},
		{"other log", withBody(t, cp, ledger.Checkpoint{Origin: other.verifier.Name(), Size: c.Size, Root: c.Root}, other.signer), "checkpoint signature"},
		{"origin is not the key's name", withBody(t, cp, elsewhere, key.signer), "origin"},
		{"root changed after signing", withBody(t, cp, flipped, nil), "checkpoint signature"},
		{"extension line", extension, "malformed"},
		{"body only", c.Marshal(), "malformed"},
		{"CRLF", bytes.ReplaceAll(cp, []byte("\n"), []byte("\r\n")), "malformed"},
		{"empty", nil, "malformed"},
		{"over the cap", append(bytes.Clone(cp), bytes.Repeat([]byte("— example.org/x AAAA\n"), ledger.MaxCheckpointSize/20)...), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := verify.Checkpoint(tt.signed, key.verifier)
			if o := outcome(err); o != tt.want {
				t.Fatalf("Checkpoint(%.80q) = %v, want %s", tt.signed, err, tt.want)
			}
			if err == nil && got != c {
				t.Errorf("Checkpoint(%.80q) = %+v, want %+v", tt.signed, got, c)
			}
		})
	}
}

// TestTamperInclusion flips every bit of every hash and signature in valid
// inclusion proofs, and of the leaves, and requires every change to be
// rejected (after TestTree in golang.org/x/mod/sumdb/tlog).
func TestTamperInclusion(t *testing.T) {
	const size = 23
	key := newLogKey(t, "example.org/tamper")
	v := key.verifier
	l := newTestLog(t, key, entries("main", 0, size), nil)
	other := newTestLog(t, newLogKey(t, "example.org/other"), entries("main", 0, size), nil)
	for _, i := range []int64{0, 1, 7, 16, 21, 22} {
		p := l.inclusion(t, i)
		leaf := l.leaves[i]
		text := p.Marshal()
		c := body(t, p.Checkpoint)
		check := func(t *testing.T, what string, proofText, leaf []byte, want ...string) {
			t.Helper()
			_, err := verify.Inclusion(proofText, leaf, v)
			if got := outcome(err); !slices.Contains(want, got) {
				t.Errorf("Inclusion(leaf %d, %s) = %v, want %s", i, what, err, strings.Join(want, " or "))
			}
		}
		withProof := func(f func(p *ledger.InclusionProof)) []byte {
			q := *p
			q.Path = slices.Clone(p.Path)
			f(&q)
			return q.Marshal()
		}
		t.Run(fmt.Sprint("leaf", i), func(t *testing.T) {
			check(t, "as proved", text, leaf, "ok")
			for k := range p.Path {
				for b := range 256 {
					q := withProof(func(q *ledger.InclusionProof) { q.Path[k][b/8] ^= 1 << (b % 8) })
					check(t, "path hash bit flipped", q, leaf, "inclusion")
					bad := slices.Clone(p.Path)
					bad[k][b/8] ^= 1 << (b % 8)
					if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), size, rfc6962.DefaultHasher.HashLeaf(leaf), toBytes(bad), c.Root[:]); err == nil {
						t.Errorf("merkle/proof.VerifyInclusion(leaf %d, hash %d bit %d flipped) = nil, want error", i, k, b)
					}
				}
			}
			check(t, "last path hash dropped", withProof(func(q *ledger.InclusionProof) { q.Path = q.Path[:len(q.Path)-1] }), leaf, "inclusion")
			check(t, "path hash added", withProof(func(q *ledger.InclusionProof) { q.Path = append(q.Path, c.Root) }), leaf, "inclusion")
			for b := range 256 {
				bad := c
				bad.Root[b/8] ^= 1 << (b % 8)
				q := withProof(func(q *ledger.InclusionProof) { q.Checkpoint = withBody(t, p.Checkpoint, bad, nil) })
				check(t, "root bit flipped", q, leaf, "checkpoint signature")
				q = withProof(func(q *ledger.InclusionProof) { q.Checkpoint = withBody(t, p.Checkpoint, bad, key.signer) })
				check(t, "root bit flipped and re-signed", q, leaf, "inclusion")
			}
			nbits, flipSig := signatureBits(t, p.Checkpoint)
			for b := range nbits {
				q := withProof(func(q *ledger.InclusionProof) { q.Checkpoint = flipSig(b) })
				check(t, "signature bit flipped", q, leaf, "checkpoint signature")
			}
			for b := range len(leaf) * 8 {
				check(t, "leaf bit flipped", text, flipBit(leaf, b), "malformed", "index", "inclusion")
			}
			j := (i + 1) % size
			check(t, "index line off by one", withProof(func(q *ledger.InclusionProof) { q.Index = i + 1 }), leaf, "index")
			check(t, "index line and leaf of the next leaf", withProof(func(q *ledger.InclusionProof) { q.Index = j }), l.leaves[j], "inclusion")
			check(t, "another leaf", text, l.leaves[j], "index")
			for _, n := range []int64{size, size + 1, 1 << 62} {
				past := (&ledger.Leaf{Index: n, Prev: ledger.LeafHash(l.leaves[size-1]), Entry: []byte("{}")}).Marshal()
				check(t, "index at or past the size", withProof(func(q *ledger.InclusionProof) { q.Index = n }), past, "index")
			}
			check(t, "proof and leaf from another log", other.inclusion(t, i).Marshal(), other.leaves[i], "checkpoint signature")
			check(t, "checkpoint from another log", withProof(func(q *ledger.InclusionProof) { q.Checkpoint = other.signed[size] }), leaf, "checkpoint signature")
			check(t, "older checkpoint of this log", withProof(func(q *ledger.InclusionProof) { q.Checkpoint = l.signed[size-1] }), leaf, "inclusion", "index")
			for k := range len(text) {
				check(t, "truncated proof", text[:k], leaf, "malformed")
			}
			for k := range len(leaf) {
				check(t, "truncated leaf", text, leaf[:k], "malformed")
			}
		})
	}
}

// TestTamperConsistency is TestTamperInclusion for consistency proofs.
func TestTamperConsistency(t *testing.T) {
	const size = 23
	key := newLogKey(t, "example.org/tamper")
	v := key.verifier
	l := newTestLog(t, key, entries("main", 0, size), nil)
	other := newTestLog(t, newLogKey(t, "example.org/other"), entries("main", 0, size), nil)
	cp, _ := l.Checkpoint()
	c := body(t, cp)
	for _, old := range []int64{0, 1, 5, 8, 13, 16, 22, 23} {
		text := consistencyText(t, l, old)
		p, err := ledger.ParseConsistencyProof(text)
		if err != nil {
			t.Fatal(err)
		}
		oldCP := l.signed[old]
		oc := body(t, oldCP)
		// check wants outcome want; "equivocation" is Check "consistency"
		// wrapping ErrEquivocation, which no other outcome may wrap.
		check := func(t *testing.T, what string, proofText, oldCP []byte, want string) {
			t.Helper()
			_, _, err := verify.Consistency(proofText, oldCP, v)
			got := outcome(err)
			if errors.Is(err, verify.ErrEquivocation) {
				got = "equivocation"
			}
			if got != want {
				t.Errorf("Consistency(%d -> %d, %s) = %v, want %s", old, size, what, err, want)
			}
		}
		withProof := func(f func(p *ledger.ConsistencyProof)) []byte {
			q := *p
			q.Path = slices.Clone(p.Path)
			f(&q)
			return q.Marshal()
		}
		t.Run(fmt.Sprint("old", old), func(t *testing.T) {
			check(t, "as proved", text, oldCP, "ok")
			for k := range p.Path {
				for b := range 256 {
					q := withProof(func(q *ledger.ConsistencyProof) { q.Path[k][b/8] ^= 1 << (b % 8) })
					check(t, "path hash bit flipped", q, oldCP, "consistency")
					bad := slices.Clone(p.Path)
					bad[k][b/8] ^= 1 << (b % 8)
					if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), size, toBytes(bad), oc.Root[:], c.Root[:]); err == nil {
						t.Errorf("merkle/proof.VerifyConsistency(%d -> %d, hash %d bit %d flipped) = nil, want error", old, size, k, b)
					}
				}
			}
			if len(p.Path) > 0 {
				check(t, "last path hash dropped", withProof(func(q *ledger.ConsistencyProof) { q.Path = q.Path[:len(q.Path)-1] }), oldCP, "consistency")
			}
			check(t, "path hash added", withProof(func(q *ledger.ConsistencyProof) { q.Path = append(q.Path, c.Root) }), oldCP, "consistency")
			// Changing a root and signing again leaves two validly signed
			// checkpoints that disagree: same size is equivocation; from
			// size 0 nothing constrains the new root, but the old one must
			// be the empty tree's.
			resigned := "consistency"
			if old == size {
				resigned = "equivocation"
			}
			for b := range 256 {
				bad := c
				bad.Root[b/8] ^= 1 << (b % 8)
				q := withProof(func(q *ledger.ConsistencyProof) { q.Checkpoint = withBody(t, cp, bad, nil) })
				check(t, "new root bit flipped", q, oldCP, "checkpoint signature")
				if old > 0 {
					q = withProof(func(q *ledger.ConsistencyProof) { q.Checkpoint = withBody(t, cp, bad, key.signer) })
					check(t, "new root bit flipped and re-signed", q, oldCP, resigned)
				}
				badOld := oc
				badOld.Root[b/8] ^= 1 << (b % 8)
				check(t, "old root bit flipped", text, withBody(t, oldCP, badOld, nil), "checkpoint signature")
				check(t, "old root bit flipped and re-signed", text, withBody(t, oldCP, badOld, key.signer), resigned)
			}
			for _, which := range []struct {
				name   string
				signed []byte
				proof  bool
			}{{"new signature bit flipped", cp, true}, {"old signature bit flipped", oldCP, false}} {
				nbits, flipSig := signatureBits(t, which.signed)
				for b := range nbits {
					if which.proof {
						check(t, which.name, withProof(func(q *ledger.ConsistencyProof) { q.Checkpoint = flipSig(b) }), oldCP, "checkpoint signature")
					} else {
						check(t, which.name, text, flipSig(b), "checkpoint signature")
					}
				}
			}
			if old < size {
				check(t, "old line off by one", withProof(func(q *ledger.ConsistencyProof) { q.Old = old + 1 }), oldCP, "size")
				check(t, "old checkpoint of the next size", text, l.signed[old+1], "size")
			}
			if old > 0 {
				check(t, "old checkpoint of the previous size", text, l.signed[old-1], "size")
				check(t, "new checkpoint older than the old one", withProof(func(q *ledger.ConsistencyProof) { q.Checkpoint = l.signed[old-1] }), oldCP, "consistency")
			}
			check(t, "old checkpoint from another log", text, other.signed[old], "checkpoint signature")
			check(t, "new checkpoint from another log", withProof(func(q *ledger.ConsistencyProof) { q.Checkpoint = other.signed[size] }), oldCP, "checkpoint signature")
			for k := range len(text) {
				check(t, "truncated proof", text[:k], oldCP, "malformed")
			}
			for k := range len(oldCP) {
				check(t, "truncated old checkpoint", text, oldCP[:k], "malformed")
			}
		})
	}
}

// TestEquivocation builds two ledgers under one key that share their first
// entries and then diverge, as a log showing different histories to
// different parties would.
func TestEquivocation(t *testing.T) {
	const common, size = 9, 17
	key := newLogKey(t, "example.org/forked")
	v := key.verifier
	a := newTestLog(t, key, append(entries("common", 0, common), entries("a", common, size-common)...), nil)
	b := newTestLog(t, key, append(entries("common", 0, common), entries("b", common, size-common)...), nil)
	for n := int64(0); n <= size; n++ {
		same := (&ledger.ConsistencyProof{Old: n, Checkpoint: a.signed[n]}).Marshal()
		_, _, err := verify.Consistency(same, b.signed[n], v)
		if n <= common {
			if err != nil {
				t.Errorf("Consistency(B's checkpoint %d, A's checkpoint %d) = %v, want nil: the first %d entries are shared", n, n, err, common)
			}
			continue
		}
		if !errors.Is(err, verify.ErrEquivocation) {
			t.Errorf("Consistency(B's checkpoint %d, A's checkpoint %d) = %v, want ErrEquivocation", n, n, err)
		}
		for _, root := range []ledger.Hash{body(t, a.signed[n]).Root, body(t, b.signed[n]).Root} {
			if err != nil && !strings.Contains(err.Error(), root.String()) {
				t.Errorf("Consistency(B's checkpoint %d, A's checkpoint %d) = %q, does not name root %s", n, n, err, root)
			}
		}
		reversed := (&ledger.ConsistencyProof{Old: n, Checkpoint: b.signed[n]}).Marshal()
		if _, _, err := verify.Consistency(reversed, a.signed[n], v); !errors.Is(err, verify.ErrEquivocation) {
			t.Errorf("Consistency(A's checkpoint %d, B's checkpoint %d) = %v, want ErrEquivocation", n, n, err)
		}
	}
	// A's proofs from each older size to A's latest checkpoint hold for B's
	// checkpoints only as far as the histories agree.
	for old := int64(1); old < size; old++ {
		text := a.consistency(t, old).Marshal()
		if _, _, err := verify.Consistency(text, a.signed[old], v); err != nil {
			t.Fatalf("Consistency(A %d -> %d, A's checkpoint) = %v, want nil", old, size, err)
		}
		_, _, err := verify.Consistency(text, b.signed[old], v)
		want := "ok"
		if old > common {
			want = "consistency"
		}
		if got := outcome(err); got != want || errors.Is(err, verify.ErrEquivocation) {
			t.Errorf("Consistency(A %d -> %d, B's checkpoint %d) = %v, want %s, not ErrEquivocation", old, size, old, err, want)
		}
	}
}

// TestErrorMessages checks that a failure says what failed and where, with
// numbers.
func TestErrorMessages(t *testing.T) {
	key := newLogKey(t, "example.org/messages")
	v := key.verifier
	l := newTestLog(t, key, entries("main", 0, 23), nil)
	c := body(t, l.signed[23])
	p := l.inclusion(t, 7)
	p.Path[0][0] ^= 1
	_, inclErr := verify.Inclusion(p.Marshal(), l.leaves[7], v)
	cons := l.consistency(t, 5)
	cons.Path[0][0] ^= 1
	_, _, consErr := verify.Consistency(cons.Marshal(), l.signed[5], v)
	_, sizeErr := verify.Inclusion(l.inclusion(t, 7).Marshal(), l.leaves[8], v)
	tests := []struct {
		name  string
		err   error
		index int64
		want  []string
	}{
		{"inclusion", inclErr, 7, []string{"inclusion proof for leaf 7", "tree of size 23", "root " + c.Root.String()}},
		{"consistency", consErr, -1, []string{"from size 5", "to size 23", c.Root.String(), body(t, l.signed[5]).Root.String()}},
		{"index", sizeErr, 7, []string{"leaf 7", "index 8"}},
	}
	for _, tt := range tests {
		var e *verify.Error
		if !errors.As(tt.err, &e) {
			t.Errorf("%s: error = %v, want *verify.Error", tt.name, tt.err)
			continue
		}
		if e.Index != tt.index {
			t.Errorf("%s: Error.Index = %d, want %d", tt.name, e.Index, tt.index)
		}
		for _, w := range tt.want {
			if !strings.Contains(e.Error(), w) {
				t.Errorf("%s: Error() = %q, want it to contain %q", tt.name, e.Error(), w)
			}
		}
	}
}
