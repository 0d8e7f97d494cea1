package custody

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	for _, typ := range []KeyType{KeyEd25519, KeyECDSAP256} {
		t.Run(string(typ), func(t *testing.T) {
			files := generatedKey(t, typ)
			block, _ := pem.Decode(files.priv)
			if block == nil || block.Type != "ENCRYPTED SIGSTORE PRIVATE KEY" {
				t.Fatalf("GenerateKey(%s) private PEM = %.60q, want an ENCRYPTED SIGSTORE PRIVATE KEY block", typ, files.priv)
			}
			pub, err := ParsePublicKey(files.pub)
			if err != nil {
				t.Fatalf("ParsePublicKey(GenerateKey(%s)) = %v", typ, err)
			}
			if !bytes.Equal(pub.MarshalPEM(), files.pub) {
				t.Errorf("ParsePublicKey(p).MarshalPEM() = %s, want %s", pub.MarshalPEM(), files.pub)
			}
			der, err := x509.MarshalPKIXPublicKey(pub.Crypto())
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(der)
			if want := "sha256:" + hex.EncodeToString(sum[:]); pub.KeyID() != want {
				t.Errorf("KeyID() = %q, want %q", pub.KeyID(), want)
			}
		})
	}
	for _, tt := range []struct {
		typ      KeyType
		password string
	}{{KeyEd25519, ""}, {"rsa-2048", "pw"}, {"", "pw"}} {
		if _, _, err := GenerateKey(tt.typ, []byte(tt.password)); err == nil {
			t.Errorf("GenerateKey(%q, %q) = nil error, want refusal", tt.typ, tt.password)
		}
	}
}

func TestParsePrivateKey(t *testing.T) {
	files := generatedKey(t, KeyEd25519)
	edPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pkcs8, err := x509.MarshalPKCS8PrivateKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(files.priv)
	reencode := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	alteredCiphertext := bytes.Replace(block.Bytes, []byte(`"ciphertext":"`), []byte(`"ciphertext":"AAAA`), 1)

	tests := []struct {
		name      string
		pem       []byte
		password  string
		wantErr   error // errors.Is
		wantParse bool  // *ParseError
		wantText  string
	}{
		{"wrong password", files.priv, "correct horse battery staple", ErrWrongPassword, false, ""},
		{"altered ciphertext", reencode(block.Type, alteredCiphertext), testPassword, ErrWrongPassword, false, ""},
		{"empty password", files.priv, "", nil, false, "password"},
		{"unencrypted PKCS #8", reencode("PRIVATE KEY", pkcs8), testPassword, nil, false, "private key is not encrypted"},
		{"unencrypted SEC 1", reencode("EC PRIVATE KEY", sec1), testPassword, nil, false, "private key is not encrypted"},
		{"public key", files.pub, testPassword, nil, true, ""},
		{"garbage", []byte("not a key " + testPassword), testPassword, nil, true, ""},
		{"two blocks", append(bytes.Clone(files.priv), files.priv...), testPassword, nil, true, ""},
		{"oversize", append(bytes.Clone(files.priv), bytes.Repeat([]byte("\n"), MaxKeyFileSize)...), testPassword, nil, true, ""},
		{"truncated ciphertext JSON", reencode(block.Type, block.Bytes[:len(block.Bytes)/2]), testPassword, nil, true, ""},
		{"costly scrypt", reencode(block.Type, bytes.Replace(block.Bytes, []byte(`"N":65536`), []byte(`"N":1073741824`), 1)), testPassword, nil, true, ""},
		{"short nonce", reencode(block.Type, bytes.Replace(block.Bytes, []byte(`"nonce":"`), []byte(`"nonce":"AAAA`), 1)), testPassword, nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.pem, []byte(tt.password))
			if err == nil {
				t.Fatalf("ParsePrivateKey(%s) = nil error, want an error", tt.name)
			}
			var pe *ParseError
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ParsePrivateKey(%s) = %v, want %v", tt.name, err, tt.wantErr)
			}
			if tt.wantParse && (!errors.As(err, &pe) || pe.What != "private key") {
				t.Errorf("ParsePrivateKey(%s) = %v, want *ParseError of a private key", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("ParsePrivateKey(%s) = %q, want it to say %q", tt.name, err, tt.wantText)
			}
			checkNoSecrets(t, err, files.priv, block.Bytes)
		})
	}
}

// checkNoSecrets fails if err's text holds the test password (or its longer
// words) or any 16-byte run of the key file or of its encrypted payload.
func checkNoSecrets(t *testing.T, err error, secrets ...[]byte) {
	t.Helper()
	msg := err.Error()
	words := append(strings.Fields(testPassword), testPassword)
	for _, w := range words {
		if len(w) >= 5 && strings.Contains(msg, w) {
			t.Errorf("error %q contains the password", msg)
		}
	}
	for _, s := range secrets {
		// Skip the PEM armor and the JSON field names, which are not secret.
		for _, line := range bytes.Split(s, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("-----")) {
				continue
			}
			for _, chunk := range bytes.FieldsFunc(line, func(r rune) bool { return r == '"' }) {
				if len(chunk) >= 16 && strings.Contains(msg, string(chunk[:16])) {
					t.Errorf("error %q contains key material %q", msg, chunk[:16])
				}
			}
		}
	}
}

func TestParseKeyTruncated(t *testing.T) {
	files := generatedKey(t, KeyECDSAP256)
	for name, in := range map[string][]byte{"private": files.priv, "public": files.pub} {
		// Every prefix that lacks the end of the PEM armor.
		for n := range len(bytes.TrimRight(in, "\n")) {
			var err error
			if name == "private" {
				_, err = ParsePrivateKey(in[:n], []byte(testPassword))
			} else {
				_, err = ParsePublicKey(in[:n])
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse %s key (first %d of %d bytes) = %v, want *ParseError", name, n, len(in), err)
			}
		}
	}
	// Truncated DER inside intact armor.
	block, _ := pem.Decode(files.pub)
	for n := range len(block.Bytes) {
		in := pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes[:n]})
		var pe *ParseError
		if _, err := ParsePublicKey(in); !errors.As(err, &pe) {
			t.Fatalf("ParsePublicKey(first %d of %d DER bytes) = %v, want *ParseError", n, len(block.Bytes), err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	pemOf := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	ecKey := func(c elliptic.Curve) *ecdsa.PublicKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &k.PublicKey
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public()

	good := []struct {
		name string
		pem  []byte
		want KeyType
	}{
		{"ed25519", pemOf(edPub), KeyEd25519},
		{"P-256", pemOf(ecKey(elliptic.P256())), KeyECDSAP256},
		{"P-384", pemOf(ecKey(elliptic.P384())), KeyECDSAP384},
	}
	for _, tt := range good {
		p, err := ParsePublicKey(tt.pem)
		if err != nil || p.Type() != tt.want {
			t.Errorf("ParsePublicKey(%s) = %v, %v, want type %s", tt.name, p, err, tt.want)
			continue
		}
		if !bytes.Equal(p.MarshalPEM(), tt.pem) {
			t.Errorf("ParsePublicKey(%s).MarshalPEM() = %s, want %s", tt.name, p.MarshalPEM(), tt.pem)
		}
	}

	bad := []struct {
		name string
		pem  []byte
		want string
	}{
		{"RSA-2048", pemOf(&rsaKey.PublicKey), "RSA"},
		{"RSA-2048 PKCS #1", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}), "PEM type"},
		{"P-224", pemOf(ecKey(elliptic.P224())), "P-224"},
		{"P-521", pemOf(ecKey(elliptic.P521())), "P-521"},
		{"certificate armor", bytes.Replace(pemOf(edPub), []byte("PUBLIC KEY"), []byte("CERTIFICATE"), 2), "PEM type"},
		{"headers", bytes.Replace(pemOf(edPub), []byte("KEY-----\n"), []byte("KEY-----\nProc-Type: 4,ENCRYPTED\n\n"), 1), "headers"},
		{"oversize", append(pemOf(edPub), bytes.Repeat([]byte(" "), MaxKeyFileSize)...), "exceeds"},
		{"empty", nil, "no PEM block"},
	}
	for _, tt := range bad {
		_, err := ParsePublicKey(tt.pem)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePublicKey(%s) = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}

	for _, tt := range []struct {
		name string
		pub  any
	}{
		{"RSA-2048", &rsaKey.PublicKey},
		{"P-224", ecKey(elliptic.P224())},
		{"short ed25519", ed25519.PublicKey(make([]byte, 31))},
		{"nil ecdsa", (*ecdsa.PublicKey)(nil)},
		{"ed25519 pointer", &edPub},
		{"nil", nil},
	} {
		if _, err := NewPublicKey(tt.pub); err == nil {
			t.Errorf("NewPublicKey(%s) = nil error, want refusal", tt.name)
		}
	}
}

func TestPrivateKeyPrintsNoSecret(t *testing.T) {
	k := testKey(t, KeyEd25519)
	want := "custody.PrivateKey(" + k.Public().KeyID() + ")"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, k); got != want {
			t.Errorf("Sprintf(%q, key) = %q, want %q", verb, got, want)
		}
	}
}
