package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxProofHashes caps the hash lines of a proof. An RFC 6962 proof in a tree
// of fewer than 2^63 leaves has at most 63 inclusion hashes and 2*63
// consistency hashes; C2SP tlog-witness caps consistency proofs at 63 lines,
// which covers every tree custos will ever hold.
const MaxProofHashes = 63

// MaxProofSize caps a whole proof text before it is parsed.
const MaxProofSize = MaxCheckpointSize + 128 + MaxProofHashes*46

// inclusionHeader is the first line of a C2SP tlog-proof.
const inclusionHeader = "c2sp.org/tlog-proof@v1"

// An InclusionProof is a C2SP tlog-proof (https://c2sp.org/tlog-proof): the
// index of a leaf, its RFC 6962 inclusion path, and the signed checkpoint the
// path leads to.
//
//	c2sp.org/tlog-proof@v1
//	index 3
//	<base64 hash, leaf's sibling first>
//	...
//	<empty line>
//	<signed checkpoint, verbatim>
type InclusionProof struct {
	Extra      []byte // optional, unauthenticated; custos writes none
	Index      int64
	Path       []Hash
	Checkpoint []byte // signed note
}

// Marshal returns the proof in C2SP tlog-proof text form.
func (p *InclusionProof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(inclusionHeader + "\n")
	if p.Extra != nil {
		fmt.Fprintf(&b, "extra %s\n", base64.StdEncoding.EncodeToString(p.Extra))
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	writeHashes(&b, p.Path)
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseInclusionProof parses C2SP tlog-proof text. It checks the form only;
// package verify checks the path and the checkpoint's signatures. Errors are
// *ParseError.
//
// A verifier parses one proof per leaf, so this walks the bytes in place:
// the proof and its path are its only allocations.
func ParseInclusionProof(b []byte) (*InclusionProof, error) {
	const what = "inclusion proof"
	head, cp, err := cutProof(b, what)
	if err != nil {
		return nil, err
	}
	bad := func(field, format string, args ...any) error {
		return &ParseError{What: what, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	line, rest, more := bytes.Cut(head, []byte("\n"))
	if string(line) != inclusionHeader {
		return nil, bad("header", "first line must be %q", inclusionHeader)
	}
	p := &InclusionProof{Checkpoint: cp}
	if more {
		line, rest, more = bytes.Cut(rest, []byte("\n"))
		if extra, ok := bytes.CutPrefix(line, []byte("extra ")); ok {
			if p.Extra, err = decodeBase64(string(extra)); err != nil {
				return nil, bad("extra", "not base64")
			}
			if !more {
				return nil, bad("index", "missing index line")
			}
			line, rest, more = bytes.Cut(rest, []byte("\n"))
		}
		if index, ok := bytes.CutPrefix(line, []byte("index ")); ok {
			if p.Index, err = parseDecimalBytes(index); err != nil {
				return nil, bad("index", "%v", err)
			}
			if p.Path, err = parseHashLines(rest, more); err != nil {
				return nil, bad("path", "%v", err)
			}
			return p, nil
		}
	}
	return nil, bad("index", "missing index line")
}

// An InclusionProofParser parses the tlog-proofs of many leaves of one
// tree in turn, as a bundle verifier's worker does, and gives for each what
// ParseInclusionProof gives. Proofs of nearby leaves share the lines of the
// upper levels of their paths, so it keeps the hash lines it decoded, one a
// level (counted from the root: a line's place from the end of the path),
// and decodes only a line that differs from the one it keeps for its level:
// equal text decodes to the same hash. It walks the form custos writes
// (no extra line, hash lines of 44 bytes); any other text, and any text it
// does not accept, goes to ParseInclusionProof, whose proof or error is the
// answer. FuzzInclusionProofParser holds it to ParseInclusionProof.
//
// The zero value is ready to use. It is not safe for concurrent use.
type InclusionProofParser struct {
	p InclusionProof
	// The line and hash kept for level d (0 is the root's child) are in
	// slot MaxProofHashes-1-d, so that a proof of k hashes, leaf's sibling
	// first, is hash[MaxProofHashes-k:] whatever its length. known has bit
	// s set when slot s holds a line and its hash.
	known uint64
	line  [MaxProofHashes][hashLineLen]byte
	hash  [MaxProofHashes]Hash
}

// hashLineLen is the length of a hash line: base64.StdEncoding.EncodedLen(32).
const hashLineLen = 44

// Parse is ParseInclusionProof(b). The proof it returns, and its Path, are
// the parser's when b is in the form custos writes: they hold until the
// next Parse, which overwrites them.
func (pp *InclusionProofParser) Parse(b []byte) (*InclusionProof, error) {
	if p, ok := pp.parse(b); ok {
		return p, nil
	}
	return ParseInclusionProof(b)
}

// parse parses b if it is in the form custos writes, a header line, an
// index line, k hash lines of hashLineLen bytes, an empty line and a
// checkpoint, and ParseInclusionProof accepts it; else it returns false.
// In that form the first "\n\n", where ParseInclusionProof cuts the
// checkpoint off, is the empty line: the lines before it are not empty and
// a hash line decodes only if it holds no '\n'.
func (pp *InclusionProofParser) parse(b []byte) (*InclusionProof, bool) {
	if len(b) > MaxProofSize {
		return nil, false
	}
	rest, ok := bytes.CutPrefix(b, []byte(inclusionHeader+"\nindex "))
	if !ok {
		return nil, false
	}
	// The index: a canonical decimal of at most 18 digits, as
	// parseDecimalBytes takes it without parseDecimal.
	var index int64
	i := 0
	for ; i < len(rest) && i <= 18 && rest[i] >= '0' && rest[i] <= '9'; i++ {
		index = index*10 + int64(rest[i]-'0')
	}
	if i == 0 || i > 18 || i > 1 && rest[0] == '0' || i == len(rest) || rest[i] != '\n' {
		return nil, false
	}
	rest = rest[i+1:]
	// Count the hash lines up to the empty line.
	k := 0
	for len(rest) > k*(hashLineLen+1) && rest[k*(hashLineLen+1)] != '\n' {
		if end := k*(hashLineLen+1) + hashLineLen; end >= len(rest) || rest[end] != '\n' || k == MaxProofHashes {
			return nil, false
		}
		k++
	}
	cp := rest[min(len(rest), k*(hashLineLen+1)+1):]
	if len(cp) == 0 {
		return nil, false
	}
	for j := range k {
		s := MaxProofHashes - k + j
		line := rest[j*(hashLineLen+1) : j*(hashLineLen+1)+hashLineLen]
		if pp.known&(1<<s) != 0 && string(line) == string(pp.line[s][:]) {
			continue
		}
		if !decodeHash(&pp.hash[s], line) {
			pp.known &^= 1 << s
			return nil, false
		}
		copy(pp.line[s][:], line)
		pp.known |= 1 << s
	}
	pp.p = InclusionProof{Index: index, Path: pp.hash[MaxProofHashes-k:], Checkpoint: cp}
	return &pp.p, true
}

// parseHashLines parses the hash lines of text (none if !some), one base64
// hash a line, as parseHashes does.
func parseHashLines(text []byte, some bool) ([]Hash, error) {
	if !some {
		return []Hash{}, nil
	}
	n := bytes.Count(text, []byte("\n")) + 1
	if n > MaxProofHashes {
		return nil, fmt.Errorf("%d hashes, at most %d allowed", n, MaxProofHashes)
	}
	hs := make([]Hash, n)
	for i := range hs {
		line, rest, _ := bytes.Cut(text, []byte("\n"))
		if !decodeHash(&hs[i], line) {
			return nil, fmt.Errorf("line %d: want a base64 SHA-256 hash", i+1)
		}
		text = rest
	}
	return hs, nil
}

// decodeHash decodes line into h if it is the one encoding of a hash that
// decodeBase64 accepts: standard padded base64 of 32 bytes, as
// EncodeToString writes it. That is 43 characters of the standard
// alphabet and a '=', the last character's two low bits zero (padding
// bits, which strict decoding refuses set: RFC 4648 §3.5). It decodes by
// table: encoding/base64's Decode skips '\r' and '\n', so it needed an
// Encode after it to refuse them, the two a third of a proof's parsing.
// TestDecodeHash holds it to decodeBase64.
func decodeHash(h *Hash, line []byte) bool {
	if len(line) != hashLineLen || line[hashLineLen-1] != '=' {
		return false
	}
	var out Hash
	var bad byte // a value's high bits: set only for a byte not in the alphabet
	for i, j := 0, 0; i < 40; i, j = i+4, j+3 {
		a, b, c, d := base64Value[line[i]], base64Value[line[i+1]], base64Value[line[i+2]], base64Value[line[i+3]]
		bad |= a | b | c | d
		out[j], out[j+1], out[j+2] = a<<2|b>>4, b<<4|c>>2, c<<6|d
	}
	a, b, c := base64Value[line[40]], base64Value[line[41]], base64Value[line[42]]
	if (bad|a|b|c)&0xc0 != 0 || c&3 != 0 {
		return false
	}
	out[30], out[31] = a<<2|b>>4, b<<4|c>>2
	*h = out
	return true
}

// base64Value maps a byte of the standard base64 alphabet to its value, and
// any other byte to 0xff.
var base64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = byte(i)
	}
	return t
}()

// A ConsistencyProof proves that the tree of size Old is a prefix of the tree
// in Checkpoint. Its text is the body of a C2SP tlog-witness add-checkpoint
// request (https://c2sp.org/tlog-witness), so it can be handed to a witness
// as it is:
//
//	old 5
//	<base64 hash>
//	...
//	<empty line>
//	<signed checkpoint, verbatim>
type ConsistencyProof struct {
	Old        int64
	Path       []Hash
	Checkpoint []byte // signed note of the newer tree
}

// Marshal returns the proof in tlog-witness request form.
func (p *ConsistencyProof) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", p.Old)
	writeHashes(&b, p.Path)
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseConsistencyProof parses the form Marshal writes. Errors are
// *ParseError.
func ParseConsistencyProof(b []byte) (*ConsistencyProof, error) {
	lines, cp, err := splitProof(b, "consistency proof")
	if err != nil {
		return nil, err
	}
	bad := func(field, format string, args ...any) error {
		return &ParseError{What: "consistency proof", Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "old ") {
		return nil, bad("old", "first line must be \"old <size>\"")
	}
	p := &ConsistencyProof{Checkpoint: cp}
	if p.Old, err = parseDecimal(lines[0][len("old "):]); err != nil {
		return nil, bad("old", "%v", err)
	}
	if p.Path, err = parseHashes(lines[1:]); err != nil {
		return nil, bad("path", "%v", err)
	}
	return p, nil
}

// splitProof caps the input and splits it at the first empty line into the
// proof's lines and the checkpoint that follows.
func splitProof(b []byte, what string) (lines []string, checkpoint []byte, err error) {
	head, cp, err := cutProof(b, what)
	if err != nil {
		return nil, nil, err
	}
	return strings.Split(string(head), "\n"), cp, nil
}

// cutProof caps the input and cuts it at the first empty line into the
// proof's text and the checkpoint that follows.
func cutProof(b []byte, what string) (head, checkpoint []byte, err error) {
	if len(b) > MaxProofSize {
		return nil, nil, &ParseError{What: what, Msg: fmt.Sprintf("%d bytes exceeds the %d-byte cap", len(b), MaxProofSize)}
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return nil, nil, &ParseError{What: what, Msg: "no checkpoint after an empty line"}
	}
	return head, cp, nil
}

func writeHashes(b *bytes.Buffer, hs []Hash) {
	for _, h := range hs {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteString("\n")
	}
}

func parseHashes(lines []string) ([]Hash, error) {
	if len(lines) > MaxProofHashes {
		return nil, fmt.Errorf("%d hashes, at most %d allowed", len(lines), MaxProofHashes)
	}
	hs := make([]Hash, len(lines))
	for i, l := range lines {
		raw, err := decodeBase64(l)
		if err != nil || len(raw) != len(Hash{}) {
			return nil, fmt.Errorf("line %d: want a base64 SHA-256 hash", i+1)
		}
		copy(hs[i][:], raw)
	}
	return hs, nil
}

// decodeBase64 decodes standard padded base64 and accepts only the form
// EncodeToString writes: encoding/base64 skips '\r' and '\n' even in
// strict mode, so "AAAA\r" would otherwise decode and re-encode to other
// bytes (found by FuzzParseInclusionProof in package verify).
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

// parseDecimalBytes is parseDecimal of b, without converting b to a
// string when it is a canonical decimal of at most 18 digits (which cannot
// overflow).
func parseDecimalBytes(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 || len(b) > 1 && b[0] == '0' {
		return parseDecimal(string(b))
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return parseDecimal(string(b))
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// parseDecimal parses a non-negative decimal with no sign and no leading
// zeros, as C2SP formats require.
func parseDecimal(s string) (int64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a canonical decimal", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q out of range", s)
	}
	return n, nil
}
