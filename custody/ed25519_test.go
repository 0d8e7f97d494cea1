package custody

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"testing"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// FuzzEd25519Agrees holds the replay's Ed25519 check (ed25519Key, the
// point decoded once) to crypto/ed25519.Verify over the DSSE PAE that
// go-securesystemslib builds: for a signature made by a key from seed with
// one bit of the signature or key flipped (flip), and for any key and
// signature bytes at all (rawPub, rawSig); both ways, with and without the
// key's table (baseTable).
func FuzzEd25519Agrees(f *testing.F) {
	f.Add(bytes.Repeat([]byte{7}, 32), PayloadType, []byte(`{"_type":"x"}`), uint(0), []byte(nil), []byte(nil))
	f.Add([]byte("seed"), PayloadType, []byte("payload"), uint(1000), bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 64))
	f.Add([]byte("s"), "", []byte(nil), uint(255), make([]byte, 32), make([]byte, 64))
	f.Add([]byte("s"), "t", []byte("p"), uint(600), []byte{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, make([]byte, 64))
	f.Fuzz(func(t *testing.T, seed []byte, payloadType string, payload []byte, flip uint, rawPub, rawSig []byte) {
		pae := ssldsse.PAE(payloadType, payload)
		hs := hashers.Get().(*hasher)
		hs.h.Reset()
		hs.writePAE(payloadType, payload)
		if want := sha512.Sum512(pae); !bytes.Equal(hs.h.Sum(nil), want[:]) {
			t.Fatalf("writePAE(%q, %q) differs from dsse.PAE", payloadType, payload)
		}
		agree := func(what string, pub, sig []byte) {
			if len(pub) != ed25519.PublicKeySize {
				if _, err := newEd25519Key(pub); err == nil {
					t.Fatalf("%s: newEd25519Key accepts a key of %d bytes", what, len(pub))
				}
				return
			}
			want := ed25519.Verify(pub, pae, sig)
			k, err := newEd25519Key(pub)
			got := err == nil && k.verifyPAE(payloadType, payload, sig)
			if got != want {
				t.Fatalf("%s: key %x sig %x: verifyPAE = %v, crypto/ed25519.Verify = %v (decode error %v)", what, pub, sig, got, want, err)
			}
			if err == nil {
				if got := withTable(t, pub).verifyPAE(payloadType, payload, sig); got != want {
					t.Fatalf("%s: key %x sig %x: verifyPAE on the key's table = %v, crypto/ed25519.Verify = %v", what, pub, sig, got, want)
				}
			}
		}
		var s [ed25519.SeedSize]byte
		copy(s[:], seed)
		priv := ed25519.NewKeyFromSeed(s[:])
		pub := append([]byte(nil), priv.Public().(ed25519.PublicKey)...)
		sig := ed25519.Sign(priv, pae)
		switch {
		case flip < 8*ed25519.SignatureSize:
			sig[flip/8] ^= 1 << (flip % 8)
		case flip < 8*(ed25519.SignatureSize+ed25519.PublicKeySize):
			i := flip - 8*ed25519.SignatureSize
			pub[i/8] ^= 1 << (i % 8)
		}
		agree("made", pub, sig)
		agree("raw", rawPub, rawSig)
		agree("raw key, made signature", rawPub, sig)
	})
}

// TestEd25519KeyVerifies: every signature a key makes verifies, every bit
// flip of it fails, and both as crypto/ed25519 says.
func TestEd25519KeyVerifies(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, 32))
	k, err := newEd25519Key(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	sig := ed25519.Sign(priv, ssldsse.PAE(PayloadType, payload))
	if !k.verifyPAE(PayloadType, payload, sig) {
		t.Fatal("a valid signature does not verify")
	}
	if k.verifyPAE("application/json", payload, sig) {
		t.Fatal("a signature verifies under another payload type")
	}
	for i := range 8 * len(sig) {
		bad := append([]byte(nil), sig...)
		bad[i/8] ^= 1 << (i % 8)
		if k.verifyPAE(PayloadType, payload, bad) {
			t.Fatalf("signature with bit %d flipped verifies", i)
		}
	}
	if k.verifyPAE(PayloadType, payload, sig[:63]) {
		t.Fatal("a 63-byte signature verifies")
	}
}
