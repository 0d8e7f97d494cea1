package custody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

const (
	// StatementType is the in-toto Statement v1 _type; no other version is accepted.
	// https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
	StatementType = "https://in-toto.io/Statement/v1"

	// PayloadType is the DSSE payload type of an in-toto Statement. It is the
	// only payload type custos signs, and it is always required on verify.
	PayloadType = "application/vnd.in-toto+json"

	// MaxStatementSize is the largest statement, in bytes, that ParseStatement
	// reads. A custody event is digests and metadata, never evidence content:
	// 512 KiB leaves room for thousands of subjects.
	MaxStatementSize = 512 << 10

	// MaxEnvelopeSize is the largest envelope, in bytes, that ParseEnvelope
	// reads: a MaxStatementSize payload in base64 (683 KiB) plus
	// MaxSignatures signatures fit with room to spare.
	MaxEnvelopeSize = 1 << 20

	// maxPredicateTypeLen caps Statement.PredicateType, in bytes.
	maxPredicateTypeLen = 256
	// maxAlgorithmLen and maxDigestLen cap the names and values of digests
	// of algorithms custos does not know.
	maxAlgorithmLen = 64
	maxDigestLen    = 512
)

// identityAlgorithm is the digest algorithm by which custos identifies an
// artifact. Every subject of a statement must carry it.
const identityAlgorithm = "sha256"

// hexDigestLen is the length, in lowercase hex characters, of the digests
// whose algorithm custos knows. Names follow the in-toto digest set
// registry: https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md
var hexDigestLen = map[string]int{
	"md5":    32,
	"sha1":   40,
	"sha256": 64,
	"sha384": 96,
	"sha512": 128,
}

// Statement is an in-toto Statement v1: what happened (Predicate, of type
// PredicateType) to which artifacts (Subject).
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate,omitempty"`
}

// Subject is an in-toto ResourceDescriptor restricted to what custos uses:
// an artifact named by a digest set.
type Subject struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest"`
	Annotations json.RawMessage   `json:"annotations,omitempty"`
}

// ParseStatement parses and checks an in-toto Statement v1 as custos accepts it:
//
//   - at most MaxStatementSize bytes of valid UTF-8 holding exactly one JSON
//     object, with no field that Statement does not define;
//   - _type is StatementType;
//   - at least one subject, and every subject carries a "sha256" digest,
//     because SHA-256 is the digest by which custos identifies an artifact;
//   - digest algorithm names are lowercase; the digests of md5, sha1, sha256,
//     sha384 and sha512 are lowercase hex of the right length, others are
//     non-empty;
//   - predicateType is non-empty and at most 256 bytes;
//   - predicate and annotations, when present, are JSON objects.
//
// Any other input gives a *ParseError with What "statement".
func ParseStatement(b []byte) (*Statement, error) {
	const what = "statement"
	var s Statement
	if err := decodeStrict(what, MaxStatementSize, b, &s); err != nil {
		return nil, err
	}
	if s.Type != StatementType {
		return nil, parseErr(what, "_type", "want %q, got %s", StatementType, quoteShort(s.Type))
	}
	if len(s.Subject) == 0 {
		return nil, parseErr(what, "subject", "want at least one subject")
	}
	for i, sub := range s.Subject {
		// The field names are made only for an error: a replay parses a
		// statement for every leaf.
		field := func() string { return fmt.Sprintf("subject[%d]", i) }
		if err := checkDigestSet(func() string { return field() + ".digest" }, sub.Digest); err != nil {
			return nil, err
		}
		if err := checkObject(sub.Annotations); err != nil {
			return nil, &ParseError{What: what, Field: field() + ".annotations", Err: err}
		}
	}
	switch {
	case s.PredicateType == "":
		return nil, parseErr(what, "predicateType", "must not be empty")
	case len(s.PredicateType) > maxPredicateTypeLen:
		return nil, parseErr(what, "predicateType", "want at most %d bytes, got %d", maxPredicateTypeLen, len(s.PredicateType))
	}
	if err := checkObject(s.Predicate); err != nil {
		return nil, &ParseError{What: what, Field: "predicate", Err: err}
	}
	return &s, nil
}

// checkDigestSet checks the digest set d of the field that field names
// (called only for an error).
func checkDigestSet(field func() string, d map[string]string) error {
	const what = "statement"
	if len(d) == 0 {
		return parseErr(what, field(), "want at least one digest")
	}
	if _, ok := d[identityAlgorithm]; !ok {
		return parseErr(what, field()+"."+identityAlgorithm, "missing: every subject must carry its SHA-256 digest")
	}
	// Sorted, so that the error reported for a bad digest set is always the same.
	var arr [8]string // most sets have one or two digests
	algs := arr[:0]
	for alg := range d {
		algs = append(algs, alg)
	}
	slices.Sort(algs)
	for _, alg := range algs {
		if !validAlgorithm(alg) {
			return parseErr(what, field(), "algorithm name %s: want 1 to %d characters of a-z, 0-9, '-' or '_', starting with a letter or digit",
				quoteShort(alg), maxAlgorithmLen)
		}
		v := d[alg]
		f := func() string { return field() + "." + alg }
		n, known := hexDigestLen[alg]
		switch {
		case known && len(v) != n:
			return parseErr(what, f(), "want %d lowercase hex characters, got %d", n, len(v))
		case known && !isLowerHex(v):
			return parseErr(what, f(), "want %d lowercase hex characters, got a character outside 0-9a-f", n)
		case v == "":
			return parseErr(what, f(), "must not be empty")
		case len(v) > maxDigestLen:
			return parseErr(what, f(), "want at most %d characters, got %d", maxDigestLen, len(v))
		}
	}
	return nil
}

func validAlgorithm(s string) bool {
	if s == "" || len(s) > maxAlgorithmLen || s[0] == '-' || s[0] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// checkObject reports whether raw, if present, is a JSON object.
// encoding/json hands a literal null to json.RawMessage as "null", so a
// present-but-null field is refused too.
func checkObject(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return errors.New("want a JSON object")
	}
	return nil
}

// decodeStrict decodes b, of at most max bytes, into v: valid UTF-8, exactly
// one JSON value, no unknown fields, and checkKeys's rules. v must point to
// a zero value for the fast path (fastjson.go) to be tried; whatever it
// leaves undecided, decodeJSON decides.
func decodeStrict(what string, max int, b []byte, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().IsZero() {
		if fastDecode(max, b, v) {
			return nil
		}
		rv.Elem().SetZero()
	}
	return decodeJSON(what, max, b, v)
}

// decodeJSON is decodeStrict by encoding/json and checkKeys.
func decodeJSON(what string, max int, b []byte, v any) error {
	if len(b) > max {
		return parseErr(what, "", "%d bytes exceeds the limit of %d", len(b), max)
	}
	if !utf8.Valid(b) {
		// encoding/json would silently replace invalid UTF-8 with U+FFFD.
		return parseErr(what, "", "not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(what, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return parseErr(what, "", "trailing data after the JSON value, which ends at offset %d", end)
	}
	return checkKeys(what, b, v)
}

// jsonError turns an encoding/json error into a *ParseError, naming the field
// where encoding/json says which it is.
func jsonError(what string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return parseErr(what, "", "empty input")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return parseErr(what, "", "truncated JSON")
	case errors.As(err, &syn):
		return parseErr(what, "", "invalid JSON at offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return parseErr(what, typ.Field, "want %s, got JSON %s", jsonKind(typ.Type), typ.Value)
	}
	// encoding/json reports unknown fields only as text: json: unknown field "x".
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return parseErr(what, strings.Trim(name, `"`), "unknown field")
	}
	return &ParseError{What: what, Err: err}
}

// jsonKind names the JSON value that decodes into a value of type t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another JSON value"
	}
	if t == reflect.TypeFor[[]byte]() {
		return "a base64 string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "a JSON boolean"
	}
	return "a JSON number"
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
