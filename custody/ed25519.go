package custody

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"hash"
	"strconv"
	"sync"
	"sync/atomic"

	"filippo.io/edwards25519"
)

// An ed25519Key is an Ed25519 public key decoded once, for the replay's
// signature checks.
//
// Why not crypto/ed25519.Verify: it decodes the public key from its 32
// bytes on every call, a square root in the field that costs some 3.5 µs,
// a tenth of the whole check, and it has no way to keep the decoded point.
// A replay checks hundreds of thousands of signatures by a handful of keys.
// So the check below is crypto/ed25519's own (RFC 8032 §5.1.7 without the
// cofactor, as Go runs it: crypto/internal/fips140/ed25519.verifyWithDom),
// step for step, on the point decoded once, with filippo.io/edwards25519,
// the exported copy of the group arithmetic Go uses. Nothing is batched and
// nothing is skipped: each signature is checked alone, with the same
// equation and the same encodings refused. FuzzEd25519Agrees holds it to
// crypto/ed25519.Verify on altered keys, messages and signatures.
//
// Once a key has checked a few signatures, the same equation is computed
// with a table of the key's multiples and one of B's (baseTable): it is
// the same point, found with about half the work.
type ed25519Key struct {
	a      [ed25519.PublicKeySize]byte
	minusA edwards25519.Point // -A, as the equation uses it

	// The table of -A (baseTable), made once the key is used enough.
	uses    atomic.Int64
	once    sync.Once
	table   atomic.Pointer[baseTable]
	noTable atomic.Bool // over the budget of tables: never made
}

// newEd25519Key decodes pub. It fails where crypto/ed25519.Verify would
// reject every signature: pub is not 32 bytes or not a point.
func newEd25519Key(pub ed25519.PublicKey) (*ed25519Key, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("ed25519: bad public key length: " + strconv.Itoa(len(pub)))
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, err
	}
	k := &ed25519Key{}
	copy(k.a[:], pub)
	k.minusA.Negate(a)
	return k, nil
}

// errBadSignature is what sigstore's Ed25519 verifier says of a signature
// that does not verify; the replay says the same.
var errBadSignature = errors.New("failed to verify signature")

// verifyPAE reports whether sig is a valid Ed25519 signature by k of the
// DSSE pre-authentication encoding of (payloadType, payload): it is
// crypto/ed25519.Verify(k, ssldsse.PAE(payloadType, payload), sig), the
// encoding written into the hash rather than built first.
func (k *ed25519Key) verifyPAE(payloadType string, payload, sig []byte) bool {
	if len(sig) != ed25519.SignatureSize || sig[63]&224 != 0 {
		return false
	}
	// k = SHA-512(R || A || M) mod l, M the PAE.
	hs := hashers.Get().(*hasher)
	defer hashers.Put(hs)
	h := hs.h
	h.Reset()
	h.Write(sig[:32])
	h.Write(k.a[:])
	hs.writePAE(payloadType, payload)
	kScalar, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(hs.digest[:0]))
	if err != nil {
		return false // cannot happen: the digest is 64 bytes
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	// [S]B = R + [k]A, checked as [k](-A) + [S]B = R, on R's encoding.
	var r edwards25519.Point
	if t := k.tableFor(); t != nil {
		doubleBaseMult(&r, kScalar, t, s, generatorTable())
	} else {
		r.VarTimeDoubleScalarBaseMult(kScalar, &k.minusA, s)
	}
	return subtle.ConstantTimeCompare(sig[:32], r.Bytes()) == 1
}

// A hasher is a SHA-512 state and buffers, kept in a pool: the replay's
// workers check a signature each some 30 µs, and a new state and buffer
// for each were a tenth of the replay's allocations besides the records.
type hasher struct {
	h      hash.Hash
	buf    []byte
	digest [sha512.Size]byte
}

var hashers = sync.Pool{New: func() any { return &hasher{h: sha512.New(), buf: make([]byte, 0, 128)} }}

// writePAE writes the DSSE v1 pre-authentication encoding,
// "DSSEv1 <len(type)> <type> <len(body)> <body>" with decimal lengths, to
// the hash (go-securesystemslib's dsse.PAE; FuzzEd25519Agrees compares the
// two).
func (hs *hasher) writePAE(payloadType string, payload []byte) {
	b := append(hs.buf[:0], "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(append(append(b, ' '), payloadType...), ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	hs.h.Write(b)
	hs.h.Write(payload)
	if cap(b) <= 1<<10 {
		hs.buf = b // a long payload type is not kept
	}
}
