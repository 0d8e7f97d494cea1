package custody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
)

// errNoSignatureByKey is the SignatureError.Err of an envelope that carries no
// signature with the key's key id.
var errNoSignatureByKey = errors.New("no signature with this key id")

// SignStatement checks stmt with ParseStatement and signs it, unchanged, as
// a DSSE envelope of payload type PayloadType whose one signature has keyid
// key.Public().KeyID(). It returns the envelope's canonical encoding
// (Envelope.Marshal), and checks the signature before returning it.
func SignStatement(stmt []byte, key *PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, errors.New("custody: no signing key")
	}
	if _, err := ParseStatement(stmt); err != nil {
		return nil, err
	}
	out, err := dsse.WrapSigner(key.signer, PayloadType).SignMessage(bytes.NewReader(stmt))
	if err != nil {
		return nil, fmt.Errorf("custody: signing with %s: %w", key.pub.keyID, err)
	}
	// sigstore writes the envelope in encoding/json's form of
	// go-securesystemslib's dsse.Envelope, without keyid; bring it to ours.
	var e Envelope
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, fmt.Errorf("custody: reading sigstore's envelope: %w", err)
	}
	if e.PayloadType != PayloadType || !bytes.Equal(e.Payload, stmt) || len(e.Signatures) != 1 {
		return nil, errors.New("custody: sigstore's envelope does not hold the statement as signed")
	}
	e.Signatures[0].KeyID = key.pub.keyID
	env := e.Marshal()
	// A signature that does not verify (a fault, a bad key) must not leave here.
	if _, err := VerifyEnvelope(env, key.pub); err != nil {
		return nil, fmt.Errorf("custody: checking the new signature: %w", err)
	}
	return env, nil
}

// VerifyEnvelope parses env with ParseEnvelope (so it must be canonical and
// of payload type PayloadType), checks that a signature whose keyid is
// key.KeyID() verifies over PAE(PayloadType, payload) with key, and parses
// the payload with ParseStatement.
//
// Signatures with other key ids are ignored. Malformed input gives a
// *ParseError; an envelope with no valid signature by key a *SignatureError
// naming key.KeyID().
func VerifyEnvelope(env []byte, key *PublicKey) (*Statement, error) {
	if key == nil {
		return nil, errors.New("custody: no verification key")
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		return nil, err
	}
	sigErr := &SignatureError{KeyID: key.keyID, Err: errNoSignatureByKey}
	for _, s := range e.Signatures {
		if s.KeyID != key.keyID {
			continue
		}
		payload, err := verifyOneDSSE(e, s, key)
		if err != nil {
			sigErr.Err = err
			continue
		}
		return ParseStatement(payload)
	}
	return nil, sigErr
}

// verifyParsed is VerifyEnvelope's check on an envelope already parsed (and
// so already known canonical, of payload type PayloadType): a signature
// whose keyid is key.KeyID() must verify. It returns the verified payload.
func verifyParsed(e *Envelope, key *PublicKey) ([]byte, error) {
	lastErr := errNoSignatureByKey
	for _, s := range e.Signatures {
		if s.KeyID != key.keyID {
			continue
		}
		payload, err := verifyOne(e, s, key)
		if err != nil {
			lastErr = err
			continue
		}
		return payload, nil
	}
	return nil, &SignatureError{KeyID: key.keyID, Err: lastErr}
}

// verifyOneDSSE checks the one signature s of e with sigstore's DSSE
// verifier (pkg/signature/dsse, with the expected payload type) and returns
// the payload it verified. VerifyEnvelope, the public check, takes this path.
func verifyOneDSSE(e *Envelope, s Signature, key *PublicKey) ([]byte, error) {
	// go-securesystemslib, under sigstore, skips a signature whose keyid is
	// not its own SSH-style fingerprint of the key; the keyid was matched by
	// the caller, so hand over the signature without it.
	one := Envelope{
		PayloadType: e.PayloadType,
		Payload:     e.Payload,
		Signatures:  []Signature{{Sig: s.Sig}},
	}
	var payload []byte
	v := dsse.WrapVerifier(key.verifier,
		dsse.WithExpectedPayloadType(PayloadType),
		dsse.WithDecodedPayload(&payload))
	if err := v.VerifySignature(bytes.NewReader(one.Marshal()), nil); err != nil {
		return nil, err
	}
	if !bytes.Equal(payload, e.Payload) {
		return nil, errors.New("verified payload differs from the envelope's")
	}
	return payload, nil
}

// verifyOne is the same check for an envelope ParseEnvelope already
// accepted (so its payload type is PayloadType): the signature over the
// DSSE pre-authentication encoding (go-securesystemslib's PAE), verified by
// the key's sigstore verifier. Replays (Apply) take this path: it skips
// re-encoding and re-parsing the envelope as JSON, which cost more than
// the signature check. TestVerifyPathsAgree keeps the two paths equal.
// An Ed25519 key is checked on its point decoded once (ed25519Key), as
// crypto/ed25519 under sigstore's verifier checks it.
func verifyOne(e *Envelope, s Signature, key *PublicKey) ([]byte, error) {
	if e.PayloadType != PayloadType {
		return nil, fmt.Errorf("payload type %q, want %q", e.PayloadType, PayloadType)
	}
	if key.ed25519 != nil {
		if !key.ed25519.verifyPAE(e.PayloadType, e.Payload, s.Sig) {
			return nil, errBadSignature
		}
		return e.Payload, nil
	}
	pae := ssldsse.PAE(e.PayloadType, e.Payload)
	if err := key.verifier.VerifySignature(bytes.NewReader(s.Sig), bytes.NewReader(pae)); err != nil {
		return nil, err
	}
	return e.Payload, nil
}
