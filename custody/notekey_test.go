package custody

import (
	"testing"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// TestNoteSigner: a note signed through an Ed25519 custody key opens with
// golang.org/x/mod/sumdb/note and the published verifier key string; an
// ECDSA key has no note form.
func TestNoteSigner(t *testing.T) {
	priv, _, err := GenerateKey(KeyEd25519, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.NoteSigner("example.org/log")
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := k.Public().NoteVerifierKey("example.org/log")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "example.org/log\n1\nAAAA\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("note.Open(signed by NoteSigner) = %v", err)
	}
	msg[len(msg)-5] ^= 1
	if _, err := note.Open(msg, note.VerifierList(v)); err == nil {
		t.Fatalf("note.Open(tampered signature) = nil, want error")
	}
	if _, err := k.NoteSigner("bad name+with plus"); err == nil {
		t.Errorf("NoteSigner(invalid name) = nil error")
	}

	ec, _, err := GenerateKey(KeyECDSAP256, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ParsePrivateKey(ec, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ek.NoteSigner("example.org/log"); err == nil {
		t.Errorf("NoteSigner(ECDSA key) = nil error, want refusal")
	}
}

// TestCosignatureSigner: a cosignature made through a custody key verifies
// with transparency-dev/formats/note's cosignature/v1 verifier.
func TestCosignatureSigner(t *testing.T) {
	priv, _, err := GenerateKey(KeyEd25519, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.CosignatureSigner("witness.example.org")
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := k.Public().NoteVerifierKey("witness.example.org")
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := tnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tnote.NewVerifierForCosignatureV1(cvkey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "example.org/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(cosigned) with the cosignature/v1 verifier = %v", err)
	}
	if _, err := tnote.CoSigV1Timestamp(n.Sigs[0]); err != nil {
		t.Errorf("CoSigV1Timestamp = %v", err)
	}
}
