package custody

import "sync"

// keyCache holds parsed public keys by their PEM text. Replaying a ledger
// checks every entry's signature against a handful of party keys; parsing
// the PEM and building a sigstore verifier for each entry cost more than
// the signature check itself. A PublicKey is immutable, so sharing is safe.
var keyCache struct {
	sync.Mutex
	m map[string]*PublicKey
}

// keyCacheMax bounds the cache; a ledger has one key per party and
// rotation, far fewer than this. When full it starts again.
const keyCacheMax = 4096

// cachedPublicKey is ParsePublicKey with a cache.
func cachedPublicKey(pem string) (*PublicKey, error) {
	keyCache.Lock()
	k, ok := keyCache.m[pem]
	keyCache.Unlock()
	if ok {
		return k, nil
	}
	k, err := ParsePublicKey([]byte(pem))
	if err != nil {
		return nil, err
	}
	keyCache.Lock()
	if keyCache.m == nil || len(keyCache.m) >= keyCacheMax {
		keyCache.m = map[string]*PublicKey{}
	}
	keyCache.m[pem] = k
	keyCache.Unlock()
	return k, nil
}
