package custody

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// KeyType names the kind of an actor key.
type KeyType string

const (
	// KeyEd25519 is Ed25519 (RFC 8032), signing the message itself.
	KeyEd25519 KeyType = "ed25519"
	// KeyECDSAP256 is ECDSA on NIST P-256, signing SHA-256 digests.
	KeyECDSAP256 KeyType = "ecdsa-p256"
	// KeyECDSAP384 is ECDSA on NIST P-384, signing SHA-384 digests. custos
	// accepts such keys from other tools; it generates them only on request.
	KeyECDSAP384 KeyType = "ecdsa-p384"
)

// MaxKeyFileSize is the largest key file, in bytes, that ParsePrivateKey and
// ParsePublicKey read.
const MaxKeyFileSize = 64 << 10

const publicKeyPEMType = "PUBLIC KEY"

// GenerateKey generates a key pair of type t. The private key is PKCS #8,
// encrypted with password (scrypt and NaCl secretbox), in a PEM block of
// type "ENCRYPTED SIGSTORE PRIVATE KEY", as cosign writes it. The public key
// is a PKIX "PUBLIC KEY" PEM block. An empty password is refused.
func GenerateKey(t KeyType, password []byte) (privatePEM, publicPEM []byte, err error) {
	if len(password) == 0 {
		return nil, nil, errors.New("custody: refusing to generate a private key without a password")
	}
	var priv crypto.Signer
	switch t {
	case KeyEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case KeyECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, nil, fmt.Errorf("custody: unknown key type %s (want %s, %s or %s)", quoteShort(string(t)), KeyEd25519, KeyECDSAP256, KeyECDSAP384)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("custody: generating %s key: %w", t, err)
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		return nil, nil, fmt.Errorf("custody: encrypting %s key: %w", t, err)
	}
	publicPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("custody: encoding %s public key: %w", t, err)
	}
	return cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der), publicPEM, nil
}

// PrivateKey is an actor's signing key, decrypted in memory.
type PrivateKey struct {
	signer signature.Signer
	pub    *PublicKey
	priv   crypto.Signer // for note keys (NoteSigner); never printed or logged
}

// ParsePrivateKey decrypts an "ENCRYPTED SIGSTORE PRIVATE KEY" PEM file (as
// written by GenerateKey or cosign) of at most MaxKeyFileSize bytes, holding
// an Ed25519, ECDSA P-256 or ECDSA P-384 key.
//
// Unencrypted private keys are refused. A wrong password gives
// ErrWrongPassword; a malformed file a *ParseError with What "private key".
// No error holds key material or the password.
func ParsePrivateKey(pemBytes, password []byte) (*PrivateKey, error) {
	const what = "private key"
	block, err := decodePEM(what, pemBytes)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case string(cryptoutils.EncryptedSigstorePrivateKeyPEMType):
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, errors.New("custody: private key is not encrypted; custos accepts only password-encrypted keys")
	default:
		return nil, parseErr(what, "", "PEM type %s, want %q", quoteShort(block.Type), cryptoutils.EncryptedSigstorePrivateKeyPEMType)
	}
	if len(password) == 0 {
		return nil, errors.New("custody: a password is needed to decrypt the private key")
	}
	// Check the encrypted container first, so that once it is well formed a
	// failure to decrypt can only mean a wrong password (or altered ciphertext).
	if err := checkEncryptedContainer(block.Bytes); err != nil {
		return nil, &ParseError{What: what, Err: err}
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		return nil, ErrWrongPassword
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// Do not wrap: the x509 error could describe the decrypted key.
		return nil, parseErr(what, "", "decrypted key is not PKCS #8")
	}
	priv, ok := key.(crypto.Signer)
	if !ok {
		return nil, parseErr(what, "", "decrypted key is of an unsupported type")
	}
	return newPrivateKey(priv)
}

// newPrivateKey wraps an Ed25519 or ECDSA P-256/P-384 private key.
func newPrivateKey(priv crypto.Signer) (*PrivateKey, error) {
	pub, err := NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	// sigstore v1.10.11 matches ed25519.PrivateKey by value, which is what
	// x509.ParsePKCS8PrivateKey returns (TestSignVerifyRoundTrip covers it).
	signer, err := signature.LoadSignerWithOpts(priv, options.WithHash(pub.hash()))
	if err != nil {
		return nil, fmt.Errorf("custody: loading %s signer: %w", pub.typ, err)
	}
	return &PrivateKey{signer: signer, pub: pub, priv: priv}, nil
}

// encryptedContainer mirrors the JSON that go-securesystemslib/encrypted
// writes: scrypt parameters and salt, a secretbox nonce, the ciphertext.
type encryptedContainer struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

func checkEncryptedContainer(b []byte) error {
	var c encryptedContainer
	if err := json.Unmarshal(b, &c); err != nil {
		return errors.New("encrypted key is not the JSON that sigstore writes")
	}
	p := c.KDF.Params
	switch {
	case c.KDF.Name != "scrypt":
		return errors.New("key derivation function is not scrypt")
	case p.R != 8 || p.P != 1 || (p.N != 1<<15 && p.N != 1<<16 && p.N != 1<<17):
		// The three parameter sets go-securesystemslib accepts; any other
		// could be made costly on purpose.
		return errors.New("unsupported scrypt parameters")
	case len(c.KDF.Salt) == 0:
		return errors.New("scrypt salt is missing")
	case c.Cipher.Name != "nacl/secretbox":
		return errors.New("cipher is not nacl/secretbox")
	case len(c.Cipher.Nonce) != 24:
		return errors.New("secretbox nonce is not 24 bytes")
	case len(c.Ciphertext) <= 16:
		return errors.New("ciphertext is too short")
	}
	return nil
}

// Public returns the public half of k.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// String names the key by its key id; it never prints key material.
func (k *PrivateKey) String() string { return "custody.PrivateKey(" + k.pub.keyID + ")" }

// GoString is String, so that %#v prints no key material either.
func (k *PrivateKey) GoString() string { return k.String() }

// PublicKey is an actor's verification key: Ed25519, ECDSA P-256 or ECDSA P-384.
type PublicKey struct {
	pub      crypto.PublicKey
	der      []byte // PKIX SubjectPublicKeyInfo
	keyID    string
	typ      KeyType
	verifier signature.Verifier
	ed25519  *ed25519Key // the decoded point, for an Ed25519 key (see ed25519Key)
}

// ParsePublicKey parses a PKIX "PUBLIC KEY" PEM file of at most
// MaxKeyFileSize bytes. Keys other than Ed25519, ECDSA P-256 and ECDSA P-384
// (RSA, other curves) are refused. Malformed input gives a *ParseError with
// What "public key".
func ParsePublicKey(pemBytes []byte) (*PublicKey, error) {
	const what = "public key"
	block, err := decodePEM(what, pemBytes)
	if err != nil {
		return nil, err
	}
	if block.Type != publicKeyPEMType {
		return nil, parseErr(what, "", "PEM type %s, want %q", quoteShort(block.Type), publicKeyPEMType)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pem.EncodeToMemory(block))
	if err != nil {
		return nil, &ParseError{What: what, Err: err}
	}
	return NewPublicKey(pub)
}

// NewPublicKey wraps pub, which must be an ed25519.PublicKey or an
// *ecdsa.PublicKey on P-256 or P-384.
func NewPublicKey(pub crypto.PublicKey) (*PublicKey, error) {
	var t KeyType
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("custody: ed25519 public key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		if err := checkEd25519Point(k); err != nil {
			return nil, err
		}
		t = KeyEd25519
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil, errors.New("custody: empty ECDSA public key")
		}
		switch k.Curve {
		case elliptic.P256():
			t = KeyECDSAP256
		case elliptic.P384():
			t = KeyECDSAP384
		default:
			return nil, fmt.Errorf("custody: ECDSA public key on curve %s is not accepted (want P-256 or P-384)", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		return nil, errors.New("custody: RSA public keys are not accepted (want ed25519, ECDSA P-256 or P-384)")
	default:
		return nil, fmt.Errorf("custody: public key of type %T is not accepted (want ed25519, ECDSA P-256 or P-384)", pub)
	}
	// MarshalPKIXPublicKey also refuses an ECDSA point off its curve.
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("custody: invalid %s public key: %w", t, err)
	}
	p := &PublicKey{pub: pub, der: der, typ: t}
	sum := sha256.Sum256(der)
	p.keyID = "sha256:" + hex.EncodeToString(sum[:])
	p.verifier, err = signature.LoadVerifierWithOpts(pub, options.WithHash(p.hash()))
	if err != nil {
		return nil, fmt.Errorf("custody: loading %s verifier: %w", t, err)
	}
	if k, ok := pub.(ed25519.PublicKey); ok {
		if p.ed25519, err = newEd25519Key(k); err != nil {
			return nil, fmt.Errorf("custody: invalid %s public key: %w", t, err)
		}
	}
	return p, nil
}

// hash is the digest an ECDSA key of this type signs (Ed25519 ignores it).
func (p *PublicKey) hash() crypto.Hash {
	if p.typ == KeyECDSAP384 {
		return crypto.SHA384
	}
	return crypto.SHA256
}

// KeyID is "sha256:" and the lowercase hex SHA-256 of the key's DER PKIX
// SubjectPublicKeyInfo. It is the DSSE keyid of the key's signatures.
func (p *PublicKey) KeyID() string { return p.keyID }

// Type is the kind of key.
func (p *PublicKey) Type() KeyType { return p.typ }

// MarshalPEM returns the key as a PKIX "PUBLIC KEY" PEM block.
func (p *PublicKey) MarshalPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyPEMType, Bytes: p.der})
}

// Crypto returns the key as crypto/ed25519 or crypto/ecdsa knows it.
func (p *PublicKey) Crypto() crypto.PublicKey { return p.pub }

// decodePEM decodes the one PEM block of a key file of at most
// MaxKeyFileSize bytes; anything but whitespace around it is refused.
func decodePEM(what string, b []byte) (*pem.Block, error) {
	if len(b) > MaxKeyFileSize {
		return nil, parseErr(what, "", "%d bytes exceeds the limit of %d", len(b), MaxKeyFileSize)
	}
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, parseErr(what, "", "no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, parseErr(what, "", "data after the PEM block")
	}
	if len(block.Headers) != 0 {
		return nil, parseErr(what, "", "unexpected PEM headers")
	}
	return block, nil
}

// checkEd25519Point refuses an Ed25519 public key that is not a point, or
// is of small order: under such a key crypto/ed25519 accepts one fixed
// signature for every message, so its holder could later deny what it
// signed.
func checkEd25519Point(k ed25519.PublicKey) error {
	p, err := new(edwards25519.Point).SetBytes(k)
	if err != nil {
		return errors.New("custody: ed25519 public key is not a point on the curve")
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errors.New("custody: ed25519 public key of small order is not accepted (it would verify forged signatures)")
	}
	return nil
}
