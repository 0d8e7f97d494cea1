package custody

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
)

var allKeyTypes = []KeyType{KeyEd25519, KeyECDSAP256, KeyECDSAP384}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, typ := range allKeyTypes {
		t.Run(string(typ), func(t *testing.T) {
			key := testKey(t, typ)
			env := signedEnvelope(t, typ)
			s, err := VerifyEnvelope(env, key.Public())
			if err != nil {
				t.Fatalf("VerifyEnvelope(SignStatement(stmt, k), k) = %v, want nil error", err)
			}
			if s.Subject[0].Digest["sha256"] != sha256A {
				t.Errorf("VerifyEnvelope(...).Subject[0] = %+v, want sha256 %s", s.Subject[0], sha256A)
			}
			e, _ := ParseEnvelope(env)
			if got, want := e.Signatures[0].KeyID, key.Public().KeyID(); got != want {
				t.Errorf("SignStatement(...).Signatures[0].KeyID = %q, want %q", got, want)
			}
			if !bytes.Equal(e.Payload, validStatement) {
				t.Errorf("SignStatement(stmt, k).Payload = %s, want stmt unchanged", e.Payload)
			}
		})
	}
}

// TestSignGeneratedKey signs with key files from GenerateKey, through
// ParsePrivateKey: the path a real actor takes (and the one where sigstore
// once matched *ed25519.PrivateKey only).
func TestSignGeneratedKey(t *testing.T) {
	for _, typ := range []KeyType{KeyEd25519, KeyECDSAP256} {
		t.Run(string(typ), func(t *testing.T) {
			files := generatedKey(t, typ)
			priv, err := ParsePrivateKey(files.priv, []byte(testPassword))
			if err != nil {
				t.Fatalf("ParsePrivateKey(GenerateKey(%s)) = %v, want nil error", typ, err)
			}
			pub, err := ParsePublicKey(files.pub)
			if err != nil {
				t.Fatalf("ParsePublicKey(GenerateKey(%s)) = %v, want nil error", typ, err)
			}
			if priv.Public().KeyID() != pub.KeyID() || pub.Type() != typ {
				t.Errorf("ParsePublicKey(pub) = %s %s, want %s %s", pub.KeyID(), pub.Type(), priv.Public().KeyID(), typ)
			}
			env, err := SignStatement(validStatement, priv)
			if err != nil {
				t.Fatalf("SignStatement(stmt, %s key) = %v, want nil error", typ, err)
			}
			if _, err := VerifyEnvelope(env, pub); err != nil {
				t.Errorf("VerifyEnvelope(env, %s key) = %v, want nil error", typ, err)
			}
		})
	}
}

func TestVerifyEnvelopeWrongKey(t *testing.T) {
	for _, signer := range allKeyTypes {
		for _, verifier := range allKeyTypes {
			if signer == verifier {
				continue
			}
			t.Run(string(signer)+"/"+string(verifier), func(t *testing.T) {
				env := signedEnvelope(t, signer)
				pub := testKey(t, verifier).Public()
				_, err := VerifyEnvelope(env, pub)
				var se *SignatureError
				if !errors.As(err, &se) || se.KeyID != pub.KeyID() || !strings.Contains(err.Error(), pub.KeyID()) {
					t.Fatalf("VerifyEnvelope(env by %s, %s key) = %v, want *SignatureError naming %s", signer, verifier, err, pub.KeyID())
				}
				// Relabelled with the verifier's key id, the signature is
				// actually checked, and must fail.
				e, _ := ParseEnvelope(env)
				e.Signatures[0].KeyID = pub.KeyID()
				_, err = VerifyEnvelope(e.Marshal(), pub)
				if !errors.As(err, &se) || se.KeyID != pub.KeyID() || errors.Is(err, errNoSignatureByKey) {
					t.Errorf("VerifyEnvelope(env by %s relabelled, %s key) = %v, want a failed *SignatureError", signer, verifier, err)
				}
			})
		}
	}
}

func TestVerifyEnvelopeOtherSignatures(t *testing.T) {
	// A second, bogus signature by another key id does not hide the good one,
	// in either order.
	env := signedEnvelope(t, KeyEd25519)
	e, _ := ParseEnvelope(env)
	bogus := Signature{KeyID: "sha256:" + sha256B, Sig: []byte("bogus")}
	for _, sigs := range [][]Signature{{bogus, e.Signatures[0]}, {e.Signatures[0], bogus}} {
		c := *e
		c.Signatures = sigs
		if _, err := VerifyEnvelope(c.Marshal(), testKey(t, KeyEd25519).Public()); err != nil {
			t.Errorf("VerifyEnvelope(%s) = %v, want nil error", c.Marshal(), err)
		}
	}
}

func TestVerifyEnvelopePayloadType(t *testing.T) {
	for _, typ := range allKeyTypes {
		key := testKey(t, typ)
		e, _ := ParseEnvelope(signedEnvelope(t, typ))
		e.PayloadType = "application/json"
		if _, err := VerifyEnvelope(e.Marshal(), key.Public()); err == nil {
			t.Errorf("VerifyEnvelope(payloadType %q, %s) = nil error, want rejection", e.PayloadType, typ)
		}
		// Below the parser, sigstore's verifier must refuse it too.
		e.Signatures[0].KeyID = ""
		if _, err := verifyOne(e, e.Signatures[0], key.Public()); err == nil {
			t.Errorf("verifyOne(payloadType %q, %s) = nil error, want rejection", e.PayloadType, typ)
		}
	}
}

// TestVerifyEnvelopeBitFlips flips every bit of the signature and of the
// payload, and then of the whole encoded envelope, and requires each altered
// envelope to be refused. ECDSA P-384 verifies slowly, so for it only the
// signature is flipped.
func TestVerifyEnvelopeBitFlips(t *testing.T) {
	for _, typ := range allKeyTypes {
		t.Run(string(typ), func(t *testing.T) {
			full := typ != KeyECDSAP384
			pub := testKey(t, typ).Public()
			env := signedEnvelope(t, typ)
			e, _ := ParseEnvelope(env)
			fields := map[string]func(c *Envelope) []byte{
				"sig":     func(c *Envelope) []byte { return c.Signatures[0].Sig },
				"payload": func(c *Envelope) []byte { return c.Payload },
			}
			if !full {
				delete(fields, "payload")
			}
			for name, field := range fields {
				for i := range len(field(e)) * 8 {
					c := *e
					c.Payload = bytes.Clone(e.Payload)
					c.Signatures = []Signature{{KeyID: e.Signatures[0].KeyID, Sig: bytes.Clone(e.Signatures[0].Sig)}}
					field(&c)[i/8] ^= 1 << (i % 8)
					_, err := VerifyEnvelope(c.Marshal(), pub)
					var se *SignatureError
					if !errors.As(err, &se) {
						t.Fatalf("VerifyEnvelope(%s bit %d flipped) = %v, want *SignatureError", name, i, err)
					}
				}
			}
			if !full {
				return
			}
			for i := range len(env) * 8 {
				b := bytes.Clone(env)
				b[i/8] ^= 1 << (i % 8)
				if _, err := VerifyEnvelope(b, pub); err == nil {
					t.Fatalf("VerifyEnvelope(envelope bit %d flipped: %q) = nil error, want rejection", i, b)
				}
			}
		})
	}
}

func TestSignStatementRefusesBadStatement(t *testing.T) {
	_, err := SignStatement([]byte(`{"_type":"x"}`), testKey(t, KeyEd25519))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Field != "_type" {
		t.Errorf("SignStatement(bad _type) = %v, want *ParseError on _type", err)
	}
}

// sslVerifier is a go-securesystemslib dsse.Verifier written on the standard
// library alone, so that interop does not go through sigstore.
type sslVerifier struct {
	pub   crypto.PublicKey
	keyID string
	pae   *[]byte // the message last verified
}

func (v sslVerifier) Verify(_ context.Context, data, sig []byte) error {
	*v.pae = bytes.Clone(data)
	switch pub := v.pub.(type) {
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, data, sig) {
			return errors.New("ed25519: bad signature")
		}
		return nil
	case *ecdsa.PublicKey:
		var digest []byte
		switch pub.Curve.Params().BitSize {
		case 256:
			d := sha256.Sum256(data)
			digest = d[:]
		case 384:
			d := sha512.Sum384(data)
			digest = d[:]
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("ecdsa: bad signature")
		}
		return nil
	}
	return fmt.Errorf("unsupported key %T", v.pub)
}

func (v sslVerifier) Public() crypto.PublicKey { return v.pub }
func (v sslVerifier) KeyID() (string, error)   { return v.keyID, nil }

// TestInteropSecureSystemsLib verifies our envelopes with go-securesystemslib's
// DSSE implementation over crypto/ed25519 and crypto/ecdsa, and checks that the
// signed message is PAE(PayloadType, statement) as DSSE v1 defines it.
func TestInteropSecureSystemsLib(t *testing.T) {
	for _, typ := range allKeyTypes {
		t.Run(string(typ), func(t *testing.T) {
			pub := testKey(t, typ).Public()
			env := signedEnvelope(t, typ)
			var e ssldsse.Envelope
			if err := json.Unmarshal(env, &e); err != nil {
				t.Fatal(err)
			}
			var pae []byte
			ev, err := ssldsse.NewEnvelopeVerifier(sslVerifier{pub: pub.Crypto(), keyID: pub.KeyID(), pae: &pae})
			if err != nil {
				t.Fatal(err)
			}
			accepted, payload, err := ev.VerifyAndDecode(context.Background(), &e)
			if err != nil {
				t.Fatalf("securesystemslib VerifyAndDecode(env) = %v, want nil error", err)
			}
			if len(accepted) != 1 || accepted[0].KeyID != pub.KeyID() {
				t.Errorf("securesystemslib VerifyAndDecode(env) accepted %+v, want key %s", accepted, pub.KeyID())
			}
			if !bytes.Equal(payload, validStatement) {
				t.Errorf("securesystemslib VerifyAndDecode(env) payload = %s, want %s", payload, validStatement)
			}
			// DSSE v1 PAE, written out here rather than taken from a library.
			want := fmt.Sprintf("DSSEv1 %d %s %d %s", len(PayloadType), PayloadType, len(validStatement), validStatement)
			if string(pae) != want {
				t.Errorf("signed message = %q, want PAE %q", pae, want)
			}
		})
	}
}
