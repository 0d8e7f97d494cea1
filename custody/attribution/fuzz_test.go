package attribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParsePolicy: ParsePolicy never panics, fails only with a *ParseError,
// and a policy it accepts re-validates, survives a JSON round trip
// unchanged, and evaluates to a verdict that ParseVerdict accepts back.
func FuzzParsePolicy(f *testing.F) {
	for _, n := range exampleNames {
		f.Add(examplePolicy(f, n))
	}
	b, _ := json.Marshal(basePolicy())
	f.Add(b)
	f.Add([]byte("custos_policy: 1\nname: a\nmethods: []\nbaseline_max_likelihood: unlikely\nlevels: [{name: b, max_likelihood: likely, integrity: {custody_unbroken: true, witnessed: false, keys_valid: true, method_registered: false}, quality: {source_reliability: F, credibility: 6, min_confidence: 0}, corroboration: {min_lines: 1}, contradictions: {source_reliability: A, credibility: 1}}]\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\n"))
	f.Add([]byte(`{"custos_policy": 1, "levels": [{"name": "x"}]}`))
	g := richGraph()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePolicy error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("a parsed policy does not re-validate: %v", err)
		}
		j, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParsePolicy(j)
		if err != nil {
			t.Fatalf("ParsePolicy(json.Marshal(p)) = %v\n%s", err, j)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("JSON round trip = %+v, want %+v", again, p)
		}
		v, err := Evaluate(b, 5, g, "H-1")
		if err != nil {
			t.Fatalf("Evaluate with a valid policy: %v", err)
		}
		vb := v.Marshal()
		back, err := ParseVerdict(vb)
		if err != nil {
			t.Fatalf("ParseVerdict(Marshal(v)) = %v", err)
		}
		if !bytes.Equal(back.Marshal(), vb) {
			t.Fatalf("verdict round trip differs")
		}
	})
}

// FuzzParseVerdict: ParseVerdict never panics, and accepts only bytes that
// re-encode to themselves.
func FuzzParseVerdict(f *testing.F) {
	for _, n := range exampleNames {
		v, err := Evaluate(examplePolicy(f, n), 5, richGraph(), "H-1")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v.Marshal())
	}
	f.Add([]byte(`{"evaluator":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVerdict(b)
		if err != nil {
			return
		}
		if got := v.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("ParseVerdict accepted %q, which re-encodes as %q", b, got)
		}
	})
}
