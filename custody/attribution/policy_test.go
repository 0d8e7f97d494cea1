package attribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestExamplePoliciesParse(t *testing.T) {
	want := map[string]struct {
		name   string
		levels []string
	}{
		"reasonable-basis":     {"un-gge-l1", []string{"reasonable basis"}},
		"reasonable-grounds":   {"un-gge-l2", []string{"reasonable basis", "reasonable grounds"}},
		"clear-and-convincing": {"un-gge-l3", []string{"reasonable basis", "reasonable grounds", "clear and convincing"}},
	}
	for _, n := range exampleNames {
		t.Run(n, func(t *testing.T) {
			p, err := ParsePolicy(examplePolicy(t, n))
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			var levels []string
			for _, l := range p.Levels {
				levels = append(levels, l.Name)
			}
			if p.Name != want[n].name || !reflect.DeepEqual(levels, want[n].levels) {
				t.Errorf("name, levels = %q, %q, want %q, %q", p.Name, levels, want[n].name, want[n].levels)
			}
		})
	}
}

// TestYAMLAndJSONAgree parses each example policy, its JSON conversion and
// the JSON encoding of the parsed Policy, and requires one Policy.
func TestYAMLAndJSONAgree(t *testing.T) {
	for _, n := range exampleNames {
		t.Run(n, func(t *testing.T) {
			y := examplePolicy(t, n)
			fromYAML, err := ParsePolicy(y)
			if err != nil {
				t.Fatal(err)
			}
			j, err := yaml.YAMLToJSON(y)
			if err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, j, "", "  "); err != nil {
				t.Fatal(err)
			}
			fromJSON, err := ParsePolicy(indented.Bytes())
			if err != nil {
				t.Fatalf("ParsePolicy(JSON) = %v", err)
			}
			if !reflect.DeepEqual(fromYAML, fromJSON) {
				t.Errorf("ParsePolicy(JSON) = %+v, want %+v", fromJSON, fromYAML)
			}
			again, err := ParsePolicy(encodePolicy(t, *fromYAML))
			if err != nil || !reflect.DeepEqual(again, fromYAML) {
				t.Errorf("ParsePolicy(json.Marshal(p)) = %+v, %v, want %+v", again, err, fromYAML)
			}
			if PolicyDigest(y) == PolicyDigest(indented.Bytes()) {
				t.Errorf("two spellings of a policy have one digest")
			}
		})
	}
}

func TestPolicyDigest(t *testing.T) {
	// sha256 of the empty string.
	if got, want := PolicyDigest(nil), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("PolicyDigest(nil) = %s, want %s", got, want)
	}
}

func TestPolicyTooLarge(t *testing.T) {
	// Not YAML at all: a size check that ran after parsing would report a
	// syntax error instead.
	b := bytes.Repeat([]byte("\t{[:"), MaxPolicySize/4+1)
	_, err := ParsePolicy(b)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Field != "" || !strings.Contains(pe.Msg, "over the limit of 65536") {
		t.Errorf("ParsePolicy(%d bytes) = %v, want the size refused", len(b), err)
	}
	// Exactly at the limit is parsed (and then fails as a policy).
	ok := append([]byte("name: x\n#"), bytes.Repeat([]byte("a"), MaxPolicySize-9)...)
	if _, err := ParsePolicy(ok); err == nil || strings.Contains(err.Error(), "over the limit") {
		t.Errorf("ParsePolicy(%d bytes) = %v, want it parsed", len(ok), err)
	}
}

// mutate returns the base policy (as YAML) with one line replaced.
func mutate(t *testing.T, old, new string) []byte {
	t.Helper()
	base := string(examplePolicy(t, "clear-and-convincing"))
	if !strings.Contains(base, old) {
		t.Fatalf("the example has no %q", old)
	}
	return []byte(strings.Replace(base, old, new, 1))
}

// ladder returns a two-level policy whose second level is the first with
// change applied.
func ladder(t *testing.T, change func(*Level)) []byte {
	t.Helper()
	p := basePolicy()
	p.Levels[0].Corroboration.NotSolely = []string{"infrastructure"}
	p.Levels[0].Corroboration.MinReproducedLines, p.Levels[0].Corroboration.MinReproducingOrgs = 2, 1
	hi := p.Levels[0]
	hi.Name = "higher"
	change(&hi)
	p.Levels = append(p.Levels, hi)
	return encodePolicy(t, p)
}

func TestParsePolicyErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		doc   []byte
		field string
		msg   string
	}{
		{"unknown top-level field", mutate(t, "custos_policy: 1\n", "custos_policy: 1\nowner: x\n"), "owner", "unknown field"},
		{"unknown nested field", mutate(t, "      min_confidence: 60\n", "      min_confidence: 60\n      floor: B2\n"), "levels[0].quality.floor", "unknown field"},
		{"field names are case-sensitive", mutate(t, "name: un-gge-l3", "Name: un-gge-l3"), "Name", "unknown field"},
		{"missing required field", mutate(t, "baseline_max_likelihood: unlikely\n", ""), "baseline_max_likelihood", "required field missing"},
		{"missing gate", mutate(t, "      keys_valid: true\n", ""), "levels[0].integrity.keys_valid", "required field missing"},
		{"wrong type", mutate(t, "credibility: 2\n", "credibility: two\n"), "levels[0].quality.credibility", `must be an integer, not "two"`},
		{"fraction", mutate(t, "credibility: 2\n", "credibility: 2.5\n"), "levels[0].quality.credibility", "must be an integer"},
		{"string for a bool", mutate(t, "custody_unbroken: true", `custody_unbroken: "true"`), "levels[0].integrity.custody_unbroken", "must be true or false"},
		{"null", mutate(t, "name: un-gge-l3", "name: null"), "name", "must not be null"},
		{"unsupported version", mutate(t, "custos_policy: 1", "custos_policy: 2"), "custos_policy", "version 2 is not supported"},
		{"bad name", mutate(t, "name: un-gge-l3", "name: UN GGE"), "name", "does not match"},
		{"bad method", mutate(t, "  - LAB-SOP:PDNS-1\n", "  - \"LAB SOP\"\n"), "methods[4]", "method id"},
		{"duplicate method", mutate(t, "  - LAB-SOP:PDNS-1\n", "  - SOLVE-IT:DFT-1002\n"), "methods[4]", "duplicate method"},
		{"unknown band", mutate(t, "max_likelihood: likely", "max_likelihood: probable"), "levels[0].max_likelihood", "not an ICD 203 band"},
		{"unknown baseline band", mutate(t, "baseline_max_likelihood: unlikely", "baseline_max_likelihood: maybe"), "baseline_max_likelihood", "not an ICD 203 band"},
		{"baseline above the lowest level", mutate(t, "baseline_max_likelihood: unlikely", "baseline_max_likelihood: very likely"), "baseline_max_likelihood", "above"},
		{"source grade out of range", mutate(t, "      source_reliability: B\n      credibility: 2\n      min_confidence: 60", "      source_reliability: G\n      credibility: 2\n      min_confidence: 60"), "levels[0].quality.source_reliability", `"G" is not one of A–F`},
		{"credibility out of range", mutate(t, "credibility: 2\n      min_confidence: 60", "credibility: 7\n      min_confidence: 60"), "levels[0].quality.credibility", "7 is not in 1–6"},
		{"credibility zero", mutate(t, "credibility: 2\n      min_confidence: 60", "credibility: 0\n      min_confidence: 60"), "levels[0].quality.credibility", "0 is not in 1–6"},
		{"confidence out of range", mutate(t, "min_confidence: 60", "min_confidence: 101"), "levels[0].quality.min_confidence", "not in 0–100"},
		{"contradiction grade out of range", mutate(t, "      source_reliability: B\n      credibility: 2\n  - name: reasonable grounds", "      source_reliability: B\n      credibility: 9\n  - name: reasonable grounds"), "levels[0].contradictions.credibility", "9 is not in 1–6"},
		{"negative count", mutate(t, "min_categories: 1", "min_categories: -1"), "levels[0].corroboration.min_categories", "-1 is not in"},
		{"zero lines", mutate(t, "min_lines: 2", "min_lines: 0"), "levels[0].corroboration.min_lines", "0 is not in 1–"},
		{"huge count", mutate(t, "min_lines: 2", "min_lines: 99999999999"), "levels[0].corroboration.min_lines", "must be an integer"},
		{"reproducing orgs missing", mutate(t, "      min_reproducing_orgs: 1\n", ""), "levels[1].corroboration.min_reproducing_orgs", "required (at least 1) when min_reproduced_lines is set"},
		{"unknown category", mutate(t, "not_solely: [infrastructure]", "not_solely: [geolocation]"), "levels[1].corroboration.not_solely[0]", "not one of"},
		{"duplicate level name", mutate(t, "- name: reasonable grounds", "- name: reasonable basis"), "levels[1].name", "duplicate level name"},
		{"control character in a level name", mutate(t, "- name: reasonable grounds", `- name: "reasonable\tgrounds"`), "levels[1].name", "control character"},
		{"space around a level name", mutate(t, "- name: reasonable grounds", `- name: "reasonable grounds "`), "levels[1].name", "leading or trailing space"},
		{"empty level name", mutate(t, "- name: reasonable grounds", `- name: ""`), "levels[1].name", "1–64 bytes"},
		{"empty levels", []byte("custos_policy: 1\nname: x\nmethods: []\nbaseline_max_likelihood: unlikely\nlevels: []\n"), "levels", "at least one level"},
		{"levels out of order", mutate(t, "max_likelihood: almost certain", "max_likelihood: likely"), "levels[2].max_likelihood", "below"},
		{"a higher level more lenient", mutate(t, "min_confidence: 80", "min_confidence: 50"), "levels[2].quality.min_confidence", "more lenient than 70"},
		{"a higher level drops a gate", ladder(t, func(l *Level) { l.Integrity.CustodyUnbroken = false }), "levels[1].integrity.custody_unbroken", "false is more lenient than true"},
		{"a higher level drops a not_solely category", ladder(t, func(l *Level) { l.Corroboration.NotSolely = nil }), "levels[1].corroboration.not_solely", `lacks "infrastructure"`},
		{"a higher level blocks on fewer contradictions", ladder(t, func(l *Level) { l.Contradictions.SourceReliability = "A" }), "levels[1].contradictions.source_reliability", "A is more lenient than B"},
		{"a higher level needs fewer reproductions", ladder(t, func(l *Level) { l.Corroboration.MinReproducedLines, l.Corroboration.MinReproducingOrgs = 1, 1 }), "levels[1].corroboration.min_reproduced_lines", "1 is more lenient than 2"},
		{"method gate with no registry", []byte(strings.Replace(string(examplePolicy(t, "reasonable-basis")), "methods:\n  - SOLVE-IT:DFT-1002\n  - SOLVE-IT:DFT-1014\n  - SOLVE-IT:DFT-1042\n  - LAB-SOP:MALWARE-SIM-3\n  - LAB-SOP:PDNS-1\n", "methods: []\n", 1)), "levels[0].integrity.method_registered", "registry is empty"},
		{"duplicate key", mutate(t, "custos_policy: 1\n", "custos_policy: 1\ncustos_policy: 1\n"), "", "already set"},
		{"second document", append(examplePolicy(t, "reasonable-basis"), "---\nname: other\n"...), "", "trailing data"},
		{"JSON trailing data", []byte(`{"custos_policy": 1} {}`), "", "trailing data"},
		{"JSON duplicate key", []byte(`{"custos_policy": 1, "custos_policy": 1}`), "custos_policy", "duplicate key"},
		{"not a mapping", []byte("- a\n- b\n"), "", "must be an object"},
		{"empty", []byte(""), "", "empty document"},
		{"not UTF-8", []byte("name: \xff\n"), "", "UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePolicy(c.doc)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePolicy = %+v, %v, want a *ParseError", p, err)
			}
			if pe.Field != c.field || !strings.Contains(pe.Msg, c.msg) {
				t.Errorf("ParsePolicy error = field %q, msg %q, want field %q, msg containing %q", pe.Field, pe.Msg, c.field, c.msg)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("Error() = %q does not name %q", err, c.field)
			}
		})
	}
}

func TestValidators(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"B2", ValidGrade("B", 2), true},
		{"F6", ValidGrade("F", 6), true},
		{"b2", ValidGrade("b", 2), false},
		{"G1", ValidGrade("G", 1), false},
		{"A0", ValidGrade("A", 0), false},
		{"A7", ValidGrade("A", 7), false},
		{"malware", ValidCategory("malware"), true},
		{"geolocation", ValidCategory("geolocation"), false},
		{"almost certain", ValidLikelihood("almost certain"), true},
		{"certain", ValidLikelihood("certain"), false},
		{"confidence 100", ValidConfidence(100), true},
		{"confidence -1", ValidConfidence(-1), false},
		{"SOLVE-IT:DFT-1002", ValidMethod("SOLVE-IT:DFT-1002"), true},
		{"method with space", ValidMethod("DFT 1002"), false},
		{"confirmed", ValidResult("confirmed"), true},
		{"maybe", ValidResult("maybe"), false},
		{"un-gge-l2", ValidPolicyName("un-gge-l2"), true},
		{"-x", ValidPolicyName("-x"), false},
	} {
		if (c.err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok %v", c.name, c.err, c.ok)
		}
	}
}
