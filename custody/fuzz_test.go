package custody

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParseEnvelope checks that ParseEnvelope never panics and that what it
// accepts is canonical: parse then Marshal gives the input back (the
// malleability round trip), and VerifyEnvelope never panics either.
func FuzzParseEnvelope(f *testing.F) {
	for _, typ := range allKeyTypes {
		env := signedEnvelope(f, typ)
		f.Add(env)
		e, _ := ParseEnvelope(env)
		e.Signatures = append(e.Signatures, Signature{KeyID: "", Sig: []byte{0}})
		f.Add(e.Marshal())
	}
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"\u003c","sig":"AA=="}]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`))
	pub := testKey(f, KeyEd25519).Public()
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if _, verr := VerifyEnvelope(b, pub); verr == nil && err != nil {
			t.Fatalf("VerifyEnvelope(%q) = nil error, but ParseEnvelope = %v", b, err)
		}
		if err != nil {
			return
		}
		if got := e.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("ParseEnvelope(%q).Marshal() = %q, want the input", b, got)
		}
		if got, err := json.Marshal(e); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("json.Marshal(ParseEnvelope(%q)) = %q, %v, want the input", b, got, err)
		}
	})
}

// FuzzParseStatement checks that ParseStatement never panics and that what
// it accepts encodes (with encoding/json) to a statement it accepts again,
// with the same encoding.
func FuzzParseStatement(f *testing.F) {
	f.Add(validStatement)
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + sha256A + `","x-y_1":"z"},"annotations":{}}],"predicateType":"p","predicate":{ }}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + sha256A + `"}}],"predicateType":"p"} `))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"SHA256":"` + sha256A + `"}}],"predicateType":"p","predicate":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatement(b)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("ParseStatement(%q) = %T %v, want *ParseError", b, err, err)
			}
			return
		}
		b1, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("json.Marshal(ParseStatement(%q)) = %v", b, err)
		}
		s1, err := ParseStatement(b1)
		if err != nil {
			t.Fatalf("ParseStatement(json.Marshal(ParseStatement(%q))) = %v, want nil error", b, err)
		}
		if b2, _ := json.Marshal(s1); !bytes.Equal(b1, b2) {
			t.Fatalf("json.Marshal is not stable over ParseStatement: %q, then %q", b1, b2)
		}
	})
}
