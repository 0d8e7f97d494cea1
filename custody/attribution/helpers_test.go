package attribution

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The scenario every evaluation test starts from: four findings by four
// organisations in four categories, over exhibits with unbroken custody,
// under a witnessed checkpoint of 100 leaves; the hypothesis H-1 cites them
// all and asserts "likely".
func baseGraph() *Graph {
	return &Graph{
		Checkpoint: Checkpoint{Origin: "custos.example/ledger", Size: 100, Root: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		Witnessed:  true,
		Parties: map[string]Party{
			"alice": {Name: "alice", Org: "ACME"},
			"bob":   {Name: "bob", Org: "ACME"},
			"carol": {Name: "carol", Org: "Blue Lab"},
			"dave":  {Name: "dave", Org: "Civic CERT"},
			"erin":  {Name: "erin", Org: "Delta Intel"},
			"frank": {Name: "frank"},
		},
		Exhibits: map[string]Exhibit{
			"EX-1": {ID: "EX-1", Unbroken: true},
			"EX-2": {ID: "EX-2", Unbroken: true},
			"EX-3": {ID: "EX-3", Unbroken: true},
			"EX-4": {ID: "EX-4", Unbroken: true},
			"EX-9": {ID: "EX-9", Reason: "accepted digest differs from the acquired one at index 41"},
		},
		Findings: []Finding{
			finding("F-01", 10, "alice", "malware", "SOLVE-IT:DFT-1002", "EX-1"),
			finding("F-02", 11, "carol", "infrastructure", "LAB-SOP:PDNS-1", "EX-2"),
			finding("F-03", 12, "dave", "ttp", "SOLVE-IT:DFT-1042", "EX-3"),
			finding("F-04", 13, "erin", "victimology", "SOLVE-IT:DFT-1042", "EX-4"),
		},
		Hypotheses: []Hypothesis{{
			ID: "H-1", Index: 30, Party: "alice", Statement: "operation O is attributable to actor A",
			Supports: []string{"F-01", "F-02", "F-03", "F-04"}, Likelihood: "likely",
		}},
	}
}

func finding(id string, index int64, party, category, method string, inputs ...string) Finding {
	return Finding{
		ID: id, Index: index, Party: party, Claim: "claim of " + id, Category: category, Method: method,
		Inputs: inputs, SourceReliability: "B", Credibility: 2, Confidence: 80, KeysValid: true,
	}
}

// f returns the finding id of g, for a test to change.
func f(t *testing.T, g *Graph, id string) *Finding {
	t.Helper()
	for i := range g.Findings {
		if g.Findings[i].ID == id {
			return &g.Findings[i]
		}
	}
	t.Fatalf("no finding %s", id)
	return nil
}

// basePolicy is one level, "basis", with every gate on, a B2 floor at
// confidence 60, and two lines needed; tests tighten it.
func basePolicy() Policy {
	return Policy{
		Version: 1, Name: "test-policy",
		Methods:               []string{"SOLVE-IT:DFT-1002", "SOLVE-IT:DFT-1042", "LAB-SOP:PDNS-1"},
		BaselineMaxLikelihood: "unlikely",
		Levels: []Level{{
			Name: "basis", MaxLikelihood: "likely",
			Integrity:      Integrity{CustodyUnbroken: true, Witnessed: true, KeysValid: true, MethodRegistered: true},
			Quality:        Quality{SourceReliability: "B", Credibility: 2, MinConfidence: 60},
			Corroboration:  Corroboration{MinLines: 2},
			Contradictions: Contradictions{SourceReliability: "B", Credibility: 3},
		}},
	}
}

func encodePolicy(t *testing.T, p Policy) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func evaluate(t *testing.T, p Policy, g *Graph) *Verdict {
	t.Helper()
	v, err := Evaluate(encodePolicy(t, p), 5, g, "H-1")
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return v
}

func examplePolicy(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "policies", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var exampleNames = []string{"reasonable-basis", "reasonable-grounds", "clear-and-convincing"}

func rule(t *testing.T, l LevelResult, name string) RuleResult {
	t.Helper()
	for _, r := range l.Rules {
		if r.Rule == name {
			return r
		}
	}
	t.Fatalf("level %q has no rule %s; rules: %+v", l.Name, name, l.Rules)
	return RuleResult{}
}

func disposition(t *testing.T, l LevelResult, id string) Disposition {
	t.Helper()
	for _, d := range l.Findings {
		if d.Finding == id {
			return d
		}
	}
	t.Fatalf("level %q has no disposition of %s", l.Name, id)
	return Disposition{}
}

func excludedWith(d Disposition, substr string) bool {
	return !d.Counted && slices.ContainsFunc(d.Excluded, func(s string) bool { return strings.Contains(s, substr) })
}
