package custody

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

// ruleCase is an entry built on the base ledger (see baseLedger), after
// whatever earlier entries build submits, and the verdict on it.
type ruleCase struct {
	name            string
	build           func(l *testLedger) []byte
	rule            string // "" = accepted
	exhibit, holder string // the RuleError's, for rules about an exhibit
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := baseLedger(t)
			env := c.build(l)
			ev, err := l.submit(env)
			if c.rule == "" {
				if err != nil {
					t.Fatalf("Apply = %v, want accepted", err)
				}
				if ev == nil || ev.Index != int64(len(l.entries)-1) {
					t.Errorf("Apply event = %+v, want one at index %d", ev, len(l.entries)-1)
				}
				return
			}
			checkRule(t, "Apply", err, c.rule, c.exhibit, c.holder)
		})
	}
}

func TestApplyPartyRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "enroll", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("tribunal-1", []string{RoleTribunal}, k, k, l.keys[pAdmin])
		}},
		{name: "enroll/admin co-signs first", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("tribunal-1", []string{RoleTribunal}, k, l.keys[pAdmin], k)
		}},
		{name: "enroll/not signed by admin", rule: "admin-only", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("rogue", []string{RoleCollector}, k, k, l.keys[pCERT])
		}},
		{name: "enroll/self-signed only", rule: "admin-only", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("rogue", []string{RoleCollector}, k, k)
		}},
		{name: "enroll/no proof of possession", rule: "possession", build: func(l *testLedger) []byte {
			return l.enrollEnv("tribunal-1", []string{RoleTribunal}, l.newKey(), l.keys[pAdmin])
		}},
		{name: "enroll/party exists", rule: "party-exists", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv(pCERT, []string{RoleCollector}, k, k, l.keys[pAdmin])
		}},
		{name: "enroll/key exists", rule: "key-exists", build: func(l *testLedger) []byte {
			k := l.keys[pLab]
			return l.enrollEnv("lab-2", []string{RoleAnalyst}, k, k, l.keys[pAdmin])
		}},
		{name: "enroll/unknown role", rule: "role", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("wizard", []string{"wizard"}, k, k, l.keys[pAdmin])
		}},
		{name: "enroll/bad party name", rule: "bad-predicate", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("Bad Name", []string{RoleAnalyst}, k, k, l.keys[pAdmin])
		}},
		{name: "enroll/unknown co-signer", rule: "not-enrolled", build: func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("tribunal-1", []string{RoleTribunal}, k, k, l.newKey())
		}},
		{name: "enroll/subject is not the key", rule: "bad-predicate", build: func(l *testLedger) []byte {
			k := l.newKey()
			pub := k.Public()
			return l.env(PredicateEnroll, PartySubject("tribunal-1", l.keys[pLab].Public()),
				Enroll{Party: "tribunal-1", Org: "ICC", Roles: []string{RoleTribunal}, Key: KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}}, k, l.keys[pAdmin])
		}},
		{name: "rotate/by the party", build: func(l *testLedger) []byte {
			return l.rotateEnv(pCERT, l.newKey(), l.keys[pCERT])
		}},
		{name: "rotate/by an admin", build: func(l *testLedger) []byte {
			return l.rotateEnv(pCERT, l.newKey(), l.keys[pAdmin])
		}},
		{name: "rotate/by another party", rule: "admin-only", build: func(l *testLedger) []byte {
			return l.rotateEnv(pCERT, l.newKey(), l.keys[pLab])
		}},
		{name: "rotate/old key not current", rule: "key-not-current", build: func(l *testLedger) []byte {
			old := l.keys[pCERT]
			l.must(l.rotateEnv(pCERT, l.newKey(), old))
			pub := l.newKey().Public()
			return l.env(PredicateKeyRotate, PartySubject(pCERT, pub),
				KeyRotate{Party: pCERT, OldKey: old.Public().KeyID(), NewKey: KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}}, l.keys[pAdmin])
		}},
		{name: "rotate/rotated-out key signs", rule: "key-not-current", build: func(l *testLedger) []byte {
			old := l.keys[pCERT]
			l.must(l.rotateEnv(pCERT, l.newKey(), old))
			return l.releaseEnv(pCERT, exhibitA, pLab) // still signs with old
		}},
		{name: "rotate/new key signs", build: func(l *testLedger) []byte {
			k := l.newKey()
			l.must(l.rotateEnv(pCERT, k, l.keys[pCERT]))
			l.keys[pCERT] = k
			return l.releaseEnv(pCERT, exhibitA, pLab)
		}},
		{name: "rotate/new key exists", rule: "key-exists", build: func(l *testLedger) []byte {
			return l.rotateEnv(pCERT, l.keys[pLab], l.keys[pCERT])
		}},
		{name: "revoke/by the party", build: func(l *testLedger) []byte {
			return l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pCERT])
		}},
		{name: "revoke/by an admin", build: func(l *testLedger) []byte {
			return l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pAdmin])
		}},
		{name: "revoke/by another party", rule: "admin-only", build: func(l *testLedger) []byte {
			return l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pLab])
		}},
		{name: "revoke/not the party's key", rule: "not-enrolled", build: func(l *testLedger) []byte {
			return l.revokeEnv(pCERT, l.keys[pLab].Public(), l.keys[pAdmin])
		}},
		{name: "revoke/twice", rule: "key-revoked", build: func(l *testLedger) []byte {
			l.must(l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pAdmin]))
			pub := l.keys[pCERT].Public()
			return l.env(PredicateKeyRevoke, PartySubject(pCERT, pub), KeyRevoke{Party: pCERT, KeyID: pub.KeyID(), Reason: "again"}, l.keys[pAdmin])
		}},
		{name: "revoke/revoked key signs", rule: "key-revoked", build: func(l *testLedger) []byte {
			l.must(l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pCERT]))
			return l.releaseEnv(pCERT, exhibitA, pLab)
		}},
		{name: "revoke/revoked party cannot rotate itself", rule: "key-revoked", build: func(l *testLedger) []byte {
			l.must(l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pAdmin]))
			return l.rotateEnv(pCERT, l.newKey(), l.keys[pCERT])
		}},
		{name: "revoke/admin rotates the party back", build: func(l *testLedger) []byte {
			l.must(l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pAdmin]))
			k := l.newKey()
			l.must(l.rotateEnv(pCERT, k, l.keys[pAdmin]))
			l.keys[pCERT] = k
			return l.releaseEnv(pCERT, exhibitA, pLab)
		}},
		{name: "signature/unknown key", rule: "not-enrolled", build: func(l *testLedger) []byte {
			l.keys["stranger"] = l.newKey()
			return l.releaseEnv("stranger", exhibitA, pLab)
		}},
	})
}

func TestApplyExhibitRules(t *testing.T) {
	other := digestsOf("other artifact")
	runRuleCases(t, []ruleCase{
		{name: "acquire", build: func(l *testLedger) []byte { return l.acquireEnv(pLab, "LAB-1", other) }},
		{name: "acquire/without a holding role", rule: "role", build: func(l *testLedger) []byte {
			return l.acquireEnv(pWitness, "W-1", other)
		}},
		{name: "acquire/by the admin", rule: "role", build: func(l *testLedger) []byte {
			return l.acquireEnv(pAdmin, "W-1", other)
		}},
		{name: "acquire/exhibit exists", rule: "exhibit-exists", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.acquireEnv(pLab, exhibitA, other)
		}},
		{name: "acquire/bad exhibit id", rule: "bad-predicate", build: func(l *testLedger) []byte {
			return l.acquireEnv(pLab, "-dash first", other)
		}},
		{name: "acquire/subject names another exhibit", rule: "bad-predicate", build: func(l *testLedger) []byte {
			return l.env(PredicateAcquire, Subject{Name: "X-2", Digest: other}, Acquire{Exhibit: "X-1", Source: "s", Method: "m"}, l.keys[pLab])
		}},
		{name: "acquire/missing required field", rule: "bad-predicate", build: func(l *testLedger) []byte {
			return l.env(PredicateAcquire, Subject{Name: "X-1", Digest: other}, Acquire{Exhibit: "X-1", Source: "s"}, l.keys[pLab])
		}},
		{name: "acquire/unknown field", rule: "bad-predicate", build: func(l *testLedger) []byte {
			return l.env(PredicateAcquire, Subject{Name: "X-1", Digest: other},
				map[string]any{"exhibit": "X-1", "size": 1, "source": "s", "method": "m", "colour": "red"}, l.keys[pLab])
		}},
		{name: "acquire/unknown custody predicate version", rule: "bad-predicate", build: func(l *testLedger) []byte {
			return l.env(predicateBase+"acquire/v9", Subject{Name: "X-1", Digest: other}, Acquire{Exhibit: "X-1", Source: "s", Method: "m"}, l.keys[pLab])
		}},
		{name: "derive", build: func(l *testLedger) []byte {
			return l.deriveEnv(pCERT, "CERT-UA-0042/extract-1", []string{exhibitA}, other)
		}},
		{name: "derive/not the holder", rule: "holder-only", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.deriveEnv(pLab, "D-1", []string{exhibitA}, other)
		}},
		{name: "derive/sealed parent", rule: "sealed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.sealEnv(pCERT, exhibitA))
			return l.deriveEnv(pCERT, "D-1", []string{exhibitA}, other)
		}},
		{name: "derive/released parent", rule: "one-open-release", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.deriveEnv(pCERT, "D-1", []string{exhibitA}, other)
		}},
		{name: "derive/disposed parent", rule: "disposed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.disposeEnv(pCERT, exhibitA))
			return l.deriveEnv(pCERT, "D-1", []string{exhibitA}, other)
		}},
		{name: "derive/unknown parent", rule: "unknown-exhibit", build: func(l *testLedger) []byte {
			return l.deriveEnv(pCERT, "D-1", []string{"NOPE-1"}, other)
		}},
		{name: "derive/exhibit exists", rule: "exhibit-exists", exhibit: "D-1", holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.deriveEnv(pCERT, "D-1", []string{exhibitA}, digestsOf("d-1")))
			return l.deriveEnv(pCERT, "D-1", []string{exhibitA}, other)
		}},
		{name: "derive/bad kind", rule: "bad-predicate", build: func(l *testLedger) []byte {
			return l.env(PredicateDerive, Subject{Name: "D-1", Digest: other}, Derive{Exhibit: "D-1", Parents: []string{exhibitA}, Kind: "guess"}, l.keys[pCERT])
		}},
		{name: "release", build: func(l *testLedger) []byte { return l.releaseEnv(pCERT, exhibitA, pLab) }},
		{name: "release/not the holder", rule: "holder-only", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.releaseEnv(pLab, exhibitA, pCourier)
		}},
		{name: "release/to itself", rule: "named-receiver", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.releaseEnv(pCERT, exhibitA, pCERT)
		}},
		{name: "release/to a stranger", rule: "not-enrolled", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.releaseEnv(pCERT, exhibitA, "stranger")
		}},
		{name: "release/to a witness", rule: "role", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.releaseEnv(pCERT, exhibitA, pWitness)
		}},
		{name: "release/second open release", rule: "one-open-release", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.releaseEnv(pCERT, exhibitA, pCourier)
		}},
		{name: "release/sealed", rule: "sealed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.sealEnv(pCERT, exhibitA))
			return l.releaseEnv(pCERT, exhibitA, pLab)
		}},
		{name: "release/disposed", rule: "disposed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.disposeEnv(pCERT, exhibitA))
			return l.releaseEnv(pCERT, exhibitA, pLab)
		}},
		{name: "release/stale prev", rule: "replay", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			stale := l.releaseEnv(pCERT, exhibitA, pCourier) // signed, never submitted
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			l.must(l.rejectEnv(pLab, exhibitA, digestsOf(exhibitA)))
			return stale
		}},
		{name: "release/other digests", rule: "digests-match", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.env(PredicateRelease, Subject{Name: exhibitA, Digest: other}, Release{Exhibit: exhibitA, To: pLab, Prev: l.exhibit(exhibitA).Last}, l.keys[pCERT])
		}},
		{name: "release/fewer digests", rule: "digests-match", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			d := map[string]string{"sha256": digestsOf(exhibitA)["sha256"]}
			return l.env(PredicateRelease, Subject{Name: exhibitA, Digest: d}, Release{Exhibit: exhibitA, To: pLab, Prev: l.exhibit(exhibitA).Last}, l.keys[pCERT])
		}},
		{name: "release/unknown exhibit", rule: "unknown-exhibit", build: func(l *testLedger) []byte {
			return l.env(PredicateRelease, Subject{Name: "NOPE-1", Digest: other}, Release{Exhibit: "NOPE-1", To: pLab, Prev: l.exhibit(exhibitA).Last}, l.keys[pCERT])
		}},
		{name: "accept", build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.acceptEnv(pLab, exhibitA, digestsOf(exhibitA))
		}},
		{name: "accept/sha256 only", build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.acceptEnv(pLab, exhibitA, map[string]string{"sha256": digestsOf(exhibitA)["sha256"]})
		}},
		{name: "accept/not the named receiver", rule: "named-receiver", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.acceptEnv(pCourier, exhibitA, digestsOf(exhibitA))
		}},
		{name: "accept/no open release", rule: "named-receiver", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.acceptEnv(pLab, exhibitA, digestsOf(exhibitA))
		}},
		{name: "accept/prev is not the release", rule: "replay", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			prev := l.exhibit(exhibitA).Last
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.env(PredicateAccept, l.exhibitSubject(exhibitA), Accept{Exhibit: exhibitA, Prev: prev}, l.keys[pLab])
		}},
		{name: "accept/md5 differs", rule: "digests-match", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			d := digestsOf(exhibitA)
			d["md5"] = other["md5"]
			return l.acceptEnv(pLab, exhibitA, d)
		}},
		{name: "accept/disposed", rule: "disposed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.disposeEnv(pCERT, exhibitA))
			return l.acceptEnv(pLab, exhibitA, digestsOf(exhibitA))
		}},
		{name: "reject", build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.rejectEnv(pLab, exhibitA, digestsOf(exhibitA))
		}},
		{name: "reject/not the named receiver", rule: "named-receiver", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.rejectEnv(pCERT, exhibitA, digestsOf(exhibitA))
		}},
		{name: "reject/stale prev", rule: "replay", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			stale := l.rejectEnv(pLab, exhibitA, other)
			l.must(l.rejectEnv(pLab, exhibitA, digestsOf(exhibitA)))
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return stale
		}},
		{name: "seal", build: func(l *testLedger) []byte { return l.sealEnv(pCERT, exhibitA) }},
		{name: "seal/not the holder", rule: "holder-only", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.sealEnv(pLab, exhibitA)
		}},
		{name: "seal/sealed", rule: "sealed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.sealEnv(pCERT, exhibitA))
			return l.sealEnv(pCERT, exhibitA)
		}},
		{name: "seal/open release", rule: "one-open-release", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.releaseEnv(pCERT, exhibitA, pLab))
			return l.sealEnv(pCERT, exhibitA)
		}},
		{name: "seal/stale prev", rule: "replay", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			stale := l.sealEnv(pCERT, exhibitA)
			l.must(l.env(PredicateSeal, l.exhibitSubject(exhibitA), Seal{Exhibit: exhibitA, SealID: "S-0", Prev: l.exhibit(exhibitA).Last}, l.keys[pCERT]))
			l.must(l.unsealEnv(pCERT, exhibitA))
			return stale
		}},
		{name: "unseal", build: func(l *testLedger) []byte {
			l.must(l.sealEnv(pCERT, exhibitA))
			return l.unsealEnv(pCERT, exhibitA)
		}},
		{name: "unseal/not sealed", rule: "sealed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.unsealEnv(pCERT, exhibitA)
		}},
		{name: "unseal/not the holder", rule: "holder-only", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.sealEnv(pCERT, exhibitA))
			return l.unsealEnv(pLab, exhibitA)
		}},
		{name: "dispose", build: func(l *testLedger) []byte { return l.disposeEnv(pCERT, exhibitA) }},
		{name: "dispose/sealed", rule: "sealed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.sealEnv(pCERT, exhibitA))
			return l.disposeEnv(pCERT, exhibitA)
		}},
		{name: "dispose/twice", rule: "disposed", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			l.must(l.disposeEnv(pCERT, exhibitA))
			return l.disposeEnv(pCERT, exhibitA)
		}},
		{name: "dispose/not the holder", rule: "holder-only", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.disposeEnv(pCourier, exhibitA)
		}},
		{name: "attestation", build: func(l *testLedger) []byte {
			return l.env("https://custos.dev/finding/v1", l.exhibitSubject(exhibitA), map[string]any{"category": "malware"}, l.keys[pLab], l.keys[pWitness])
		}},
		{name: "attestation/by a stranger", rule: "not-enrolled", build: func(l *testLedger) []byte {
			return l.env("https://custos.dev/finding/v1", l.exhibitSubject(exhibitA), map[string]any{}, l.newKey())
		}},
		{name: "attestation/by a revoked key", rule: "key-revoked", build: func(l *testLedger) []byte {
			l.must(l.revokeEnv(pLab, l.keys[pLab].Public(), l.keys[pAdmin]))
			return l.env("https://custos.dev/finding/v1", l.exhibitSubject(exhibitA), map[string]any{}, l.keys[pLab])
		}},
		{name: "co-signed seal", build: func(l *testLedger) []byte {
			return l.env(PredicateSeal, l.exhibitSubject(exhibitA), Seal{Exhibit: exhibitA, Prev: l.exhibit(exhibitA).Last}, l.keys[pCERT], l.keys[pWitness])
		}},
		{name: "co-signed seal/holder signs second", rule: "holder-only", exhibit: exhibitA, holder: pCERT, build: func(l *testLedger) []byte {
			return l.env(PredicateSeal, l.exhibitSubject(exhibitA), Seal{Exhibit: exhibitA, Prev: l.exhibit(exhibitA).Last}, l.keys[pWitness], l.keys[pCERT])
		}},
		{name: "two subjects", rule: "bad-predicate", build: func(l *testLedger) []byte {
			stmt, err := json.Marshal(Statement{Type: StatementType, PredicateType: PredicateSeal,
				Subject:   []Subject{l.exhibitSubject(exhibitA), {Name: "x", Digest: other}},
				Predicate: mustJSON(t, Seal{Exhibit: exhibitA, Prev: l.exhibit(exhibitA).Last})})
			if err != nil {
				t.Fatal(err)
			}
			env, err := SignStatementMulti(stmt, l.keys[pCERT])
			if err != nil {
				t.Fatal(err)
			}
			return env
		}},
	})
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestApplyGenesis(t *testing.T) {
	for _, c := range []struct {
		name  string
		build func(l *testLedger) []byte
		rule  string
	}{
		{"admin, self-signed", func(l *testLedger) []byte { k := l.newKey(); return l.enrollEnv("admin", []string{RoleAdmin}, k, k) }, ""},
		{"not an admin", func(l *testLedger) []byte { k := l.newKey(); return l.enrollEnv("lab", []string{RoleAnalyst}, k, k) }, "genesis"},
		{"not an enrolment", func(l *testLedger) []byte {
			l.keys[pCERT] = l.newKey()
			return l.acquireEnv(pCERT, "X-1", digestsOf("x"))
		}, "genesis"},
		{"co-signed by a stranger", func(l *testLedger) []byte {
			k := l.newKey()
			return l.enrollEnv("admin", []string{RoleAdmin}, k, k, l.newKey())
		}, "not-enrolled"},
		{"signed by another key", func(l *testLedger) []byte {
			return l.enrollEnv("admin", []string{RoleAdmin}, l.newKey(), l.newKey())
		}, "not-enrolled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newTestLedger(t)
			_, err := l.submit(c.build(l))
			if c.rule == "" {
				if err != nil {
					t.Fatalf("Apply(leaf 0) = %v, want accepted", err)
				}
				return
			}
			checkRule(t, "Apply(leaf 0)", err, c.rule, "", "")
		})
	}
}

func TestApplyBadSignature(t *testing.T) {
	l := baseLedger(t)
	env := l.releaseEnv(pCERT, exhibitA, pLab)
	e, err := ParseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	e.Signatures[0].Sig[3] ^= 1
	_, err = l.submit(e.Marshal())
	var se *SignatureError
	if !errors.As(err, &se) || se.KeyID != l.keys[pCERT].Public().KeyID() {
		t.Fatalf("Apply(flipped signature) = %T %v, want *SignatureError of %s", err, err, l.keys[pCERT].Public().KeyID())
	}
	if _, err := l.submit([]byte(`{"payloadType":"x"}`)); !errors.As(err, new(*ParseError)) {
		t.Fatalf("Apply(not an envelope) = %T %v, want *ParseError", err, err)
	}
}

func TestApplyDuplicates(t *testing.T) {
	l := baseLedger(t)
	acq := l.entries[5]

	_, err := l.submit(acq.Envelope)
	var de *DuplicateError
	if !errors.As(err, &de) || de.Exhibit != "" || de.Index != 5 {
		t.Fatalf("Apply(leaf 5 again) = %v, want *DuplicateError of leaf 5", err)
	}

	// The same artifact under another exhibit number, by another party.
	_, err = l.submit(l.acquireEnv(pLab, "LAB-0001", digestsOf(exhibitA)))
	if !errors.As(err, &de) || de.Exhibit != exhibitA || de.Index != 5 || de.SHA256 != digestsOf(exhibitA)["sha256"] {
		t.Fatalf("Apply(acquire of a registered artifact) = %v, want *DuplicateError naming %s at leaf 5", err, exhibitA)
	}
	if id, ok, err := ExhibitByDigest(l.v, digestsOf(exhibitA)["sha256"]); id != exhibitA || !ok || err != nil {
		t.Errorf("ExhibitByDigest = %q, %v, %v, want %q, true, nil", id, ok, err, exhibitA)
	}
	// A derived artifact with a registered digest.
	_, err = l.submit(l.deriveEnv(pCERT, "D-1", []string{exhibitA}, digestsOf(exhibitA)))
	if !errors.As(err, &de) || de.Exhibit != exhibitA {
		t.Fatalf("Apply(derive of a registered artifact) = %v, want *DuplicateError naming %s", err, exhibitA)
	}

	// A release resubmitted after the exhibit moved on: the same bytes are a
	// duplicate.
	rel := l.releaseEnv(pCERT, exhibitA, pLab)
	l.must(rel)
	l.must(l.rejectEnv(pLab, exhibitA, digestsOf(exhibitA)))
	_, err = l.submit(rel)
	if !errors.As(err, &de) || de.Index != 6 {
		t.Fatalf("Apply(release resubmitted) = %v, want *DuplicateError of leaf 6", err)
	}
}

// TestRevocationReplay revokes a key and checks that what it signed before
// stays, that it signs nothing after, and that replaying the whole ledger
// from scratch gives the same records.
func TestRevocationReplay(t *testing.T) {
	l := baseLedger(t)
	l.must(l.releaseEnv(pCERT, exhibitA, pLab))
	l.must(l.acceptEnv(pLab, exhibitA, digestsOf(exhibitA)))
	labKey := l.keys[pLab]
	l.must(l.sealEnv(pLab, exhibitA)) // signed by the key before its revocation
	l.must(l.revokeEnv(pLab, labKey.Public(), l.keys[pAdmin]))
	revokedAt := int64(len(l.entries) - 1)

	_, err := l.submit(l.unsealEnv(pLab, exhibitA))
	checkRule(t, "Apply(unseal by revoked key)", err, "key-revoked", "", "")

	k := l.newKey()
	l.must(l.rotateEnv(pLab, k, l.keys[pAdmin]))
	l.keys[pLab] = k
	l.must(l.unsealEnv(pLab, exhibitA))

	if p := l.party(pLab); p.key(labKey.Public().KeyID()).Revoked != revokedAt || p.Current != k.Public().KeyID() {
		t.Errorf("Party(%s) = %+v, want old key revoked at %d and current %s", pLab, p, revokedAt, k.Public().KeyID())
	}

	fresh := NewMemView()
	if err := ApplyAll(fresh, l.entries); err != nil {
		t.Fatalf("ApplyAll(the whole ledger) = %v, want nil", err)
	}
	if !maps.EqualFunc(fresh.m, l.v.m, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("ApplyAll from scratch gives %d records, want the %d applied one by one, equal", fresh.Len(), l.v.Len())
	}
	_, steps, err := History(fresh, exhibitA)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, s := range steps {
		events = append(events, s.Event+":"+s.Party)
	}
	want := []string{"acquire:cert-ua", "release:cert-ua", "accept:neutral-lab", "seal:neutral-lab", "unseal:neutral-lab"}
	if !slices.Equal(events, want) {
		t.Errorf("History after replay = %v, want %v", events, want)
	}
}

// TestFullCase walks an exhibit through its whole life and reads it back.
func TestFullCase(t *testing.T) {
	l := baseLedger(t)
	good := digestsOf(exhibitA)
	bad := digestsOf(exhibitA)
	bad["md5"] = digestsOf("corrupted")["md5"]

	l.must(l.releaseEnv(pCERT, exhibitA, pLab))                                                                                                // 6
	ev := l.must(l.rejectEnv(pLab, exhibitA, bad))                                                                                             // 7: mismatch
	l.must(l.releaseEnv(pCERT, exhibitA, pLab))                                                                                                // 8
	l.must(l.acceptEnv(pLab, exhibitA, good))                                                                                                  // 9
	const derived = "CERT-UA-0042/mem-1"                                                                                                       //
	l.must(l.deriveEnv(pLab, derived, []string{exhibitA}, digestsOf("memory")))                                                                // 10
	l.must(l.sealEnv(pLab, exhibitA))                                                                                                          // 11
	l.must(l.unsealEnv(pLab, exhibitA))                                                                                                        // 12
	l.must(l.releaseEnv(pLab, exhibitA, pCourier))                                                                                             // 13
	l.must(l.acceptEnv(pCourier, exhibitA, good))                                                                                              // 14
	last := l.must(l.disposeEnv(pCourier, exhibitA))                                                                                           // 15
	l.must(l.env("https://custos.dev/finding/v1", Subject{Name: "report", Digest: digestsOf("memory")}, map[string]any{"c": 1}, l.keys[pLab])) // 16

	if ev.Kind != EventReject || ev.Holder != pCERT || ev.Status != StatusHeld {
		t.Errorf("Apply(reject) event = %+v, want reject, holder %s, held", ev, pCERT)
	}
	if last.Holder != pCourier || last.Status != StatusDisposed || last.Exhibit != exhibitA {
		t.Errorf("Apply(dispose) event = %+v, want %s disposed by %s", last, exhibitA, pCourier)
	}

	x, steps, err := History(l.v, exhibitA)
	if err != nil {
		t.Fatalf("History(%s) = %v", exhibitA, err)
	}
	if x.Holder != pCourier || x.Status != StatusDisposed || !slices.Equal(x.Mismatches, []int64{7}) ||
		!slices.Equal(x.Derived, []string{derived}) || x.Last.Index != 15 || x.OpenRelease != nil {
		t.Errorf("History(%s) record = %+v, want held by %s, disposed, mismatch at 7, derived %s, last 15", exhibitA, x, pCourier, derived)
	}
	type step struct {
		index      int64
		event, who string
		to, from   string
		mismatch   bool
	}
	want := []step{
		{5, "acquire", pCERT, "", "", false},
		{6, "release", pCERT, pLab, "", false},
		{7, "reject", pLab, "", pCERT, true},
		{8, "release", pCERT, pLab, "", false},
		{9, "accept", pLab, "", pCERT, false},
		{10, "derive", pLab, "", "", false},
		{11, "seal", pLab, "", "", false},
		{12, "unseal", pLab, "", "", false},
		{13, "release", pLab, pCourier, "", false},
		{14, "accept", pCourier, "", pLab, false},
		{15, "dispose", pCourier, "", "", false},
	}
	var got []step
	for _, s := range steps {
		got = append(got, step{s.Index, s.Event, s.Party, s.To, s.From, s.Mismatch})
		if s.LeafHash != l.entries[s.Index].Ref().LeafHash || !s.Time.Equal(l.entries[s.Index].Time) {
			t.Errorf("History step %d: leaf hash, time = %s, %v, want the leaf's", s.Index, s.LeafHash, s.Time)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("History(%s) steps =\n%v\nwant\n%v", exhibitA, got, want)
	}

	// The derived exhibit is not in A's history prefix scan, and has its own.
	dx, dsteps, err := History(l.v, derived)
	if err != nil || dx.Holder != pLab || !slices.Equal(dx.Parents, []string{exhibitA}) || len(dsteps) != 2 ||
		dsteps[0].Event != EventDerive || dsteps[1].Event != EventAttestation {
		t.Errorf("History(%s) = %+v, %+v, %v, want held by %s, derive then attestation", derived, dx, dsteps, err, pLab)
	}

	for _, c := range []struct {
		party string
		want  []string
	}{
		{"", []string{exhibitA, derived}},
		{pLab, []string{derived}},
		{pCourier, []string{exhibitA}},
		{pCERT, nil},
	} {
		xs, err := Status(l.v, c.party)
		var ids []string
		for _, x := range xs {
			ids = append(ids, x.ID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("Status(%q) = %v, %v, want %v", c.party, ids, err, c.want)
		}
	}
	ps, err := Parties(l.v)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if want := []string{pAdmin, pCERT, pCourier, pLab, pWitness}; err != nil || !slices.Equal(names, want) {
		t.Errorf("Parties = %v, %v, want %v", names, err, want)
	}
	if x, err := Exhibit(l.v, "NOPE"); x != nil || err != nil {
		t.Errorf("Exhibit(NOPE) = %v, %v, want nil, nil", x, err)
	}
	if x, steps, err := History(l.v, "NOPE"); x != nil || steps != nil || err != nil {
		t.Errorf("History(NOPE) = %v, %v, %v, want nil, nil, nil", x, steps, err)
	}
	if p, err := Party(l.v, "nobody"); p != nil || err != nil {
		t.Errorf("Party(nobody) = %v, %v, want nil, nil", p, err)
	}
}

func TestSignStatementMulti(t *testing.T) {
	l := newTestLedger(t)
	k1, k2 := l.newKey(), l.newKey()
	stmt := []byte(validStatement)
	env, err := SignStatementMulti(stmt, k1, k2)
	if err != nil {
		t.Fatalf("SignStatementMulti = %v", err)
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		t.Fatalf("ParseEnvelope(SignStatementMulti) = %v", err)
	}
	if len(e.Signatures) != 2 || e.Signatures[0].KeyID != k1.Public().KeyID() || e.Signatures[1].KeyID != k2.Public().KeyID() {
		t.Errorf("SignStatementMulti signatures = %+v, want k1 then k2", e.Signatures)
	}
	for _, k := range []*PrivateKey{k1, k2} {
		if _, err := VerifyEnvelope(env, k.Public()); err != nil {
			t.Errorf("VerifyEnvelope(SignStatementMulti, %s) = %v", k.Public().KeyID(), err)
		}
	}
	if _, err := SignStatementMulti(stmt, k1, k1); err == nil {
		t.Error("SignStatementMulti(k1, k1) = nil error, want one")
	}
	if _, err := SignStatementMulti(stmt); err == nil {
		t.Error("SignStatementMulti() = nil error, want one")
	}
	if _, err := SignStatementMulti([]byte("{}"), k1); !errors.As(err, new(*ParseError)) {
		t.Errorf("SignStatementMulti({}) = %v, want *ParseError", err)
	}
}

func TestMemViewScan(t *testing.T) {
	v := NewMemView()
	v.Set([]Record{{Key: "a/1", Value: []byte("1")}, {Key: "a/2", Value: []byte("2")}, {Key: "b/1", Value: []byte("3")}, {Key: "a", Value: []byte("0")}})
	v.Set([]Record{{Key: "a/2"}})
	var keys []string
	if err := v.Scan("a/", func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a/1"}) {
		t.Errorf("Scan(a/) = %v, want [a/1]", keys)
	}
}

// FuzzApply feeds arbitrary envelope bytes to a ledger with parties and an
// exhibit: Apply never panics, and refuses with a typed error.
func FuzzApply(f *testing.F) {
	l := baseLedger(f)
	f.Add(l.releaseEnv(pCERT, exhibitA, pLab))
	f.Add(l.acquireEnv(pLab, "X-1", digestsOf("x")))
	f.Add(l.entries[5].Envelope)
	f.Add(l.entries[1].Envelope)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`))
	f.Fuzz(func(t *testing.T, env []byte) {
		recs, ev, err := Apply(l.v, l.entry(env))
		if err == nil {
			if ev == nil || len(recs) == 0 {
				t.Fatalf("Apply(%q) accepted with event %v and %d records", env, ev, len(recs))
			}
			return
		}
		if recs != nil || ev != nil {
			t.Fatalf("Apply(%q) = %v with records or an event", env, err)
		}
		var (
			re *RuleError
			de *DuplicateError
			pe *ParseError
			se *SignatureError
		)
		if !errors.As(err, &re) && !errors.As(err, &de) && !errors.As(err, &pe) && !errors.As(err, &se) {
			t.Fatalf("Apply(%q) = %T %v, want a typed error", env, err, err)
		}
		if re != nil && !strings.HasPrefix(re.Error(), "custody rule "+re.Rule) {
			t.Fatalf("RuleError.Error() = %q", re.Error())
		}
	})
}

// FuzzApplyPredicate signs arbitrary predicate bytes, of each custody type,
// with the holder's key: past the signatures, the rules never panic and
// refuse with a typed error.
func FuzzApplyPredicate(f *testing.F) {
	l := baseLedger(f)
	types := slices.Sorted(maps.Keys(eventOf))
	prev := mustJSON(f, l.exhibit(exhibitA).Last)
	f.Add(uint8(0), []byte(`{"exhibit":"CERT-UA-0042","prev":`+string(prev)+`}`))
	f.Add(uint8(3), []byte(`{"exhibit":"CERT-UA-0042","to":"neutral-lab","prev":`+string(prev)+`}`))
	f.Add(uint8(5), []byte(`{"exhibit":"D","parents":["CERT-UA-0042"],"kind":"copy","size":1}`))
	f.Add(uint8(7), []byte(`{"party":"cert-ua","key_id":"x","reason":"r"}`))
	sub := l.exhibitSubject(exhibitA)
	f.Fuzz(func(t *testing.T, typ uint8, pred []byte) {
		b, err := json.Marshal(Statement{Type: StatementType, Subject: []Subject{sub}, PredicateType: types[int(typ)%len(types)], Predicate: pred})
		if err != nil {
			return // pred is not JSON
		}
		env, err := SignStatementMulti(b, l.keys[pCERT])
		if err != nil {
			return
		}
		recs, ev, err := Apply(l.v, l.entry(env))
		if err == nil {
			if ev == nil || len(recs) == 0 {
				t.Fatalf("Apply(%s) accepted with event %v and %d records", b, ev, len(recs))
			}
			return
		}
		if !errors.As(err, new(*RuleError)) && !errors.As(err, new(*DuplicateError)) && !errors.As(err, new(*ParseError)) {
			t.Fatalf("Apply(%s) = %T %v, want a typed error", b, err, err)
		}
	})
}
