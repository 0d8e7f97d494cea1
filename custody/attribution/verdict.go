package attribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxVerdictSize is the largest verdict ParseVerdict accepts, in bytes.
const MaxVerdictSize = 16 << 20

// A Verdict is the result of evaluating a hypothesis under a registered
// policy at a checkpoint. Its JSON form (Marshal) is the predicate of the
// verdict entry; docs/attribution-policy.md §7 specifies every field.
type Verdict struct {
	Evaluator  string        `json:"evaluator"`
	Hypothesis HypothesisRef `json:"hypothesis"`
	Policy     PolicyRef     `json:"policy"`
	Checkpoint Checkpoint    `json:"checkpoint"`
	Witnessed  bool          `json:"witnessed"`
	// Reached is the name of the highest level whose rules all pass, or
	// "" when none does.
	Reached string `json:"reached"`
	// AllowedLikelihood is the highest band the hypothesis may assert: the
	// reached level's max_likelihood, or the policy's
	// baseline_max_likelihood when no level is reached.
	AllowedLikelihood string `json:"allowed_likelihood"`
	// Overclaim is set when the hypothesis asserts a band above
	// AllowedLikelihood.
	Overclaim *Overclaim `json:"overclaim,omitempty"`
	// Levels holds one result per policy level, lowest first.
	Levels []LevelResult `json:"levels"`
}

// HypothesisRef names the evaluated hypothesis entry and the band it asserts.
type HypothesisRef struct {
	ID         string `json:"id"`
	Index      int64  `json:"index"`
	Likelihood string `json:"likelihood"`
}

// PolicyRef names the registered policy: its name, PolicyDigest of its
// bytes and the leaf index at which it was registered.
type PolicyRef struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Index  int64  `json:"index"`
}

// Overclaim is the band a hypothesis asserts and the highest one it may.
type Overclaim struct {
	Asserted string `json:"asserted"`
	Allowed  string `json:"allowed"`
}

// A LevelResult is the evaluation of one level: every rule it configures,
// the disposition of every supporting finding, the independent lines the
// counted findings form, and the state of every contradicting finding.
type LevelResult struct {
	Name           string          `json:"name"`
	MaxLikelihood  string          `json:"max_likelihood"`
	Pass           bool            `json:"pass"`
	Rules          []RuleResult    `json:"rules"`
	Findings       []Disposition   `json:"findings,omitempty"`
	Lines          []Line          `json:"lines,omitempty"`
	Contradictions []Contradiction `json:"contradictions,omitempty"`
}

// A RuleResult is one rule of one level. Found is the count the rule
// measured and Need the count it requires: at least Need, or at most Need
// when AtMost is set. Satisfied and Violated are the leaf indices of the
// entries that satisfied or violated the rule, ascending. Reason says it in
// words.
type RuleResult struct {
	Rule      string  `json:"rule"`
	Family    string  `json:"family"`
	Pass      bool    `json:"pass"`
	Found     int     `json:"found"`
	Need      int     `json:"need"`
	AtMost    bool    `json:"at_most,omitempty"`
	Satisfied []int64 `json:"satisfied,omitempty"`
	Violated  []int64 `json:"violated,omitempty"`
	Reason    string  `json:"reason"`
}

// A Disposition says whether a supporting finding was counted at a level,
// in which line, or why it was excluded. Index is -1 for a finding the
// hypothesis cites that is not in the graph.
type Disposition struct {
	Finding  string   `json:"finding"`
	Index    int64    `json:"index"`
	Counted  bool     `json:"counted"`
	Line     int      `json:"line,omitempty"`
	Excluded []string `json:"excluded,omitempty"`
}

// A Line is one independent line of evidence: counted findings joined by
// shared lineage or organisation. Number counts from 1 in the order of each
// line's first leaf index. Orgs are the organisations of the whole group
// (counted or not), Categories those of the counted findings, and
// ReproducedBy the organisations outside Orgs that confirmed one of them.
// Collapsed says why a line of several findings is one line.
type Line struct {
	Number       int      `json:"number"`
	Findings     []string `json:"findings"`
	Orgs         []string `json:"orgs,omitempty"`
	Categories   []string `json:"categories"`
	ReproducedBy []string `json:"reproduced_by,omitempty"`
	Collapsed    string   `json:"collapsed,omitempty"`
}

// A Contradiction is the state of one finding the hypothesis lists as
// contradicting it: in force when it is a genuine finding graded at or above
// the level's contradictions grade, resolved when a qualifying finding
// rebuts it, and Note saying which.
type Contradiction struct {
	Finding    string   `json:"finding"`
	Index      int64    `json:"index"`
	InForce    bool     `json:"in_force"`
	Resolved   bool     `json:"resolved"`
	RebuttedBy []string `json:"rebutted_by,omitempty"`
	Note       string   `json:"note"`
}

// Marshal returns the canonical JSON encoding of v: the fields in the order
// of the Go structs, no insignificant space, empty lists and false flags
// omitted where the field says omitempty. Evaluate builds every list in a
// fixed order, so equal inputs give byte-identical verdicts.
func (v *Verdict) Marshal() []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// A Verdict holds only strings, integers, booleans and slices of
		// them, which always encode.
		panic("attribution: marshal verdict: " + err.Error())
	}
	return b
}

// ParseVerdict parses a verdict. It is strict: an unknown field, trailing
// data or any encoding other than the one Marshal gives for the parsed value
// is a *ParseError, so Marshal(ParseVerdict(b)) == b for every b it accepts.
func ParseVerdict(b []byte) (*Verdict, error) {
	if len(b) > MaxVerdictSize {
		return nil, &ParseError{Msg: fmt.Sprintf("verdict is %d bytes, over the limit of %d", len(b), MaxVerdictSize)}
	}
	var v Verdict
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, &ParseError{Msg: "verdict: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ParseError{Msg: "verdict: trailing data"}
	}
	if !bytes.Equal(v.Marshal(), b) {
		return nil, &ParseError{Msg: "verdict is not in canonical form (as Verdict.Marshal encodes it)"}
	}
	// Lists that Evaluate never leaves empty must not be null, so that each
	// verdict has one encoding.
	if len(v.Levels) == 0 {
		return nil, &ParseError{Field: "levels", Msg: "a verdict has at least one level"}
	}
	for i, l := range v.Levels {
		if len(l.Rules) == 0 {
			return nil, &ParseError{Field: fmt.Sprintf("levels[%d].rules", i), Msg: "a level has at least one rule"}
		}
		for k, line := range l.Lines {
			if len(line.Findings) == 0 || len(line.Categories) == 0 {
				return nil, &ParseError{Field: fmt.Sprintf("levels[%d].lines[%d]", i, k), Msg: "a line has findings and categories"}
			}
		}
	}
	return &v, nil
}
