package attribution

import (
	"fmt"
	"testing"
)

// BenchmarkEvaluate evaluates a hypothesis citing 1000 findings by 50
// organisations, with lineage chains, 2000 reproductions and 20
// contradictions, under the three-level example policy.
func BenchmarkEvaluate(b *testing.B) {
	g := baseGraph()
	g.Checkpoint.Size = 1 << 20
	g.Findings = nil
	h := &g.Hypotheses[0]
	h.Index, h.Supports = 1<<19, nil
	for i := range 50 {
		name := fmt.Sprintf("p%02d", i)
		g.Parties[name] = Party{Name: name, Org: fmt.Sprintf("org-%02d", i)}
	}
	for i := range 1000 {
		id := fmt.Sprintf("F-%04d", i)
		x := finding(id, int64(100+i), fmt.Sprintf("p%02d", i%50), Categories[i%len(Categories)], "SOLVE-IT:DFT-1002", "EX-1", "EX-2")
		if i%7 == 0 && i > 0 {
			x.Lineage = []string{fmt.Sprintf("F-%04d", i-1)}
		}
		if i%50 == 49 {
			x.Rebuts = []string{fmt.Sprintf("F-%04d", i-49)}
			h.Contradicts = append(h.Contradicts, fmt.Sprintf("F-%04d", i-49))
		}
		g.Findings = append(g.Findings, x)
		h.Supports = append(h.Supports, id)
		for k := range 2 {
			g.Reproductions = append(g.Reproductions, Reproduction{Finding: id, Index: int64(5000 + 2*i + k), Party: fmt.Sprintf("p%02d", (i+k+1)%50), Result: ResultConfirmed})
		}
	}
	pol := examplePolicy(b, "clear-and-convincing")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Evaluate(pol, 5, g, "H-1"); err != nil {
			b.Fatal(err)
		}
	}
}
