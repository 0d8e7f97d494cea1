package custody

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// NoteVerifierKey returns the key in golang.org/x/mod/sumdb/note's verifier
// key form, name+hash+base64 (c2sp.org/signed-note), as note.NewVerifier
// takes it. Only Ed25519 keys have one: the log's checkpoint key is Ed25519
// so that stock sumdb/note tooling verifies checkpoints.
func (p *PublicKey) NoteVerifierKey(name string) (string, error) {
	pub, ok := p.pub.(ed25519.PublicKey)
	if !ok {
		return "", fmt.Errorf("custody: a %s key cannot sign notes; the log key must be ed25519", p.typ)
	}
	return note.NewEd25519VerifierKey(name, pub)
}

// NoteSigner returns a note.Signer for an Ed25519 key, signing under name
// (for a log key, the log's origin; for a witness, its name).
func (k *PrivateKey) NoteSigner(name string) (note.Signer, error) {
	skey, err := k.noteSignerKey(name)
	if err != nil {
		return nil, err
	}
	return note.NewSigner(skey)
}

// CosignatureSigner returns a signer of C2SP tlog-cosignature/v1
// cosignatures (https://c2sp.org/tlog-cosignature) for an Ed25519 key, as
// github.com/transparency-dev/formats/note makes them; witnesses use it.
func (k *PrivateKey) CosignatureSigner(name string) (note.Signer, error) {
	skey, err := k.noteSignerKey(name)
	if err != nil {
		return nil, err
	}
	return tnote.NewSignerForCosignatureV1(skey)
}

// noteSignerKey is the key in sumdb/note's private key form,
// PRIVATE+KEY+name+hash+base64(0x01 || seed). It lives only in memory.
func (k *PrivateKey) noteSignerKey(name string) (string, error) {
	priv, ok := k.priv.(ed25519.PrivateKey)
	if !ok {
		return "", fmt.Errorf("custody: a %s key cannot sign notes; it must be ed25519", k.pub.typ)
	}
	vkey, err := k.pub.NoteVerifierKey(name)
	if err != nil {
		return "", err
	}
	// vkey is name+hash+key (note names hold no '+').
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return "", errors.New("custody: malformed note verifier key")
	}
	return "PRIVATE+KEY+" + name + "+" + parts[1] + "+" +
		base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)), nil
}
