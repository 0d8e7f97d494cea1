package custody

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/custos-ledger/custos/custody/attribution"
)

// testPolicy is a one-level policy: one line of evidence at grade C3.
const testPolicy = `custos_policy: 1
name: test-policy
methods: [M-1, M-2]
baseline_max_likelihood: roughly even chance
levels:
  - name: reasonable basis
    max_likelihood: likely
    integrity: {custody_unbroken: true, witnessed: false, keys_valid: true, method_registered: true}
    quality: {source_reliability: C, credibility: 3, min_confidence: 50}
    corroboration: {min_lines: 1}
    contradictions: {source_reliability: C, credibility: 3}
`

const pLab2 = "second-lab" // analyst of another organisation

// attributionLedger is baseLedger with a second analyst (leaf 6).
func attributionLedger(t *testing.T) *testLedger {
	t.Helper()
	l := baseLedger(t)
	k := l.newKey()
	l.keys[pLab2] = k
	l.must(l.enrollEnv(pLab2, []string{RoleAnalyst}, k, k, l.keys[pAdmin]))
	return l
}

func (l *testLedger) finding(by string, f Finding) []byte {
	return l.env(PredicateFinding, AttributionSubject("finding", f.ID, f.Claim), f, l.keys[by])
}

func goodFinding(id string) Finding {
	return Finding{ID: id, Claim: "claim " + id, Category: "malware", Method: "M-1", Inputs: []string{exhibitA},
		SourceReliability: "B", Credibility: 2, Confidence: 80}
}

func (l *testLedger) hypothesis(by string, h Hypothesis) []byte {
	return l.env(PredicateHypothesis, AttributionSubject("hypothesis", h.ID, h.Statement), h, l.keys[by])
}

func (l *testLedger) policy(by, doc string) []byte {
	reg := PolicyRegistration{Name: "test-policy", Digest: attribution.PolicyDigest([]byte(doc)), Policy: doc}
	return l.env(PredicatePolicy, AttributionSubject("policy", reg.Name, doc), reg, l.keys[by])
}

func TestFindingRules(t *testing.T) {
	l := attributionLedger(t)
	ev := l.must(l.finding(pLab, goodFinding("F-01")))
	if ev.Kind != EventFinding || ev.Party != pLab || len(ev.Exhibits) != 1 {
		t.Errorf("event = %+v", ev)
	}
	_, steps, err := History(l.v, exhibitA)
	if err != nil || steps[len(steps)-1].Event != EventFinding || steps[len(steps)-1].Detail["finding"] != "F-01" {
		t.Errorf("history of %s ends with %+v (%v), want the finding", exhibitA, steps[len(steps)-1], err)
	}

	bad := func(name, rule string, by string, f Finding, sub *Subject) {
		t.Helper()
		env := l.finding(by, f)
		if sub != nil {
			env = l.env(PredicateFinding, *sub, f, l.keys[by])
		}
		_, err := l.submit(env)
		checkRule(t, name, err, rule, "", "")
	}
	f := goodFinding("F-01")
	bad("duplicate id", "finding-exists", pLab2, f, nil)
	f = goodFinding("F-02")
	bad("by a collector", "role", pCERT, f, nil)
	f.Inputs = []string{"NO-SUCH"}
	bad("unknown input", "unknown-exhibit", pLab, f, nil)
	f = goodFinding("bad id")
	bad("an id with a space", "bad-predicate", pLab, f, nil)
	f = goodFinding("F-02")
	f.Category = "astrology"
	bad("bad category", "bad-predicate", pLab, f, nil)
	f = goodFinding("F-02")
	f.SourceReliability = "G"
	bad("bad source grade", "bad-predicate", pLab, f, nil)
	f = goodFinding("F-02")
	f.Credibility = 7
	bad("bad credibility", "bad-predicate", pLab, f, nil)
	f = goodFinding("F-02")
	f.Confidence = 101
	bad("bad confidence", "bad-predicate", pLab, f, nil)
	f = goodFinding("F-02")
	f.Lineage = []string{"F-99"}
	bad("unknown lineage", "unknown-finding", pLab, f, nil)
	f = goodFinding("F-02")
	f.Rebuts = []string{"F-02"}
	bad("rebuts itself", "bad-predicate", pLab, f, nil)
	f = goodFinding("F-02")
	wrong := AttributionSubject("finding", "F-02", "another claim")
	bad("subject digest not the claim's", "bad-predicate", pLab, f, &wrong)

	f = goodFinding("F-02")
	f.Lineage = []string{"F-01"}
	l.must(l.finding(pLab2, f))
}

func TestReproductionRules(t *testing.T) {
	l := attributionLedger(t)
	l.must(l.finding(pLab, goodFinding("F-01")))
	repro := func(by, id, claim, result string) []byte {
		return l.env(PredicateReproduction, AttributionSubject("finding", id, claim), Reproduction{Finding: id, Result: result}, l.keys[by])
	}
	_, err := l.submit(repro(pLab, "F-01", "claim F-01", ResultConfirmed))
	checkRule(t, "reproduction by the finding's own party", err, "self-reproduction", "", "")
	_, err = l.submit(repro(pLab2, "F-09", "claim F-09", ResultConfirmed))
	checkRule(t, "reproduction of an unknown finding", err, "unknown-finding", "", "")
	_, err = l.submit(repro(pLab2, "F-01", "claim F-01", "probably"))
	checkRule(t, "reproduction with a bad result", err, "bad-predicate", "", "")
	l.must(repro(pLab2, "F-01", "claim F-01", ResultConfirmed))
	fs, err := Findings(l.v)
	if err != nil || len(fs) != 1 || len(fs[0].Reproductions) != 1 || fs[0].Reproductions[0].Party != pLab2 {
		t.Fatalf("Findings = %+v, %v, want F-01 with second-lab's reproduction", fs, err)
	}
}

func TestHypothesisAndPolicyRules(t *testing.T) {
	l := attributionLedger(t)
	l.must(l.finding(pLab, goodFinding("F-01")))
	l.must(l.finding(pLab2, goodFinding("F-02")))
	h := Hypothesis{ID: "H-1", Statement: "X did it", Supports: []string{"F-01"}, Contradicts: []string{"F-01"}, Likelihood: "likely"}
	_, err := l.submit(l.hypothesis(pCourier, h))
	checkRule(t, "a finding both for and against", err, "bad-predicate", "", "")
	h.Contradicts, h.Likelihood = []string{"F-02"}, "pretty sure"
	_, err = l.submit(l.hypothesis(pCourier, h))
	checkRule(t, "a likelihood outside ICD 203", err, "bad-predicate", "", "")
	h.Likelihood = "likely"
	_, err = l.submit(l.hypothesis(pCERT, h))
	checkRule(t, "a hypothesis by a collector", err, "role", "", "")
	l.must(l.hypothesis(pCourier, h))
	h.Statement = "X did it, restated"
	_, err = l.submit(l.hypothesis(pCourier, h))
	checkRule(t, "the same hypothesis id again", err, "hypothesis-exists", "", "")

	_, err = l.submit(l.policy(pLab, testPolicy))
	checkRule(t, "a policy registered by an analyst", err, "role", "", "")
	_, err = l.submit(l.policy(pCourier, strings.Replace(testPolicy, "min_lines: 1", "min_lines: -1", 1)))
	checkRule(t, "a policy that does not parse", err, "bad-predicate", "", "")
	reg := PolicyRegistration{Name: "test-policy", Digest: attribution.PolicyDigest([]byte("other")), Policy: testPolicy}
	_, err = l.submit(l.env(PredicatePolicy, AttributionSubject("policy", reg.Name, testPolicy), reg, l.keys[pCourier]))
	checkRule(t, "a policy whose digest is another document's", err, "bad-predicate", "", "")
	l.must(l.policy(pCourier, testPolicy))
	_, err = l.submit(l.policy(pCourier, strings.Replace(testPolicy, "min_confidence: 50", "min_confidence: 60", 1)))
	checkRule(t, "the same policy name again", err, "policy-exists", "", "")
}

// verdictFor evaluates H-1 under test-policy at the current size, as
// custos evaluate does.
func (l *testLedger) verdictFor(t *testing.T, size int64) (*attribution.Verdict, Verdict) {
	t.Helper()
	pol, err := Policy(l.v, "test-policy")
	if err != nil || pol == nil {
		t.Fatalf("Policy = %v, %v", pol, err)
	}
	cp := attribution.Checkpoint{Origin: "test.example/log", Size: size, Root: "AAAA"}
	g, err := AttributionGraph(l.v, cp, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := attribution.Evaluate([]byte(pol.Policy), pol.Index, g, "H-1")
	if err != nil {
		t.Fatal(err)
	}
	return r, Verdict{Hypothesis: "H-1", Policy: pol.Name, PolicyDigest: pol.Digest, Checkpoint: "signed checkpoint",
		Level: r.Reached, Result: r.Marshal()}
}

func (l *testLedger) verdictEnv(by string, p Verdict) []byte {
	return l.env(PredicateVerdict, AttributionSubject("verdict", p.Hypothesis, string(p.Result)), p, l.keys[by])
}

func TestVerdictRules(t *testing.T) {
	l := attributionLedger(t)
	l.must(l.finding(pLab, goodFinding("F-01")))
	l.must(l.hypothesis(pCourier, Hypothesis{ID: "H-1", Statement: "X did it", Supports: []string{"F-01"}, Likelihood: "likely"}))
	l.must(l.policy(pCourier, testPolicy))
	size := int64(len(l.entries))
	r, p := l.verdictFor(t, size)
	if r.Reached != "reasonable basis" {
		t.Fatalf("reached %q, want reasonable basis: %s", r.Reached, r.Marshal())
	}

	// The result must be the evaluator's canonical bytes.
	var loose map[string]any
	if err := json.Unmarshal(p.Result, &loose); err != nil {
		t.Fatal(err)
	}
	q := p
	q.Result, _ = json.MarshalIndent(loose, "", " ")
	_, err := l.submit(l.verdictEnv(pCourier, q))
	checkRule(t, "a result re-encoded", err, "bad-predicate", "", "")
	q = p
	q.Level = "clear and convincing"
	_, err = l.submit(l.verdictEnv(pCourier, q))
	checkRule(t, "a level other than the result's", err, "bad-predicate", "", "")
	q = p
	q.Policy = "no-such-policy"
	_, err = l.submit(l.verdictEnv(pCourier, q))
	checkRule(t, "an unregistered policy", err, "unknown-policy", "", "")
	_, p2 := l.verdictFor(t, size+5)
	_, err = l.submit(l.verdictEnv(pCourier, p2))
	checkRule(t, "a checkpoint beyond the verdict's own leaf", err, "bad-predicate", "", "")
	_, err = l.submit(l.verdictEnv(pCERT, p))
	checkRule(t, "a verdict by a collector", err, "role", "", "")
	l.must(l.verdictEnv(pCourier, p))
	vs, err := Verdicts(l.v)
	if err != nil || len(vs) != 1 || vs[0].Level != "reasonable basis" {
		t.Fatalf("Verdicts = %+v, %v", vs, err)
	}
}

// TestVerdictBeforePolicy: a verdict that names a policy registered after
// it is refused on replay, so the verifier rejects it too.
func TestVerdictBeforePolicy(t *testing.T) {
	l := attributionLedger(t)
	l.must(l.finding(pLab, goodFinding("F-01")))
	l.must(l.hypothesis(pCourier, Hypothesis{ID: "H-1", Statement: "X did it", Supports: []string{"F-01"}, Likelihood: "likely"}))
	// Evaluate against a scratch ledger where the policy exists, then
	// submit the verdict to one where it does not yet.
	scratch := &testLedger{t: t, v: NewMemView(), keys: l.keys}
	for _, e := range l.entries {
		scratch.must(e.Envelope)
	}
	scratch.must(scratch.policy(pCourier, testPolicy))
	_, p := scratch.verdictFor(t, int64(len(scratch.entries)))
	_, err := l.submit(l.verdictEnv(pCourier, p))
	checkRule(t, "a verdict before its policy", err, "unknown-policy", "", "")
}

func TestAttributionGraphCustody(t *testing.T) {
	l := attributionLedger(t)
	// exhibitA goes to the lab with a digest mismatch (rejected), then
	// again with matching digests (accepted).
	l.must(l.releaseEnv(pCERT, exhibitA, pLab))
	l.must(l.rejectEnv(pLab, exhibitA, digestsOf("damaged")))
	mismatchAt := int64(len(l.entries) - 1)
	l.must(l.deriveEnv(pCERT, "A-COPY", []string{exhibitA}, digestsOf("copy")))
	l.must(l.releaseEnv(pCERT, exhibitA, pLab))
	l.must(l.acceptEnv(pLab, exhibitA, digestsOf(exhibitA)))
	l.must(l.deriveEnv(pLab, "A-COPY-2", []string{exhibitA}, digestsOf("copy 2")))
	f := goodFinding("F-01")
	f.Inputs = []string{exhibitA, "A-COPY", "A-COPY-2"}
	l.must(l.finding(pLab, f))
	size := int64(len(l.entries))

	g, err := AttributionGraph(l.v, attribution.Checkpoint{Size: size}, false)
	if err != nil {
		t.Fatal(err)
	}
	if x := g.Exhibits[exhibitA]; !x.Unbroken {
		t.Errorf("%s after a matching accept: broken (%s), want unbroken", exhibitA, x.Reason)
	}
	if x := g.Exhibits["A-COPY"]; x.Unbroken || !strings.Contains(x.Reason, "derived at leaf") {
		t.Errorf("A-COPY, derived while the mismatch stood: %+v, want broken, naming the derivation", x)
	}
	if x := g.Exhibits["A-COPY-2"]; !x.Unbroken {
		t.Errorf("A-COPY-2, derived after the matching accept: %+v, want unbroken", x)
	}
	// As of the size just after the rejection, exhibitA is broken and the
	// finding, made later, is not in the graph.
	g, err = AttributionGraph(l.v, attribution.Checkpoint{Size: mismatchAt + 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Findings) != 0 {
		t.Errorf("graph at size %d holds findings %+v made later", mismatchAt+1, g.Findings)
	}
	x, err := exhibitAsOf(l.v, exhibitA, mismatchAt+1, 0)
	if err != nil || x.Unbroken || !strings.Contains(x.Reason, "differ") {
		t.Errorf("%s at size %d = %+v, %v, want broken by the mismatch", exhibitA, mismatchAt+1, x, err)
	}
}
