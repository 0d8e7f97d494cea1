package custody

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/custos-ledger/custos/custody/attribution"
)

// AttributionGraph builds the evidence graph the evaluator reads, as of the
// checkpoint cp: the findings, reproductions and hypotheses at leaves below
// cp.Size, the parties' organisations, and, for every exhibit a finding
// takes as input, whether its custody is unbroken at that size.
//
// It is a function of the records alone, filtered by index, so the ledger
// (custos evaluate) and the bundle verifier, replaying the exported leaves,
// build the same graph from the same history. witnessed says whether cp
// carries the trust policy's quorum of witness cosignatures; the caller
// judges that, custody knows no trust policy.
//
// An exhibit's custody is judged by exhibitAsOf.
func AttributionGraph(v ScanView, cp attribution.Checkpoint, witnessed bool) (*attribution.Graph, error) {
	n := cp.Size
	g := &attribution.Graph{
		Checkpoint: cp,
		Witnessed:  witnessed,
		Parties:    map[string]attribution.Party{},
		Exhibits:   map[string]attribution.Exhibit{},
	}
	parties, err := Parties(v)
	if err != nil {
		return nil, err
	}
	for _, p := range parties {
		if p.Enrolled < n {
			g.Parties[p.Name] = attribution.Party{Name: p.Name, Org: p.Org}
		}
	}
	findings, err := Findings(v)
	if err != nil {
		return nil, err
	}
	for _, f := range findings {
		if f.Index >= n {
			continue
		}
		g.Findings = append(g.Findings, attribution.Finding{
			ID: f.ID, Index: f.Index, Party: f.Party, Claim: f.Claim, Category: f.Category, Method: f.Method,
			Inputs: f.Inputs, SourceReliability: f.SourceReliability, Credibility: f.Credibility,
			Confidence: f.Confidence, Lineage: f.Lineage, Rebuts: f.Rebuts,
			KeysValid: true, // the replay accepted it: every key was active at its index
		})
		for _, r := range f.Reproductions {
			if r.Index < n {
				g.Reproductions = append(g.Reproductions, attribution.Reproduction{Finding: f.ID, Index: r.Index, Party: r.Party, Result: r.Result})
			}
		}
		for _, id := range f.Inputs {
			if _, ok := g.Exhibits[id]; ok {
				continue
			}
			x, err := exhibitAsOf(v, id, n, 0)
			if err != nil {
				return nil, err
			}
			g.Exhibits[id] = x
		}
	}
	hyps, err := Hypotheses(v)
	if err != nil {
		return nil, err
	}
	for _, h := range hyps {
		if h.Index < n {
			g.Hypotheses = append(g.Hypotheses, attribution.Hypothesis{ID: h.ID, Index: h.Index, Party: h.Party,
				Statement: h.Statement, Supports: h.Supports, Contradicts: h.Contradicts, Likelihood: h.Likelihood})
		}
	}
	slices.SortFunc(g.Findings, func(a, b attribution.Finding) int { return cmp.Compare(a.Index, b.Index) })
	slices.SortFunc(g.Reproductions, func(a, b attribution.Reproduction) int { return cmp.Compare(a.Index, b.Index) })
	slices.SortFunc(g.Hypotheses, func(a, b attribution.Hypothesis) int { return cmp.Compare(a.Index, b.Index) })
	return g, nil
}

// exhibitAsOf judges the custody of exhibit id at size n: it is broken
// when it was not registered below n, when a receiver's rejection below n
// recorded digests that differ from the acquired ones and no hand-over
// accepted (with matching digests) after it below n, or when an exhibit it
// was derived from was broken at the derivation.
func exhibitAsOf(v ScanView, id string, n int64, depth int) (attribution.Exhibit, error) {
	out := attribution.Exhibit{ID: id}
	if depth > 64 {
		out.Reason = "derived through more than 64 generations"
		return out, nil
	}
	x, steps, err := History(v, id)
	if err != nil {
		return out, err
	}
	if x == nil || x.Acquired >= n {
		out.Reason = fmt.Sprintf("exhibit %s is not registered in the tree of size %d", id, n)
		return out, nil
	}
	mismatch := int64(NoIndex)
	for _, st := range steps {
		switch {
		case st.Index >= n:
		case st.Event == EventReject && st.Mismatch:
			mismatch = st.Index
		case st.Event == EventAccept:
			mismatch = NoIndex // the receiver re-hashed and the digests matched
		}
	}
	if mismatch != NoIndex {
		out.Reason = fmt.Sprintf("leaf %d: a receiver observed digests of %s that differ from the acquired ones, and no hand-over with matching digests followed", mismatch, id)
		return out, nil
	}
	for _, parent := range x.Parents {
		p, err := exhibitAsOf(v, parent, x.Acquired, depth+1)
		if err != nil {
			return out, err
		}
		if !p.Unbroken {
			out.Reason = fmt.Sprintf("derived at leaf %d from %s, whose custody was broken: %s", x.Acquired, parent, p.Reason)
			return out, nil
		}
	}
	out.Unbroken = true
	return out, nil
}
