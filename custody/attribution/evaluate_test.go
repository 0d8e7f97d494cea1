package attribution

import (
	"slices"
	"strings"
	"testing"
)

// A case changes the base policy and graph and checks the verdict.
type evalCase struct {
	name   string
	policy func(p *Policy)
	graph  func(t *testing.T, g *Graph)
	check  func(t *testing.T, v *Verdict)
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, g := basePolicy(), baseGraph()
			if c.policy != nil {
				c.policy(&p)
			}
			if c.graph != nil {
				c.graph(t, g)
			}
			c.check(t, evaluate(t, p, g))
		})
	}
}

func wantRule(t *testing.T, r RuleResult, pass bool, found, need int) {
	t.Helper()
	if r.Pass != pass || r.Found != found || r.Need != need {
		t.Errorf("%s: pass, found, need = %v, %d, %d, want %v, %d, %d (reason %q)", r.Rule, r.Pass, r.Found, r.Need, pass, found, need, r.Reason)
	}
}

func wantIndices(t *testing.T, what string, got []int64, want ...int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestIntegrityGates(t *testing.T) {
	runCases(t, []evalCase{{
		name:  "broken custody excludes the finding and says which exhibit and why",
		graph: func(t *testing.T, g *Graph) { f(t, g, "F-02").Inputs = []string{"EX-2", "EX-9"} },
		check: func(t *testing.T, v *Verdict) {
			l := v.Levels[0]
			d := disposition(t, l, "F-02")
			if !excludedWith(d, "input exhibit EX-9 custody broken: accepted digest differs from the acquired one at index 41") {
				t.Errorf("F-02 disposition = %+v, want excluded naming EX-9 and why", d)
			}
			r := rule(t, l, ruleCustody)
			wantRule(t, r, true, 3, 0)
			wantIndices(t, "violated", r.Violated, 11)
			wantIndices(t, "satisfied", r.Satisfied, 10, 12, 13)
			wantRule(t, rule(t, l, ruleLines), true, 3, 2)
		},
	}, {
		name:  "unknown input exhibit excludes the finding",
		graph: func(t *testing.T, g *Graph) { f(t, g, "F-03").Inputs = []string{"EX-404"} },
		check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-03"); !excludedWith(d, "input exhibit EX-404 unknown") {
				t.Errorf("F-03 disposition = %+v", d)
			}
		},
	}, {
		name:   "custody gate off: a broken exhibit does not exclude",
		policy: func(p *Policy) { p.Levels[0].Integrity.CustodyUnbroken = false },
		graph:  func(t *testing.T, g *Graph) { f(t, g, "F-02").Inputs = []string{"EX-9"} },
		check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-02"); !d.Counted {
				t.Errorf("F-02 disposition = %+v, want counted", d)
			}
			for _, r := range v.Levels[0].Rules {
				if r.Rule == ruleCustody {
					t.Errorf("rule %s reported although the gate is off", r.Rule)
				}
			}
		},
	}, {
		name:  "unwitnessed checkpoint fails the level and excludes every finding",
		graph: func(t *testing.T, g *Graph) { g.Witnessed = false },
		check: func(t *testing.T, v *Verdict) {
			l := v.Levels[0]
			wantRule(t, rule(t, l, ruleWitnessed), false, 0, 1)
			for _, d := range l.Findings {
				if !excludedWith(d, "checkpoint lacks the witness quorum") {
					t.Errorf("%s disposition = %+v, want excluded: not witnessed", d.Finding, d)
				}
			}
			if l.Pass || v.Reached != "" {
				t.Errorf("pass, reached = %v, %q, want false, \"\"", l.Pass, v.Reached)
			}
		},
	}, {
		name:  "invalid signing key excludes the finding",
		graph: func(t *testing.T, g *Graph) { f(t, g, "F-04").KeysValid = false },
		check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-04"); !excludedWith(d, "signing key not valid at index 13") {
				t.Errorf("F-04 disposition = %+v", d)
			}
			wantIndices(t, "violated", rule(t, v.Levels[0], ruleKeys).Violated, 13)
		},
	}, {
		name:  "method not in the registry excludes the finding",
		graph: func(t *testing.T, g *Graph) { f(t, g, "F-01").Method = "LAB-SOP:HUNCH" },
		check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-01"); !excludedWith(d, `method "LAB-SOP:HUNCH" not in the policy's registry`) {
				t.Errorf("F-01 disposition = %+v", d)
			}
		},
	}, {
		name: "entries beyond the checkpoint are not evaluated",
		graph: func(t *testing.T, g *Graph) {
			f(t, g, "F-04").Index = 100
			g.Hypotheses[0].Supports = append(g.Hypotheses[0].Supports, "F-99")
		},
		check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-04"); !excludedWith(d, "index 100 is not covered by the checkpoint (size 100)") {
				t.Errorf("F-04 disposition = %+v", d)
			}
			if d := disposition(t, v.Levels[0], "F-99"); d.Index != -1 || !excludedWith(d, "not in the graph") {
				t.Errorf("F-99 disposition = %+v", d)
			}
		},
	}})
}

func TestQualityFloor(t *testing.T) {
	grade := func(id, source string, cred, conf int) func(*testing.T, *Graph) {
		return func(t *testing.T, g *Graph) {
			x := f(t, g, id)
			x.SourceReliability, x.Credibility, x.Confidence = source, cred, conf
		}
	}
	excluded := func(id, why string) func(*testing.T, *Verdict) {
		return func(t *testing.T, v *Verdict) {
			d := disposition(t, v.Levels[0], id)
			if why == "" {
				if !d.Counted {
					t.Errorf("%s disposition = %+v, want counted", id, d)
				}
				return
			}
			if !excludedWith(d, why) {
				t.Errorf("%s disposition = %+v, want excluded: %s", id, d, why)
			}
			if !slices.Contains(rule(t, v.Levels[0], ruleQuality).Violated, d.Index) {
				t.Errorf("quality.floor does not list %s's index %d as violated", id, d.Index)
			}
		}
	}
	runCases(t, []evalCase{
		{name: "A1 counts", graph: grade("F-01", "A", 1, 99), check: excluded("F-01", "")},
		{name: "B2 at the floor counts", graph: grade("F-01", "B", 2, 60), check: excluded("F-01", "")},
		{name: "C source is below B", graph: grade("F-01", "C", 1, 90), check: excluded("F-01", "source reliability C, need B or better")},
		// Graded separately: an A source does not lift credibility 4.
		{name: "A4 fails on credibility", graph: grade("F-01", "A", 4, 90), check: excluded("F-01", "information credibility 4, need 2 or better")},
		{name: "F cannot be judged", graph: grade("F-01", "F", 1, 90), check: excluded("F-01", "source reliability F")},
		{name: "confidence below the minimum", graph: grade("F-01", "A", 1, 59), check: excluded("F-01", "confidence 59, need at least 60")},
		{name: "malformed grade", graph: grade("F-01", "Z", 9, 90), check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-01"); !excludedWith(d, "malformed") {
				t.Errorf("F-01 disposition = %+v, want excluded: malformed", d)
			}
		}},
	})
}

func TestCorroboration(t *testing.T) {
	runCases(t, []evalCase{{
		name:   "four independent lines",
		policy: func(p *Policy) { p.Levels[0].Corroboration.MinLines = 4 },
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleLines)
			wantRule(t, r, true, 4, 4)
			wantIndices(t, "satisfied", r.Satisfied, 10, 11, 12, 13)
		},
	}, {
		name:   "shared lineage collapses two findings into one line",
		policy: func(p *Policy) { p.Levels[0].Corroboration.MinLines = 4 },
		graph: func(t *testing.T, g *Graph) {
			// F-00 is not cited by the hypothesis: F-02 and F-03 both derive
			// from it, so they are one line.
			g.Findings = append(g.Findings, finding("F-00", 9, "frank", "infrastructure", "LAB-SOP:PDNS-1", "EX-2"))
			f(t, g, "F-02").Lineage = []string{"F-00"}
			f(t, g, "F-03").Lineage = []string{"F-00"}
		},
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleLines)
			wantRule(t, r, false, 3, 4)
			if want := "3 independent lines from 4 counted findings after collapsing F-02 and F-03 (shared lineage F-00), need 4"; r.Reason != want {
				t.Errorf("reason = %q, want %q", r.Reason, want)
			}
			if d2, d3 := disposition(t, v.Levels[0], "F-02"), disposition(t, v.Levels[0], "F-03"); d2.Line != d3.Line || d2.Line == 0 {
				t.Errorf("lines of F-02, F-03 = %d, %d, want the same", d2.Line, d3.Line)
			}
		},
	}, {
		name:   "lineage collapses transitively",
		policy: func(p *Policy) { p.Levels[0].Corroboration.MinLines = 2 },
		graph: func(t *testing.T, g *Graph) {
			f(t, g, "F-01").Lineage = []string{"F-02"}
			f(t, g, "F-02").Lineage = []string{"F-03"}
			f(t, g, "F-03").Lineage = []string{"F-04"}
		},
		check: func(t *testing.T, v *Verdict) {
			wantRule(t, rule(t, v.Levels[0], ruleLines), false, 1, 2)
		},
	}, {
		name: "same-organisation findings collapse",
		graph: func(t *testing.T, g *Graph) {
			f(t, g, "F-02").Party = "bob" // bob is of ACME, as alice (F-01) is
			f(t, g, "F-03").Party = "alice"
			f(t, g, "F-04").Party = "bob"
		},
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleLines)
			wantRule(t, r, false, 1, 2)
			if !strings.Contains(r.Reason, "same organisation ACME") {
				t.Errorf("reason = %q, want it to name ACME", r.Reason)
			}
			if got := v.Levels[0].Lines[0].Orgs; !slices.Equal(got, []string{"ACME"}) {
				t.Errorf("line orgs = %v, want [ACME]", got)
			}
		},
	}, {
		name: "a party without an organisation is its own",
		graph: func(t *testing.T, g *Graph) {
			g.Parties["grace"] = Party{Name: "grace"}
			f(t, g, "F-02").Party = "frank"
			f(t, g, "F-03").Party = "grace"
		},
		check: func(t *testing.T, v *Verdict) {
			wantRule(t, rule(t, v.Levels[0], ruleLines), true, 4, 2)
		},
	}, {
		name:   "categories are counted once per line",
		policy: func(p *Policy) { p.Levels[0].Corroboration.MinCategories = 3 },
		graph: func(t *testing.T, g *Graph) {
			// F-01..F-03 are one line (ACME) of three categories, F-04 a
			// second line: two lines can vouch for two categories.
			f(t, g, "F-02").Party = "alice"
			f(t, g, "F-03").Party = "bob"
		},
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleCategories)
			wantRule(t, r, false, 2, 3)
			if len(r.Satisfied) != 2 {
				t.Errorf("satisfied = %v, want one finding per matched category", r.Satisfied)
			}
		},
	}, {
		name:   "categories matched to distinct lines",
		policy: func(p *Policy) { p.Levels[0].Corroboration.MinCategories = 4 },
		check: func(t *testing.T, v *Verdict) {
			wantRule(t, rule(t, v.Levels[0], ruleCategories), true, 4, 4)
		},
	}, {
		name: "not solely: infrastructure-only evidence fails",
		policy: func(p *Policy) {
			p.Levels[0].Corroboration.NotSolely = []string{"infrastructure"}
		},
		graph: func(t *testing.T, g *Graph) {
			for _, id := range []string{"F-01", "F-03", "F-04"} {
				f(t, g, id).Category = "infrastructure"
			}
		},
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleNotSolely)
			wantRule(t, r, false, 0, 1)
			wantIndices(t, "violated", r.Violated, 10, 11, 12, 13)
			wantRule(t, rule(t, v.Levels[0], ruleLines), true, 4, 2)
			if v.Reached != "" {
				t.Errorf("reached = %q, want none", v.Reached)
			}
		},
	}, {
		name:   "not solely: one other line suffices",
		policy: func(p *Policy) { p.Levels[0].Corroboration.NotSolely = []string{"infrastructure"} },
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleNotSolely)
			wantRule(t, r, true, 3, 1)
			wantIndices(t, "satisfied", r.Satisfied, 10, 12, 13)
		},
	}})
}

func TestReproductions(t *testing.T) {
	repro := func(finding string, index int64, party, result string) func(*testing.T, *Graph) {
		return func(t *testing.T, g *Graph) {
			g.Reproductions = append(g.Reproductions, Reproduction{Finding: finding, Index: index, Party: party, Result: result})
		}
	}
	need := func(lines, orgs int) func(*Policy) {
		return func(p *Policy) {
			p.Levels[0].Corroboration.MinReproducedLines = lines
			p.Levels[0].Corroboration.MinReproducingOrgs = orgs
		}
	}
	runCases(t, []evalCase{{
		name:   "a reproduction by another organisation counts",
		policy: need(1, 1),
		graph:  repro("F-01", 40, "carol", ResultConfirmed),
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleReproduced)
			wantRule(t, r, true, 1, 1)
			wantIndices(t, "satisfied", r.Satisfied, 40)
			if got := v.Levels[0].Lines[0].ReproducedBy; !slices.Equal(got, []string{"Blue Lab"}) {
				t.Errorf("line 1 reproduced by %v, want [Blue Lab]", got)
			}
		},
	}, {
		name:   "a reproduction by the same organisation does not count",
		policy: need(1, 1),
		graph:  repro("F-01", 40, "bob", ResultConfirmed), // bob and alice are both ACME
		check: func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleReproduced)
			wantRule(t, r, false, 0, 1)
			wantIndices(t, "violated", r.Violated, 40)
			if !strings.Contains(r.Reason, "index 40 by bob of ACME, the line's own organisation") {
				t.Errorf("reason = %q", r.Reason)
			}
		},
	}, {
		name:   "a reproduction by an organisation in the line's lineage does not count",
		policy: need(1, 1),
		graph: func(t *testing.T, g *Graph) {
			f(t, g, "F-01").Lineage = []string{"F-02"} // F-01 derives from Blue Lab's F-02
			repro("F-01", 40, "carol", ResultConfirmed)(t, g)
		},
		check: func(t *testing.T, v *Verdict) {
			wantRule(t, rule(t, v.Levels[0], ruleReproduced), false, 0, 1)
		},
	}, {
		name:   "two organisations needed, one given",
		policy: need(1, 2),
		graph: func(t *testing.T, g *Graph) {
			repro("F-01", 40, "carol", ResultConfirmed)(t, g)
			repro("F-01", 41, "carol", ResultConfirmed)(t, g) // the same organisation twice
		},
		check: func(t *testing.T, v *Verdict) {
			wantRule(t, rule(t, v.Levels[0], ruleReproduced), false, 0, 1)
		},
	}, {
		name:   "two organisations needed, two given",
		policy: need(1, 2),
		graph: func(t *testing.T, g *Graph) {
			repro("F-01", 40, "carol", ResultConfirmed)(t, g)
			repro("F-01", 41, "dave", ResultConfirmed)(t, g)
		},
		check: func(t *testing.T, v *Verdict) {
			wantRule(t, rule(t, v.Levels[0], ruleReproduced), true, 1, 1)
		},
	}, {
		name:   "a reproduction before the finding or beyond the checkpoint does not count",
		policy: need(1, 1),
		graph: func(t *testing.T, g *Graph) {
			repro("F-01", 9, "carol", ResultConfirmed)(t, g)
			repro("F-01", 100, "dave", ResultConfirmed)(t, g)
		},
		check: func(t *testing.T, v *Verdict) {
			wantRule(t, rule(t, v.Levels[0], ruleReproduced), false, 0, 1)
		},
	}, {
		name:  "a refuting reproduction excludes the finding",
		graph: repro("F-03", 44, "carol", ResultRefuted),
		check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-03"); !excludedWith(d, "refuted by a reproduction at index 44 (party carol)") {
				t.Errorf("F-03 disposition = %+v", d)
			}
		},
	}})
}

func TestContradictions(t *testing.T) {
	contra := func(source string, cred int) func(*testing.T, *Graph) {
		return func(t *testing.T, g *Graph) {
			c := finding("F-07", 20, "frank", "contextual", "SOLVE-IT:DFT-1042", "EX-3")
			c.SourceReliability, c.Credibility = source, cred
			g.Findings = append(g.Findings, c)
			g.Hypotheses[0].Contradicts = []string{"F-07"}
		}
	}
	rebut := func(source string, cred int) func(*testing.T, *Graph) {
		return func(t *testing.T, g *Graph) {
			r := finding("F-08", 25, "dave", "contextual", "SOLVE-IT:DFT-1042", "EX-4")
			r.SourceReliability, r.Credibility = source, cred
			r.Rebuts = []string{"F-07"}
			g.Findings = append(g.Findings, r)
		}
	}
	both := func(a, b func(*testing.T, *Graph)) func(*testing.T, *Graph) {
		return func(t *testing.T, g *Graph) { a(t, g); b(t, g) }
	}
	blocked := func(want bool) func(*testing.T, *Verdict) {
		return func(t *testing.T, v *Verdict) {
			r := rule(t, v.Levels[0], ruleUnresolved)
			if want {
				wantRule(t, r, false, 1, 0)
				wantIndices(t, "violated", r.Violated, 20)
				if v.Reached != "" {
					t.Errorf("reached = %q, want none: the contradiction blocks", v.Reached)
				}
			} else {
				wantRule(t, r, true, 0, 0)
				if v.Reached != "basis" {
					t.Errorf("reached = %q, want basis", v.Reached)
				}
			}
		}
	}
	runCases(t, []evalCase{
		{name: "an unresolved B3 contradiction blocks", graph: contra("B", 3), check: blocked(true)},
		{name: "an A1 contradiction blocks", graph: contra("A", 1), check: blocked(true)},
		{name: "a C3 contradiction is below B3", graph: contra("C", 3), check: blocked(false)},
		{name: "a B4 contradiction is below B3", graph: contra("B", 4), check: blocked(false)},
		{name: "a rebuttal at the quality floor resolves it", graph: both(contra("B", 3), rebut("B", 2)), check: func(t *testing.T, v *Verdict) {
			blocked(false)(t, v)
			r := rule(t, v.Levels[0], ruleUnresolved)
			wantIndices(t, "satisfied", r.Satisfied, 25)
			c := v.Levels[0].Contradictions[0]
			if !c.InForce || !c.Resolved || !slices.Equal(c.RebuttedBy, []string{"F-08"}) {
				t.Errorf("contradiction = %+v, want in force, resolved by F-08", c)
			}
		}},
		{name: "a rebuttal below the quality floor does not", graph: both(contra("B", 3), rebut("B", 3)), check: blocked(true)},
		{name: "a contradiction with an invalid key is not in force", graph: func(t *testing.T, g *Graph) {
			contra("A", 1)(t, g)
			f(t, g, "F-07").KeysValid = false
		}, check: blocked(false)},
		{name: "a refuted contradiction is not in force", graph: func(t *testing.T, g *Graph) {
			contra("A", 1)(t, g)
			g.Reproductions = append(g.Reproductions, Reproduction{Finding: "F-07", Index: 50, Party: "erin", Result: ResultRefuted})
		}, check: blocked(false)},
		{name: "a finding both supporting and contradicting is not counted", graph: func(t *testing.T, g *Graph) {
			g.Hypotheses[0].Contradicts = []string{"F-04"}
			f(t, g, "F-04").SourceReliability = "C" // not in force at B3
		}, check: func(t *testing.T, v *Verdict) {
			if d := disposition(t, v.Levels[0], "F-04"); !excludedWith(d, "both supporting and contradicting") {
				t.Errorf("F-04 disposition = %+v", d)
			}
		}},
	})
}

func TestOverclaim(t *testing.T) {
	for _, c := range []struct {
		name, band              string
		lines                   int
		reached, allowed, flags string
	}{
		{name: "within the level", band: "likely", lines: 2, reached: "basis", allowed: "likely"},
		{name: "below the level", band: "roughly even chance", lines: 2, reached: "basis", allowed: "likely"},
		{name: "above the level", band: "almost certain", lines: 2, reached: "basis", allowed: "likely", flags: "almost certain"},
		{name: "no level, baseline", band: "unlikely", lines: 5, reached: "", allowed: "unlikely"},
		{name: "no level, above the baseline", band: "likely", lines: 5, reached: "", allowed: "unlikely", flags: "likely"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, g := basePolicy(), baseGraph()
			p.Levels[0].Corroboration.MinLines = c.lines
			g.Hypotheses[0].Likelihood = c.band
			v := evaluate(t, p, g)
			if v.Reached != c.reached || v.AllowedLikelihood != c.allowed {
				t.Errorf("reached, allowed = %q, %q, want %q, %q", v.Reached, v.AllowedLikelihood, c.reached, c.allowed)
			}
			switch {
			case c.flags == "" && v.Overclaim != nil:
				t.Errorf("overclaim = %+v, want none", v.Overclaim)
			case c.flags != "" && (v.Overclaim == nil || *v.Overclaim != Overclaim{Asserted: c.flags, Allowed: c.allowed}):
				t.Errorf("overclaim = %+v, want {%s %s}", v.Overclaim, c.flags, c.allowed)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	pol := encodePolicy(t, basePolicy())
	for _, c := range []struct {
		name   string
		policy []byte
		index  int64
		graph  func(*Graph)
		hyp    string
		want   string
	}{
		{name: "no such hypothesis", hyp: "H-404", want: `hypothesis "H-404" is not in the graph`},
		{name: "policy beyond the checkpoint", index: 100, want: "policy index 100 is not covered"},
		{name: "negative policy index", index: -1, want: "policy index -1 is not covered"},
		{name: "duplicate finding", graph: func(g *Graph) { g.Findings = append(g.Findings, g.Findings[0]) }, want: `finding "F-01" appears twice`},
		{name: "duplicate hypothesis", graph: func(g *Graph) { g.Hypotheses = append(g.Hypotheses, g.Hypotheses[0]) }, want: `hypothesis "H-1" appears twice`},
		{name: "hypothesis beyond the checkpoint", graph: func(g *Graph) { g.Hypotheses[0].Index = 200 }, want: "not covered"},
		{name: "hypothesis with no band", graph: func(g *Graph) { g.Hypotheses[0].Likelihood = "probably" }, want: "not an ICD 203 band"},
		{name: "malformed policy", policy: []byte("custos_policy: 1\nname: x\nbogus: 1\n"), want: "bogus: unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := baseGraph()
			if c.graph != nil {
				c.graph(g)
			}
			b := pol
			if c.policy != nil {
				b = c.policy
			}
			idx := c.index
			if idx == 0 {
				idx = 5
			}
			hyp := c.hyp
			if hyp == "" {
				hyp = "H-1"
			}
			v, err := Evaluate(b, idx, g, hyp)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Evaluate = %v, %v, want error containing %q", v, err, c.want)
			}
		})
	}
	if _, err := Evaluate(pol, 5, nil, "H-1"); err == nil {
		t.Errorf("Evaluate(nil graph) succeeded")
	}
}
