package attribution

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/verdicts from the evaluator")

// goldenScenarios are graphs named after the change they make to the rich
// graph; each is evaluated under un-gge-l3 (all three levels).
var goldenScenarios = []struct {
	name   string
	mutate func(g *Graph)
}{
	{"rich", func(g *Graph) {}},
	{"unwitnessed-checkpoint", func(g *Graph) { g.Witnessed = false }},
	{"broken-custody-of-ex-4", func(g *Graph) {
		g.Exhibits["EX-4"] = Exhibit{ID: "EX-4", Reason: "released to dave at index 60, never accepted"}
	}},
	{"unrebutted-contradiction", func(g *Graph) {
		for i := range g.Findings {
			g.Findings[i].Rebuts = nil
		}
	}},
	{"overclaim-almost-certain", func(g *Graph) { g.Hypotheses[0].Likelihood = "almost certain" }},
}

// TestGoldenVerdicts pins the verdict bytes. A change to the evaluator that
// changes any of them must also change EvaluatorVersion; then rebuild them
// with go test ./custody/attribution -run TestGoldenVerdicts -update.
func TestGoldenVerdicts(t *testing.T) {
	pol := examplePolicy(t, "clear-and-convincing")
	for _, s := range goldenScenarios {
		t.Run(s.name, func(t *testing.T) {
			g := richGraph()
			s.mutate(g)
			v, err := Evaluate(pol, 5, g, "H-1")
			if err != nil {
				t.Fatal(err)
			}
			got := v.Marshal()
			path := filepath.Join("testdata", "verdicts", s.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("verdict differs from %s (evaluator %s): a changed verdict needs a new EvaluatorVersion\ngot  %s\nwant %s", path, EvaluatorVersion, got, want)
			}
			if _, err := ParseVerdict(want); err != nil {
				t.Errorf("ParseVerdict(%s) = %v", path, err)
			}
		})
	}
}
