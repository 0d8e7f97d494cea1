package custody

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// mutateStatement returns validStatement with f applied to its JSON object.
func mutateStatement(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(validStatement, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func subject(m map[string]any, i int) map[string]any {
	return m["subject"].([]any)[i].(map[string]any)
}

func digest(m map[string]any, i int) map[string]any {
	return subject(m, i)["digest"].(map[string]any)
}

func TestParseStatementValid(t *testing.T) {
	tests := []struct {
		name string
		in   func(t *testing.T) []byte
	}{
		{"sample", func(*testing.T) []byte { return validStatement }},
		{"no predicate", func(t *testing.T) []byte {
			return mutateStatement(t, func(m map[string]any) { delete(m, "predicate") })
		}},
		{"all known digests", func(t *testing.T) []byte {
			return mutateStatement(t, func(m map[string]any) {
				d := digest(m, 0)
				d["sha1"], d["sha384"], d["md5"] = hexOf(40), hexOf(96), hexOf(32)
			})
		}},
		{"unknown algorithm", func(t *testing.T) []byte {
			return mutateStatement(t, func(m map[string]any) { digest(m, 0)["dirhash"] = "h1:Yx/xs=" })
		}},
		{"annotations", func(t *testing.T) []byte {
			return mutateStatement(t, func(m map[string]any) { subject(m, 0)["annotations"] = map[string]any{"a": 1} })
		}},
		{"whitespace around", func(*testing.T) []byte { return append(append([]byte(" \n"), validStatement...), "\n"...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in(t)
			s, err := ParseStatement(in)
			if err != nil {
				t.Fatalf("ParseStatement(%s) = %v, want nil error", in, err)
			}
			if s.Type != StatementType || len(s.Subject) != 2 || s.Subject[0].Digest["sha256"] != sha256A {
				t.Errorf("ParseStatement(%s) = %+v, want the sample's fields", in, s)
			}
		})
	}
}

func TestParseStatementInvalid(t *testing.T) {
	big := mutateStatement(t, func(m map[string]any) {
		m["predicate"] = map[string]any{"pad": strings.Repeat("x", MaxStatementSize)}
	})
	tests := []struct {
		name      string
		in        []byte
		wantField string
		wantMsg   string // the whole Error(), when set
	}{
		{"wrong _type", mutateStatement(t, func(m map[string]any) { m["_type"] = "https://in-toto.io/Statement/v0.1" }), "_type", ""},
		{"no _type", mutateStatement(t, func(m map[string]any) { delete(m, "_type") }), "_type", ""},
		{"no subject", mutateStatement(t, func(m map[string]any) { m["subject"] = []any{} }), "subject", ""},
		{"null subject", mutateStatement(t, func(m map[string]any) { m["subject"] = nil }), "subject", ""},
		{"subject not an array", mutateStatement(t, func(m map[string]any) { m["subject"] = map[string]any{} }), "subject", ""},
		{"no digest", mutateStatement(t, func(m map[string]any) { delete(subject(m, 0), "digest") }), "subject[0].digest", ""},
		{"missing sha256", mutateStatement(t, func(m map[string]any) { delete(digest(m, 1), "sha256") }), "subject[1].digest.sha256", ""},
		{"uppercase hex", mutateStatement(t, func(m map[string]any) { digest(m, 0)["sha256"] = strings.ToUpper(sha256A) }), "subject[0].digest.sha256", ""},
		{"short hex", mutateStatement(t, func(m map[string]any) { digest(m, 1)["sha256"] = sha256B[:63] }), "subject[1].digest.sha256",
			"malformed statement: subject[1].digest.sha256: want 64 lowercase hex characters, got 63"},
		{"non-hex", mutateStatement(t, func(m map[string]any) { digest(m, 0)["sha256"] = "g" + sha256A[1:] }), "subject[0].digest.sha256", ""},
		{"bad sha512", mutateStatement(t, func(m map[string]any) { digest(m, 0)["sha512"] = sha256A }), "subject[0].digest.sha512", ""},
		{"bad md5", mutateStatement(t, func(m map[string]any) { digest(m, 1)["md5"] = strings.ToUpper(hexOf(32)) }), "subject[1].digest.md5", ""},
		{"uppercase algorithm", mutateStatement(t, func(m map[string]any) { digest(m, 0)["SHA512"] = hexOf(128) }), "sha512", ""}, // refused before the digest check: two keys differing in case
		{"empty unknown digest", mutateStatement(t, func(m map[string]any) { digest(m, 0)["blake3"] = "" }), "subject[0].digest.blake3", ""},
		{"digest not a string", mutateStatement(t, func(m map[string]any) { digest(m, 0)["sha1"] = 7 }), "subject.digest", ""},
		{"unknown top-level field", mutateStatement(t, func(m map[string]any) { m["signature"] = "x" }), "signature", ""},
		{"unknown subject field", mutateStatement(t, func(m map[string]any) { subject(m, 0)["mediaType"] = "x" }), "mediaType", ""},
		{"trailing garbage", append(bytes.Clone(validStatement), " x"...), "", ""},
		{"trailing object", append(bytes.Clone(validStatement), "{}"...), "", ""},
		{"oversize", big, "", ""},
		{"predicate array", mutateStatement(t, func(m map[string]any) { m["predicate"] = []any{1} }), "predicate", ""},
		{"predicate string", mutateStatement(t, func(m map[string]any) { m["predicate"] = "x" }), "predicate", ""},
		{"predicate null", mutateStatement(t, func(m map[string]any) { m["predicate"] = nil }), "predicate", ""},
		{"annotations not an object", mutateStatement(t, func(m map[string]any) { subject(m, 1)["annotations"] = 3 }), "subject[1].annotations", ""},
		{"empty predicateType", mutateStatement(t, func(m map[string]any) { m["predicateType"] = "" }), "predicateType", ""},
		{"long predicateType", mutateStatement(t, func(m map[string]any) { m["predicateType"] = strings.Repeat("p", 257) }), "predicateType", ""},
		{"invalid UTF-8", bytes.Replace(validStatement, []byte("disk.img"), []byte("disk\xff.img"), 1), "", ""},
		{"empty", nil, "", ""},
		{"truncated", validStatement[:len(validStatement)/2], "", ""},
		{"array", []byte(`[]`), "", ""},
		{"null", []byte(`null`), "_type", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStatement(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseStatement(%.80q) = %v, want *ParseError", tt.in, err)
			}
			if pe.What != "statement" || pe.Field != tt.wantField {
				t.Errorf("ParseStatement(%.80q) = What %q Field %q (%v), want What %q Field %q", tt.in, pe.What, pe.Field, err, "statement", tt.wantField)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("ParseStatement(%.80q).Error() = %q, want %q", tt.in, err, tt.wantMsg)
			}
		})
	}
}
