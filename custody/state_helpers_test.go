package custody

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// stateKeys are the keys of the state tests: the first made by GenerateKey
// and read back by ParsePrivateKey (one scrypt round trip), the others
// fresh Ed25519 keys without the key file.
var stateKeys = sync.OnceValues(func() ([]*PrivateKey, error) {
	priv, _, err := GenerateKey(KeyEd25519, []byte(testPassword))
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(priv, []byte(testPassword))
	if err != nil {
		return nil, err
	}
	keys := []*PrivateKey{k}
	for range 15 {
		_, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		k, err := newPrivateKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
})

// Parties of the base ledger, and spare keys.
const (
	pAdmin   = "admin"
	pCERT    = "cert-ua"     // collector
	pLab     = "neutral-lab" // analyst
	pCourier = "courier"     // facilitator
	pWitness = "witness-1"   // witness
	exhibitA = "CERT-UA-0042"
)

// digestsOf is a digest set (sha256, md5) of the text s.
func digestsOf(s string) map[string]string {
	a := sha256.Sum256([]byte(s))
	m := md5.Sum([]byte(s))
	return map[string]string{"sha256": hex.EncodeToString(a[:]), "md5": hex.EncodeToString(m[:])}
}

// testLedger applies entries to a MemView, as the ledger would.
type testLedger struct {
	t       testing.TB
	v       *MemView
	entries []Entry
	keys    map[string]*PrivateKey // the current key of each party
	spare   []*PrivateKey
}

func newTestLedger(t testing.TB) *testLedger {
	t.Helper()
	keys, err := stateKeys()
	if err != nil {
		t.Fatalf("generating keys: %v", err)
	}
	return &testLedger{t: t, v: NewMemView(), keys: map[string]*PrivateKey{}, spare: slicesClone(keys)}
}

func slicesClone(k []*PrivateKey) []*PrivateKey { return append([]*PrivateKey(nil), k...) }

// newKey takes a spare key.
func (l *testLedger) newKey() *PrivateKey {
	l.t.Helper()
	if len(l.spare) == 0 {
		l.t.Fatal("out of spare keys")
	}
	k := l.spare[0]
	l.spare = l.spare[1:]
	return k
}

// baseLedger enrols admin, cert-ua (collector), neutral-lab (analyst),
// courier (facilitator) and witness-1 (witness), and cert-ua acquires
// CERT-UA-0042 at leaf 5.
func baseLedger(t testing.TB) *testLedger {
	t.Helper()
	l := newTestLedger(t)
	admin := l.newKey()
	l.keys[pAdmin] = admin
	l.must(l.enrollEnv(pAdmin, []string{RoleAdmin}, admin, admin))
	for _, p := range []struct{ name, role string }{{pCERT, RoleCollector}, {pLab, RoleAnalyst}, {pCourier, RoleFacilitator}, {pWitness, RoleWitness}} {
		k := l.newKey()
		l.keys[p.name] = k
		l.must(l.enrollEnv(p.name, []string{p.role}, k, k, admin))
	}
	l.must(l.acquireEnv(pCERT, exhibitA, digestsOf(exhibitA)))
	return l
}

func (l *testLedger) entry(env []byte) Entry {
	i := int64(len(l.entries))
	return Entry{
		Index:    i,
		LeafHash: sha256.Sum256(append([]byte{0}, env...)), // RFC 6962 leaf hash
		Time:     time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
		Envelope: env,
	}
}

// submit applies env as the next leaf and keeps it if accepted.
func (l *testLedger) submit(env []byte) (*Event, error) {
	e := l.entry(env)
	recs, ev, err := Apply(l.v, e)
	if err != nil {
		if recs != nil || ev != nil {
			l.t.Fatalf("Apply refused leaf %d with %v but returned records or an event", e.Index, err)
		}
		return nil, err
	}
	for _, r := range recs {
		if st := r.Step(); st != nil {
			var want HistoryStep
			if err := json.Unmarshal(r.Value, &want); err != nil || !reflect.DeepEqual(*st, want) {
				l.t.Fatalf("leaf %d: record %s: Step() = %+v, its value decodes to %+v (%v)", e.Index, r.Key, *st, want, err)
			}
		} else if strings.HasPrefix(r.Key, "h/") {
			l.t.Fatalf("leaf %d: history record %s: Step() = nil", e.Index, r.Key)
		}
		if x := r.Exhibit(); x != nil {
			var want ExhibitRecord
			if err := json.Unmarshal(r.Value, &want); err != nil || !reflect.DeepEqual(*x, want) {
				l.t.Fatalf("leaf %d: record %s: Exhibit() = %+v, its value decodes to %+v (%v)", e.Index, r.Key, *x, want, err)
			}
		} else if strings.HasPrefix(r.Key, "e/") {
			l.t.Fatalf("leaf %d: exhibit record %s: Exhibit() = nil", e.Index, r.Key)
		}
	}
	l.v.Set(recs)
	l.entries = append(l.entries, e)
	return ev, nil
}

func (l *testLedger) must(env []byte) *Event {
	l.t.Helper()
	ev, err := l.submit(env)
	if err != nil {
		l.t.Fatalf("Apply(leaf %d) = %v, want accepted", len(l.entries), err)
	}
	return ev
}

func (l *testLedger) exhibit(id string) *ExhibitRecord {
	l.t.Helper()
	x, err := Exhibit(l.v, id)
	if err != nil || x == nil {
		l.t.Fatalf("Exhibit(%s) = %v", id, err)
	}
	return x
}

func (l *testLedger) party(name string) *PartyRecord {
	l.t.Helper()
	p, err := Party(l.v, name)
	if err != nil || p == nil {
		l.t.Fatalf("Party(%s) = %v", name, err)
	}
	return p
}

// env signs a one-subject statement with keys.
func (l *testLedger) env(ptype string, sub Subject, pred any, keys ...*PrivateKey) []byte {
	l.t.Helper()
	stmt, err := NewStatement(ptype, sub, pred)
	if err != nil {
		l.t.Fatalf("NewStatement(%s) = %v", ptype, err)
	}
	env, err := SignStatementMulti(stmt, keys...)
	if err != nil {
		l.t.Fatalf("SignStatementMulti(%s) = %v", ptype, err)
	}
	return env
}

func (l *testLedger) exhibitSubject(id string) Subject {
	return Subject{Name: id, Digest: l.exhibit(id).Digests}
}

func (l *testLedger) enrollEnv(name string, roles []string, key *PrivateKey, signers ...*PrivateKey) []byte {
	pub := key.Public()
	return l.env(PredicateEnroll, PartySubject(name, pub),
		Enroll{Party: name, Org: "org of " + name, Roles: roles, Key: KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}}, signers...)
}

func (l *testLedger) rotateEnv(party string, newKey *PrivateKey, signers ...*PrivateKey) []byte {
	pub := newKey.Public()
	return l.env(PredicateKeyRotate, PartySubject(party, pub),
		KeyRotate{Party: party, OldKey: l.party(party).Current, NewKey: KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}}, signers...)
}

func (l *testLedger) revokeEnv(party string, key *PublicKey, signers ...*PrivateKey) []byte {
	return l.env(PredicateKeyRevoke, PartySubject(party, key), KeyRevoke{Party: party, KeyID: key.KeyID(), Reason: "laptop stolen"}, signers...)
}

func (l *testLedger) acquireEnv(by, id string, d map[string]string) []byte {
	return l.env(PredicateAcquire, Subject{Name: id, Digest: d},
		Acquire{Exhibit: id, Size: 4096, Source: "server rack 3, disk 0", Method: "write-blocked image", Tool: "custos"}, l.keys[by])
}

func (l *testLedger) deriveEnv(by, id string, parents []string, d map[string]string) []byte {
	return l.env(PredicateDerive, Subject{Name: id, Digest: d},
		Derive{Exhibit: id, Parents: parents, Kind: "extract", Size: 100}, l.keys[by])
}

func (l *testLedger) releaseEnv(by, id, to string) []byte {
	return l.env(PredicateRelease, l.exhibitSubject(id), Release{Exhibit: id, To: to, Reason: "analysis", Prev: l.exhibit(id).Last}, l.keys[by])
}

// openRef is the exhibit's open release, or its Last if none.
func (l *testLedger) openRef(id string) LeafRef {
	x := l.exhibit(id)
	if x.OpenRelease != nil {
		return x.OpenRelease.Ref
	}
	return x.Last
}

func (l *testLedger) acceptEnv(by, id string, observed map[string]string) []byte {
	return l.env(PredicateAccept, Subject{Name: id, Digest: observed}, Accept{Exhibit: id, Prev: l.openRef(id)}, l.keys[by])
}

func (l *testLedger) rejectEnv(by, id string, observed map[string]string) []byte {
	return l.env(PredicateReject, Subject{Name: id, Digest: observed}, Reject{Exhibit: id, Prev: l.openRef(id), Reason: "hash differs"}, l.keys[by])
}

func (l *testLedger) sealEnv(by, id string) []byte {
	return l.env(PredicateSeal, l.exhibitSubject(id), Seal{Exhibit: id, SealID: "S-1", Prev: l.exhibit(id).Last}, l.keys[by])
}

func (l *testLedger) unsealEnv(by, id string) []byte {
	return l.env(PredicateUnseal, l.exhibitSubject(id), Unseal{Exhibit: id, Reason: "court order", Prev: l.exhibit(id).Last}, l.keys[by])
}

func (l *testLedger) disposeEnv(by, id string) []byte {
	return l.env(PredicateDispose, l.exhibitSubject(id), Dispose{Exhibit: id, Method: "returned to owner", Reason: "case closed", Prev: l.exhibit(id).Last}, l.keys[by])
}

// checkRule checks that err is a *RuleError of rule about exhibit and
// holder, whose message names both.
func checkRule(t testing.TB, what string, err error, rule, exhibit, holder string) {
	t.Helper()
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("%s = %T %v, want *RuleError %s", what, err, err, rule)
	}
	if re.Rule != rule {
		t.Fatalf("%s = %v (rule %s), want rule %s", what, err, re.Rule, rule)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "custody rule "+rule+": ") {
		t.Errorf("%s.Error() = %q, want it to start with %q", what, msg, "custody rule "+rule+": ")
	}
	if exhibit != "" {
		if re.Exhibit != exhibit || re.Holder != holder {
			t.Errorf("%s: Exhibit, Holder = %q, %q, want %q, %q", what, re.Exhibit, re.Holder, exhibit, holder)
		}
		if !strings.Contains(msg, exhibit) || !strings.Contains(msg, holder) {
			t.Errorf("%s.Error() = %q, want it to name %s and %s", what, msg, exhibit, holder)
		}
	}
}
