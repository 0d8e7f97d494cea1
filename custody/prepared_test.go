package custody

import (
	"errors"
	"fmt"
	"testing"
)

// TestApplyPreparedAgain: a prepared entry applied a second time, as the
// verifier applies one again when its speculative state was stale, gives
// what Apply gives against the state of the second time; the signatures it
// verified the first time are not checked again, but every rule is: a key
// revoked in between refuses the entry, and a forged signature is refused
// both times.
func TestApplyPreparedAgain(t *testing.T) {
	l := baseLedger(t)
	acquire := l.acquireEnv(pCERT, "CERT-UA-0077", digestsOf("CERT-UA-0077"))
	e := l.entry(acquire)

	p := Prepare(e)
	first, _, err := ApplyPrepared(l.v, p)
	if err != nil {
		t.Fatalf("ApplyPrepared = %v", err)
	}
	if len(p.verified) != 1 {
		t.Fatalf("verified keys after the first application = %v, want the collector's", p.verified)
	}
	again, _, err := ApplyPrepared(l.v, p)
	want, _, werr := Apply(l.v, e)
	if err != nil || werr != nil || encoded(again) != encoded(want) || encoded(first) != encoded(want) {
		t.Fatalf("applied again: %s, %v; Apply: %s, %v", encoded(again), err, encoded(want), werr)
	}

	// A forged signature verifies neither time, and is not noted.
	env, err := ParseEnvelope(l.acquireEnv(pCERT, "CERT-UA-0078", digestsOf("CERT-UA-0078")))
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Sig[5] ^= 1
	forged := Prepare(l.entry(env.Marshal()))
	for i := range 2 {
		_, _, err := ApplyPrepared(l.v, forged)
		var se *SignatureError
		if !errors.As(err, &se) {
			t.Fatalf("forged signature, application %d: %v, want a *SignatureError", i+1, err)
		}
	}
	if len(forged.verified) != 0 {
		t.Fatalf("a forged signature was noted as verified: %v", forged.verified)
	}

	// The collector's key is revoked before the entry is applied again:
	// the memo of its signature does not let the entry through.
	l.must(l.revokeEnv(pCERT, l.keys[pCERT].Public(), l.keys[pAdmin]))
	p.e.Index = int64(len(l.entries)) // the entry as it would stand now
	_, _, err = ApplyPrepared(l.v, p)
	var rule *RuleError
	if !errors.As(err, &rule) || rule.Rule != "key-revoked" {
		t.Fatalf("applied again after the key's revocation = %v, want refused for key-revoked", err)
	}
}

// encoded lists records as custody stores them: keys and values.
func encoded(recs []Record) string {
	var s string
	for _, r := range recs {
		s += fmt.Sprintf("%s=%s\n", r.Key, r.Value)
	}
	return s
}
