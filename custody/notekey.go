package custody

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
// (for a log key, the log's origin).
func (k *PrivateKey) NoteSigner(name string) (note.Signer, error) {
	vkey, err := k.pub.NoteVerifierKey(name)
	if err != nil {
		return nil, err
	}
	// vkey is name+hash+key (note names hold no '+'); the hash is 8 hex digits.
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || len(parts[1]) != 8 {
		return nil, errors.New("custody: malformed note verifier key")
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, errors.New("custody: malformed note verifier key")
	}
	return &noteSigner{name: name, hash: uint32(h), key: k}, nil
}

type noteSigner struct {
	name string
	hash uint32
	key  *PrivateKey
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }

// Sign signs msg with pure Ed25519, which is what sigstore's Ed25519
// signer does with a message (no prehash).
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	return s.key.signer.SignMessage(bytes.NewReader(msg))
}
