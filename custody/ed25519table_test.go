package custody

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"filippo.io/edwards25519"
	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// withTable decodes pub with its table already made, so that every check
// takes the table path.
func withTable(t testing.TB, pub []byte) *ed25519Key {
	t.Helper()
	k, err := newEd25519Key(pub)
	if err != nil {
		t.Fatal(err)
	}
	k.table.Store(newBaseTable(&k.minusA))
	return k
}

// TestBaseTableMult holds doubleBaseMult to the package's own ScalarMult:
// x·P + y·Q for the generator, points of small order (the identity, the
// order-2 and order-8 points, which a decoded key may be) and a point with
// a small-order part, with scalars at the ends of the digit range.
func TestBaseTableMult(t *testing.T) {
	point := func(h string) *edwards25519.Point {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		p, err := new(edwards25519.Point).SetBytes(b)
		if err != nil {
			t.Fatalf("point %s: %v", h, err)
		}
		return p
	}
	order8 := point("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
	order2 := point("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	g := edwards25519.NewGeneratorPoint()
	mixed := new(edwards25519.Point).Add(new(edwards25519.Point).ScalarBaseMult(scalarOf(t, 123)), order8)
	points := map[string]*edwards25519.Point{
		"generator": g, "identity": edwards25519.NewIdentityPoint(), "order 2": order2, "order 8": order8, "with small-order part": mixed,
	}

	lMinus1, _ := hex.DecodeString("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	var scalars []*edwards25519.Scalar
	for _, b := range [][]byte{make([]byte, 32), {1}, lMinus1, bytes.Repeat([]byte{0x88}, 31), bytes.Repeat([]byte{0x77}, 31), bytes.Repeat([]byte{0xff}, 31), bytes.Repeat([]byte{0x08}, 31)} {
		s, err := new(edwards25519.Scalar).SetCanonicalBytes(append(bytes.Clone(b), make([]byte, 32-len(b))...))
		if err != nil {
			t.Fatalf("scalar %x: %v", b, err)
		}
		scalars = append(scalars, s)
	}
	for i := range 20 {
		h := sha512.Sum512([]byte{byte(i)})
		s, _ := new(edwards25519.Scalar).SetUniformBytes(h[:])
		scalars = append(scalars, s)
	}

	for pn, p := range points {
		pt := newBaseTable(p)
		for qn, q := range map[string]*edwards25519.Point{"generator": g, "order 8": order8} {
			qt := newBaseTable(q)
			for i, x := range scalars {
				y := scalars[(i*7+3)%len(scalars)]
				want := new(edwards25519.Point).Add(new(edwards25519.Point).ScalarMult(x, p), new(edwards25519.Point).ScalarMult(y, q))
				got := doubleBaseMult(new(edwards25519.Point), x, pt, y, qt)
				if got.Equal(want) != 1 {
					t.Fatalf("%s, %s: x=%x y=%x: table gives %x, ScalarMult %x", pn, qn, x.Bytes(), y.Bytes(), got.Bytes(), want.Bytes())
				}
			}
		}
	}
}

func scalarOf(t *testing.T, n byte) *edwards25519.Scalar {
	b := make([]byte, 32)
	b[0] = n
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEd25519TableMade: a key's table is made after tableAfter checks, and
// the checks before and after agree on good and bad signatures.
func TestEd25519TableMade(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	k, err := newEd25519Key(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * tableAfter {
		payload := []byte{byte(i)}
		sig := ed25519.Sign(priv, ssldsse.PAE(PayloadType, payload))
		if !k.verifyPAE(PayloadType, payload, sig) {
			t.Fatalf("check %d (table made: %v): a valid signature does not verify", i, k.table.Load() != nil)
		}
		sig[i%64] ^= 4
		if k.verifyPAE(PayloadType, payload, sig) {
			t.Fatalf("check %d (table made: %v): an altered signature verifies", i, k.table.Load() != nil)
		}
	}
	if k.table.Load() == nil {
		t.Fatalf("no table after %d checks", 3*tableAfter)
	}
}

// BenchmarkEd25519Key compares one signature check by crypto/ed25519, by
// the key decoded once, and by the key's table.
func BenchmarkEd25519Key(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	payload := bytes.Repeat([]byte("x"), 600)
	pae := ssldsse.PAE(PayloadType, payload)
	sig := ed25519.Sign(priv, pae)
	b.Run("crypto-ed25519", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(pub, pae, sig) {
				b.Fatal("does not verify")
			}
		}
	})
	b.Run("decoded", func(b *testing.B) {
		k, _ := newEd25519Key(pub)
		k.noTable.Store(true)
		for b.Loop() {
			if !k.verifyPAE(PayloadType, payload, sig) {
				b.Fatal("does not verify")
			}
		}
	})
	b.Run("table", func(b *testing.B) {
		k := withTable(b, pub)
		for b.Loop() {
			if !k.verifyPAE(PayloadType, payload, sig) {
				b.Fatal("does not verify")
			}
		}
	})
	b.Run("make-table", func(b *testing.B) {
		k, _ := newEd25519Key(pub)
		for b.Loop() {
			newBaseTable(&k.minusA)
		}
	})
}

// TestEd25519TableBudget: no more than maxTables tables are alive; a key
// past the budget still checks its signatures (the slower way), and a
// collected key gives its table's place back.
func TestEd25519TableBudget(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	payload := []byte("p")
	sig := ed25519.Sign(priv, ssldsse.PAE(PayloadType, payload))
	use := func(k *ed25519Key) {
		for range tableAfter {
			if !k.verifyPAE(PayloadType, payload, sig) {
				t.Fatal("a valid signature does not verify")
			}
		}
	}
	start := liveTables.Load()
	var keys []*ed25519Key
	for liveTables.Load() < maxTables {
		k, _ := newEd25519Key(pub)
		use(k)
		if k.table.Load() == nil {
			t.Fatalf("no table with %d of %d alive", liveTables.Load(), maxTables)
		}
		keys = append(keys, k)
	}
	over, _ := newEd25519Key(pub)
	use(over)
	if over.table.Load() != nil || !over.noTable.Load() {
		t.Fatalf("a table made past the budget (%d alive)", liveTables.Load())
	}
	if !over.verifyPAE(PayloadType, payload, sig) {
		t.Fatal("a key past the budget does not verify")
	}
	runtime.KeepAlive(keys)
	for range 100 {
		runtime.GC()
		if liveTables.Load() <= start {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d tables still counted alive after their keys were collected (%d before the test)", liveTables.Load(), start)
}

// TestApplyOnKeyTable: through Apply, once the collector's key has its
// table, its valid acquisitions are accepted and one with a forged
// signature is refused for its signature.
func TestApplyOnKeyTable(t *testing.T) {
	l := baseLedger(t)
	for i := range 2 * tableAfter {
		id := fmt.Sprintf("CERT-UA-1%03d", i)
		l.must(l.acquireEnv(pCERT, id, digestsOf(id)))
	}
	pub := l.keys[pCERT].Public()
	k, err := cachedPublicKey(string(pub.MarshalPEM()))
	if err != nil {
		t.Fatal(err)
	}
	if k.ed25519.table.Load() == nil {
		t.Fatalf("the collector's key has no table after %d signatures (%d tables alive)", 2*tableAfter, liveTables.Load())
	}
	env, err := ParseEnvelope(l.acquireEnv(pCERT, "CERT-UA-2000", digestsOf("CERT-UA-2000")))
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Sig[40] ^= 2
	_, err = l.submit(env.Marshal())
	var se *SignatureError
	if !errors.As(err, &se) {
		t.Fatalf("forged signature on the key's table: %v, want a *SignatureError", err)
	}
	l.must(l.acquireEnv(pCERT, "CERT-UA-2001", digestsOf("CERT-UA-2001")))
}
