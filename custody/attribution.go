package custody

// Attribution events (DESIGN.md §2, §3): findings drawn from exhibits,
// their reproduction by other parties, hypotheses that rest on findings,
// attribution-threshold policies registered before they are used, and the
// verdicts of evaluating a hypothesis under a policy at a checkpoint. The
// policy language and the evaluator are in custody/attribution; this file
// holds the predicates and the rules the ledger enforces on them.
//
// The subject of an attribution statement is the object it states, named
// "<kind>:<id>", with the SHA-256 of its defining text as its digest:
//
//	finding       "finding:<id>"     sha256 of the claim
//	reproduction  "finding:<id>"     sha256 of the reproduced finding's claim
//	hypothesis    "hypothesis:<id>"  sha256 of the statement
//	policy        "policy:<name>"    sha256 of the policy document (its digest)
//	verdict       "verdict:<hyp>"    sha256 of the verdict (the result bytes)

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/custos-ledger/custos/custody/attribution"
)

// Attribution predicate types.
const (
	PredicateFinding      = predicateBase + "finding/v1"
	PredicateReproduction = predicateBase + "reproduction/v1"
	PredicateHypothesis   = predicateBase + "hypothesis/v1"
	PredicatePolicy       = predicateBase + "policy/v1"
	PredicateVerdict      = predicateBase + "verdict/v1"
)

// Attribution event names, as in Event.Kind and HistoryStep.Event.
const (
	EventFinding      = "finding"
	EventReproduction = "reproduction"
	EventHypothesis   = "hypothesis"
	EventPolicy       = "policy"
	EventVerdict      = "verdict"
)

// Reproduction results.
const (
	ResultConfirmed = "confirmed"
	ResultRefuted   = "refuted"
)

// Finding asserts what an analyst drew from input exhibits, graded on the
// Admiralty scale (source reliability A–F and information credibility 1–6,
// separately) with the analyst's confidence 0–100. Lineage names findings
// it derives from (they share a line of evidence); Rebuts names findings it
// answers (a rebuttal resolves a contradiction). Signed by an analyst.
type Finding struct {
	ID                string   `json:"id"`
	Claim             string   `json:"claim"`
	Category          string   `json:"category"` // one of attribution.Categories
	Method            string   `json:"method"`   // a method id, e.g. SOLVE-IT:DFT-1002
	Inputs            []string `json:"inputs"`   // registered exhibits
	SourceReliability string   `json:"source_reliability"`
	Credibility       int      `json:"credibility"`
	Confidence        int      `json:"confidence"`
	Lineage           []string `json:"lineage,omitempty"`
	Rebuts            []string `json:"rebuts,omitempty"`
	Note              string   `json:"note,omitempty"`
}

// Reproduction reports that another party repeated a finding's method:
// confirmed or refuted. Signed by an analyst who is not the finding's.
type Reproduction struct {
	Finding string   `json:"finding"`
	Result  string   `json:"result"`           // ResultConfirmed or ResultRefuted
	Inputs  []string `json:"inputs,omitempty"` // the exhibits it used, when not the finding's
	Note    string   `json:"note,omitempty"`
}

// Hypothesis states an attribution ("operation O is attributable to actor
// A") with the findings that support and contradict it and the ICD 203
// likelihood band its author asserts. Signed by an analyst or facilitator.
type Hypothesis struct {
	ID          string   `json:"id"`
	Statement   string   `json:"statement"`
	Supports    []string `json:"supports"`
	Contradicts []string `json:"contradicts,omitempty"`
	Likelihood  string   `json:"likelihood"` // one of attribution.LikelihoodBands
}

// PolicyRegistration logs an attribution-threshold policy, verbatim, before
// any evaluation uses it. Signed by a facilitator, and by any party that
// agrees to it (co-signatures).
type PolicyRegistration struct {
	Name   string `json:"name"`   // the policy's name; unique in the ledger
	Digest string `json:"digest"` // attribution.PolicyDigest of Policy
	Policy string `json:"policy"` // the document, YAML or JSON
}

// Verdict logs the result of evaluating a hypothesis under a registered
// policy at a checkpoint. Result is the evaluator's output
// (attribution.Verdict), byte for byte as Marshal writes it, so that anyone
// re-evaluating gets the same bytes; Checkpoint is the signed checkpoint,
// with its cosignatures, that the evaluation was made at.
type Verdict struct {
	Hypothesis   string          `json:"hypothesis"`
	Policy       string          `json:"policy"`
	PolicyDigest string          `json:"policy_digest"`
	Checkpoint   string          `json:"checkpoint"`
	Level        string          `json:"level,omitempty"` // "" when no level is reached
	Result       json.RawMessage `json:"result"`
}

// FindingRecord is a finding in the state, with its reproductions.
type FindingRecord struct {
	Finding
	Index         int64                `json:"index"`
	LeafHash      string               `json:"leaf_hash"`
	Party         string               `json:"party"`
	Reproductions []ReproductionRecord `json:"reproductions,omitempty"`
}

// ReproductionRecord is one reproduction of a finding.
type ReproductionRecord struct {
	Index  int64    `json:"index"`
	Party  string   `json:"party"`
	Result string   `json:"result"`
	Inputs []string `json:"inputs,omitempty"`
}

// HypothesisRecord is a hypothesis in the state.
type HypothesisRecord struct {
	Hypothesis
	Index int64  `json:"index"`
	Party string `json:"party"`
}

// PolicyRecord is a registered policy.
type PolicyRecord struct {
	Name   string   `json:"name"`
	Digest string   `json:"digest"`
	Policy string   `json:"policy"`
	Index  int64    `json:"index"`
	Party  string   `json:"party"`
	Signed []string `json:"signed"` // every party that signed the registration
}

// VerdictRecord is a logged verdict.
type VerdictRecord struct {
	Verdict
	Index int64  `json:"index"`
	Party string `json:"party"`
}

func findingKey(id string) string    { return "f/" + id }
func hypothesisKey(id string) string { return "y/" + id }
func policyKey(name string) string   { return "o/" + name }
func verdictKey(hyp string, i int64) string {
	return fmt.Sprintf("v/%s/%016d", hyp, i)
}

// attributionRoles are the roles that may state findings, reproductions,
// hypotheses and verdicts.
var attributionRoles = []string{RoleAnalyst, RoleFacilitator}

// sha256Hex is the lowercase hex SHA-256 of s.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// AttributionSubject is the subject of an attribution statement: kind
// "finding", "hypothesis", "policy" or "verdict", the object's id, and the
// text whose SHA-256 is its digest (see the top of this file).
func AttributionSubject(kind, id, text string) Subject {
	return Subject{Name: kind + ":" + id, Digest: map[string]string{identityAlgorithm: sha256Hex(text)}}
}

// objectSubject checks the subject of an attribution statement.
func (a *applier) objectSubject(kind, id, text string) error {
	want := AttributionSubject(kind, id, text)
	sub := a.stmt.Subject[0]
	if sub.Name != want.Name || len(sub.Digest) != 1 || sub.Digest[identityAlgorithm] != want.Digest[identityAlgorithm] {
		return a.refuse("bad-predicate", nil, a.actor().name,
			"the subject of a %s is named %q with digest {\"sha256\": the SHA-256 of its %s}", kind, want.Name, subjectText[kind])
	}
	return nil
}

var subjectText = map[string]string{"finding": "claim", "hypothesis": "statement", "policy": "document", "verdict": "result"}

// needRole refuses an actor with none of roles.
func (a *applier) needRole(what string, roles ...string) error {
	actor := a.actor()
	if slices.ContainsFunc(roles, actor.party.HasRole) {
		return nil
	}
	return a.refuse("role", nil, actor.name, "%s (roles %s) cannot state a %s: it needs one of %s",
		actor.name, strings.Join(actor.party.Roles, ", "), what, strings.Join(roles, ", "))
}

func (a *applier) finding(id string) (*FindingRecord, error) {
	var f FindingRecord
	if ok, err := a.tx.get(findingKey(id), &f); !ok || err != nil {
		return nil, err
	}
	return &f, nil
}

// findingRefs checks that every id of field names a finding in the state,
// once, and not self.
func (a *applier) findingRefs(field, self string, ids []string) error {
	for i, id := range ids {
		if id == self || slices.Contains(ids[:i], id) {
			return a.refuse("bad-predicate", nil, a.actor().name, "%s names finding %s twice, or itself", field, quoteShort(id))
		}
		f, err := a.finding(id)
		if err != nil {
			return err
		}
		if f == nil {
			return a.refuse("unknown-finding", nil, a.actor().name, "%s names finding %s, which is not in the ledger", field, quoteShort(id))
		}
	}
	return nil
}

// exhibitRefs checks that every id names a registered exhibit, once.
func (a *applier) exhibitRefs(field string, ids []string) error {
	for i, id := range ids {
		if err := a.checkExhibitID(field, id); err != nil {
			return err
		}
		if slices.Contains(ids[:i], id) {
			return a.refuse("bad-predicate", nil, a.actor().name, "%s names exhibit %s twice", field, id)
		}
		x, err := a.tx.exhibit(id)
		if err != nil {
			return err
		}
		if x == nil {
			return a.refuse("unknown-exhibit", nil, a.actor().name, "%s names exhibit %s, which is not registered", field, id)
		}
	}
	return nil
}

// attributionStep puts a history step of this entry on each exhibit.
func (a *applier) attributionStep(event string, exhibits []string, detail map[string]string) {
	for _, id := range exhibits {
		st := a.step(event)
		st.Detail = detail
		a.putStep(id, st)
	}
}

func (a *applier) applyFinding() (*Event, error) {
	var p Finding
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	actor := a.actor().name
	if err := a.needRole("finding", RoleAnalyst); err != nil {
		return nil, err
	}
	if err := a.checkExhibitID("finding id", p.ID); err != nil {
		return nil, err
	}
	if err := a.objectSubject("finding", p.ID, p.Claim); err != nil {
		return nil, err
	}
	if err := attribution.ValidCategory(p.Category); err != nil {
		return nil, a.refuseErr("bad-predicate", actor, err, "finding %s: %v", p.ID, err)
	}
	if err := attribution.ValidGrade(p.SourceReliability, p.Credibility); err != nil {
		return nil, a.refuseErr("bad-predicate", actor, err, "finding %s: %v", p.ID, err)
	}
	if p.Confidence < 0 || p.Confidence > 100 {
		return nil, a.refuse("bad-predicate", nil, actor, "finding %s: confidence %d is not within 0-100", p.ID, p.Confidence)
	}
	if old, err := a.finding(p.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, a.refuse("finding-exists", nil, actor, "finding %s is already in the ledger (leaf %d, by %s)", p.ID, old.Index, old.Party)
	}
	if err := a.exhibitRefs("inputs", p.Inputs); err != nil {
		return nil, err
	}
	if err := a.findingRefs("lineage", p.ID, p.Lineage); err != nil {
		return nil, err
	}
	if err := a.findingRefs("rebuts", p.ID, p.Rebuts); err != nil {
		return nil, err
	}
	a.tx.put(findingKey(p.ID), &FindingRecord{Finding: p, Index: a.e.Index, LeafHash: a.ref.LeafHash, Party: actor})
	a.attributionStep(EventFinding, p.Inputs, details("finding", p.ID, "category", p.Category, "method", p.Method,
		"grade", fmt.Sprintf("%s%d", p.SourceReliability, p.Credibility), "confidence", fmt.Sprint(p.Confidence), "claim", p.Claim))
	return &Event{Kind: EventFinding, Party: actor, Exhibits: p.Inputs}, nil
}

func (a *applier) applyReproduction() (*Event, error) {
	var p Reproduction
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	actor := a.actor().name
	if err := a.needRole("reproduction", RoleAnalyst); err != nil {
		return nil, err
	}
	if p.Result != ResultConfirmed && p.Result != ResultRefuted {
		return nil, a.refuse("bad-predicate", nil, actor, "reproduction result %s: want %s or %s", quoteShort(p.Result), ResultConfirmed, ResultRefuted)
	}
	f, err := a.finding(p.Finding)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, a.refuse("unknown-finding", nil, actor, "reproduction of finding %s, which is not in the ledger", quoteShort(p.Finding))
	}
	if err := a.objectSubject("finding", p.Finding, f.Claim); err != nil {
		return nil, err
	}
	if f.Party == actor {
		return nil, a.refuse("self-reproduction", nil, actor, "%s stated finding %s (leaf %d): a reproduction is by another party", actor, f.ID, f.Index)
	}
	if err := a.exhibitRefs("inputs", p.Inputs); err != nil {
		return nil, err
	}
	f.Reproductions = append(f.Reproductions, ReproductionRecord{Index: a.e.Index, Party: actor, Result: p.Result, Inputs: p.Inputs})
	a.tx.put(findingKey(f.ID), f)
	inputs := p.Inputs
	if len(inputs) == 0 {
		inputs = f.Inputs
	}
	a.attributionStep(EventReproduction, inputs, details("finding", f.ID, "result", p.Result))
	return &Event{Kind: EventReproduction, Party: actor, Exhibits: inputs}, nil
}

func (a *applier) applyHypothesis() (*Event, error) {
	var p Hypothesis
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	actor := a.actor().name
	if err := a.needRole("hypothesis", attributionRoles...); err != nil {
		return nil, err
	}
	if err := a.checkExhibitID("hypothesis id", p.ID); err != nil {
		return nil, err
	}
	if err := a.objectSubject("hypothesis", p.ID, p.Statement); err != nil {
		return nil, err
	}
	if err := attribution.ValidLikelihood(p.Likelihood); err != nil {
		return nil, a.refuseErr("bad-predicate", actor, err, "hypothesis %s: %v", p.ID, err)
	}
	var old HypothesisRecord
	if ok, err := a.tx.get(hypothesisKey(p.ID), &old); err != nil {
		return nil, err
	} else if ok {
		return nil, a.refuse("hypothesis-exists", nil, actor, "hypothesis %s is already in the ledger (leaf %d, by %s)", p.ID, old.Index, old.Party)
	}
	if err := a.findingRefs("supports", "", p.Supports); err != nil {
		return nil, err
	}
	if err := a.findingRefs("contradicts", "", p.Contradicts); err != nil {
		return nil, err
	}
	for _, id := range p.Contradicts {
		if slices.Contains(p.Supports, id) {
			return nil, a.refuse("bad-predicate", nil, actor, "hypothesis %s: finding %s both supports and contradicts it", p.ID, id)
		}
	}
	a.tx.put(hypothesisKey(p.ID), &HypothesisRecord{Hypothesis: p, Index: a.e.Index, Party: actor})
	return &Event{Kind: EventHypothesis, Party: actor}, nil
}

func (a *applier) applyPolicy() (*Event, error) {
	var p PolicyRegistration
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	actor := a.actor().name
	if err := a.needRole("policy", RoleFacilitator); err != nil {
		return nil, err
	}
	pol, err := attribution.ParsePolicy([]byte(p.Policy))
	if err != nil {
		return nil, a.refuseErr("bad-predicate", actor, err, "policy %s: %v", quoteShort(p.Name), err)
	}
	if pol.Name != p.Name {
		return nil, a.refuse("bad-predicate", nil, actor, "the registration names policy %s, the document %s", quoteShort(p.Name), quoteShort(pol.Name))
	}
	if d := attribution.PolicyDigest([]byte(p.Policy)); d != p.Digest {
		return nil, a.refuse("bad-predicate", nil, actor, "policy %s: digest %s, but the document's is %s", p.Name, quoteShort(p.Digest), d)
	}
	if err := a.objectSubject("policy", p.Name, p.Policy); err != nil {
		return nil, err
	}
	var old PolicyRecord
	if ok, err := a.tx.get(policyKey(p.Name), &old); err != nil {
		return nil, err
	} else if ok {
		return nil, a.refuse("policy-exists", nil, actor, "policy %s is already registered (leaf %d); register a changed policy under a new name", p.Name, old.Index)
	}
	rec := &PolicyRecord{Name: p.Name, Digest: p.Digest, Policy: p.Policy, Index: a.e.Index, Party: actor}
	for _, s := range a.signers {
		if !slices.Contains(rec.Signed, s.name) {
			rec.Signed = append(rec.Signed, s.name)
		}
	}
	a.tx.put(policyKey(p.Name), rec)
	return &Event{Kind: EventPolicy, Party: actor}, nil
}

func (a *applier) applyVerdict() (*Event, error) {
	var p Verdict
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	actor := a.actor().name
	if err := a.needRole("verdict", append(attributionRoles, RoleTribunal)...); err != nil {
		return nil, err
	}
	if err := a.objectSubject("verdict", p.Hypothesis, string(p.Result)); err != nil {
		return nil, err
	}
	var h HypothesisRecord
	if ok, err := a.tx.get(hypothesisKey(p.Hypothesis), &h); err != nil {
		return nil, err
	} else if !ok {
		return nil, a.refuse("unknown-hypothesis", nil, actor, "verdict on hypothesis %s, which is not in the ledger", quoteShort(p.Hypothesis))
	}
	var pol PolicyRecord
	if ok, err := a.tx.get(policyKey(p.Policy), &pol); err != nil {
		return nil, err
	} else if !ok {
		return nil, a.refuse("unknown-policy", nil, actor, "verdict under policy %s, which is not registered before it (leaf %d)", quoteShort(p.Policy), a.e.Index)
	}
	if pol.Digest != p.PolicyDigest {
		return nil, a.refuse("bad-predicate", nil, actor, "verdict names policy %s with digest %s, but the registered one (leaf %d) is %s", p.Policy, quoteShort(p.PolicyDigest), pol.Index, pol.Digest)
	}
	r, err := attribution.ParseVerdict(p.Result)
	if err != nil {
		return nil, a.refuseErr("bad-predicate", actor, err, "verdict result: %v", err)
	}
	if !bytes.Equal(r.Marshal(), p.Result) {
		return nil, a.refuse("bad-predicate", nil, actor, "verdict result is not in the evaluator's canonical encoding")
	}
	switch {
	case r.Hypothesis.ID != p.Hypothesis, r.Hypothesis.Index != h.Index, r.Policy.Name != p.Policy, r.Policy.Digest != p.PolicyDigest, r.Reached != p.Level:
		return nil, a.refuse("bad-predicate", nil, actor, "verdict result (hypothesis %s at leaf %d, policy %s %s, level %q) differs from the predicate (hypothesis %s at leaf %d, policy %s %s, level %q)",
			r.Hypothesis.ID, r.Hypothesis.Index, r.Policy.Name, r.Policy.Digest, r.Reached, p.Hypothesis, h.Index, p.Policy, p.PolicyDigest, p.Level)
	case r.Policy.Index != pol.Index:
		return nil, a.refuse("bad-predicate", nil, actor, "verdict result names policy leaf %d, but policy %s is leaf %d", r.Policy.Index, p.Policy, pol.Index)
	case r.Checkpoint.Size > a.e.Index:
		return nil, a.refuse("bad-predicate", nil, actor, "verdict at leaf %d is evaluated at a checkpoint of size %d, which does not exist yet", a.e.Index, r.Checkpoint.Size)
	case r.Checkpoint.Size <= pol.Index:
		return nil, a.refuse("bad-predicate", nil, actor, "verdict is evaluated at a checkpoint of size %d, which does not cover policy %s (leaf %d)", r.Checkpoint.Size, p.Policy, pol.Index)
	}
	a.tx.put(verdictKey(p.Hypothesis, a.e.Index), &VerdictRecord{Verdict: p, Index: a.e.Index, Party: actor})
	return &Event{Kind: EventVerdict, Party: actor}, nil
}

// Findings returns every finding, by id.
func Findings(v ScanView) ([]FindingRecord, error) {
	return scanRecords[FindingRecord](v, "f/")
}

// Hypotheses returns every hypothesis, by id.
func Hypotheses(v ScanView) ([]HypothesisRecord, error) {
	return scanRecords[HypothesisRecord](v, "y/")
}

// Policies returns every registered policy, by name.
func Policies(v ScanView) ([]PolicyRecord, error) {
	return scanRecords[PolicyRecord](v, "o/")
}

// Policy returns the registered policy of that name, or nil.
func Policy(v View, name string) (*PolicyRecord, error) {
	var p PolicyRecord
	if ok, err := (&tx{v: v}).get(policyKey(name), &p); !ok || err != nil {
		return nil, err
	}
	return &p, nil
}

// HypothesisByID returns the hypothesis of that id, or nil.
func HypothesisByID(v View, id string) (*HypothesisRecord, error) {
	var h HypothesisRecord
	if ok, err := (&tx{v: v}).get(hypothesisKey(id), &h); !ok || err != nil {
		return nil, err
	}
	return &h, nil
}

// Verdicts returns every verdict, by hypothesis then index.
func Verdicts(v ScanView) ([]VerdictRecord, error) {
	return scanRecords[VerdictRecord](v, "v/")
}

func scanRecords[T any](v ScanView, prefix string) ([]T, error) {
	var out []T
	err := v.Scan(prefix, func(key string, value []byte) error {
		var r T
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("custody: record %s does not decode: %w", key, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}
