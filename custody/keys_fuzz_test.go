package custody

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParsePublicKey: a public key file is CLI input (party enroll --pub,
// trust files). ParsePublicKey must never panic, refuse with a
// *ParseError or a plain error, and what it accepts must round-trip: its
// PEM parses to the same key id.
func FuzzParsePublicKey(f *testing.F) {
	m, err := generatedKeys()
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range m {
		f.Add(k.pub)
	}
	f.Add(testKey(f, KeyECDSAP384).Public().MarshalPEM())
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		q, err := ParsePublicKey(p.MarshalPEM())
		if err != nil || q.KeyID() != p.KeyID() || q.Type() != p.Type() {
			t.Fatalf("ParsePublicKey(%q) = %s; its own PEM gives %v, %v", b, p.KeyID(), q, err)
		}
	})
}

// FuzzParsePrivateKey: a private key file is CLI input (--key). It must
// never panic; a damaged file is a *ParseError or a wrong password, never
// an error holding the password; and what it accepts signs a message that
// its public half verifies. Well-formed containers cost a scrypt each
// (about 50 ms), so this target runs slowly by design.
func FuzzParsePrivateKey(f *testing.F) {
	m, err := generatedKeys()
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range m {
		f.Add(k.priv)
		f.Add(bytes.Replace(k.priv, []byte("ENCRYPTED SIGSTORE"), []byte("ENCRYPTED COSIGN"), 2))
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKey(b, []byte(testPassword))
		if err != nil {
			if strings.Contains(err.Error(), testPassword) {
				t.Fatalf("ParsePrivateKey error holds the password: %v", err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrWrongPassword) && !strings.HasPrefix(err.Error(), "custody: ") {
				t.Fatalf("ParsePrivateKey(%q) = %v (%T), want a *ParseError, ErrWrongPassword or a custody error", b, err, err)
			}
			return
		}
		sig, err := k.SignMessage([]byte("fuzz"))
		if err != nil {
			t.Fatalf("SignMessage with a key ParsePrivateKey accepted: %v", err)
		}
		if err := k.Public().VerifyMessage([]byte("fuzz"), sig); err != nil {
			t.Fatalf("a key ParsePrivateKey accepted signs what its public half refuses: %v", err)
		}
	})
}
