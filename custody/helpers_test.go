package custody

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
)

// hexOf returns n lowercase hex characters.
func hexOf(n int) string {
	sum := sha256.Sum256([]byte{byte(n)})
	return strings.Repeat(hex.EncodeToString(sum[:]), n/64+1)[:n]
}

var (
	sha256A = hexOf(64)
	sha256B = strings.Repeat("b", 64)
)

// validStatement is a small in-toto Statement that ParseStatement accepts.
var validStatement = []byte(`{"_type":"https://in-toto.io/Statement/v1",` +
	`"subject":[{"name":"disk.img","digest":{"sha256":"` + sha256A + `","sha512":"` + hexOf(128) + `"}},` +
	`{"uri":"urn:exhibit:7","digest":{"sha256":"` + sha256B + `","md5":"` + hexOf(32) + `"}}],` +
	`"predicateType":"https://custos.dev/acquired/v1",` +
	`"predicate":{"exhibit":"HX-7","tool":"dd"}}`)

// testKeys holds unencrypted keys, made without scrypt, for the tests that
// do not test key files. Ed25519 from a fixed seed; ECDSA random.
var testKeys = sync.OnceValue(func() map[KeyType]*PrivateKey {
	keys := make(map[KeyType]*PrivateKey)
	seed := sha256.Sum256([]byte("custody test key"))
	var err error
	if keys[KeyEd25519], err = newPrivateKey(ed25519.NewKeyFromSeed(seed[:])); err != nil {
		panic(err)
	}
	for t, c := range map[KeyType]elliptic.Curve{KeyECDSAP256: elliptic.P256(), KeyECDSAP384: elliptic.P384()} {
		priv, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		if keys[t], err = newPrivateKey(priv); err != nil {
			panic(err)
		}
	}
	return keys
})

func testKey(t testing.TB, typ KeyType) *PrivateKey {
	t.Helper()
	k := testKeys()[typ]
	if k == nil {
		t.Fatalf("no test key of type %s", typ)
	}
	return k
}

// generatedKeys are key files made by GenerateKey (scrypt: made once).
type keyFiles struct {
	priv, pub []byte
}

const testPassword = "correct horse battery staple 9f2c"

var generatedKeys = sync.OnceValues(func() (map[KeyType]keyFiles, error) {
	m := make(map[KeyType]keyFiles)
	for _, t := range []KeyType{KeyEd25519, KeyECDSAP256} {
		priv, pub, err := GenerateKey(t, []byte(testPassword))
		if err != nil {
			return nil, err
		}
		m[t] = keyFiles{priv, pub}
	}
	return m, nil
})

func generatedKey(t *testing.T, typ KeyType) keyFiles {
	t.Helper()
	m, err := generatedKeys()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return m[typ]
}
