package custody

import (
	"runtime"
	"sync"
	"sync/atomic"

	"filippo.io/edwards25519"
)

// A baseTable holds multiples of one point P for a fixed-base scalar
// multiplication: t[i][j] = (j+1)·256^i·P, for i < 32 and j < 8. With a
// table for B and one for -A, the check [S]B + [k](-A) = R takes some 124
// point additions and 4 doublings, where VarTimeDoubleScalarBaseMult takes
// some 253 doublings and 70 additions: the signature check costs about 20
// µs instead of 33.
//
// Why by hand: filippo.io/edwards25519 keeps such a table for B only, for
// its constant-time ScalarBaseMult, and none for another point. The table
// and the walk below use nothing but the package's exported, complete
// Point operations (Set, Add, Subtract); no curve formula is written here.
// The walk is ScalarBaseMult's (signed radix-16 digits, the odd ones
// summed and multiplied by 16, then the even ones), without its
// constant-time lookups: a verifier has no secret to keep.
// TestBaseTableMult holds it to ScalarMult; FuzzEd25519Agrees holds the
// check to crypto/ed25519.Verify on both paths.
type baseTable [32][8]edwards25519.Point

// newBaseTable returns the table of p: 32 × (7 additions and 5
// doublings), about as much as two signature checks.
func newBaseTable(p *edwards25519.Point) *baseTable {
	t := new(baseTable)
	base := new(edwards25519.Point).Set(p)
	for i := range t {
		t[i][0].Set(base)
		for j := 1; j < len(t[i]); j++ {
			t[i][j].Add(&t[i][j-1], base)
		}
		// 256·base = 2^5 · (8·base).
		base.Set(&t[i][7])
		for range 5 {
			base.Add(base, base)
		}
	}
	return t
}

// add adds d·256^(i/2)·P to v, for a digit d of [-8, 8].
func (t *baseTable) add(v *edwards25519.Point, i int, d int8) {
	switch {
	case d > 0:
		v.Add(v, &t[i/2][d-1])
	case d < 0:
		v.Subtract(v, &t[i/2][-d-1])
	}
}

// signedRadix16 writes s (a canonical scalar, below 2^253) as 64 digits
// d[i] of [-8, 8) (the last of [-8, 8]) with s = Σ d[i]·16^i.
func signedRadix16(s *edwards25519.Scalar) [64]int8 {
	b := s.Bytes()
	var d [64]int8
	for i := range 32 {
		d[2*i] = int8(b[i] & 15)
		d[2*i+1] = int8(b[i] >> 4)
	}
	for i := range 63 {
		carry := (d[i] + 8) >> 4
		d[i] -= carry << 4
		d[i+1] += carry
	}
	return d
}

// doubleBaseMult sets v = x·P + y·Q for the tables of P and Q: the odd
// digits of both first, times 16, then the even ones.
func doubleBaseMult(v *edwards25519.Point, x *edwards25519.Scalar, p *baseTable, y *edwards25519.Scalar, q *baseTable) *edwards25519.Point {
	dx, dy := signedRadix16(x), signedRadix16(y)
	v.Set(edwards25519.NewIdentityPoint())
	for i := 1; i < 64; i += 2 {
		p.add(v, i, dx[i])
		q.add(v, i, dy[i])
	}
	for range 4 {
		v.Add(v, v)
	}
	for i := 0; i < 64; i += 2 {
		p.add(v, i, dx[i])
		q.add(v, i, dy[i])
	}
	return v
}

// generatorTable is the table of B, made on first use.
var generatorTable = sync.OnceValue(func() *baseTable { return newBaseTable(edwards25519.NewGeneratorPoint()) })

// A key's table is made once the key has checked tableAfter signatures:
// a key that signs a handful of entries does not pay for it. At most
// maxTables tables (40 KiB each, 10 MiB in all) are alive at once; a key
// past that checks its signatures the slower way.
const (
	tableAfter = 8
	maxTables  = 256
)

// liveTables counts the keys' tables alive; a table's key, collected,
// gives its place back.
var liveTables atomic.Int64

// tableFor returns the table of k's -A, making it if k has checked enough
// signatures and the budget allows; nil means the slower way.
func (k *ed25519Key) tableFor() *baseTable {
	if t := k.table.Load(); t != nil {
		return t
	}
	// A key over the budget is not counted: that would be a write to a
	// shared word on every check, by every worker.
	if k.noTable.Load() || k.uses.Add(1) < tableAfter {
		return nil
	}
	k.once.Do(func() {
		if liveTables.Add(1) > maxTables {
			liveTables.Add(-1)
			k.noTable.Store(true)
			return
		}
		k.table.Store(newBaseTable(&k.minusA))
		runtime.AddCleanup(k, func(struct{}) { liveTables.Add(-1) }, struct{}{})
	})
	return k.table.Load()
}
