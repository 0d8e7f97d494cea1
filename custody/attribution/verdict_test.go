package attribution

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// richGraph is the base graph with something for every rule to say: shared
// lineage, a same-organisation pair, a broken exhibit, reproductions by
// outside and inside organisations, a refutation, and a rebutted
// contradiction.
func richGraph() *Graph {
	g := baseGraph()
	g.Parties["gina"] = Party{Name: "gina", Org: "Echo Forensics"}
	g.Exhibits["EX-5"] = Exhibit{ID: "EX-5", Unbroken: true}
	more := []Finding{
		finding("F-00", 8, "frank", "infrastructure", "LAB-SOP:PDNS-1", "EX-2"),
		finding("F-05", 14, "bob", "malware", "SOLVE-IT:DFT-1002", "EX-1", "EX-5"),
		finding("F-06", 15, "gina", "techint", "SOLVE-IT:DFT-1042", "EX-9"),
		finding("F-07", 20, "frank", "contextual", "SOLVE-IT:DFT-1042", "EX-3"),
		finding("F-08", 25, "dave", "contextual", "SOLVE-IT:DFT-1042", "EX-4"),
		finding("F-09", 26, "gina", "humint", "SOLVE-IT:DFT-1014", "EX-5"),
	}
	more[4].Rebuts = []string{"F-07"}
	g.Findings = append(g.Findings, more...)
	g.Findings[1].Lineage = []string{"F-00"} // F-02
	g.Findings[2].Lineage = []string{"F-00"} // F-03
	g.Findings[2].SourceReliability = "A"
	h := &g.Hypotheses[0]
	h.Supports = append(h.Supports, "F-05", "F-06", "F-09", "F-404")
	h.Contradicts = []string{"F-07", "F-405"}
	g.Reproductions = []Reproduction{
		{Finding: "F-01", Index: 40, Party: "carol", Result: ResultConfirmed},
		{Finding: "F-01", Index: 41, Party: "dave", Result: ResultConfirmed},
		{Finding: "F-01", Index: 42, Party: "bob", Result: ResultConfirmed},
		{Finding: "F-04", Index: 43, Party: "carol", Result: ResultConfirmed},
		{Finding: "F-04", Index: 44, Party: "gina", Result: ResultConfirmed},
		{Finding: "F-09", Index: 45, Party: "erin", Result: ResultRefuted},
		{Finding: "F-03", Index: 46, Party: "erin", Result: ResultConfirmed},
		{Finding: "F-03", Index: 47, Party: "alice", Result: ResultConfirmed},
	}
	return g
}

// shuffled returns a deep copy of g with every slice in a random order and
// every map built in a random order.
func shuffled(g *Graph, r *rand.Rand) *Graph {
	perm := func(n int, swap func(i, j int)) { r.Shuffle(n, swap) }
	out := *g
	out.Parties = map[string]Party{}
	keys := sortedKeys(g.Parties)
	perm(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys {
		out.Parties[k] = g.Parties[k]
	}
	out.Exhibits = map[string]Exhibit{}
	keys = sortedKeys(g.Exhibits)
	perm(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys {
		out.Exhibits[k] = g.Exhibits[k]
	}
	shuf := func(s []string) []string {
		s = slices.Clone(s)
		perm(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		return s
	}
	out.Findings = slices.Clone(g.Findings)
	for i := range out.Findings {
		x := &out.Findings[i]
		x.Inputs, x.Lineage, x.Rebuts = shuf(x.Inputs), shuf(x.Lineage), shuf(x.Rebuts)
	}
	perm(len(out.Findings), func(i, j int) { out.Findings[i], out.Findings[j] = out.Findings[j], out.Findings[i] })
	out.Reproductions = slices.Clone(g.Reproductions)
	perm(len(out.Reproductions), func(i, j int) {
		out.Reproductions[i], out.Reproductions[j] = out.Reproductions[j], out.Reproductions[i]
	})
	out.Hypotheses = slices.Clone(g.Hypotheses)
	for i := range out.Hypotheses {
		h := &out.Hypotheses[i]
		h.Supports, h.Contradicts = shuf(h.Supports), shuf(h.Contradicts)
	}
	return &out
}

func TestDeterminism(t *testing.T) {
	for _, n := range exampleNames {
		t.Run(n, func(t *testing.T) {
			pol := examplePolicy(t, n)
			first, err := Evaluate(pol, 5, richGraph(), "H-1")
			if err != nil {
				t.Fatal(err)
			}
			want := first.Marshal()
			for seed := range uint64(50) {
				g := shuffled(richGraph(), rand.New(rand.NewPCG(seed, 1)))
				v, err := Evaluate(pol, 5, g, "H-1")
				if err != nil {
					t.Fatal(err)
				}
				if got := v.Marshal(); !bytes.Equal(got, want) {
					t.Fatalf("seed %d: verdict differs from the first evaluation:\n%s\nwant\n%s", seed, got, want)
				}
			}
		})
	}
}

func TestVerdictRoundTrip(t *testing.T) {
	for _, n := range exampleNames {
		v, err := Evaluate(examplePolicy(t, n), 5, richGraph(), "H-1")
		if err != nil {
			t.Fatal(err)
		}
		b := v.Marshal()
		back, err := ParseVerdict(b)
		if err != nil {
			t.Fatalf("%s: ParseVerdict(Marshal(v)) = %v", n, err)
		}
		if got := back.Marshal(); !bytes.Equal(got, b) {
			t.Errorf("%s: Marshal(ParseVerdict(b)) = %s, want %s", n, got, b)
		}
	}
}

func TestParseVerdictRejectsNonCanonical(t *testing.T) {
	v, err := Evaluate(examplePolicy(t, "clear-and-convincing"), 5, richGraph(), "H-1")
	if err != nil {
		t.Fatal(err)
	}
	b := v.Marshal()
	var indented bytes.Buffer
	json.Indent(&indented, b, "", " ")
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"indented", indented.Bytes()},
		{"trailing newline", append(slices.Clone(b), '\n')},
		{"trailing data", append(slices.Clone(b), "{}"...)},
		{"unknown field", bytes.Replace(b, []byte(`{"evaluator"`), []byte(`{"x":1,"evaluator"`), 1)},
		{"renamed field case", bytes.Replace(b, []byte(`"evaluator"`), []byte(`"Evaluator"`), 1)},
		{"reordered fields", bytes.Replace(b, []byte(`"name":"un-gge-l3","digest"`), []byte(`"digest"`), 1)},
		{"empty list spelt out", bytes.Replace(b, []byte(`"pass":true,`), []byte(`"pass":true,"satisfied":[],`), 1)},
		{"null list", bytes.Replace(b, []byte(`"pass":true,`), []byte(`"pass":true,"violated":null,`), 1)},
		{"null", []byte("null")},
		{"no levels", (&Verdict{}).Marshal()},
		{"empty levels", (&Verdict{Levels: []LevelResult{}}).Marshal()},
		{"a level without rules", (&Verdict{Levels: []LevelResult{{Name: "x"}}}).Marshal()},
		{"empty", nil},
		{"too large", make([]byte, MaxVerdictSize+1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if bytes.Equal(c.in, b) {
				t.Fatal("the mutation did not apply")
			}
			if _, err := ParseVerdict(c.in); err == nil {
				t.Errorf("ParseVerdict accepted %.80q", c.in)
			}
		})
	}
}

// TestExampleVerdicts evaluates the rich graph, and a stronger one, under the
// three example policies.
func TestExampleVerdicts(t *testing.T) {
	strong := func() *Graph {
		// Every counted line reproduced by two outside organisations, no
		// contradiction, four lines in four categories.
		g := baseGraph()
		g.Parties["gina"] = Party{Name: "gina", Org: "Echo Forensics"}
		for i, id := range []string{"F-01", "F-02", "F-03", "F-04"} {
			for k, p := range []string{"gina", "frank"} {
				g.Reproductions = append(g.Reproductions, Reproduction{Finding: id, Index: int64(50 + 2*i + k), Party: p, Result: ResultConfirmed})
			}
		}
		return g
	}
	for _, c := range []struct {
		policy, graph string
		g             *Graph
		reached       string
		pass          []bool
	}{
		{"reasonable-basis", "rich", richGraph(), "reasonable basis", []bool{true}},
		{"reasonable-grounds", "rich", richGraph(), "reasonable grounds", []bool{true, true}},
		{"clear-and-convincing", "rich", richGraph(), "reasonable grounds", []bool{true, true, false}},
		{"clear-and-convincing", "strong", strong(), "clear and convincing", []bool{true, true, true}},
	} {
		t.Run(c.policy+"/"+c.graph, func(t *testing.T) {
			v, err := Evaluate(examplePolicy(t, c.policy), 5, c.g, "H-1")
			if err != nil {
				t.Fatal(err)
			}
			var pass []bool
			for _, l := range v.Levels {
				pass = append(pass, l.Pass)
			}
			if v.Reached != c.reached || !slices.Equal(pass, c.pass) {
				t.Errorf("reached, pass = %q, %v, want %q, %v\n%s", v.Reached, pass, c.reached, c.pass, v.Marshal())
			}
		})
	}
}

// TestInfrastructureOnlyNeverReachesGrounds: however many organisations find
// and reproduce infrastructure, un-gge-l2 stops at reasonable basis.
func TestInfrastructureOnlyNeverReachesGrounds(t *testing.T) {
	g := baseGraph()
	g.Parties["gina"] = Party{Name: "gina", Org: "Echo Forensics"}
	for i := range g.Findings {
		g.Findings[i].Category = "infrastructure"
		g.Findings[i].SourceReliability, g.Findings[i].Credibility = "A", 1
		g.Reproductions = append(g.Reproductions, Reproduction{Finding: g.Findings[i].ID, Index: int64(60 + i), Party: "gina", Result: ResultConfirmed})
	}
	v, err := Evaluate(examplePolicy(t, "reasonable-grounds"), 5, g, "H-1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Reached != "reasonable basis" {
		t.Errorf("reached = %q, want reasonable basis", v.Reached)
	}
	grounds := v.Levels[1]
	wantRule(t, rule(t, grounds, ruleNotSolely), false, 0, 1)
	wantRule(t, rule(t, grounds, ruleLines), true, 4, 3)
}

// TestLadder evaluates random graphs under the three-level example and
// requires the passing levels to be a prefix of the ladder: the policy
// validation that each level is at least as strict as the one below makes
// "the highest level whose rules all pass" the top of an unbroken ladder.
func TestLadder(t *testing.T) {
	pol := examplePolicy(t, "clear-and-convincing")
	r := rand.New(rand.NewPCG(7, 7))
	reached := map[string]int{}
	for range 1000 {
		g := randomGraph(r)
		v, err := Evaluate(pol, 5, g, "H-1")
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(v.Levels); i++ {
			if v.Levels[i].Pass && !v.Levels[i-1].Pass {
				t.Fatalf("level %q passes but %q below it does not:\n%s", v.Levels[i].Name, v.Levels[i-1].Name, v.Marshal())
			}
		}
		reached[v.Reached]++
	}
	// The generator must exercise every rung, or the test proves little.
	for _, l := range []string{"", "reasonable basis", "reasonable grounds", "clear and convincing"} {
		if reached[l] == 0 {
			t.Errorf("no random graph reached %q: %v", l, reached)
		}
	}
}

func randomGraph(r *rand.Rand) *Graph {
	g := baseGraph()
	g.Witnessed = r.IntN(20) > 0
	parties := []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal"}
	g.Parties["gina"] = Party{Name: "gina", Org: "Echo Forensics"}
	g.Parties["hal"] = Party{Name: "hal", Org: "Foxtrot"}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	// A third of the graphs are strong, so that the top rung is reached too.
	strong := r.IntN(3) == 0
	n := 3 + r.IntN(10)
	g.Findings = nil
	h := &g.Hypotheses[0]
	h.Supports, h.Contradicts = nil, nil
	for i := range n {
		id := fmt.Sprintf("F-%02d", i)
		x := finding(id, int64(10+i), pick(parties), pick(Categories), pick([]string{"SOLVE-IT:DFT-1002", "SOLVE-IT:DFT-1042", "LAB-SOP:X"}), pick([]string{"EX-1", "EX-2", "EX-3", "EX-4", "EX-4", "EX-1", "EX-2", "EX-9"}))
		x.SourceReliability = pick([]string{"A", "A", "B", "B", "C"})
		x.Credibility = 1 + r.IntN(3)
		x.Confidence = 65 + r.IntN(36)
		x.KeysValid = r.IntN(15) > 0
		if strong {
			x.Credibility, x.Confidence, x.KeysValid = 1+r.IntN(2), 80+r.IntN(21), true
		}
		if i > 0 && r.IntN(4) == 0 {
			x.Lineage = []string{fmt.Sprintf("F-%02d", r.IntN(i))}
		}
		if i > 0 && r.IntN(6) == 0 {
			x.Rebuts = []string{fmt.Sprintf("F-%02d", r.IntN(i))}
		}
		g.Findings = append(g.Findings, x)
		if r.IntN(10) == 0 && !strong {
			h.Contradicts = append(h.Contradicts, id)
		} else {
			h.Supports = append(h.Supports, id)
		}
		repros := r.IntN(6)
		if strong {
			repros = 3 + r.IntN(3)
		}
		for k := range repros {
			g.Reproductions = append(g.Reproductions, Reproduction{Finding: id, Index: int64(40 + 6*i + k), Party: pick(parties), Result: pick([]string{ResultConfirmed, ResultConfirmed, ResultConfirmed, ResultConfirmed, ResultRefuted})})
		}
	}
	return g
}

func TestMarshalShape(t *testing.T) {
	v, err := Evaluate(examplePolicy(t, "reasonable-basis"), 5, baseGraph(), "H-1")
	if err != nil {
		t.Fatal(err)
	}
	b := v.Marshal()
	for _, want := range []string{
		`{"evaluator":"custos-attribution/1","hypothesis":{"id":"H-1","index":30,"likelihood":"likely"},"policy":{"name":"un-gge-l1","digest":"sha256:`,
		`"checkpoint":{"origin":"custos.example/ledger","size":100,"root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},"witnessed":true,"reached":"reasonable basis","allowed_likelihood":"likely","levels":[`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Marshal() = %s, want it to contain %s", b, want)
		}
	}
	if bytes.ContainsAny(b, "\n\t") {
		t.Errorf("Marshal() has insignificant space")
	}
}
