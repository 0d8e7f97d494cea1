package attribution

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// EvaluatorVersion names this evaluator in every verdict. It changes whenever
// the same policy and graph could give a different verdict, so that a verdict
// is always re-evaluated by the version that issued it.
const EvaluatorVersion = "custos-attribution/1"

// Categories is the fixed vocabulary of finding categories (mission anchors
// §4.2): infrastructure (servers, domains, addresses and their origin),
// malware (code, builds, tooling), ttp (tactics, techniques and procedures),
// victimology (who was targeted and how), contextual (geopolitical and
// strategic context), humint (a human-intelligence summary) and techint (a
// technical-intelligence summary, such as signals). Policies and findings may
// name no other.
var Categories = []string{"infrastructure", "malware", "ttp", "victimology", "contextual", "humint", "techint"}

// LikelihoodBands are the seven ICD 203 likelihood terms, lowest first. A
// hypothesis asserts one; a policy level caps the one it may assert.
var LikelihoodBands = []string{"almost no chance", "very unlikely", "unlikely", "roughly even chance", "likely", "very likely", "almost certain"}

// SourceReliabilities are the Admiralty (NATO AJP-2.1) source reliability
// grades, best first: A completely reliable, B usually reliable, C fairly
// reliable, D not usually reliable, E unreliable, F reliability cannot be
// judged. F ranks last: a source that cannot be judged satisfies no floor
// stricter than F.
var SourceReliabilities = []string{"A", "B", "C", "D", "E", "F"}

// Information credibility grades run from 1 (confirmed by other sources) to
// 6 (truth cannot be judged), best first, and are graded independently of
// the source's reliability.
const (
	BestCredibility  = 1
	WorstCredibility = 6
)

// Reproduction results.
const (
	ResultConfirmed = "confirmed"
	ResultRefuted   = "refuted"
)

// The messages of the Valid functions end up in verdicts ("malformed: …"),
// so they quote values with plain quotation marks, never %q: what %q escapes
// depends on the Unicode tables of the Go release, and a verdict must be
// byte-identical whichever release re-evaluates it.

var (
	policyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	methodRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)
)

// ValidGrade reports whether source is an Admiralty source reliability
// grade (A–F) and credibility an information credibility grade (1–6).
func ValidGrade(source string, credibility int) error {
	if !slices.Contains(SourceReliabilities, source) {
		return fmt.Errorf(`source reliability "%s" is not one of A–F`, source)
	}
	if credibility < BestCredibility || credibility > WorstCredibility {
		return fmt.Errorf("information credibility %d is not in 1–6", credibility)
	}
	return nil
}

// ValidCategory reports whether c is one of Categories.
func ValidCategory(c string) error {
	if !slices.Contains(Categories, c) {
		return fmt.Errorf(`category "%s" is not one of %s`, c, strings.Join(Categories, ", "))
	}
	return nil
}

// ValidLikelihood reports whether band is one of the ICD 203 LikelihoodBands.
func ValidLikelihood(band string) error {
	if !slices.Contains(LikelihoodBands, band) {
		return fmt.Errorf(`likelihood "%s" is not an ICD 203 band (%s)`, band, strings.Join(LikelihoodBands, ", "))
	}
	return nil
}

// ValidConfidence reports whether c is an analyst confidence, 0–100 as in
// UCO's ConfidenceFacet.
func ValidConfidence(c int) error {
	if c < 0 || c > 100 {
		return fmt.Errorf("confidence %d is not in 0–100", c)
	}
	return nil
}

// ValidMethod reports whether id can name a method: a SOLVE-IT technique
// ("SOLVE-IT:DFT-1002") or a lab SOP id, 1–128 characters of letters,
// digits and . _ : / -, starting with a letter or digit.
func ValidMethod(id string) error {
	if !methodRE.MatchString(id) {
		return fmt.Errorf(`method id "%s" is not 1–128 of [A-Za-z0-9._:/-] starting with a letter or digit`, id)
	}
	return nil
}

// ValidResult reports whether r is a reproduction result: ResultConfirmed
// or ResultRefuted.
func ValidResult(r string) error {
	if r != ResultConfirmed && r != ResultRefuted {
		return fmt.Errorf(`reproduction result "%s" is not "%s" or "%s"`, r, ResultConfirmed, ResultRefuted)
	}
	return nil
}

// ValidPolicyName reports whether name can name a policy:
// [a-z0-9][a-z0-9._-]{0,63}.
func ValidPolicyName(name string) error {
	if !policyNameRE.MatchString(name) {
		return fmt.Errorf(`policy name "%s" does not match [a-z0-9][a-z0-9._-]{0,63}`, name)
	}
	return nil
}

// reliabilityRank is 0 for A … 5 for F, or -1 if s is no grade.
func reliabilityRank(s string) int { return slices.Index(SourceReliabilities, s) }

// bandRank is 0 for "almost no chance" … 6 for "almost certain", or -1.
func bandRank(b string) int { return slices.Index(LikelihoodBands, b) }

// atOrAbove reports whether the grade (source, credibility) is at or better
// than the grade (minSource, minCredibility) on both scales; the two are
// compared separately, never combined.
func atOrAbove(source string, credibility int, minSource string, minCredibility int) bool {
	r := reliabilityRank(source)
	return r >= 0 && r <= reliabilityRank(minSource) &&
		credibility >= BestCredibility && credibility <= minCredibility
}
