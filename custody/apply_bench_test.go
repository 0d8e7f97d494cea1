package custody

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

// BenchmarkApplyAcquire measures one custody.Apply of an Ed25519-signed
// acquisition against an in-memory view, next to the bare Ed25519
// verification it contains: the replay cost beyond the signature check.
func BenchmarkApplyAcquire(b *testing.B) {
	l := baseLedger(b)
	envs := make([][]byte, b.N)
	for i := range envs {
		id := fmt.Sprintf("BENCH-%d", i)
		envs[i] = l.acquireEnv(pCERT, id, digestsOf(id))
	}
	b.ResetTimer()
	for i := range b.N {
		e := l.entry(envs[i])
		recs, _, err := Apply(l.v, e)
		if err != nil {
			b.Fatal(err)
		}
		l.v.Set(recs)
		l.entries = append(l.entries, e)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 600)
	sig := ed25519.Sign(priv, msg)
	b.ResetTimer()
	for range b.N {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad")
		}
	}
}

// TestVerifyPathsAgree: the replay path (verifyOne: PAE + the key's sigstore
// verifier) and the public path (verifyOneDSSE: sigstore's DSSE wrapper)
// accept and refuse exactly the same signatures, for every bit flip of the
// signature and of the payload.
func TestVerifyPathsAgree(t *testing.T) {
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}}],"predicateType":"https://example.org/t/v1"}`)
	for _, typ := range []KeyType{KeyEd25519, KeyECDSAP256} {
		priv, _, err := GenerateKey(typ, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePrivateKey(priv, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		env, err := SignStatement(stmt, k)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, e *Envelope) {
			_, fast := verifyOne(e, e.Signatures[0], k.Public())
			_, slow := verifyOneDSSE(e, e.Signatures[0], k.Public())
			if (fast == nil) != (slow == nil) {
				t.Fatalf("%s %s: verifyOne = %v, verifyOneDSSE = %v", typ, what, fast, slow)
			}
		}
		check("untouched", e)
		if _, err := verifyOne(e, e.Signatures[0], k.Public()); err != nil {
			t.Fatalf("%s: verifyOne(valid) = %v", typ, err)
		}
		for i := range len(e.Signatures[0].Sig) * 8 {
			m := *e
			m.Signatures = []Signature{{KeyID: e.Signatures[0].KeyID, Sig: append([]byte(nil), e.Signatures[0].Sig...)}}
			m.Signatures[0].Sig[i/8] ^= 1 << (i % 8)
			check(fmt.Sprintf("sig bit %d", i), &m)
		}
		for i := range len(e.Payload) * 8 {
			m := *e
			m.Payload = append([]byte(nil), e.Payload...)
			m.Payload[i/8] ^= 1 << (i % 8)
			check(fmt.Sprintf("payload bit %d", i), &m)
		}
	}
}
