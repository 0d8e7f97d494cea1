package verify

// Re-evaluation of the bundle's attribution verdicts (DESIGN.md §3).

import (
	"bytes"
	"fmt"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/custody/attribution"
)

// A HypothesisReport is one hypothesis of the bundle with its verdicts,
// each evaluated again by the verifier.
type HypothesisReport struct {
	ID          string          `json:"id"`
	Statement   string          `json:"statement"`
	Likelihood  string          `json:"likelihood"`
	Party       string          `json:"party"`
	Index       int64           `json:"index"`
	Supports    []string        `json:"supports"`
	Contradicts []string        `json:"contradicts,omitempty"`
	Verdicts    []VerdictReport `json:"verdicts"`
}

// A VerdictReport is one logged verdict and the verifier's re-evaluation.
// Ok is true when the logged result is byte for byte the one the verifier
// computed from the bundle's own leaves, under a policy registered before
// it, at a checkpoint proved to be a prefix of the bundle's.
type VerdictReport struct {
	Index  int64                `json:"index"`
	Party  string               `json:"party"`
	Policy string               `json:"policy"`
	Level  string               `json:"level"`
	Ok     bool                 `json:"ok"`
	Result *attribution.Verdict `json:"result,omitempty"`
}

// checkVerdicts re-evaluates every verdict the replay accepted. The
// custody replay already refused a verdict whose policy was not registered
// before it or whose result does not name that policy; here the verifier
// checks that the checkpoint it was made at is the log's, with the quorum
// it claims, a prefix of the bundle's checkpoint, and that evaluating the
// policy over the graph the replayed leaves give at that checkpoint yields
// the logged bytes exactly.
func (v *bundleVerifier) checkVerdicts() error {
	hyps, err := custody.Hypotheses(v.view)
	if err != nil {
		return err
	}
	verdicts, err := custody.Verdicts(v.view)
	if err != nil {
		return err
	}
	byHyp := map[string][]VerdictReport{}
	for _, vr := range verdicts {
		rep := VerdictReport{Index: vr.Index, Party: vr.Party, Policy: vr.Policy, Level: vr.Level}
		result, msg, err := v.checkVerdict(&vr)
		if err != nil {
			return err
		}
		rep.Result = result
		if msg != "" {
			v.invalid("verdict", vr.Index, "verdict on %s under policy %s: %s", vr.Hypothesis, vr.Policy, msg)
		} else {
			rep.Ok = v.cpVerified
		}
		byHyp[vr.Hypothesis] = append(byHyp[vr.Hypothesis], rep)
	}
	for _, h := range hyps {
		vs := byHyp[h.ID]
		if vs == nil {
			vs = []VerdictReport{}
		}
		v.report.Hypotheses = append(v.report.Hypotheses, HypothesisReport{
			ID: h.ID, Statement: h.Statement, Likelihood: h.Likelihood, Party: h.Party, Index: h.Index,
			Supports: h.Supports, Contradicts: h.Contradicts, Verdicts: vs,
		})
	}
	return nil
}

// checkVerdict returns the logged result and, if the verdict fails, why.
func (v *bundleVerifier) checkVerdict(vr *custody.VerdictRecord) (*attribution.Verdict, string, error) {
	logged, err := attribution.ParseVerdict(vr.Result)
	if err != nil {
		return nil, fmt.Sprintf("the result does not parse: %v", err), nil
	}
	signed := []byte(vr.Checkpoint)
	c, err := openCheckpoint(signed, v.logKey, "verdict checkpoint")
	if err != nil {
		return logged, fmt.Sprintf("its checkpoint is not the log's: %v", err), nil
	}
	if c.Origin != logged.Checkpoint.Origin || c.Size != logged.Checkpoint.Size || c.Root.String() != logged.Checkpoint.Root {
		return logged, fmt.Sprintf("the result names checkpoint %s/%d/%s, but the signed checkpoint is %s/%d/%s",
			logged.Checkpoint.Origin, logged.Checkpoint.Size, logged.Checkpoint.Root, c.Origin, c.Size, c.Root), nil
	}
	if v.cpVerified {
		switch {
		case c.Size > v.cp.Size:
			return logged, fmt.Sprintf("its checkpoint of size %d is beyond the bundle's (size %d)", c.Size, v.cp.Size), nil
		case c.Size == v.cp.Size && c.Root != v.cp.Root:
			return logged, fmt.Sprintf("its checkpoint of size %d has root %s, the bundle's %s", c.Size, c.Root, v.cp.Root), nil
		case c.Size < v.cp.Size && !v.provedKnown(c.Size, c.Root.String()):
			return logged, fmt.Sprintf("its checkpoint of size %d is not proved a prefix of the bundle's: the bundle holds no known/%020d.checkpoint with a consistency proof and that root", c.Size, c.Size), nil
		}
	}
	witnessed := false
	if logged.Witnessed {
		if _, _, err := v.opts.Policy.CheckCheckpoint(signed); err != nil {
			return logged, fmt.Sprintf("it counts its checkpoint as witnessed, but under your trust policy: %v", err), nil
		}
		witnessed = true
	}
	pol, err := custody.Policy(v.view, vr.Policy)
	if err != nil {
		return nil, "", err
	}
	if pol == nil || pol.Index >= vr.Index {
		return logged, fmt.Sprintf("policy %s is not registered before the verdict", vr.Policy), nil
	}
	g, err := custody.AttributionGraph(v.view, logged.Checkpoint, witnessed)
	if err != nil {
		return nil, "", err
	}
	again, err := attribution.Evaluate([]byte(pol.Policy), pol.Index, g, vr.Hypothesis)
	if err != nil {
		return logged, fmt.Sprintf("evaluating it again fails: %v", err), nil
	}
	if want := again.Marshal(); !bytes.Equal(want, vr.Result) {
		return logged, "the logged result differs from the verifier's evaluation of the same policy over the same leaves: " + firstDifference(vr.Result, want), nil
	}
	return logged, "", nil
}

// provedKnown reports whether a known/ member of the bundle proved a
// checkpoint of that size and root consistent with the bundle's.
func (v *bundleVerifier) provedKnown(size int64, root string) bool {
	for _, k := range v.report.Known {
		if k.Source == "bundle" && k.Ok && k.Size == size && k.Root == root {
			return true
		}
	}
	return false
}

// firstDifference describes where got and want first differ.
func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	ctx := func(b []byte) string {
		lo, hi := max(0, i-40), min(len(b), i+40)
		return string(b[lo:hi])
	}
	return fmt.Sprintf("at byte %d, logged …%s… where re-evaluation gives …%s…", i, ctx(got), ctx(want))
}
