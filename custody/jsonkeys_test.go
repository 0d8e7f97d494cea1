package custody

import (
	"errors"
	"testing"
)

// TestDecodeStrictOneReading: a document that two JSON parsers could read
// differently is refused; a valid surrogate pair is not.
func TestDecodeStrictOneReading(t *testing.T) {
	type inner struct {
		Key string `json:"key"`
	}
	type doc struct {
		Name  string  `json:"name"`
		Inner inner   `json:"inner"`
		List  []inner `json:"list"`
	}
	cases := []struct {
		in string
		ok bool
	}{
		{`{"name":"a","inner":{"key":"b"},"list":[{"key":"c"}]}`, true},
		{`{"name":"\ud83d\ude00","inner":{"key":"b"}}`, true},
		{`{"name":"a","name":"b"}`, false},
		{`{"Name":"a"}`, false},
		{`{"inner":{"KEY":"b"}}`, false},
		{`{"list":[{"key":"a","Key":"b"}]}`, false},
		{"{\"inner\":{\"\u212aey\":\"b\"}}", false}, // the Kelvin sign folds to k
		{`{"name":"\ud800"}`, false},
		{`{"name":"\udc00\ud800"}`, false},
		{`{"name":"\\ud800"}`, true}, // an escaped backslash, not an escape
	}
	for _, tc := range cases {
		var d doc
		err := decodeStrict("test", 1<<20, []byte(tc.in), &d)
		if tc.ok != (err == nil) {
			t.Errorf("decodeStrict(%s) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("decodeStrict(%s) = %T, want *ParseError", tc.in, err)
		}
	}
}
