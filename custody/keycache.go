package custody

import (
	"encoding/json"
	"slices"
	"sync"
)

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

// partyCache holds decoded party records by their JSON encoding. Every
// signature of a replay reads its party's record; decoding it cost a third
// of the signature check. The key is the record's bytes, so a party's new
// record (an enrolment, a rotation, a revocation) is another key: no entry
// is ever stale.
var partyCache struct {
	sync.Mutex
	m     map[string]*PartyRecord
	bytes int
}

// Bounds of partyCache: records over partyCacheMaxRecord bytes are not
// kept, and the cache starts again past partyCacheMaxBytes of records.
const (
	partyCacheMaxRecord = 16 << 10
	partyCacheMaxBytes  = 4 << 20
)

// sharedParty is json.Unmarshal of a PartyRecord with a cache, without a
// copy: the record may be the cache's own, which nobody may change
// (tx.party hands out copies; the signature check, which only reads its
// signers' records, takes it as it is).
func sharedParty(b []byte) (*PartyRecord, error) {
	partyCache.Lock()
	p, ok := partyCache.m[string(b)]
	partyCache.Unlock()
	if ok {
		return p, nil
	}
	p = new(PartyRecord)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, err
	}
	if len(b) <= partyCacheMaxRecord {
		partyCache.Lock()
		if partyCache.m == nil || partyCache.bytes+len(b) > partyCacheMaxBytes {
			partyCache.m, partyCache.bytes = map[string]*PartyRecord{}, 0
		}
		partyCache.m[string(b)] = p
		partyCache.bytes += len(b)
		partyCache.Unlock()
	}
	return p, nil
}

// clone returns a copy of p that shares nothing it could change.
func (p *PartyRecord) clone() *PartyRecord {
	c := *p
	c.Roles = slices.Clone(p.Roles)
	c.Keys = slices.Clone(p.Keys)
	return &c
}
