package attribution

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"unicode/utf8"
)

// MaxPolicySize is the largest policy document ParsePolicy accepts, in
// bytes. It is checked before any parsing.
const MaxPolicySize = 64 << 10

// PolicyVersion is the only value of a policy's custos_policy field.
const PolicyVersion = 1

// Limits on a policy's lists and counts, so that an evaluation stays small.
const (
	maxLevels  = 16
	maxMethods = 1024
	maxCount   = 10000
)

// A Policy is an attribution-threshold policy (docs/attribution-policy.md):
// the rules under which a hypothesis reaches each of a ladder of named
// levels. Its JSON field names are those of the policy document; ParsePolicy
// is the only way to obtain a valid one.
type Policy struct {
	// Version is custos_policy, always PolicyVersion.
	Version int `json:"custos_policy"`
	// Name identifies the policy in verdicts: [a-z0-9][a-z0-9._-]{0,63}.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Methods is the method registry: the method ids a finding may cite
	// when a level gates on integrity.method_registered.
	Methods []string `json:"methods"`
	// BaselineMaxLikelihood is the highest ICD 203 band a hypothesis may
	// assert when it reaches no level. It is no higher than the lowest
	// level's MaxLikelihood.
	BaselineMaxLikelihood string `json:"baseline_max_likelihood"`
	// Levels are ordered lowest to highest; each is at least as strict as
	// the one before it in every rule.
	Levels []Level `json:"levels"`
}

// A Level is one rung of the ladder: a name, the highest likelihood band a
// claim at this level may assert, and the four rule families. A hypothesis
// reaches the level when every rule passes.
type Level struct {
	Name           string         `json:"name"`
	MaxLikelihood  string         `json:"max_likelihood"`
	Integrity      Integrity      `json:"integrity"`
	Quality        Quality        `json:"quality"`
	Corroboration  Corroboration  `json:"corroboration"`
	Contradictions Contradictions `json:"contradictions"`
}

// Integrity holds the integrity gates. Each is stated explicitly; a gate set
// to false is not applied. Witnessed fails the level when the checkpoint
// lacks the witness quorum; the others exclude the findings that fail them.
type Integrity struct {
	// CustodyUnbroken excludes a finding whose input exhibit is unknown or
	// has a broken custody chain.
	CustodyUnbroken bool `json:"custody_unbroken"`
	// Witnessed requires the checkpoint to carry the trust policy's witness
	// quorum; without it no finding is counted and the level fails.
	Witnessed bool `json:"witnessed"`
	// KeysValid excludes a finding whose signing key was not valid at its
	// leaf index.
	KeysValid bool `json:"keys_valid"`
	// MethodRegistered excludes a finding whose method is not in the
	// policy's Methods.
	MethodRegistered bool `json:"method_registered"`
}

// Quality is the floor a finding must reach to be counted: its Admiralty
// source reliability at or better than SourceReliability, its information
// credibility at or better than Credibility (graded separately), and its
// analyst confidence at least MinConfidence.
type Quality struct {
	SourceReliability string `json:"source_reliability"`
	Credibility       int    `json:"credibility"`
	MinConfidence     int    `json:"min_confidence"`
}

// Corroboration counts independent lines of evidence: counted supporting
// findings after collapsing those that share lineage or originating
// organisation.
type Corroboration struct {
	// MinLines is the number of independent lines needed, at least 1.
	MinLines int `json:"min_lines"`
	// MinCategories is the number of distinct categories needed, each
	// from a different line.
	MinCategories int `json:"min_categories,omitempty"`
	// MinReproducedLines is the number of lines that must each have been
	// confirmed by MinReproducingOrgs organisations outside the line.
	MinReproducedLines int `json:"min_reproduced_lines,omitempty"`
	// MinReproducingOrgs is set (≥ 1) exactly when MinReproducedLines is.
	MinReproducingOrgs int `json:"min_reproducing_orgs,omitempty"`
	// NotSolely lists categories that cannot carry the level alone: some
	// line must hold a finding of another category (UN GGE A/70/174
	// para. 28(f) for infrastructure).
	NotSolely []string `json:"not_solely,omitempty"`
}

// Contradictions sets the grade at or above which a contradicting finding
// blocks the level unless a finding that passes the level's gates and
// quality floor rebuts it.
type Contradictions struct {
	SourceReliability string `json:"source_reliability"`
	Credibility       int    `json:"credibility"`
}

// ParseError is the one error ParsePolicy and ParseVerdict return for
// malformed input. Field is the path of the offending field
// ("levels[1].quality.credibility"), or "" when the document as a whole is at
// fault (too large, not YAML, trailing data). Msg says what is wrong.
type ParseError struct {
	Field string
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return "attribution: " + e.Msg
	}
	return "attribution: " + e.Field + ": " + e.Msg
}

// PolicyDigest returns the digest by which verdicts name a policy: "sha256:"
// and the lowercase hex SHA-256 of the exact registered bytes, so that two
// spellings of the same policy are two policies.
func PolicyDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParsePolicy parses and validates a policy written in YAML or JSON. The
// document is closed (an unknown field is an error naming it), typed, and
// validated as docs/attribution-policy.md §2 specifies. Every error is a
// *ParseError; b longer than MaxPolicySize is refused before parsing.
func ParsePolicy(b []byte) (*Policy, error) {
	if len(b) > MaxPolicySize {
		return nil, &ParseError{Msg: fmt.Sprintf("policy is %d bytes, over the limit of %d", len(b), MaxPolicySize)}
	}
	if !utf8.Valid(b) {
		return nil, &ParseError{Msg: "policy is not valid UTF-8"}
	}
	j, err := toJSON(b)
	if err != nil {
		return nil, err
	}
	tree, err := decodeTree(j)
	if err != nil {
		return nil, err
	}
	if err := checkShape(tree, reflect.TypeFor[Policy](), ""); err != nil {
		return nil, err
	}
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ParseError{Msg: "trailing data after the policy document"}
	}
	// "not_solely: []" and no not_solely mean the same; keep one form, so
	// that a parsed policy encodes and parses back to itself.
	for i := range p.Levels {
		if len(p.Levels[i].Corroboration.NotSolely) == 0 {
			p.Levels[i].Corroboration.NotSolely = nil
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks every rule of docs/attribution-policy.md §2 that
// the shape of the document does not already enforce, and returns the first
// violation as a *ParseError. ParsePolicy calls it; it is exported so that a
// Policy built in Go can be checked the same way.
func (p *Policy) Validate() error {
	if p.Version != PolicyVersion {
		return &ParseError{Field: "custos_policy", Msg: fmt.Sprintf("version %d is not supported (want %d)", p.Version, PolicyVersion)}
	}
	if err := ValidPolicyName(p.Name); err != nil {
		return &ParseError{Field: "name", Msg: err.Error()}
	}
	if len(p.Description) > 4096 {
		return &ParseError{Field: "description", Msg: fmt.Sprintf("%d bytes, over the limit of 4096", len(p.Description))}
	}
	if len(p.Methods) > maxMethods {
		return &ParseError{Field: "methods", Msg: fmt.Sprintf("%d methods, over the limit of %d", len(p.Methods), maxMethods)}
	}
	for i, m := range p.Methods {
		f := fmt.Sprintf("methods[%d]", i)
		if err := ValidMethod(m); err != nil {
			return &ParseError{Field: f, Msg: err.Error()}
		}
		if j := slices.Index(p.Methods, m); j < i {
			return &ParseError{Field: f, Msg: fmt.Sprintf("duplicate method %q (also methods[%d])", m, j)}
		}
	}
	if err := ValidLikelihood(p.BaselineMaxLikelihood); err != nil {
		return &ParseError{Field: "baseline_max_likelihood", Msg: err.Error()}
	}
	if len(p.Levels) == 0 {
		return &ParseError{Field: "levels", Msg: "a policy needs at least one level"}
	}
	if len(p.Levels) > maxLevels {
		return &ParseError{Field: "levels", Msg: fmt.Sprintf("%d levels, over the limit of %d", len(p.Levels), maxLevels)}
	}
	for i := range p.Levels {
		if err := p.validateLevel(i); err != nil {
			return err
		}
	}
	if bandRank(p.BaselineMaxLikelihood) > bandRank(p.Levels[0].MaxLikelihood) {
		return &ParseError{Field: "baseline_max_likelihood", Msg: fmt.Sprintf("%q is above %q, the max_likelihood of the lowest level", p.BaselineMaxLikelihood, p.Levels[0].MaxLikelihood)}
	}
	return nil
}

func (p *Policy) validateLevel(i int) error {
	l := &p.Levels[i]
	at := func(field string) string { return fmt.Sprintf("levels[%d].%s", i, field) }
	bad := func(field, format string, args ...any) error {
		return &ParseError{Field: at(field), Msg: fmt.Sprintf(format, args...)}
	}

	if err := validLevelName(l.Name); err != nil {
		return bad("name", "%v", err)
	}
	for j := range i {
		if p.Levels[j].Name == l.Name {
			return bad("name", "duplicate level name %q (also levels[%d])", l.Name, j)
		}
	}
	if err := ValidLikelihood(l.MaxLikelihood); err != nil {
		return bad("max_likelihood", "%v", err)
	}
	if l.Integrity.MethodRegistered && len(p.Methods) == 0 {
		return bad("integrity.method_registered", "the policy's methods registry is empty, so no finding could pass")
	}
	q := l.Quality
	if reliabilityRank(q.SourceReliability) < 0 {
		return bad("quality.source_reliability", "%q is not one of A–F", q.SourceReliability)
	}
	if q.Credibility < BestCredibility || q.Credibility > WorstCredibility {
		return bad("quality.credibility", "%d is not in 1–6", q.Credibility)
	}
	if err := ValidConfidence(q.MinConfidence); err != nil {
		return bad("quality.min_confidence", "%v", err)
	}
	c := l.Corroboration
	if c.MinLines < 1 || c.MinLines > maxCount {
		return bad("corroboration.min_lines", "%d is not in 1–%d", c.MinLines, maxCount)
	}
	if c.MinCategories < 0 || c.MinCategories > len(Categories) {
		return bad("corroboration.min_categories", "%d is not in 0–%d (the number of categories)", c.MinCategories, len(Categories))
	}
	if c.MinReproducedLines < 0 || c.MinReproducedLines > maxCount {
		return bad("corroboration.min_reproduced_lines", "%d is not in 0–%d", c.MinReproducedLines, maxCount)
	}
	switch {
	case c.MinReproducingOrgs < 0 || c.MinReproducingOrgs > maxCount:
		return bad("corroboration.min_reproducing_orgs", "%d is not in 0–%d", c.MinReproducingOrgs, maxCount)
	case c.MinReproducedLines > 0 && c.MinReproducingOrgs == 0:
		return bad("corroboration.min_reproducing_orgs", "required (at least 1) when min_reproduced_lines is set")
	case c.MinReproducedLines == 0 && c.MinReproducingOrgs > 0:
		return bad("corroboration.min_reproducing_orgs", "has no effect without min_reproduced_lines")
	}
	for k, cat := range c.NotSolely {
		f := fmt.Sprintf("corroboration.not_solely[%d]", k)
		if err := ValidCategory(cat); err != nil {
			return bad(f, "%v", err)
		}
		if j := slices.Index(c.NotSolely, cat); j < k {
			return bad(f, "duplicate category %q", cat)
		}
	}
	if len(c.NotSolely) == len(Categories) {
		return bad("corroboration.not_solely", "lists every category, so no evidence could pass")
	}
	k := l.Contradictions
	if reliabilityRank(k.SourceReliability) < 0 {
		return bad("contradictions.source_reliability", "%q is not one of A–F", k.SourceReliability)
	}
	if k.Credibility < BestCredibility || k.Credibility > WorstCredibility {
		return bad("contradictions.credibility", "%d is not in 1–6", k.Credibility)
	}
	if i > 0 {
		return p.validateLadder(i)
	}
	return nil
}

// validateLadder checks that level i is at least as strict as level i-1 in
// every rule. Then a hypothesis that reaches a level also reaches every level
// below it, and "the highest level whose rules all pass" is also the top of
// an unbroken ladder.
func (p *Policy) validateLadder(i int) error {
	lo, hi := &p.Levels[i-1], &p.Levels[i]
	weaker := func(field string, got, was any) error {
		return &ParseError{
			Field: fmt.Sprintf("levels[%d].%s", i, field),
			Msg:   fmt.Sprintf("%v is more lenient than %v at levels[%d] (%q): a higher level must be at least as strict", got, was, i-1, lo.Name),
		}
	}
	gates := []struct {
		field  string
		lo, hi bool
	}{
		{"integrity.custody_unbroken", lo.Integrity.CustodyUnbroken, hi.Integrity.CustodyUnbroken},
		{"integrity.witnessed", lo.Integrity.Witnessed, hi.Integrity.Witnessed},
		{"integrity.keys_valid", lo.Integrity.KeysValid, hi.Integrity.KeysValid},
		{"integrity.method_registered", lo.Integrity.MethodRegistered, hi.Integrity.MethodRegistered},
	}
	for _, g := range gates {
		if g.lo && !g.hi {
			return weaker(g.field, false, true)
		}
	}
	switch {
	case bandRank(hi.MaxLikelihood) < bandRank(lo.MaxLikelihood):
		return &ParseError{
			Field: fmt.Sprintf("levels[%d].max_likelihood", i),
			Msg:   fmt.Sprintf("%q is below %q at levels[%d] (%q): levels are ordered lowest to highest", hi.MaxLikelihood, lo.MaxLikelihood, i-1, lo.Name),
		}
	case reliabilityRank(hi.Quality.SourceReliability) > reliabilityRank(lo.Quality.SourceReliability):
		return weaker("quality.source_reliability", hi.Quality.SourceReliability, lo.Quality.SourceReliability)
	case hi.Quality.Credibility > lo.Quality.Credibility:
		return weaker("quality.credibility", hi.Quality.Credibility, lo.Quality.Credibility)
	case hi.Quality.MinConfidence < lo.Quality.MinConfidence:
		return weaker("quality.min_confidence", hi.Quality.MinConfidence, lo.Quality.MinConfidence)
	case hi.Corroboration.MinLines < lo.Corroboration.MinLines:
		return weaker("corroboration.min_lines", hi.Corroboration.MinLines, lo.Corroboration.MinLines)
	case hi.Corroboration.MinCategories < lo.Corroboration.MinCategories:
		return weaker("corroboration.min_categories", hi.Corroboration.MinCategories, lo.Corroboration.MinCategories)
	case hi.Corroboration.MinReproducedLines < lo.Corroboration.MinReproducedLines:
		return weaker("corroboration.min_reproduced_lines", hi.Corroboration.MinReproducedLines, lo.Corroboration.MinReproducedLines)
	case hi.Corroboration.MinReproducingOrgs < lo.Corroboration.MinReproducingOrgs:
		return weaker("corroboration.min_reproducing_orgs", hi.Corroboration.MinReproducingOrgs, lo.Corroboration.MinReproducingOrgs)
	// A contradiction graded lower (a later letter, a higher number) is a
	// weaker one; a stricter level is blocked by weaker contradictions.
	case reliabilityRank(hi.Contradictions.SourceReliability) < reliabilityRank(lo.Contradictions.SourceReliability):
		return weaker("contradictions.source_reliability", hi.Contradictions.SourceReliability, lo.Contradictions.SourceReliability)
	case hi.Contradictions.Credibility < lo.Contradictions.Credibility:
		return weaker("contradictions.credibility", hi.Contradictions.Credibility, lo.Contradictions.Credibility)
	}
	for _, cat := range lo.Corroboration.NotSolely {
		if !slices.Contains(hi.Corroboration.NotSolely, cat) {
			return &ParseError{
				Field: fmt.Sprintf("levels[%d].corroboration.not_solely", i),
				Msg:   fmt.Sprintf("lacks %q, which levels[%d] (%q) lists: a higher level must be at least as strict", cat, i-1, lo.Name),
			}
		}
	}
	return nil
}

// validLevelName accepts 1–64 bytes of UTF-8 without control characters
// (C0, DEL, C1) and without leading or trailing space: level names are legal
// standards ("reasonable grounds"). The rule uses fixed code point ranges,
// not Unicode tables, so that no Go release accepts a policy another refuses.
func validLevelName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("level name must be 1–64 bytes")
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return fmt.Errorf("level name %q has leading or trailing space", name)
	}
	for _, r := range name {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError {
			return fmt.Errorf("level name %q has a control character or invalid UTF-8", name)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
