package custody

// Bad inputs of package custody (reliability-anchors §5): hostile JSON in
// statements and envelopes (row 24), DSSE payload-type confusion (row 33),
// weak or unsupported keys (row 34), damaged key files (row 35) and Ed25519
// edge cases pinned against crypto/ed25519 (row 36).

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// TestHostileJSON (row 24): oversized input, deep nesting, duplicate keys,
// unknown fields, NaN and infinities, huge numbers, invalid UTF-8 and
// trailing data are refused by ParseStatement and ParseEnvelope with a
// *ParseError, before or during the one strict decode, never by a panic or
// an unbounded allocation.
func TestHostileJSON(t *testing.T) {
	stmt := string(validStatement)
	withPredicate := func(p string) string {
		return strings.Replace(stmt, `"predicate":{"exhibit":"HX-7","tool":"dd"}`, `"predicate":`+p, 1)
	}
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	statements := []struct {
		name, in string
		knownGap bool // accepted today: see SECURITY.md, row 24
	}{
		{"over the cap", stmt[:len(stmt)-1] + `,"annotations":{"pad":"` + strings.Repeat("x", MaxStatementSize) + `"}}`, false},
		{"10^6 nesting (over the cap)", withPredicate(strings.Repeat("[", 1_000_000)), false},
		{"100000 nesting under the cap", withPredicate(deep(100_000)), false},
		{"10001 nesting", withPredicate(deep(10_001)), false},
		{"duplicate _type", strings.Replace(stmt, `{"_type":`, `{"_type":"x","_type":`, 1), false},
		{"duplicate predicateType", strings.Replace(stmt, `"predicateType":`, `"predicateType":"https://example.org/other","predicateType":`, 1), false},
		{"duplicate subject", strings.Replace(stmt, `"subject":`, `"subject":[],"subject":`, 1), false},
		{"case-folded duplicate", strings.Replace(stmt, `{"_type":`, `{"_TYPE":"x","_type":`, 1), false},
		{"a field in other letter case", strings.Replace(stmt, `"predicateType":`, `"PredicateType":`, 1), false},
		{"unknown field", stmt[:len(stmt)-1] + `,"extra":1}`, false},
		{"NaN", withPredicate(`{"n":NaN}`), false},
		{"Infinity", withPredicate(`{"n":Infinity}`), false},
		{"invalid UTF-8 in a string", withPredicate("{\"n\":\"\xff\xfe\"}"), false},
		{"invalid UTF-8 in a key", withPredicate("{\"\xc3\x28\":1}"), false},
		{"lone surrogate escape", strings.Replace(stmt, `"name":"disk.img"`, `"name":"\ud800"`, 1), false},
		{"trailing data", stmt + `{}`, false},
		{"two objects", stmt + stmt, false},
		{"BOM", "\xef\xbb\xbf" + stmt, false},
		{"predicate is an array", withPredicate(`[1,2]`), false},
		{"not an object", `[` + stmt + `]`, false},
		{"NUL byte", stmt[:10] + "\x00" + stmt[10:], false},
	}
	for _, tc := range statements {
		t.Run("statement/"+tc.name, func(t *testing.T) {
			s, err := ParseStatement([]byte(tc.in))
			if tc.knownGap && err == nil {
				// encoding/json keeps the last of duplicate keys, matches
				// keys case-insensitively and turns a lone surrogate into
				// U+FFFD; a verifier whose JSON parser keeps the first key
				// reads another statement from the same signed bytes.
				t.Logf("KNOWN GAP (SECURITY.md): ParseStatement accepts it: _type %q, predicateType %q, %d subjects", s.Type, s.PredicateType, len(s.Subject))
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseStatement = %+v, %v; want a *ParseError", s, err)
			}
			if len(err.Error()) > 2048 {
				t.Errorf("error is %d bytes long; it should not echo its input", len(err.Error()))
			}
		})
	}
	// Numbers beyond any integer custos stores refuse the predicate they
	// are in (checked by Apply's predicate decoding), and are harmless in
	// a free-form predicate: they are kept as text.
	if _, err := ParseStatement([]byte(withPredicate(`{"n":1e999999999}`))); err != nil {
		t.Logf("ParseStatement(huge number in a free-form predicate) = %v", err)
	}

	env := signedEnvelope(t, KeyEd25519)
	e, err := ParseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	envelopes := []struct{ name, in string }{
		{"over the cap", string(env[:len(env)-1]) + strings.Repeat(" ", MaxEnvelopeSize) + "}"},
		{"10^6 nesting", strings.Repeat("[", 1_000_000)},
		{"duplicate payload", strings.Replace(string(env), `"payload":`, `"payload":"`+b64([]byte("{}"))+`","payload":`, 1)},
		{"duplicate payloadType", strings.Replace(string(env), `{"payloadType":`, `{"payloadType":"application/json","payloadType":`, 1)},
		{"unknown field", string(env[:len(env)-1]) + `,"extra":1}`},
		{"signature object with an unknown field", strings.Replace(string(env), `"sig":`, `"x":1,"sig":`, 1)},
		{"17 signatures", string(with17Signatures(e))},
		{"non-canonical base64 (no padding)", strings.Replace(string(env), `=="}`, `"}`, 1)},
		{"whitespace", strings.Replace(string(env), `,`, `, `, 1)},
		{"escaped payloadType", strings.Replace(string(env), `application/vnd.in-toto+json`, `application\/vnd.in-toto+json`, 1)},
		{"invalid UTF-8", string(env[:len(env)-1]) + ",\"\xff\":1}"},
		{"trailing data", string(env) + "\n"},
		{"NaN", strings.Replace(string(env), `"signatures":[`, `"signatures":[NaN,`, 1)},
	}
	for _, tc := range envelopes {
		t.Run("envelope/"+tc.name, func(t *testing.T) {
			got, err := ParseEnvelope([]byte(tc.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseEnvelope = %+v, %v; want a *ParseError", got, err)
			}
			// Apply, which the ledger runs on every submission, refuses
			// it too, before reading any record.
			if _, _, err := Apply(NewMemView(), Entry{Index: 1, Envelope: []byte(tc.in)}); err == nil {
				t.Errorf("Apply accepted it")
			}
		})
	}
	// A payload that is hostile JSON inside a well-formed, validly signed
	// envelope: refused when the statement is parsed.
	for _, p := range []string{strings.Repeat("[", 400_000), `{"_type":"a","_type":"b"}`, "\xff"} {
		env, err := signRaw(t, []byte(p), PayloadType)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyEnvelope(env, testKey(t, KeyEd25519).Public()); !isParseError(err) {
			t.Errorf("VerifyEnvelope(signed hostile payload %.20q) = %v, want a *ParseError", p, err)
		}
	}
}

func isParseError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}

func with17Signatures(e *Envelope) []byte {
	c := *e
	c.Signatures = nil
	for i := range MaxSignatures + 1 {
		c.Signatures = append(c.Signatures, Signature{KeyID: fmt.Sprintf("k%d", i), Sig: []byte{1}})
	}
	return c.Marshal()
}

// pae is DSSE's pre-authentication encoding.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// signRaw signs payload with the test Ed25519 key over PAE(payloadType,
// payload), with crypto/ed25519 directly, and returns the canonical
// envelope; it bypasses every check SignStatement makes.
func signRaw(t *testing.T, payload []byte, payloadType string) ([]byte, error) {
	t.Helper()
	seed := sha256.Sum256([]byte("custody test key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	e := &Envelope{PayloadType: payloadType, Payload: payload, Signatures: []Signature{{
		KeyID: testKey(t, KeyEd25519).Public().KeyID(),
		Sig:   ed25519.Sign(priv, pae(payloadType, payload)),
	}}}
	return e.Marshal(), nil
}

// TestPayloadTypeConfusion (row 33): an envelope whose signature is valid,
// but over a different payload type (as a signer of plain JSON, of another
// in-toto media type or of an empty type would produce), is refused:
// ParseEnvelope accepts only PayloadType, and the signature covers the
// type, so relabelling breaks it.
func TestPayloadTypeConfusion(t *testing.T) {
	pub := testKey(t, KeyEd25519).Public()
	for _, typ := range []string{"application/json", "application/vnd.in-toto+json; charset=utf-8", "APPLICATION/VND.IN-TOTO+JSON",
		"application/vnd.dsse.envelope.v1+json", "text/plain", "", "application/vnd.in-toto+json\x00"} {
		env, err := signRaw(t, validStatement, typ)
		if err != nil {
			t.Fatal(err)
		}
		_, err = VerifyEnvelope(env, pub)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Field != "payloadType" {
			t.Errorf("VerifyEnvelope(signed as %q) = %v, want a *ParseError on payloadType", typ, err)
		}
		// Relabelled to the in-toto type, the signature no longer verifies.
		e := &Envelope{}
		*e = Envelope{PayloadType: PayloadType, Payload: validStatement, Signatures: mustParse(t, env).Signatures}
		_, err = VerifyEnvelope(e.Marshal(), pub)
		var se *SignatureError
		if !errors.As(err, &se) || se.KeyID != pub.KeyID() {
			t.Errorf("VerifyEnvelope(signed as %q, relabelled) = %v, want a *SignatureError naming %s", typ, err, pub.KeyID())
		}
	}
	// The control: signed as PayloadType, it verifies.
	env, _ := signRaw(t, validStatement, PayloadType)
	if _, err := VerifyEnvelope(env, pub); err != nil {
		t.Errorf("VerifyEnvelope(signed as %q) = %v, want nil", PayloadType, err)
	}
}

// mustParse parses an envelope without the payload-type check, for the
// test to take its signatures.
func mustParse(t *testing.T, env []byte) *Envelope {
	t.Helper()
	e, err := ParseEnvelope(env)
	if err == nil {
		return e
	}
	var raw struct {
		Signatures []Signature `json:"signatures"`
	}
	if err := json.Unmarshal(env, &raw); err != nil {
		t.Fatal(err)
	}
	return &Envelope{Signatures: raw.Signatures}
}

func pemPublic(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestWeakKeys (row 34): RSA of any size and ECDSA on curves other than
// P-256 and P-384 are refused by ParsePublicKey with a *ParseError, and an
// enrolment carrying one is refused by Apply.
func TestWeakKeys(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pub  any
	}{{"RSA-1024", &rsa1024.PublicKey}, {"RSA-2048", &rsa2048.PublicKey}, {"ECDSA P-224", &p224.PublicKey}, {"ECDSA P-521", &p521.PublicKey}} {
		t.Run(tc.name, func(t *testing.T) {
			pemBytes := pemPublic(t, tc.pub)
			k, err := ParsePublicKey(pemBytes)
			if err == nil || !strings.Contains(err.Error(), "not accepted") {
				t.Fatalf("ParsePublicKey(%s) = %v, %v; want an error saying the key is not accepted", tc.name, k, err)
			}
			// Enrolled by the admin, the key is refused.
			l := baseLedger(t)
			stmt, err := NewStatement(PredicateEnroll, Subject{Name: "party:weak", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}},
				Enroll{Party: "weak", Org: "W", Roles: []string{RoleAnalyst}, Key: KeyRef{ID: "sha256:" + strings.Repeat("a", 64), PEM: string(pemBytes)}})
			if err != nil {
				t.Fatal(err)
			}
			env, err := SignStatementMulti(stmt, l.keys[pAdmin])
			if err != nil {
				t.Fatal(err)
			}
			before := l.v.Len()
			_, err = l.submit(env)
			var re *RuleError
			if !errors.As(err, &re) {
				t.Errorf("Apply(enrol %s) = %v, want a *RuleError", tc.name, err)
			}
			if l.v.Len() != before {
				t.Errorf("Apply(enrol %s) changed the view", tc.name)
			}
		})
	}
}

// TestKeyFileDamage (row 35): a private key file cut at every line, with a
// flipped byte in its body, or opened with a wrong password gives a clear
// error (*ParseError, or ErrWrongPassword) that contains neither the
// password nor any part of the key file's body.
func TestKeyFileDamage(t *testing.T) {
	kf := generatedKey(t, KeyEd25519)
	blk, _ := pem.Decode(kf.priv)
	if blk == nil {
		t.Fatal("generated key is not PEM")
	}
	body := base64.StdEncoding.EncodeToString(blk.Bytes)
	leaks := func(t *testing.T, what string, err error) {
		t.Helper()
		msg := err.Error()
		if strings.Contains(msg, testPassword) {
			t.Errorf("%s: error %q contains the password", what, msg)
		}
		for i := 0; i+16 <= len(body); i += 8 {
			if strings.Contains(msg, body[i:i+16]) {
				t.Errorf("%s: error %q contains key file bytes", what, msg)
				break
			}
		}
		if strings.Contains(msg, string(blk.Bytes[len(blk.Bytes)/2:len(blk.Bytes)/2+8])) {
			t.Errorf("%s: error contains raw key bytes", what)
		}
	}
	_, err := ParsePrivateKey(kf.priv, []byte("not the password"))
	if !errors.Is(err, ErrWrongPassword) {
		t.Errorf("ParsePrivateKey(wrong password) = %v, want ErrWrongPassword", err)
	} else {
		leaks(t, "wrong password", err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(kf.priv, []byte("\n")), []byte("\n"))
	for n := range len(lines) {
		cut := bytes.Join(lines[:n], nil)
		_, err := ParsePrivateKey(cut, []byte(testPassword))
		if err == nil {
			t.Errorf("ParsePrivateKey(first %d lines) = nil error", n)
			continue
		}
		if !isParseError(err) {
			t.Errorf("ParsePrivateKey(first %d lines) = %v (%T), want a *ParseError", n, err, err)
		}
		leaks(t, fmt.Sprintf("first %d lines", n), err)
	}
	// Damage inside the salt, the nonce and the ciphertext (a flip in a
	// JSON key's case would not count: encoding/json matches keys
	// case-insensitively, and the file is not signed).
	var offs []int
	for _, field := range []string{`"salt":"`, `"nonce":"`, `"ciphertext":"`} {
		i := bytes.Index(blk.Bytes, []byte(field))
		if i < 0 {
			t.Fatalf("key file has no %s", field)
		}
		offs = append(offs, i+len(field)+3)
	}
	for _, off := range offs {
		b := bytes.Clone(blk.Bytes)
		if b[off] == 'A' {
			b[off] = 'B'
		} else {
			b[off] = 'A'
		}
		damaged := pem.EncodeToMemory(&pem.Block{Type: blk.Type, Headers: blk.Headers, Bytes: b})
		_, err := ParsePrivateKey(damaged, []byte(testPassword))
		if err == nil {
			t.Errorf("ParsePrivateKey(byte %d flipped) = nil error", off)
			continue
		}
		if !isParseError(err) && !errors.Is(err, ErrWrongPassword) {
			t.Errorf("ParsePrivateKey(byte %d flipped) = %v (%T), want a *ParseError or ErrWrongPassword", off, err, err)
		}
		leaks(t, fmt.Sprintf("byte %d flipped", off), err)
	}
}

// ed25519 group order L.
var ed25519L, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

func leBytes(n *big.Int) []byte {
	b := n.FillBytes(make([]byte, 32))
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// TestEd25519EdgeCases (row 36) pins what custody's verification paths
// (VerifyEnvelope, through sigstore to crypto/ed25519, and the replay's
// ed25519Key, the key decoded once) do with Ed25519
// edge cases from C2SP/CCTV's vectors, and requires it to agree with
// crypto/ed25519.Verify on each:
//
//   - non-canonical S (S + L): refused (RFC 8032 §5.1.7 requires S < L);
//   - small-order public key (the identity), with the signature (R = the
//     identity, S = 0) that crypto/ed25519 accepts for every message under
//     it: ParsePublicKey refuses the key, so it cannot be enrolled;
//   - non-canonical encoding of R: refused (crypto/ed25519 compares R's
//     bytes with the canonical encoding it recomputes).
func TestEd25519EdgeCases(t *testing.T) {
	seed := sha256.Sum256([]byte("custody test key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	msg := pae(PayloadType, validStatement)
	good := ed25519.Sign(priv, msg)

	envWith := func(keyID string, sig []byte) []byte {
		e := &Envelope{PayloadType: PayloadType, Payload: validStatement, Signatures: []Signature{{KeyID: keyID, Sig: sig}}}
		return e.Marshal()
	}

	// S + L.
	s := new(big.Int).SetBytes(reverse(good[32:]))
	sPlusL := append(bytes.Clone(good[:32]), leBytes(new(big.Int).Add(s, ed25519L))...)
	// R non-canonical: the identity's y = 1 written as 1 + p, which fits in
	// 255 bits; only meaningful for the small-order key below.
	p, _ := new(big.Int).SetString("57896044618658097711785492504343953926634992332820282019728792003956564819949", 10)
	identity := leBytes(big.NewInt(1))
	identityNonCanonical := leBytes(new(big.Int).Add(big.NewInt(1), p))
	zeroS := make([]byte, 32)

	cases := []struct {
		name   string
		pub    ed25519.PublicKey
		sig    []byte
		accept bool // the pinned verdict of crypto/ed25519 and of custody
	}{
		{"valid", priv.Public().(ed25519.PublicKey), good, true},
		{"S + L", priv.Public().(ed25519.PublicKey), sPlusL, false},
		{"S = L", priv.Public().(ed25519.PublicKey), append(bytes.Clone(good[:32]), leBytes(ed25519L)...), false},
		{"all-zero signature", priv.Public().(ed25519.PublicKey), make([]byte, 64), false},
		{"small-order A, R = identity, S = 0", identity, append(bytes.Clone(identity), zeroS...), true},
		{"small-order A, non-canonical R", identity, append(bytes.Clone(identityNonCanonical), zeroS...), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ed25519.Verify(tc.pub, msg, tc.sig); got != tc.accept {
				t.Fatalf("crypto/ed25519.Verify = %v, pinned %v", got, tc.accept)
			}
			// The replay's check, on the key decoded once (ed25519Key).
			ek, err := newEd25519Key(tc.pub)
			if got := err == nil && ek.verifyPAE(PayloadType, validStatement, tc.sig); got != tc.accept {
				t.Fatalf("ed25519Key.verifyPAE = %v (decode error %v), pinned %v", got, err, tc.accept)
			}
			k, err := ParsePublicKey(pemPublic(t, tc.pub))
			if bytes.Equal(tc.pub, identity) {
				// A small-order key verifies one fixed signature for every
				// message: ParsePublicKey must refuse it, so it can never
				// be enrolled.
				if err == nil || !strings.Contains(err.Error(), "small order") {
					t.Fatalf("ParsePublicKey(small-order key) = %v, want refused for its small order", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKey = %v", err)
			}
			_, err = VerifyEnvelope(envWith(k.KeyID(), tc.sig), k)
			if got := err == nil; got != tc.accept {
				t.Errorf("VerifyEnvelope = %v, pinned accept=%v", err, tc.accept)
			}
			if !tc.accept {
				var se *SignatureError
				if !errors.As(err, &se) {
					t.Errorf("VerifyEnvelope = %v (%T), want a *SignatureError", err, err)
				}
			}
		})
	}
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}
