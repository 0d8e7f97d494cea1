package custody

import (
	"reflect"
	"testing"
)

// ambiguousNames has two field names equal under case folding, in
// different structs: checkKeys refuses one of them wherever it appears,
// and fastDecode must give up on it, though it is a field name exactly.
type ambiguousNames struct {
	ID  string `json:"ID"`
	Sub struct {
		ID string `json:"id"`
	} `json:"sub"`
}

// TestFastDecodeAmbiguousNames: where a type's field names are ambiguous,
// fastDecode decodes nothing that decodeJSON refuses.
func TestFastDecodeAmbiguousNames(t *testing.T) {
	if !fieldNames(reflect.TypeFor[*ambiguousNames]()).ambiguous {
		t.Fatalf("fieldNames(ambiguousNames).ambiguous = false, want true")
	}
	if fieldNames(reflect.TypeFor[*Statement]()).ambiguous {
		t.Fatalf("fieldNames(Statement).ambiguous = true, want false")
	}
	for _, s := range []string{
		`{"ID":"x"}`,
		`{"sub":{"id":"y"}}`,
		`{"ID":"x","sub":{"id":"y"}}`,
	} {
		fast, slow := new(ambiguousNames), new(ambiguousNames)
		ok := fastDecode(MaxStatementSize, []byte(s), fast)
		err := decodeJSON("statement", MaxStatementSize, []byte(s), slow)
		if ok && err != nil {
			t.Errorf("fastDecode(%s) succeeded, decodeJSON refuses it: %v", s, err)
		}
		if ok && !reflect.DeepEqual(fast, slow) {
			t.Errorf("fastDecode(%s) = %+v, decodeJSON gives %+v", s, fast, slow)
		}
	}
}
