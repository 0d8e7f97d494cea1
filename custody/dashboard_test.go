package custody

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/custos-ledger/custos/custody/attribution"
)

// verdictOn evaluates hypothesis hyp under test-policy at the current size
// and signs the verdict as by.
func (l *testLedger) verdictOn(t *testing.T, by, hyp string) []byte {
	t.Helper()
	pol, err := Policy(l.v, "test-policy")
	if err != nil || pol == nil {
		t.Fatalf("Policy = %v, %v", pol, err)
	}
	cp := attribution.Checkpoint{Origin: "test.example/log", Size: int64(len(l.entries)), Root: "AAAA"}
	g, err := AttributionGraph(l.v, cp, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := attribution.Evaluate([]byte(pol.Policy), pol.Index, g, hyp)
	if err != nil {
		t.Fatal(err)
	}
	return l.verdictEnv(by, Verdict{Hypothesis: hyp, Policy: pol.Name, PolicyDigest: pol.Digest,
		Checkpoint: "signed checkpoint", Level: r.Reached, Result: r.Marshal()})
}

func TestPublicCounts(t *testing.T) {
	l := attributionLedger(t) // 6 parties, exhibitA held by cert-ua
	check := func(when string, want Counts) {
		t.Helper()
		got, err := PublicCounts(l.v)
		if err != nil {
			t.Fatalf("%s: PublicCounts = %v", when, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: PublicCounts = %+v, want %+v", when, got, want)
		}
	}
	check("base ledger", Counts{Parties: 6, Exhibits: 1})

	// exhibitA: rejected for a digest mismatch, then handed over.
	l.must(l.releaseEnv(pCERT, exhibitA, pLab))
	check("one open release", Counts{Parties: 6, Exhibits: 1, OpenReleases: 1})
	l.must(l.rejectEnv(pLab, exhibitA, digestsOf("damaged")))
	l.must(l.releaseEnv(pCERT, exhibitA, pLab))
	l.must(l.acceptEnv(pLab, exhibitA, digestsOf(exhibitA)))
	// A second exhibit, rejected with matching digests (refused for
	// another reason), then released to the courier and left open.
	const exhibitB = "CERT-UA-0043"
	l.must(l.acquireEnv(pCERT, exhibitB, digestsOf(exhibitB)))
	l.must(l.releaseEnv(pCERT, exhibitB, pLab))
	l.must(l.rejectEnv(pLab, exhibitB, digestsOf(exhibitB)))
	l.must(l.releaseEnv(pCERT, exhibitB, pCourier))
	// A derivation whose id extends exhibitA's: its steps sit under
	// h/CERT-UA-0042/..., and must be counted once, as its own.
	l.must(l.deriveEnv(pLab, exhibitA+"/part-1", []string{exhibitA}, digestsOf("part 1")))
	l.must(l.releaseEnv(pLab, exhibitA+"/part-1", pCourier))
	l.must(l.acceptEnv(pCourier, exhibitA+"/part-1", digestsOf("part 1")))
	check("custody events", Counts{Parties: 6, Exhibits: 3, HandOvers: 2, OpenReleases: 1, Rejected: 2, RejectedMismatch: 1})

	// Attribution: F-01 is strong, F-02 too weak for any level; H-1 rests
	// on F-01 (reaches "reasonable basis", twice), H-2 on F-02 (none).
	l.must(l.finding(pLab, goodFinding("F-01")))
	weak := goodFinding("F-02")
	weak.SourceReliability, weak.Credibility = "E", 5
	l.must(l.finding(pLab2, weak))
	l.must(l.hypothesis(pCourier, Hypothesis{ID: "H-1", Statement: "X did it", Supports: []string{"F-01"}, Likelihood: "likely"}))
	l.must(l.hypothesis(pCourier, Hypothesis{ID: "H-2", Statement: "Y did it", Supports: []string{"F-02"}, Likelihood: "likely"}))
	l.must(l.policy(pCourier, testPolicy))
	l.must(l.verdictOn(t, pCourier, "H-1"))
	l.must(l.verdictOn(t, pCourier, "H-2"))
	l.must(l.verdictOn(t, pLab2, "H-1"))
	want := Counts{Parties: 6, Exhibits: 3, HandOvers: 2, OpenReleases: 1, Rejected: 2, RejectedMismatch: 1,
		Findings: 2, Hypotheses: 2, Verdicts: 3,
		VerdictLevels: []LevelCount{{Level: "reasonable basis", Verdicts: 2}, {Level: "", Verdicts: 1}}}
	check("attribution events", want)

	// What is public names nothing the ledger holds about evidence.
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{pAdmin, pCERT, pLab, pLab2, pCourier, pWitness, exhibitA, exhibitB, "F-01", "H-1", "server rack", "X did it"} {
		if strings.Contains(string(b), name) {
			t.Errorf("counts %s name %q", b, name)
		}
	}
}

func TestPublicCountsBadRecord(t *testing.T) {
	for _, key := range []string{"e/X", "h/X/0000000000000001", "v/H/0000000000000001"} {
		v := NewMemView()
		v.Set([]Record{{Key: key, Value: []byte("{not json")}})
		if _, err := PublicCounts(v); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("PublicCounts(a view with %s undecodable) = %v, want an error naming it", key, err)
		}
	}
}
