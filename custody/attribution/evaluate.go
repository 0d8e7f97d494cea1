package attribution

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Rule families, as named in RuleResult.Family.
const (
	FamilyIntegrity      = "integrity"
	FamilyQuality        = "quality"
	FamilyCorroboration  = "corroboration"
	FamilyContradictions = "contradictions"
)

// Evaluate evaluates the hypothesis with id hypothesis in g under the policy
// whose exact registered bytes are policy, registered at leaf index
// policyIndex, and returns the verdict. It is a pure function of its
// arguments (see the package documentation). A malformed policy is a
// *ParseError; a graph that cannot be evaluated (no such hypothesis,
// duplicate ids, the policy or hypothesis not covered by the checkpoint, a
// hypothesis asserting no valid band) is an error saying so.
//
// The algorithm is specified step by step in docs/attribution-policy.md §5.
// In short: each level is evaluated independently; a supporting finding is
// counted at a level when it passes the level's integrity gates and quality
// floor and no reproduction refutes it; counted findings are grouped into
// independent lines; each rule measures its count; the verdict reports the
// highest level whose rules all pass and flags a likelihood above the one
// that level allows.
func Evaluate(policy []byte, policyIndex int64, g *Graph, hypothesis string) (*Verdict, error) {
	p, err := ParsePolicy(policy)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errors.New("attribution: no graph")
	}
	e, err := newEvaluation(p, g, hypothesis)
	if err != nil {
		return nil, err
	}
	if !e.covered(policyIndex) {
		return nil, fmt.Errorf("attribution: policy index %d is not covered by the checkpoint (size %d)", policyIndex, g.Checkpoint.Size)
	}
	v := &Verdict{
		Evaluator:  EvaluatorVersion,
		Hypothesis: HypothesisRef{ID: e.hyp.ID, Index: e.hyp.Index, Likelihood: e.hyp.Likelihood},
		Policy:     PolicyRef{Name: p.Name, Digest: PolicyDigest(policy), Index: policyIndex},
		Checkpoint: g.Checkpoint,
		Witnessed:  g.Witnessed,
		Levels:     []LevelResult{},
	}
	v.AllowedLikelihood = p.BaselineMaxLikelihood
	for i := range p.Levels {
		r := e.level(&p.Levels[i])
		if r.Pass {
			v.Reached = r.Name
			v.AllowedLikelihood = r.MaxLikelihood
		}
		v.Levels = append(v.Levels, r)
	}
	if bandRank(e.hyp.Likelihood) > bandRank(v.AllowedLikelihood) {
		v.Overclaim = &Overclaim{Asserted: e.hyp.Likelihood, Allowed: v.AllowedLikelihood}
	}
	return v, nil
}

// An evaluation is the graph indexed for one hypothesis, in a canonical
// order that does not depend on the order in which the caller built it.
type evaluation struct {
	p        *Policy
	g        *Graph
	hyp      Hypothesis
	findings map[string]*Finding
	// supports and contradicts are the hypothesis's lists, deduplicated,
	// in the order of the findings' leaf indices (unknown ids first, by id).
	supports, contradicts []string
	// rebuttals lists, for a finding id, the covered findings that rebut it,
	// by leaf index.
	rebuttals map[string][]*Finding
	// confirmed and refuted list a finding's covered reproductions by leaf
	// index; only reproductions after the finding count.
	confirmed, refuted map[string][]Reproduction
	// group maps every covered finding to its independence group: the
	// representative of its union-find class over lineage links and shared
	// organisations.
	group *unionFind
	// groupOrgs lists the organisations of each group, sorted.
	groupOrgs map[string][]string
}

func newEvaluation(p *Policy, g *Graph, hypothesis string) (*evaluation, error) {
	e := &evaluation{
		p: p, g: g,
		findings:  map[string]*Finding{},
		rebuttals: map[string][]*Finding{},
		confirmed: map[string][]Reproduction{},
		refuted:   map[string][]Reproduction{},
		group:     newUnionFind(),
		groupOrgs: map[string][]string{},
	}
	found := false
	for _, h := range g.Hypotheses {
		if h.ID != hypothesis {
			continue
		}
		if found {
			return nil, fmt.Errorf("attribution: hypothesis %q appears twice in the graph", hypothesis)
		}
		e.hyp, found = h, true
	}
	if !found {
		return nil, fmt.Errorf("attribution: hypothesis %q is not in the graph", hypothesis)
	}
	if !e.covered(e.hyp.Index) {
		return nil, fmt.Errorf("attribution: hypothesis %q at index %d is not covered by the checkpoint (size %d)", hypothesis, e.hyp.Index, g.Checkpoint.Size)
	}
	if err := ValidLikelihood(e.hyp.Likelihood); err != nil {
		return nil, fmt.Errorf("attribution: hypothesis %q: %v", hypothesis, err)
	}

	var covered []*Finding
	for i := range g.Findings {
		f := &g.Findings[i]
		if _, dup := e.findings[f.ID]; dup {
			return nil, fmt.Errorf("attribution: finding %q appears twice in the graph", f.ID)
		}
		e.findings[f.ID] = f
		if e.covered(f.Index) {
			covered = append(covered, f)
		}
	}
	slices.SortFunc(covered, byIndex)

	// Independence: lineage links and shared organisations, over every
	// covered finding of the graph, counted or not.
	orgFirst := map[string]string{}
	for _, f := range covered {
		e.group.add(f.ID)
		for _, up := range f.Lineage {
			e.group.union(f.ID, up)
		}
		if org, ok := e.orgOf(f.Party); ok {
			if first, seen := orgFirst[org]; seen {
				e.group.union(first, f.ID)
			} else {
				orgFirst[org] = f.ID
			}
		}
		for _, target := range f.Rebuts {
			e.rebuttals[target] = append(e.rebuttals[target], f)
		}
	}
	for _, f := range covered {
		if org, ok := e.orgOf(f.Party); ok {
			root := e.group.find(f.ID)
			if !slices.Contains(e.groupOrgs[root], org) {
				e.groupOrgs[root] = append(e.groupOrgs[root], org)
			}
		}
	}
	for root := range e.groupOrgs {
		slices.Sort(e.groupOrgs[root])
	}

	repros := slices.Clone(g.Reproductions)
	slices.SortFunc(repros, func(a, b Reproduction) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Finding, b.Finding), cmp.Compare(a.Party, b.Party), cmp.Compare(a.Result, b.Result))
	})
	for _, r := range repros {
		f, ok := e.findings[r.Finding]
		if !ok || !e.covered(r.Index) || !e.covered(f.Index) || r.Index <= f.Index {
			continue
		}
		switch r.Result {
		case ResultConfirmed:
			e.confirmed[r.Finding] = append(e.confirmed[r.Finding], r)
		case ResultRefuted:
			e.refuted[r.Finding] = append(e.refuted[r.Finding], r)
		}
	}

	e.supports = e.citedOrder(e.hyp.Supports)
	e.contradicts = e.citedOrder(e.hyp.Contradicts)
	return e, nil
}

func byIndex(a, b *Finding) int {
	return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.ID, b.ID))
}

// citedOrder deduplicates ids and orders them by leaf index, ids not in the
// graph first, by id.
func (e *evaluation) citedOrder(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	slices.SortStableFunc(ids, func(a, b string) int {
		return cmp.Compare(e.indexOf(a), e.indexOf(b))
	})
	return ids
}

// indexOf is the leaf index of finding id, or -1 if it is not in the graph.
func (e *evaluation) indexOf(id string) int64 {
	if f, ok := e.findings[id]; ok {
		return f.Index
	}
	return -1
}

func (e *evaluation) covered(index int64) bool {
	return index >= 0 && index < e.g.Checkpoint.Size
}

// orgOf is the originating organisation of an enrolled party: its Org, or
// the party itself when it names none.
func (e *evaluation) orgOf(party string) (string, bool) {
	p, ok := e.g.Parties[party]
	if !ok {
		return "", false
	}
	if p.Org == "" {
		return "party " + party, true
	}
	return p.Org, true
}

// The gates a finding can fail, each reported as a rule.
const (
	ruleCustody    = "integrity.custody_unbroken"
	ruleWitnessed  = "integrity.witnessed"
	ruleKeys       = "integrity.keys_valid"
	ruleMethod     = "integrity.method_registered"
	ruleQuality    = "quality.floor"
	ruleLines      = "corroboration.min_lines"
	ruleCategories = "corroboration.min_categories"
	ruleReproduced = "corroboration.min_reproduced_lines"
	ruleNotSolely  = "corroboration.not_solely"
	ruleUnresolved = "contradictions.unresolved"
)

// A failure is one reason a finding is not counted, and the gate rule it
// belongs to ("" for reasons outside the rule families: not in the graph,
// not covered, not enrolled, malformed, refuted).
type failure struct {
	rule, reason string
}

// admit returns why finding f may not be counted at level l, in a fixed
// order, or nothing if it may.
func (e *evaluation) admit(f *Finding, l *Level) []failure {
	if !e.covered(f.Index) {
		return []failure{{"", fmt.Sprintf("index %d is not covered by the checkpoint (size %d)", f.Index, e.g.Checkpoint.Size)}}
	}
	var fs []failure
	add := func(rule, format string, args ...any) {
		fs = append(fs, failure{rule, fmt.Sprintf(format, args...)})
	}
	if _, ok := e.g.Parties[f.Party]; !ok {
		add("", `party "%s" is not enrolled`, f.Party)
	}
	malformed := false
	for _, err := range []error{ValidGrade(f.SourceReliability, f.Credibility), ValidCategory(f.Category), ValidConfidence(f.Confidence)} {
		if err != nil {
			add("", "malformed: %v", err)
			malformed = true
		}
	}
	in := l.Integrity
	if in.Witnessed && !e.g.Witnessed {
		add(ruleWitnessed, "checkpoint lacks the witness quorum")
	}
	if in.KeysValid && !f.KeysValid {
		add(ruleKeys, "signing key not valid at index %d", f.Index)
	}
	if in.MethodRegistered && !slices.Contains(e.p.Methods, f.Method) {
		add(ruleMethod, `method "%s" not in the policy's registry`, f.Method)
	}
	if in.CustodyUnbroken {
		inputs := slices.Clone(f.Inputs)
		slices.Sort(inputs)
		for _, id := range slices.Compact(inputs) {
			x, ok := e.g.Exhibits[id]
			switch {
			case !ok:
				add(ruleCustody, "input exhibit %s unknown", id)
			case !x.Unbroken:
				add(ruleCustody, "input exhibit %s custody broken: %s", id, cmp.Or(x.Reason, "no reason given"))
			}
		}
	}
	if !malformed {
		q := l.Quality
		if reliabilityRank(f.SourceReliability) > reliabilityRank(q.SourceReliability) {
			add(ruleQuality, "below quality floor: source reliability %s, need %s or better", f.SourceReliability, q.SourceReliability)
		}
		if f.Credibility > q.Credibility {
			add(ruleQuality, "below quality floor: information credibility %d, need %d or better", f.Credibility, q.Credibility)
		}
		if f.Confidence < q.MinConfidence {
			add(ruleQuality, "below quality floor: confidence %d, need at least %d", f.Confidence, q.MinConfidence)
		}
	}
	for _, r := range e.refuted[f.ID] {
		add("", "refuted by a reproduction at index %d (party %s)", r.Index, r.Party)
	}
	return fs
}

// level evaluates one level.
func (e *evaluation) level(l *Level) LevelResult {
	res := LevelResult{Name: l.Name, MaxLikelihood: l.MaxLikelihood, Rules: []RuleResult{}}

	// Step 1: the disposition of every supporting finding.
	violated := map[string][]violation{}
	var counted []*Finding
	for _, id := range e.supports {
		d := Disposition{Finding: id, Index: e.indexOf(id)}
		f, ok := e.findings[id]
		var fs []failure
		switch {
		case !ok:
			fs = []failure{{"", "not in the graph"}}
		case slices.Contains(e.contradicts, id):
			fs = []failure{{"", "listed as both supporting and contradicting the hypothesis"}}
		default:
			fs = e.admit(f, l)
		}
		for _, x := range fs {
			d.Excluded = append(d.Excluded, x.reason)
			if x.rule != "" {
				violated[x.rule] = append(violated[x.rule], violation{id, d.Index, x.reason})
			}
		}
		if len(fs) == 0 {
			d.Counted = true
			counted = append(counted, f)
		}
		res.Findings = append(res.Findings, d)
	}

	// Step 2: the integrity gates and the quality floor.
	in := l.Integrity
	if in.Witnessed {
		r := RuleResult{Rule: ruleWitnessed, Family: FamilyIntegrity, Need: 1, Pass: e.g.Witnessed}
		for _, x := range violated[ruleWitnessed] {
			r.Violated = append(r.Violated, x.index)
		}
		if e.g.Witnessed {
			r.Found = 1
			r.Reason = "the checkpoint carries the witness quorum"
		} else {
			r.Reason = "the checkpoint lacks the witness quorum: no finding is counted"
		}
		res.Rules = append(res.Rules, r)
	}
	for _, gate := range []struct {
		on   bool
		rule string
		fam  string
		what string
	}{
		{in.KeysValid, ruleKeys, FamilyIntegrity, "signing key valid"},
		{in.MethodRegistered, ruleMethod, FamilyIntegrity, "method registered"},
		{in.CustodyUnbroken, ruleCustody, FamilyIntegrity, "custody of every input unbroken"},
		{true, ruleQuality, FamilyQuality, fmt.Sprintf("source %s or better, credibility %d or better, confidence at least %d", l.Quality.SourceReliability, l.Quality.Credibility, l.Quality.MinConfidence)},
	} {
		if gate.on {
			res.Rules = append(res.Rules, e.filterRule(gate.rule, gate.fam, gate.what, violated[gate.rule], e.supports))
		}
	}

	// Step 3: independent lines and the corroboration rules.
	lines, lineOf := e.lines(counted)
	for i := range res.Findings {
		if res.Findings[i].Counted {
			res.Findings[i].Line = lineOf[res.Findings[i].Finding]
		}
	}
	res.Lines = lines
	c := l.Corroboration
	res.Rules = append(res.Rules, linesRule(c.MinLines, lines, counted))
	if c.MinCategories > 0 {
		res.Rules = append(res.Rules, categoriesRule(c.MinCategories, lines, counted))
	}
	if c.MinReproducedLines > 0 {
		res.Rules = append(res.Rules, e.reproducedRule(c, res.Lines, counted, lineOf))
	}
	if len(c.NotSolely) > 0 {
		res.Rules = append(res.Rules, notSolelyRule(c.NotSolely, lines, counted, lineOf))
	}

	// Step 4: contradictions.
	var rule RuleResult
	res.Contradictions, rule = e.contradictions(l)
	res.Rules = append(res.Rules, rule)

	res.Pass = true
	for _, r := range res.Rules {
		res.Pass = res.Pass && r.Pass
	}
	if len(res.Contradictions) == 0 {
		res.Contradictions = nil
	}
	return res
}

// A violation is a supporting finding that a gate excluded, and why.
type violation struct {
	id     string
	index  int64
	reason string
}

// filterRule reports a gate that excludes findings rather than failing the
// level: it passes, Found is the number of supporting findings in the graph
// and covered by the checkpoint that satisfy it, and Violated lists those
// it excluded, each named with its reasons in Reason.
func (e *evaluation) filterRule(rule, family, what string, vs []violation, supports []string) RuleResult {
	r := RuleResult{Rule: rule, Family: family, Pass: true}
	var why []string
	for _, v := range vs {
		if len(r.Violated) == 0 || r.Violated[len(r.Violated)-1] != v.index {
			r.Violated = append(r.Violated, v.index)
		}
		why = append(why, v.id+" ("+v.reason+")")
	}
	total := 0
	for _, id := range supports {
		f, ok := e.findings[id]
		if !ok || !e.covered(f.Index) {
			continue
		}
		total++
		if !slices.ContainsFunc(vs, func(v violation) bool { return v.id == id }) {
			r.Satisfied = append(r.Satisfied, f.Index)
		}
	}
	r.Found = len(r.Satisfied)
	r.Reason = fmt.Sprintf("%d of %d supporting findings pass (%s)", r.Found, total, what)
	if len(why) > 0 {
		r.Reason += "; excluded: " + strings.Join(why, "; ")
	}
	return r
}

func indices(fs []*Finding) []int64 {
	var out []int64
	for _, f := range fs {
		out = append(out, f.Index)
	}
	slices.Sort(out)
	return out
}

func linesRule(need int, lines []Line, counted []*Finding) RuleResult {
	r := RuleResult{Rule: ruleLines, Family: FamilyCorroboration, Found: len(lines), Need: need, Pass: len(lines) >= need, Satisfied: indices(counted)}
	var collapsed []string
	for _, l := range lines {
		if l.Collapsed != "" {
			collapsed = append(collapsed, fmt.Sprintf("%s (%s)", andList(l.Findings), l.Collapsed))
		}
	}
	r.Reason = fmt.Sprintf("%d independent %s from %d counted %s", len(lines), plural(len(lines), "line", "lines"), len(counted), plural(len(counted), "finding", "findings"))
	if len(collapsed) > 0 {
		r.Reason += " after collapsing " + strings.Join(collapsed, "; ")
	}
	r.Reason += fmt.Sprintf(", need %d", need)
	return r
}

// categoriesRule counts the distinct categories that distinct lines can
// vouch for: a maximum matching of lines to categories, so that one line
// holding findings of three categories counts as one category, not three.
func categoriesRule(need int, lines []Line, counted []*Finding) RuleResult {
	match := matchCategories(lines)
	r := RuleResult{Rule: ruleCategories, Family: FamilyCorroboration, Found: len(match), Need: need, Pass: len(match) >= need}
	var names []string
	for _, cat := range Categories {
		line, ok := match[cat]
		if !ok {
			continue
		}
		names = append(names, fmt.Sprintf("%s (line %d)", cat, line))
		for _, f := range counted { // the first finding of that line and category
			if f.Category == cat && slices.Contains(lines[line-1].Findings, f.ID) {
				r.Satisfied = append(r.Satisfied, f.Index)
				break
			}
		}
	}
	slices.Sort(r.Satisfied)
	r.Reason = fmt.Sprintf("%d distinct %s from distinct lines", len(match), plural(len(match), "category", "categories"))
	if len(names) > 0 {
		r.Reason += " (" + strings.Join(names, ", ") + ")"
	}
	r.Reason += fmt.Sprintf(", need %d", need)
	return r
}

// reproducedRule counts the lines confirmed by at least MinReproducingOrgs
// organisations outside the line's group. A confirmation by one of the
// group's own organisations is reported as a violation and not counted.
func (e *evaluation) reproducedRule(c Corroboration, lines []Line, counted []*Finding, lineOf map[string]int) RuleResult {
	r := RuleResult{Rule: ruleReproduced, Family: FamilyCorroboration, Need: c.MinReproducedLines}
	var notes []string
	for _, f := range counted {
		l := &lines[lineOf[f.ID]-1]
		for _, rep := range e.confirmed[f.ID] {
			org, ok := e.orgOf(rep.Party)
			switch {
			case !ok:
				r.Violated = append(r.Violated, rep.Index)
				notes = append(notes, fmt.Sprintf("index %d by %s, not enrolled", rep.Index, rep.Party))
			case slices.Contains(l.Orgs, org):
				r.Violated = append(r.Violated, rep.Index)
				notes = append(notes, fmt.Sprintf("index %d by %s of %s, the line's own organisation", rep.Index, rep.Party, org))
			default:
				r.Satisfied = append(r.Satisfied, rep.Index)
				if !slices.Contains(l.ReproducedBy, org) {
					l.ReproducedBy = append(l.ReproducedBy, org)
				}
			}
		}
	}
	var reproduced []string
	for i := range lines {
		slices.Sort(lines[i].ReproducedBy)
		if len(lines[i].ReproducedBy) >= c.MinReproducingOrgs {
			r.Found++
			reproduced = append(reproduced, fmt.Sprintf("line %d by %s", lines[i].Number, andList(lines[i].ReproducedBy)))
		}
	}
	slices.Sort(r.Satisfied)
	slices.Sort(r.Violated)
	r.Pass = r.Found >= r.Need
	r.Reason = fmt.Sprintf("%d %s reproduced by at least %d outside %s", r.Found, plural(r.Found, "line", "lines"), c.MinReproducingOrgs, plural(c.MinReproducingOrgs, "organisation", "organisations"))
	if len(reproduced) > 0 {
		r.Reason += " (" + strings.Join(reproduced, "; ") + ")"
	}
	r.Reason += fmt.Sprintf(", need %d", r.Need)
	if len(notes) > 0 {
		r.Reason += "; not counted: reproduction at " + strings.Join(notes, "; ")
	}
	return r
}

// notSolelyRule passes when some line holds a counted finding whose category
// is not in the not_solely list.
func notSolelyRule(notSolely []string, lines []Line, counted []*Finding, lineOf map[string]int) RuleResult {
	r := RuleResult{Rule: ruleNotSolely, Family: FamilyCorroboration, Need: 1}
	other := map[int]bool{}
	for _, f := range counted {
		if slices.Contains(notSolely, f.Category) {
			r.Violated = append(r.Violated, f.Index)
		} else {
			r.Satisfied = append(r.Satisfied, f.Index)
			other[lineOf[f.ID]] = true
		}
	}
	r.Found = len(other)
	r.Pass = r.Found >= 1
	set := andList(notSolely)
	if r.Pass {
		r.Violated = nil
		r.Reason = fmt.Sprintf("%d %s rest on evidence other than %s, need 1", r.Found, plural(r.Found, "line", "lines"), set)
	} else {
		r.Reason = fmt.Sprintf("no line rests on evidence other than %s, which alone is insufficient, need 1", set)
	}
	return r
}

// contradictions evaluates every finding the hypothesis lists as
// contradicting it, at level l.
func (e *evaluation) contradictions(l *Level) ([]Contradiction, RuleResult) {
	k := l.Contradictions
	grade := fmt.Sprintf("%s%d", k.SourceReliability, k.Credibility)
	r := RuleResult{Rule: ruleUnresolved, Family: FamilyContradictions, AtMost: true}
	cs := []Contradiction{}
	var unresolved, resolved []string
	for _, id := range e.contradicts {
		c := Contradiction{Finding: id, Index: e.indexOf(id)}
		f, ok := e.findings[id]
		switch {
		case !ok:
			c.Note = "not in the graph"
		case !e.covered(f.Index):
			c.Note = fmt.Sprintf("index %d is not covered by the checkpoint (size %d)", f.Index, e.g.Checkpoint.Size)
		case !f.KeysValid:
			c.Note = fmt.Sprintf("not in force: signing key not valid at index %d", f.Index)
		case len(e.refuted[id]) > 0:
			c.Note = fmt.Sprintf("not in force: refuted by a reproduction at index %d", e.refuted[id][0].Index)
		case !atOrAbove(f.SourceReliability, f.Credibility, k.SourceReliability, k.Credibility):
			c.Note = fmt.Sprintf("not in force: graded %s%d, below %s", f.SourceReliability, f.Credibility, grade)
		default:
			c.InForce = true
			for _, reb := range e.rebuttals[id] {
				if reb.ID != id && len(e.admit(reb, l)) == 0 {
					c.RebuttedBy = append(c.RebuttedBy, reb.ID)
					r.Satisfied = append(r.Satisfied, reb.Index)
				}
			}
			c.Resolved = len(c.RebuttedBy) > 0
			if c.Resolved {
				c.Note = fmt.Sprintf("graded %s%d, at or above %s; rebutted by %s", f.SourceReliability, f.Credibility, grade, andList(c.RebuttedBy))
				resolved = append(resolved, fmt.Sprintf("%s rebutted by %s", id, andList(c.RebuttedBy)))
			} else {
				c.Note = fmt.Sprintf("graded %s%d, at or above %s; no rebuttal that passes this level's gates and quality floor", f.SourceReliability, f.Credibility, grade)
				r.Violated = append(r.Violated, f.Index)
				unresolved = append(unresolved, id)
			}
		}
		cs = append(cs, c)
	}
	slices.Sort(r.Satisfied)
	r.Satisfied = slices.Compact(r.Satisfied)
	r.Found = len(unresolved)
	r.Pass = r.Found == 0
	if r.Pass {
		r.Reason = fmt.Sprintf("no unresolved contradiction graded %s or better", grade)
	} else {
		r.Reason = fmt.Sprintf("%d unresolved %s graded %s or better (%s), need at most 0", r.Found, plural(r.Found, "contradiction", "contradictions"), grade, andList(unresolved))
	}
	if len(resolved) > 0 {
		r.Reason += "; " + strings.Join(resolved, "; ")
	}
	return cs, r
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// andList joins "a", "a and b", "a, b and c".
func andList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
