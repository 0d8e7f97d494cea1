package main

// Attribution commands: finding, hypothesis, policy, evaluate (DESIGN.md §3).

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/custody/attribution"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// listFlag splits comma-separated, repeatable values.
func listFlag(c *cli.Context, name string) []string {
	var out []string
	for _, v := range c.StringSlice(name) {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (e *env) findingCommand() *cli.Command {
	return &cli.Command{
		Name:  "finding",
		Usage: "state a finding drawn from exhibits, or reproduce another party's",
		Subcommands: []*cli.Command{{
			Name:  "add",
			Usage: "state a finding, graded on the Admiralty scale",
			UsageText: "custos finding add --id F-01 --claim TEXT --category CAT --method ID --input EXHIBIT[,...]\n" +
				"    --source-reliability A-F --credibility 1-6 --confidence 0-100 [--lineage F-00] [--rebuts F-05] --as ANALYST --key KEY\n\n" +
				"Categories: " + strings.Join(attribution.Categories, ", "),
			Flags: signingFlags(
				&cli.StringFlag{Name: "id", Usage: "finding id, e.g. F-01"},
				&cli.StringFlag{Name: "claim", Usage: "what the finding asserts"},
				&cli.StringFlag{Name: "category", Usage: strings.Join(attribution.Categories, ", ")},
				&cli.StringFlag{Name: "method", Usage: "the method's id, e.g. SOLVE-IT:DFT-1002"},
				&cli.StringSliceFlag{Name: "input", Usage: "an exhibit it was drawn from (repeatable, or comma-separated)"},
				&cli.StringFlag{Name: "source-reliability", Usage: "Admiralty source reliability, A (reliable) to F (cannot be judged)"},
				&cli.IntFlag{Name: "credibility", Usage: "Admiralty information credibility, 1 (confirmed) to 6 (cannot be judged)"},
				&cli.IntFlag{Name: "confidence", Value: -1, Usage: "the analyst's confidence, 0-100"},
				&cli.StringSliceFlag{Name: "lineage", Usage: "a finding this one derives from (repeatable)"},
				&cli.StringSliceFlag{Name: "rebuts", Usage: "a finding this one rebuts (repeatable)"},
				&cli.StringFlag{Name: "note", Usage: "free text"}),
			Action: func(c *cli.Context) error {
				d, err := ledgerNoArgs(c)
				if err != nil {
					return err
				}
				for _, f := range []string{"id", "claim", "category", "method", "source-reliability"} {
					if c.String(f) == "" {
						return usagef("finding add: --%s is required", f)
					}
				}
				if !c.IsSet("credibility") || c.Int("confidence") < 0 {
					return usagef("finding add: --credibility and --confidence are required")
				}
				p := custody.Finding{
					ID: c.String("id"), Claim: c.String("claim"), Category: c.String("category"), Method: c.String("method"),
					Inputs: listFlag(c, "input"), SourceReliability: c.String("source-reliability"),
					Credibility: c.Int("credibility"), Confidence: c.Int("confidence"),
					Lineage: listFlag(c, "lineage"), Rebuts: listFlag(c, "rebuts"), Note: c.String("note"),
				}
				if len(p.Inputs) == 0 {
					return usagef("finding add: --input EXHIBIT is required")
				}
				a, err := e.loadActor(c)
				if err != nil {
					return err
				}
				res, err := e.appendSigned(d, a, func(ledger.IndexReader) ([]byte, error) {
					return custody.NewStatement(custody.PredicateFinding, custody.AttributionSubject("finding", p.ID, p.Claim), p)
				})
				if err != nil {
					return err
				}
				return e.printAppended(c, fmt.Sprintf("finding %s (%s, %s%d, confidence %d) on %s", p.ID, p.Category,
					p.SourceReliability, p.Credibility, p.Confidence, strings.Join(p.Inputs, ", ")), res)
			},
		}, {
			Name:      "reproduce",
			Usage:     "report that you repeated another party's finding: confirmed or refuted",
			UsageText: "custos finding reproduce FINDING --result confirmed|refuted [--input EXHIBIT] --as ANALYST --key KEY",
			Flags: signingFlags(
				&cli.StringFlag{Name: "result", Usage: "confirmed or refuted"},
				&cli.StringSliceFlag{Name: "input", Usage: "an exhibit you used, if not the finding's (repeatable)"},
				&cli.StringFlag{Name: "note", Usage: "free text"}),
			Action: func(c *cli.Context) error {
				d, err := ledgerOf(c)
				if err != nil {
					return err
				}
				id, err := oneArg(c, "FINDING")
				if err != nil {
					return err
				}
				r := c.String("result")
				if r != custody.ResultConfirmed && r != custody.ResultRefuted {
					return usagef("finding reproduce: --result confirmed or --result refuted is required")
				}
				a, err := e.loadActor(c)
				if err != nil {
					return err
				}
				res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
					fs, err := custody.Findings(v)
					if err != nil {
						return nil, err
					}
					for _, f := range fs {
						if f.ID == id {
							return custody.NewStatement(custody.PredicateReproduction, custody.AttributionSubject("finding", id, f.Claim),
								custody.Reproduction{Finding: id, Result: r, Inputs: listFlag(c, "input"), Note: c.String("note")})
						}
					}
					return nil, usagef("no finding %q in this ledger", id)
				})
				if err != nil {
					return err
				}
				return e.printAppended(c, fmt.Sprintf("reproduction of %s: %s", id, r), res)
			},
		}},
	}
}

func (e *env) hypothesisCommand() *cli.Command {
	return &cli.Command{
		Name:  "hypothesis",
		Usage: "state an attribution hypothesis and the findings for and against it",
		Subcommands: []*cli.Command{{
			Name:  "add",
			Usage: "state a hypothesis",
			UsageText: "custos hypothesis add --id H-1 --statement TEXT --supports F-01,F-02 [--contradicts F-05] --likelihood BAND --as PARTY --key KEY\n\n" +
				"Likelihood bands (ICD 203): " + strings.Join(attribution.LikelihoodBands, ", "),
			Flags: signingFlags(
				&cli.StringFlag{Name: "id", Usage: "hypothesis id, e.g. H-1"},
				&cli.StringFlag{Name: "statement", Usage: `e.g. "Operation GRIDLOCK is attributable to actor APT-X"`},
				&cli.StringSliceFlag{Name: "supports", Usage: "supporting findings (repeatable, or comma-separated)"},
				&cli.StringSliceFlag{Name: "contradicts", Usage: "contradicting findings"},
				&cli.StringFlag{Name: "likelihood", Usage: "the ICD 203 band asserted"}),
			Action: func(c *cli.Context) error {
				d, err := ledgerNoArgs(c)
				if err != nil {
					return err
				}
				p := custody.Hypothesis{ID: c.String("id"), Statement: c.String("statement"), Supports: listFlag(c, "supports"),
					Contradicts: listFlag(c, "contradicts"), Likelihood: c.String("likelihood")}
				if p.ID == "" || p.Statement == "" || len(p.Supports) == 0 || p.Likelihood == "" {
					return usagef("hypothesis add: --id, --statement, --supports and --likelihood are required")
				}
				a, err := e.loadActor(c)
				if err != nil {
					return err
				}
				res, err := e.appendSigned(d, a, func(ledger.IndexReader) ([]byte, error) {
					return custody.NewStatement(custody.PredicateHypothesis, custody.AttributionSubject("hypothesis", p.ID, p.Statement), p)
				})
				if err != nil {
					return err
				}
				return e.printAppended(c, fmt.Sprintf("hypothesis %s (%s)", p.ID, p.Likelihood), res)
			},
		}},
	}
}

func (e *env) policyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "register an attribution-threshold policy before any evaluation uses it",
		Subcommands: []*cli.Command{{
			Name:      "register",
			Usage:     "log a policy document, verbatim; other parties may co-sign it",
			UsageText: "custos policy register FILE --as FACILITATOR --key KEY [--cosign-key KEY ...]\n\nThe format is docs/attribution-policy.md.",
			Flags:     signingFlags(&cli.StringSliceFlag{Name: "cosign-key", Usage: "the key of a party that co-signs the registration (repeatable)"}),
			Action: func(c *cli.Context) error {
				d, err := ledgerOf(c)
				if err != nil {
					return err
				}
				file, err := oneArg(c, "FILE")
				if err != nil {
					return err
				}
				b, err := readFileCapped(file, attribution.MaxPolicySize)
				if err != nil {
					return err
				}
				pol, err := attribution.ParsePolicy(b)
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				a, err := e.loadActor(c)
				if err != nil {
					return err
				}
				var extra []*custody.PrivateKey
				for _, path := range c.StringSlice("cosign-key") {
					k, err := e.loadPrivateKey(path)
					if err != nil {
						return err
					}
					extra = append(extra, k)
				}
				reg := custody.PolicyRegistration{Name: pol.Name, Digest: attribution.PolicyDigest(b), Policy: string(b)}
				res, err := e.appendSigned(d, a, func(ledger.IndexReader) ([]byte, error) {
					return custody.NewStatement(custody.PredicatePolicy, custody.AttributionSubject("policy", reg.Name, reg.Policy), reg)
				}, extra...)
				if err != nil {
					return err
				}
				return e.printAppended(c, fmt.Sprintf("policy %s registered (%s)", reg.Name, reg.Digest), res)
			},
		}},
	}
}

// evaluation is what custos evaluate reports.
type evaluation struct {
	appended
	Verdict *attribution.Verdict `json:"verdict"`
}

func (e *env) evaluateCommand() *cli.Command {
	return &cli.Command{
		Name:  "evaluate",
		Usage: "evaluate a hypothesis under a registered policy at the latest checkpoint and log the signed verdict",
		UsageText: "custos evaluate HYPOTHESIS --policy NAME [--trust trust.policy] --as PARTY --key KEY [--json]\n\n" +
			"The checkpoint is the latest that witnesses cosigned, if it covers the hypothesis and the policy, else the\n" +
			"log's latest. With --trust, whether it carries the witness quorum is judged; without, it counts as unwitnessed.",
		Flags: signingFlags(
			&cli.StringFlag{Name: "policy", Usage: "the registered policy's name"},
			&cli.StringFlag{Name: "trust", Usage: "the trust policy that judges the checkpoint's witness quorum"}),
		Action: func(c *cli.Context) error {
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			hyp, err := oneArg(c, "HYPOTHESIS")
			if err != nil {
				return err
			}
			if c.String("policy") == "" {
				return usagef("evaluate: --policy NAME is required")
			}
			var trust *verify.Policy
			if f := c.String("trust"); f != "" {
				b, err := readFileCapped(f, verify.MaxPolicySize)
				if err != nil {
					return err
				}
				if trust, err = verify.ParsePolicy(b); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
			}
			a, err := e.loadActor(c)
			if err != nil {
				return err
			}
			var result *attribution.Verdict
			res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
				p, err := evaluateAt(d, v, hyp, c.String("policy"), trust)
				if err != nil {
					return nil, err
				}
				result = p.result
				return custody.NewStatement(custody.PredicateVerdict, custody.AttributionSubject("verdict", hyp, string(p.pred.Result)), p.pred)
			})
			if err != nil {
				return err
			}
			return e.emit(c, evaluation{*res, result}, func(w io.Writer) {
				fmt.Fprintf(w, "verdict logged: leaf %d\nleaf hash: %s\nsigned by: %s (%s)\n\n", res.Index, res.LeafHash, res.Party, res.KeyID)
				printVerdict(w, result)
			})
		},
	}
}

// pendingVerdict is a verdict predicate and the result it carries.
type pendingVerdict struct {
	pred   custody.Verdict
	result *attribution.Verdict
}

// evaluateAt evaluates hypothesis hyp under the registered policy at the
// latest checkpoint that covers both.
func evaluateAt(d ledgerDir, v ledger.IndexReader, hyp, policyName string, trust *verify.Policy) (*pendingVerdict, error) {
	h, err := custody.HypothesisByID(v, hyp)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, usagef("no hypothesis %q in this ledger", hyp)
	}
	pol, err := custody.Policy(v, policyName)
	if err != nil {
		return nil, err
	}
	if pol == nil {
		return nil, usagef("no policy %q is registered in this ledger (custos policy register FILE)", policyName)
	}
	need := max(h.Index, pol.Index) + 1
	signed, size, err := latestCosigned(d)
	if err != nil {
		return nil, err
	}
	if size < need {
		// The witnesses have not cosigned a checkpoint that covers the
		// hypothesis and the policy: use the log's own latest.
		signed, err = readFileCapped(d.path(checkpointName), ledger.MaxCheckpointSize)
		if err != nil {
			return nil, err
		}
	}
	logKey, _, err := d.readVerifier()
	if err != nil {
		return nil, err
	}
	cp, err := verify.Checkpoint(signed, logKey)
	if err != nil {
		return nil, err
	}
	if cp.Size < need {
		return nil, fmt.Errorf("evaluate: the latest checkpoint (size %d) does not cover hypothesis %s (leaf %d) and policy %s (leaf %d)", cp.Size, hyp, h.Index, policyName, pol.Index)
	}
	witnessed := false
	if trust != nil {
		_, _, qerr := trust.CheckCheckpoint(signed)
		witnessed = qerr == nil
	}
	g, err := custody.AttributionGraph(v, attribution.Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root.String()}, witnessed)
	if err != nil {
		return nil, err
	}
	r, err := attribution.Evaluate([]byte(pol.Policy), pol.Index, g, hyp)
	if err != nil {
		return nil, err
	}
	return &pendingVerdict{
		pred: custody.Verdict{Hypothesis: hyp, Policy: pol.Name, PolicyDigest: pol.Digest, Checkpoint: string(signed),
			Level: r.Reached, Result: r.Marshal()},
		result: r,
	}, nil
}

// printVerdict prints a verdict's rule-by-rule trace.
func printVerdict(w io.Writer, v *attribution.Verdict) {
	reached := v.Reached
	if reached == "" {
		reached = "none"
	}
	fmt.Fprintf(w, "hypothesis %s (leaf %d) under policy %s (leaf %d, %s)\nat checkpoint %s size %d, witnessed: %t\nlevel reached: %s (allows up to %q)\n",
		v.Hypothesis.ID, v.Hypothesis.Index, v.Policy.Name, v.Policy.Index, v.Policy.Digest,
		v.Checkpoint.Origin, v.Checkpoint.Size, v.Witnessed, reached, v.AllowedLikelihood)
	if v.Overclaim != nil {
		fmt.Fprintf(w, "OVERCLAIM: the hypothesis asserts %q, above the %q this level allows\n", v.Overclaim.Asserted, v.Overclaim.Allowed)
	}
	for _, l := range v.Levels {
		mark := "FAIL"
		if l.Pass {
			mark = "pass"
		}
		fmt.Fprintf(w, "\n[%s] %s (max likelihood %q)\n", mark, l.Name, l.MaxLikelihood)
		for _, r := range l.Rules {
			mark := "fail"
			if r.Pass {
				mark = "ok"
			}
			fmt.Fprintf(w, "  %-4s %-15s %-28s %s\n", mark, r.Family, r.Rule, r.Reason)
		}
		for _, d := range l.Findings {
			if !d.Counted {
				fmt.Fprintf(w, "       excluded %s (leaf %d): %s\n", d.Finding, d.Index, strings.Join(d.Excluded, "; "))
			}
		}
	}
}
