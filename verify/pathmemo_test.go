package verify

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// memoTree is an RFC 6962 tree of n leaves in sumdb/tlog's stored form.
func memoTree(t *testing.T, n int64) (tlog.HashReader, tlog.Hash) {
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := range n {
		hs, err := tlog.StoredHashes(i, fmt.Appendf(nil, "leaf %d", i), hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		t.Fatal(err)
	}
	return hr, root
}

// TestPathMemoAgrees holds pathMemo.check to tlog.CheckRecord over every
// leaf of trees of many sizes, checked in index order, interleaved as two
// workers take them, and at random, each proof also tampered with: every
// bit of every hash flipped, a hash dropped or added, the leaf hash and
// the index changed. Each must give CheckRecord's error, or none when
// CheckRecord gives none.
func TestPathMemoAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int64{1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 100} {
		hr, root := memoTree(t, n)
		orders := map[string][]int64{"in order": nil, "interleaved": nil, "random": nil}
		for i := range n {
			orders["in order"] = append(orders["in order"], i)
		}
		for i := int64(0); i < n; i += 2 {
			orders["interleaved"] = append(orders["interleaved"], i)
		}
		for i := int64(1); i < n; i += 2 {
			orders["interleaved"] = append(orders["interleaved"], i)
		}
		for _, i := range rng.Perm(int(n)) {
			orders["random"] = append(orders["random"], int64(i))
		}
		for name, order := range orders {
			m := newPathMemo(n, root)
			check := func(p tlog.RecordProof, index int64, leaf tlog.Hash, what string) {
				t.Helper()
				want := tlog.CheckRecord(p, n, root, index, leaf)
				if got := m.check(p, index, leaf); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("size %d, %s, %s: check = %v, want %v", n, name, what, got, want)
				}
			}
			for _, i := range order {
				p, err := tlog.ProveRecord(n, i, hr)
				if err != nil {
					t.Fatal(err)
				}
				leaf := tlog.RecordHash(fmt.Appendf(nil, "leaf %d", i))
				for j := range p {
					for bit := range 256 {
						q := append(tlog.RecordProof(nil), p...)
						q[j][bit/8] ^= 1 << (bit % 8)
						check(q, i, leaf, fmt.Sprintf("leaf %d, hash %d bit %d flipped", i, j, bit))
					}
				}
				if len(p) > 0 {
					check(p[1:], i, leaf, fmt.Sprintf("leaf %d, first hash dropped", i))
					check(p[:len(p)-1], i, leaf, fmt.Sprintf("leaf %d, last hash dropped", i))
				}
				check(append(append(tlog.RecordProof(nil), p...), root), i, leaf, fmt.Sprintf("leaf %d, a hash added", i))
				check(p, i, tlog.RecordHash([]byte("other")), fmt.Sprintf("leaf %d, another leaf hash", i))
				check(p, (i+1)%n, leaf, fmt.Sprintf("leaf %d, proved as leaf %d", i, (i+1)%n))
				check(p, n, leaf, fmt.Sprintf("leaf %d, proved as leaf %d", i, n))
				check(p, -1, leaf, fmt.Sprintf("leaf %d, proved as leaf -1", i))
				check(p, i, leaf, fmt.Sprintf("leaf %d", i))
			}
		}
	}
}

// TestSplit holds split to its definition, the largest power of two less
// than n, for every n up to 2^16 and around every power of two up to 2^62
// (the memo's trees are smaller: ledger.ParseCheckpoint refuses 2^62).
func TestSplit(t *testing.T) {
	want := func(n int64) int64 {
		k := int64(1)
		for k<<1 < n {
			k <<= 1
		}
		return k
	}
	ns := []int64{}
	for n := int64(2); n <= 1<<16; n++ {
		ns = append(ns, n)
	}
	for e := 17; e < 62; e++ {
		ns = append(ns, 1<<e-1, 1<<e, 1<<e+1)
	}
	ns = append(ns, 1<<62-1, 1<<62)
	for _, n := range ns {
		if got := split(n); got != want(n) {
			t.Fatalf("split(%d) = %d, want %d", n, got, want(n))
		}
	}
}
