package verify

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/custos-ledger/custos/ledger"
)

// benchBundlePath is the bundle BenchmarkVerifyBundle builds and keeps.
var benchBundlePath = filepath.Join(os.TempDir(), "custos-bench", "verify-100000-v1.custos")

// BenchmarkBundleReader reads the benchmark bundle, member by member, as
// VerifyBundle's reading goroutine does: the cost of the reader alone, per
// entry (a leaf and its proof).
//
//	go test ./verify -run '^$' -bench BundleReader -benchtime 3x
func BenchmarkBundleReader(b *testing.B) {
	if _, err := os.Stat(benchBundlePath); err != nil {
		b.Skip("run BenchmarkVerifyBundle first to build ", benchBundlePath)
	}
	b.ReportAllocs()
	leaves := 0
	for b.Loop() {
		f, err := os.Open(benchBundlePath)
		if err != nil {
			b.Fatal(err)
		}
		br := NewBundleReader(bufio.NewReaderSize(f, readBuffer))
		leaves = 0
		for {
			m, err := br.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if m.Kind == KindLeaf {
				leaves++
			}
		}
		f.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*leaves), "ns/entry")
}

// BenchmarkLeafWork runs the parallel phase's work on one leaf that is not
// custody.Apply: ParseLeaf, LeafHash and the inclusion check through a
// path memo, one memo a window of leaves as one worker of checkBatch has,
// over the first leaves of the benchmark bundle.
//
//	go test ./verify -run '^$' -bench LeafWork -count 5
func BenchmarkLeafWork(b *testing.B) {
	if _, err := os.Stat(benchBundlePath); err != nil {
		b.Skip("run BenchmarkVerifyBundle first to build ", benchBundlePath)
	}
	f, err := os.Open(benchBundlePath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	br := NewBundleReader(bufio.NewReaderSize(f, readBuffer))
	v := &bundleVerifier{cpVerified: true}
	var items []item
	for len(items) < 20*window || items[len(items)-1].proof == nil {
		m, err := br.Next()
		if err != nil {
			b.Fatal(err)
		}
		switch m.Kind {
		case KindCheckpoint:
			v.signedCP = m.Data
			if v.cp, err = ledger.ParseCheckpoint(noteText(m.Data)); err != nil {
				b.Fatal(err)
			}
		case KindLeaf:
			items = append(items, item{leaf: m})
		case KindLeafProof:
			items[len(items)-1].proof = m
		}
	}
	b.ReportAllocs()
	var memo *pathMemo
	i := 0
	for b.Loop() {
		if i%window == 0 {
			memo = newPathMemo(v.cp.Size, v.cp.Root)
		}
		it := items[i]
		l, err := ledger.ParseLeaf(it.leaf.Data)
		if err != nil {
			b.Fatal(err)
		}
		h := ledger.LeafHash(it.leaf.Data)
		if err := v.inclusion(memo, it.proof.Data, it.leaf.Data, l, h); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(items) {
			i = 0
		}
	}
}
