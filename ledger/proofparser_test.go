package ledger_test

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/custos-ledger/custos/ledger"
)

// parserSeeds are proofs as custos writes them, of paths that share their
// upper levels and of several lengths, and the forms an
// InclusionProofParser must hand to ParseInclusionProof.
func parserSeeds() [][]byte {
	cp := []byte("example.org/log\n8\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.org/log AAAA\n")
	hash := func(s string) ledger.Hash { return sha256.Sum256([]byte(s)) }
	var seeds [][]byte
	for _, k := range []int{0, 1, 2, 5, 17, 62, 63} {
		for leaf := range 3 {
			p := &ledger.InclusionProof{Index: int64(leaf), Checkpoint: cp}
			for j := range k {
				if j < 2 {
					p.Path = append(p.Path, hash(fmt.Sprint("leaf", leaf, j)))
				} else {
					p.Path = append(p.Path, hash(fmt.Sprint("level", k-j)))
				}
			}
			seeds = append(seeds, p.Marshal())
		}
	}
	line := strings.Repeat("A", 43) + "="
	for _, s := range []string{
		"",
		"\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n\n",
		"c2sp.org/tlog-proof@v1\nindex 3\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 03\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 0\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 999999999999999999\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 9999999999999999999\n\nx",
		"c2sp.org/tlog-proof@v1\nindex \n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3",
		"c2sp.org/tlog-proof@v1\nindex 3\n",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line + "\n",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line + "\n\n",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line + "\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line + "\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line[:43] + "B\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line[:42] + "B=\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line[:42] + "\r=\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line[:20] + "\n" + line[:23] + "\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line[:20] + "\n\n" + line[:22] + "\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + line + "=\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + strings.Repeat(line+"\n", 63) + "\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + strings.Repeat(line+"\n", 64) + "\nx",
		"c2sp.org/tlog-proof@v1\nextra AA==\nindex 3\n" + line + "\n\nx",
		"c2sp.org/tlog-proof@v1\r\nindex 3\n" + line + "\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 3\n" + strings.Repeat("x", ledger.MaxProofSize),
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzInclusionProofParser holds InclusionProofParser.Parse to
// ParseInclusionProof over pairs of proofs parsed in turn by one parser
// (the second after the first, then the first again, so that each meets
// the lines the other left): each gives the same proof, or the same error.
func FuzzInclusionProofParser(f *testing.F) {
	seeds := parserSeeds()
	for i, a := range seeds {
		f.Add(a, seeds[(i+1)%len(seeds)])
		f.Add(a, seeds[(i+7)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var pp ledger.InclusionProofParser
		for _, in := range [][]byte{a, b, a, b} {
			got, err := pp.Parse(in)
			want, werr := ledger.ParseInclusionProof(in)
			if fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Fatalf("Parse(%q) error = %v, ParseInclusionProof's %v", in, err, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse(%q) = %+v, ParseInclusionProof's %+v", in, got, want)
			}
		}
	})
}

// TestInclusionProofParser runs FuzzInclusionProofParser's check over
// every pair of its seeds, in both orders.
func TestInclusionProofParser(t *testing.T) {
	seeds := parserSeeds()
	var pp ledger.InclusionProofParser
	for _, a := range seeds {
		for _, b := range seeds {
			for _, in := range [][]byte{a, b} {
				got, err := pp.Parse(in)
				want, werr := ledger.ParseInclusionProof(in)
				if fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
					t.Fatalf("Parse(%q) = %+v, %v; ParseInclusionProof gives %+v, %v", in, got, err, want, werr)
				}
			}
		}
	}
}

// BenchmarkParseInclusionProof parses a proof of 17 hashes, the length of
// a path in a tree of 100,000 leaves.
func BenchmarkParseInclusionProof(b *testing.B) {
	p := &ledger.InclusionProof{Index: 70_000, Checkpoint: []byte("example.org/log\n100000\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.org/log AAAA\n")}
	for i := range 17 {
		p.Path = append(p.Path, sha256.Sum256([]byte{byte(i)}))
	}
	text := p.Marshal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ledger.ParseInclusionProof(text); err != nil {
			b.Fatal(err)
		}
	}
}
