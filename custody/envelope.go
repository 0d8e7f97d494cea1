package custody

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// MaxSignatures is the most signatures an envelope may carry.
const MaxSignatures = 16

// maxKeyIDLen caps Signature.KeyID, in bytes. A custos key id is 71 bytes.
const maxKeyIDLen = 256

// Envelope is a DSSE v1 envelope
// (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md).
//
// Its one encoding, produced by Marshal and the only one ParseEnvelope
// accepts, is compact JSON with the fields in the order below, byte strings
// in standard base64 with padding, and strings escaped as encoding/json
// escapes them. Every signature carries its "keyid", possibly empty. For
// example (payload and signature shortened):
//
//	{"payloadType":"application/vnd.in-toto+json","payload":"eyJfdHlwZSI6...","signatures":[{"keyid":"sha256:5d4e...","sig":"MEUCIQ..."}]}
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature: Sig over PAE(payloadType, payload), by the
// key named by KeyID (PublicKey.KeyID).
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// ParseEnvelope parses a DSSE envelope of at most MaxEnvelopeSize bytes. It
// requires the payload type PayloadType, a non-empty payload, 1 to
// MaxSignatures signatures with non-empty sig and distinct keyid, and that
// the input be canonical: Marshal of the result must give b back byte for
// byte. The last rule makes an envelope, and so a ledger leaf, non-malleable.
//
// ParseEnvelope checks neither the signatures nor the payload; see
// VerifyEnvelope. Malformed input gives a *ParseError with What "envelope".
func ParseEnvelope(b []byte) (*Envelope, error) {
	if e, ok := parseCanonicalEnvelope(b); ok {
		return e, nil
	}
	const what = "envelope"
	var e Envelope
	if err := decodeStrict(what, MaxEnvelopeSize, b, &e); err != nil {
		return nil, err
	}
	if e.PayloadType != PayloadType {
		return nil, parseErr(what, "payloadType", "want %q, got %s", PayloadType, quoteShort(e.PayloadType))
	}
	if len(e.Payload) == 0 {
		return nil, parseErr(what, "payload", "must not be empty")
	}
	if len(e.Signatures) == 0 || len(e.Signatures) > MaxSignatures {
		return nil, parseErr(what, "signatures", "want 1 to %d signatures, got %d", MaxSignatures, len(e.Signatures))
	}
	seen := make(map[string]bool, len(e.Signatures))
	for i, s := range e.Signatures {
		if len(s.Sig) == 0 {
			return nil, parseErr(what, fmt.Sprintf("signatures[%d].sig", i), "must not be empty")
		}
		f := fmt.Sprintf("signatures[%d].keyid", i)
		if len(s.KeyID) > maxKeyIDLen {
			return nil, parseErr(what, f, "want at most %d bytes, got %d", maxKeyIDLen, len(s.KeyID))
		}
		if s.KeyID != "" && seen[s.KeyID] {
			return nil, parseErr(what, f, "repeats the key id of an earlier signature")
		}
		seen[s.KeyID] = true
	}
	if !bytes.Equal(e.Marshal(), b) {
		return nil, parseErr(what, "", "not in canonical form")
	}
	return &e, nil
}

// canonicalPrefix starts the canonical encoding of every envelope
// ParseEnvelope accepts.
const canonicalPrefix = `{"payloadType":"` + PayloadType + `","payload":"`

// parseCanonicalEnvelope is ParseEnvelope's fast path, for a replay's
// every leaf: it reads b only as the canonical encoding (Marshal) of an
// envelope of payload type PayloadType with plain ASCII key ids, applies
// ParseEnvelope's checks, and reports false for anything else, which
// ParseEnvelope then parses with encoding/json and explains. When it
// reports true, b is canonical (Marshal gives it back: every byte of it
// was matched to Marshal's form, each base64 string to its one encoding)
// and ASCII, so encoding/json reads from it exactly the envelope returned,
// and ParseEnvelope's slow path would accept it too.
func parseCanonicalEnvelope(b []byte) (*Envelope, bool) {
	if len(b) > MaxEnvelopeSize {
		return nil, false
	}
	rest, ok := bytes.CutPrefix(b, []byte(canonicalPrefix))
	if !ok {
		return nil, false
	}
	// The envelope and its first signature in one allocation: nearly
	// every envelope has one signature.
	one := &struct {
		e   Envelope
		sig [1]Signature
	}{}
	e := &one.e
	e.PayloadType, e.Signatures = PayloadType, one.sig[:0]
	if e.Payload, rest, ok = cutBase64(rest); !ok || len(e.Payload) == 0 {
		return nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"signatures":[`)); !ok {
		return nil, false
	}
	for more := true; more; {
		if len(e.Signatures) == MaxSignatures {
			return nil, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`{"keyid":"`)); !ok {
			return nil, false
		}
		i := bytes.IndexByte(rest, '"')
		if i < 0 || i > maxKeyIDLen || !plainASCII(rest[:i]) {
			return nil, false
		}
		var s Signature
		s.KeyID = string(rest[:i])
		if rest, ok = bytes.CutPrefix(rest[i:], []byte(`","sig":"`)); !ok {
			return nil, false
		}
		if s.Sig, rest, ok = cutBase64(rest); !ok || len(s.Sig) == 0 {
			return nil, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`}`)); !ok {
			return nil, false
		}
		for _, t := range e.Signatures {
			if s.KeyID != "" && t.KeyID == s.KeyID {
				return nil, false
			}
		}
		e.Signatures = append(e.Signatures, s)
		rest, more = bytes.CutPrefix(rest, []byte(","))
	}
	if string(rest) != "]}" {
		return nil, false
	}
	return e, true
}

// strictBase64 is standard base64 refusing non-zero padding bits.
var strictBase64 = base64.StdEncoding.Strict()

// cutBase64 decodes the base64 before the next '"' of b, if it is the one
// encoding Marshal writes (standard, padded, zero padding bits, no line
// breaks), and returns what follows that quote.
func cutBase64(b []byte) (decoded, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '"')
	if i < 0 {
		return nil, nil, false
	}
	d := make([]byte, base64.StdEncoding.DecodedLen(i))
	n, err := strictBase64.Decode(d, b[:i])
	if err != nil || base64.StdEncoding.EncodedLen(n) != i {
		return nil, nil, false // Decode skips '\r' and '\n'
	}
	return d[:n], b[i+1:], true
}

// plainASCII reports whether encoding/json writes s as it is between
// quotes: printable ASCII other than '"', '\\' and the characters it
// escapes for HTML ('<', '>', '&').
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// Marshal returns the canonical encoding of e (see Envelope).
func (e *Envelope) Marshal() []byte {
	b := make([]byte, 0, 64+base64.StdEncoding.EncodedLen(len(e.Payload))+len(e.Signatures)*(64+maxKeyIDLen))
	b = append(b, `{"payloadType":`...)
	b = appendString(b, e.PayloadType)
	b = append(b, `,"payload":"`...)
	b = base64.StdEncoding.AppendEncode(b, e.Payload)
	b = append(b, `","signatures":[`...)
	for i, s := range e.Signatures {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"keyid":`...)
		b = appendString(b, s.KeyID)
		b = append(b, `,"sig":"`...)
		b = base64.StdEncoding.AppendEncode(b, s.Sig)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}

// appendString appends s as encoding/json encodes a string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // json.Marshal of a string cannot fail
	return append(b, q...)
}

// Statement parses the envelope's payload as a Statement. It does not check
// any signature: use it for display, and VerifyEnvelope for anything else.
func (e *Envelope) Statement() (*Statement, error) {
	return ParseStatement(e.Payload)
}
