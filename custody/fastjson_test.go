package custody

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fastDecodeTypes are the types decodeStrict decodes, each a function
// returning a pointer to a new zero value.
var fastDecodeTypes = []func() any{
	func() any { return new(Statement) },
	func() any { return new(Envelope) },
	func() any { return new(Enroll) },
	func() any { return new(KeyRotate) },
	func() any { return new(KeyRevoke) },
	func() any { return new(Acquire) },
	func() any { return new(Derive) },
	func() any { return new(Release) },
	func() any { return new(Accept) },
	func() any { return new(Reject) },
	func() any { return new(Seal) },
	func() any { return new(Unseal) },
	func() any { return new(Dispose) },
	func() any { return new(Finding) },
	func() any { return new(Hypothesis) },
	func() any { return new(Verdict) },
	func() any { return new(ExhibitRecord) },
	func() any { return new(HistoryStep) },
	func() any { return new(PartyRecord) },
}

// fastDecodeSeeds are statements and predicates as custos writes them, and
// each of the departures from them that fastDecode must leave to
// encoding/json.
func fastDecodeSeeds(t testing.TB) [][]byte {
	ref := LeafRef{Index: 7, LeafHash: "aGFzaA=="}
	preds := []any{
		Acquire{Exhibit: "HX-7", Size: 4096, Source: "laptop <A&B>", Method: "dd\n\"quoted\"\\ \u00e9\u2028", Tool: "custos"},
		Derive{Exhibit: "HX-8", Parents: []string{"HX-7", "HX-6"}, Kind: "image", Size: 12},
		Release{Exhibit: "HX-7", To: "lab", Prev: ref},
		Accept{Exhibit: "HX-7", Prev: ref, Note: "ok"},
		Reject{Exhibit: "HX-7", Prev: ref, Reason: "seal broken"},
		Seal{Exhibit: "HX-7", SealID: "S-1", Prev: ref},
		Dispose{Exhibit: "HX-7", Method: "destroyed", Reason: "order", Prev: ref},
		KeyRotate{Party: "lab", OldKey: "sha256:aa", NewKey: KeyRef{ID: "sha256:bb", PEM: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}},
		map[string]any{"exhibit": "HX-7", "nested": map[string]any{"a": []any{1, -2.5e3, true, false, nil, "x", map[string]any{}}, "b": []any{}}},
	}
	var out [][]byte
	for i, p := range preds {
		st, err := NewStatement(fmt.Sprintf("https://custos.dev/custody/test-%d/v1", i), Subject{Name: "HX-7", Digest: map[string]string{"sha256": sha256A, "md5": hexOf(32)}}, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
		s, _ := ParseStatement(st)
		out = append(out, s.Predicate)
	}
	out = append(out, validStatement)
	for _, s := range []string{
		` {"exhibit" : "HX-7" , "size" : 0 } `,
		`{"exhibit":"HX-7","size":-0}`,
		`{"exhibit":"HX-7","size":-12}`,
		`{"exhibit":"HX-7","size":01}`,
		`{"exhibit":"HX-7","size":1.0}`,
		`{"exhibit":"HX-7","size":1e3}`,
		`{"exhibit":"HX-7","size":123456789012345678901}`,
		`{"exhibit":"HX-7","size":"1"}`,
		`{"exhibit":"HX-7","size":null}`,
		`{"exhibit":null}`,
		`{"Exhibit":"HX-7"}`,
		`{"exhibit":"HX-7","exhibit":"HX-8"}`,
		`{"exhibit":"HX-7","unknown":1}`,
		`{"exhibit":"\ud800"}`,
		`{"exhibit":"\ud83d\ude00"}`,
		`{"exhibit":"\u00e9\/\b\f\r\t"}`,
		`{"exhibit":"\x"}`,
		"{\"exhibit\":\"a\x01\"}",
		"{\"exhibit\":\"\xff\"}",
		`{"exhibit":"HX-7"}x`,
		`{"exhibit":"HX-7"} {}`,
		`{"exhibit":"HX-7",}`,
		`{"parents":[]}`,
		`{"parents":["a",]}`,
		`{"parents":["a" "b"]}`,
		`{"prev":{"index":1,"leaf_hash":"x"},"prev":{}}`,
		`{"prev":{"INDEX":1}}`,
		`{"prev":{}}`,
		`[]`,
		`"x"`,
		``,
		`{"_type":"x","subject":[{"digest":{}}]}`,
		`{"_type":"x","subject":[{"digest":{"sha256":"a","SHA256":"b"}}]}`,
		`{"_type":"x","subject":[{"digest":{"sha256":"a","Name":"b"}}]}`,
		`{"_type":"x","subject":[{"digest":{"sha256":"a","name":"b"}}]}`,
		`{"_type":"x","subject":[{"digest":{"sha256":1}}]}`,
		`{"_type":"x","subject":[{"digest":{"sha256":"a"},"annotations":[]}]}`,
		`{"_type":"x","subject":[{"digest":{"sha256":"a"},"annotations":{"k":"v","K":"w"}}]}`,
		`{"_type":"x","subject":[],"predicate":{"a":{"Subject":1}}}`,
		`{"_type":"x","predicate":{"a":{"subject":1,"b":[1,2,{"c":"\u00e9"}]}}}`,
		`{"_type":"x","predicate":{"a":01}}`,
		`{"_type":"x","predicate":{"a":-}}`,
		`{"_type":"x","predicate":{"a":1.}}`,
		`{"_type":"x","predicate":{"a":tru}}`,
		`{"_type":"x","predicate":null}`,
		`{"_type":"x","predicate":{"\u0061":1}}`,
		"{\"_type\":\"x\",\"predicate\":{\"\u212a\":1}}",
		`{"_type":"x","predicate":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`,
		`{"payloadType":"x","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`,
		`{"party":"lab","roles":["admin","collector"],"key":{"id":"sha256:aa","pem":"x"}}`,
		`{"id":"HX-7","digests":{"sha256":"aa"},"size":1,"holder":"lab","status":"released","open_release":{"to":"x","ref":{"index":3,"leaf_hash":"aA=="}},"last":{"index":3,"leaf_hash":"aA=="},"parents":["a"],"acquired":1,"mismatches":[2,3],"derived":["b"]}`,
		`{"id":"HX-7","digests":null,"open_release":null,"mismatches":[]}`,
		`{"id":"HX-7","mismatches":[1.5]}`,
		`{"name":"lab","org":"o","roles":["admin"],"keys":[{"id":"k","pem":"p","added":0,"revoked":-1,"rotated_out":-1}],"current":"k","enrolled":0}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzFastDecode holds decodeStrict's fast path to encoding/json: whatever
// fastDecode decodes, decodeJSON (encoding/json and checkKeys) accepts
// too, into an equal value. Where fastDecode gives up, decodeStrict is
// decodeJSON, so for every input the two paths give one verdict, value
// and error.
func FuzzFastDecode(f *testing.F) {
	for _, s := range fastDecodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, newValue := range fastDecodeTypes {
			fast, slow := newValue(), newValue()
			if !fastDecode(MaxStatementSize, b, fast) {
				continue
			}
			if err := decodeJSON("statement", MaxStatementSize, b, slow); err != nil {
				t.Fatalf("fastDecode(%q) into %T succeeded, encoding/json refuses it: %v", b, fast, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fastDecode(%q) into %T = %#v, encoding/json gives %#v", b, fast, fast, slow)
			}
		}
	})
}

// TestFastDecodeTakes requires that the fast path reads what custos writes
// (else the replay would silently run at encoding/json's speed): every
// statement NewStatement makes, and its predicate.
func TestFastDecodeTakes(t *testing.T) {
	seeds := fastDecodeSeeds(t)
	preds := []any{new(Acquire), new(Derive), new(Release), new(Accept), new(Reject), new(Seal), new(Dispose), new(KeyRotate), nil}
	for i, p := range preds {
		st, pred := seeds[2*i], seeds[2*i+1]
		if !fastDecode(MaxStatementSize, st, new(Statement)) {
			t.Errorf("fastDecode(%s) into a Statement gives up", st)
		}
		if p != nil && !fastDecode(MaxStatementSize, pred, p) {
			t.Errorf("fastDecode(%s) into %T gives up", pred, p)
		}
	}
	if fastTypeOf(reflect.TypeFor[Envelope]()) != nil {
		t.Errorf("fastTypeOf(Envelope) is not nil: its []byte fields would be read as strings")
	}
}
