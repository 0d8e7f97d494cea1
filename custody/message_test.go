package custody

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestSignMessage(t *testing.T) {
	msg := []byte("custos-http-auth/v1\nGET\n/custos/v1/status\n2026-11-26T10:00:00Z\nlab\n")
	for _, typ := range allKeyTypes {
		t.Run(string(typ), func(t *testing.T) {
			k := testKey(t, typ)
			sig, err := k.SignMessage(msg)
			if err != nil {
				t.Fatalf("SignMessage = %v, want nil error", err)
			}
			if err := k.Public().VerifyMessage(msg, sig); err != nil {
				t.Fatalf("VerifyMessage(msg, SignMessage(msg)) = %v, want nil", err)
			}
			// Tamper loop: every bit of the signature and of the message.
			for i := range len(sig) * 8 {
				bad := append([]byte(nil), sig...)
				bad[i/8] ^= 1 << (i % 8)
				if k.Public().VerifyMessage(msg, bad) == nil {
					t.Fatalf("VerifyMessage with signature bit %d flipped = nil, want error", i)
				}
			}
			for i := range len(msg) * 8 {
				bad := append([]byte(nil), msg...)
				bad[i/8] ^= 1 << (i % 8)
				var se *SignatureError
				if err := k.Public().VerifyMessage(bad, sig); !errors.As(err, &se) && err == nil {
					t.Fatalf("VerifyMessage with message bit %d flipped = nil, want error", i)
				}
			}
			other := testKey(t, KeyEd25519)
			if typ != KeyEd25519 {
				var se *SignatureError
				if err := other.Public().VerifyMessage(msg, sig); !errors.As(err, &se) || se.KeyID != other.Public().KeyID() {
					t.Errorf("VerifyMessage by another key = %v, want *SignatureError naming it", err)
				}
			}
		})
	}
}

// TestSignMessageEd25519Interop checks an Ed25519 message signature with
// crypto/ed25519 directly: it is a plain RFC 8032 signature of msg.
func TestSignMessageEd25519Interop(t *testing.T) {
	k := testKey(t, KeyEd25519)
	msg := []byte("custos-http-auth/v1\nPOST\n/custos/v1/entries\n")
	sig, err := k.SignMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(k.Public().Crypto().(ed25519.PublicKey), msg, sig) {
		t.Error("ed25519.Verify(SignMessage(msg)) = false, want true")
	}
}

func TestSignMessageRefusesPAE(t *testing.T) {
	k := testKey(t, KeyEd25519)
	if _, err := k.SignMessage([]byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")); err == nil {
		t.Error("SignMessage(PAE-like message) = nil error, want refusal")
	}
	if _, err := k.SignMessage(make([]byte, MaxMessageSize+1)); err == nil {
		t.Error("SignMessage(oversize) = nil error, want refusal")
	}
}
