package custody

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// signedEnvelope signs validStatement with the test key of type t.
func signedEnvelope(t testing.TB, typ KeyType) []byte {
	t.Helper()
	env, err := SignStatement(validStatement, testKey(t, typ))
	if err != nil {
		t.Fatalf("SignStatement: %v", err)
	}
	return env
}

func TestParseEnvelopeCanonical(t *testing.T) {
	env := signedEnvelope(t, KeyEd25519)
	e, err := ParseEnvelope(env)
	if err != nil {
		t.Fatalf("ParseEnvelope(SignStatement(...)) = %v, want nil error", err)
	}
	if got := e.Marshal(); !bytes.Equal(got, env) {
		t.Fatalf("ParseEnvelope(b).Marshal() = %s, want %s", got, env)
	}
	// encoding/json of the same value, as another implementation would write
	// it, must be the same bytes too.
	if got, err := json.Marshal(e); err != nil || !bytes.Equal(got, env) {
		t.Errorf("json.Marshal(ParseEnvelope(b)) = %s, %v, want %s", got, err, env)
	}
}

func TestParseEnvelopeInvalid(t *testing.T) {
	env := signedEnvelope(t, KeyECDSAP256)
	e, err := ParseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	sig := e.Signatures[0]
	withSigs := func(n int) []byte {
		c := *e
		c.Signatures = nil
		for i := range n {
			c.Signatures = append(c.Signatures, Signature{KeyID: strings.Repeat("k", i+1), Sig: sig.Sig})
		}
		return c.Marshal()
	}
	with := func(f func(c *Envelope)) []byte {
		c := *e
		c.Signatures = append([]Signature(nil), e.Signatures...)
		f(&c)
		return c.Marshal()
	}
	tests := []struct {
		name      string
		in        []byte
		wantField string
		wantMsg   string
	}{
		{"extra whitespace", bytes.Replace(env, []byte(`,"payload"`), []byte(`, "payload"`), 1), "", "malformed envelope: not in canonical form"},
		{"trailing newline", append(bytes.Clone(env), '\n'), "", "malformed envelope: not in canonical form"},
		{"indented", func() []byte {
			var buf bytes.Buffer
			json.Indent(&buf, env, "", "  ")
			return buf.Bytes()
		}(), "", "malformed envelope: not in canonical form"},
		{"reordered fields", []byte(`{"payload":"` + b64(e.Payload) + `","payloadType":"` + PayloadType + `","signatures":[{"keyid":"` + sig.KeyID + `","sig":"` + b64(sig.Sig) + `"}]}`), "", "malformed envelope: not in canonical form"},
		{"reordered signature fields", []byte(`{"payloadType":"` + PayloadType + `","payload":"` + b64(e.Payload) + `","signatures":[{"sig":"` + b64(sig.Sig) + `","keyid":"` + sig.KeyID + `"}]}`), "", "malformed envelope: not in canonical form"},
		{"keyid omitted", []byte(`{"payloadType":"` + PayloadType + `","payload":"` + b64(e.Payload) + `","signatures":[{"sig":"` + b64(sig.Sig) + `"}]}`), "", "malformed envelope: not in canonical form"},
		{"unpadded base64", bytes.Replace(with(func(c *Envelope) { c.Signatures[0].Sig = make([]byte, 64) }), []byte(`=="}`), []byte(`"}`), 1), "", ""},
		{"URL base64", bytes.Replace(with(func(c *Envelope) { c.Signatures[0].Sig = bytes.Repeat([]byte{0xfb}, 63) }), []byte(`+`), []byte(`-`), -1), "", ""},
		{"escaped character", bytes.Replace(env, []byte(`"payloadType"`), []byte(`"payload\u0054ype"`), 1), "", "malformed envelope: not in canonical form"},
		{"field name case", bytes.Replace(env, []byte(`"payloadType"`), []byte(`"PayloadType"`), 1), "PayloadType", `malformed envelope: PayloadType: key "PayloadType" is field "payloadType" written in other letter case`},
		{"duplicate field", bytes.Replace(env, []byte(`{"payloadType":"`+PayloadType+`",`), []byte(`{"payloadType":"x","payloadType":"`+PayloadType+`",`), 1), "payloadType", "malformed envelope: payloadType: duplicate key"},
		{"oversize", append(bytes.Clone(env), bytes.Repeat([]byte(" "), MaxEnvelopeSize)...), "", ""},
		{"unknown field", bytes.Replace(env, []byte(`]}`), []byte(`],"x":1}`), 1), "x", ""},
		{"trailing garbage", append(bytes.Clone(env), "{}"...), "", ""},
		{"payload type", with(func(c *Envelope) { c.PayloadType = "application/json" }), "payloadType", ""},
		{"empty payload", with(func(c *Envelope) { c.Payload = nil }), "payload", ""},
		{"no signatures", withSigs(0), "signatures", ""},
		{"17 signatures", withSigs(MaxSignatures + 1), "signatures", ""},
		{"empty sig", with(func(c *Envelope) { c.Signatures[0].Sig = nil }), "signatures[0].sig", ""},
		{"repeated keyid", with(func(c *Envelope) { c.Signatures = append(c.Signatures, c.Signatures[0]) }), "signatures[1].keyid", ""},
		{"long keyid", with(func(c *Envelope) { c.Signatures[0].KeyID = strings.Repeat("k", 257) }), "signatures[0].keyid", ""},
		{"invalid UTF-8 keyid", bytes.Replace(env, []byte(sig.KeyID), []byte("\xff"), 1), "", ""},
		{"not JSON", []byte("DSSEv1"), "", ""},
		{"empty", nil, "", ""},
	}
	if _, err := ParseEnvelope(withSigs(MaxSignatures)); err != nil {
		t.Errorf("ParseEnvelope(%d signatures) = %v, want nil error", MaxSignatures, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnvelope(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseEnvelope(%.80q) = %v, want *ParseError", tt.in, err)
			}
			if pe.What != "envelope" || pe.Field != tt.wantField {
				t.Errorf("ParseEnvelope(%.80q) = What %q Field %q (%v), want What %q Field %q", tt.in, pe.What, pe.Field, err, "envelope", tt.wantField)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("ParseEnvelope(%.80q).Error() = %q, want %q", tt.in, err, tt.wantMsg)
			}
		})
	}
}

func TestEnvelopeStatement(t *testing.T) {
	e, err := ParseEnvelope(signedEnvelope(t, KeyEd25519))
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Statement()
	if err != nil || s.PredicateType != "https://custos.dev/acquired/v1" {
		t.Errorf("Envelope.Statement() = %+v, %v, want the signed statement", s, err)
	}
}
