package custody

import (
	"bytes"
	"errors"
	"fmt"
)

// MessageContextPrefix is what every message given to SignMessage must not
// start with: the prefix of DSSE's pre-authentication encoding
// (PAE = "DSSEv1 " + ...). A signature over a message that began with it
// could be taken for an envelope signature, so a key that signs envelopes
// could be made to sign a statement through SignMessage. Callers put their
// own versioned context string first (e.g. "custos-http-auth/v1\n").
const MessageContextPrefix = "DSSEv1 "

// MaxMessageSize caps a message SignMessage signs or VerifyMessage checks.
const MaxMessageSize = 64 << 10

// errMessage is the SignatureError.Err of a message signature that does
// not verify.
var errMessage = errors.New("message signature does not verify")

// SignMessage signs msg with k: Ed25519 over msg itself, ECDSA over its
// SHA-256 (P-256) or SHA-384 (P-384) digest, ASN.1 DER, as the key's DSSE
// signatures are made. msg must carry its own context string (see
// MessageContextPrefix, which it must not start with) and be at most
// MaxMessageSize bytes.
func (k *PrivateKey) SignMessage(msg []byte) ([]byte, error) {
	if err := checkMessage(msg); err != nil {
		return nil, err
	}
	sig, err := k.signer.SignMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("custody: signing a message with %s: %w", k.pub.keyID, err)
	}
	return sig, nil
}

// VerifyMessage checks a signature SignMessage made with p's private key.
// A signature that does not verify gives a *SignatureError naming p.
func (p *PublicKey) VerifyMessage(msg, sig []byte) error {
	if err := checkMessage(msg); err != nil {
		return err
	}
	if len(sig) == 0 || len(sig) > 256 {
		return &SignatureError{KeyID: p.keyID, Err: errMessage}
	}
	if err := p.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(msg)); err != nil {
		return &SignatureError{KeyID: p.keyID, Err: errMessage}
	}
	return nil
}

func checkMessage(msg []byte) error {
	if len(msg) > MaxMessageSize {
		return fmt.Errorf("custody: message of %d bytes exceeds the %d-byte cap", len(msg), MaxMessageSize)
	}
	if bytes.HasPrefix(msg, []byte(MessageContextPrefix)) {
		return errors.New("custody: a signed message must not start with the DSSE pre-authentication prefix")
	}
	return nil
}
