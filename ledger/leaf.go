package ledger

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Hash is a SHA-256 hash in the RFC 6962 tree: a leaf hash, an interior node
// or a root. It is tlog's type, so proofs pass to golang.org/x/mod/sumdb/tlog
// without conversion.
type Hash = tlog.Hash

// MaxEntrySize caps the entry (a DSSE envelope) a leaf may carry. It matches
// the envelope cap in package custody, which is the larger of the two checks a
// submission meets.
const MaxEntrySize = 1 << 20

// leafMagic opens every leaf. Its last byte is the format version.
const leafMagic = "CUSTOSL1"

// leafHeaderSize is the fixed part of a leaf before the entry bytes.
const leafHeaderSize = 8 + 8 + 32 + 8 + 4

// MaxLeafSize is the largest valid leaf encoding.
const MaxLeafSize = leafHeaderSize + MaxEntrySize

// A Leaf is one record of the log: the sequencer's wrapper around an entry.
//
// Its encoding is deterministic; all integers are big-endian:
//
//	offset  size  field
//	0       8     "CUSTOSL1" (magic and format version)
//	8       8     Index, uint64, below 2^63
//	16      32    Prev: the RFC 6962 leaf hash of leaf Index-1; all zero for leaf 0
//	48      8     Time: integration time, Unix nanoseconds, int64
//	56      4     L: entry length, uint32, 1..MaxEntrySize
//	60      L     Entry: the DSSE envelope, canonical JSON
//
// The leaf hash that goes into the Merkle tree is SHA-256(0x00 || leaf)
// (RFC 6962 §2.1), so a clerk can recompute it with
// `( printf '\0'; cat leaf.bin ) | sha256sum`.
//
// Time is the sequencer's claim, recorded for people, not evidence: it is not
// checked against anything but the previous leaf (it never goes backwards).
type Leaf struct {
	Index int64
	Prev  Hash
	Time  time.Time
	Entry []byte
}

// Marshal returns the leaf's canonical bytes. It panics only on a Leaf that
// no parser or sequencer can produce (negative index, empty or oversize
// entry), which is a programming error.
func (l *Leaf) Marshal() []byte {
	if l.Index < 0 || len(l.Entry) == 0 || len(l.Entry) > MaxEntrySize {
		panic(fmt.Sprintf("ledger: invalid leaf: index %d, entry %d bytes", l.Index, len(l.Entry)))
	}
	b := make([]byte, 0, leafHeaderSize+len(l.Entry))
	b = append(b, leafMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Index))
	b = append(b, l.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Time.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Entry)))
	return append(b, l.Entry...)
}

// Hash returns the leaf's RFC 6962 leaf hash.
func (l *Leaf) Hash() Hash { return tlog.RecordHash(l.Marshal()) }

// LeafHash returns the RFC 6962 leaf hash of encoded leaf bytes.
func LeafHash(leaf []byte) Hash { return tlog.RecordHash(leaf) }

// ParseLeaf decodes a leaf. It accepts exactly the bytes Marshal produces and
// nothing else, so that no two encodings of one leaf exist. Errors are
// *ParseError.
func ParseLeaf(b []byte) (*Leaf, error) {
	bad := func(field, format string, args ...any) error {
		return &ParseError{What: "leaf", Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) > MaxLeafSize {
		return nil, bad("", "%d bytes exceeds the %d-byte cap", len(b), MaxLeafSize)
	}
	if len(b) < leafHeaderSize {
		return nil, bad("", "truncated: %d bytes, header alone is %d", len(b), leafHeaderSize)
	}
	if string(b[:8]) != leafMagic {
		return nil, bad("magic", "want %q, got %q", leafMagic, b[:8])
	}
	index := binary.BigEndian.Uint64(b[8:16])
	if index >= 1<<63 {
		return nil, bad("index", "%d out of range", index)
	}
	l := &Leaf{Index: int64(index)}
	copy(l.Prev[:], b[16:48])
	if index == 0 && l.Prev != (Hash{}) {
		return nil, bad("prev", "leaf 0 must have an all-zero prev hash")
	}
	l.Time = time.Unix(0, int64(binary.BigEndian.Uint64(b[48:56]))).UTC()
	n := binary.BigEndian.Uint32(b[56:60])
	if n == 0 || n > MaxEntrySize {
		return nil, bad("entry length", "%d not in 1..%d", n, MaxEntrySize)
	}
	if rest := len(b) - leafHeaderSize; rest != int(n) {
		return nil, bad("entry", "length field says %d bytes, leaf holds %d", n, rest)
	}
	l.Entry = append([]byte(nil), b[leafHeaderSize:]...)
	return l, nil
}
