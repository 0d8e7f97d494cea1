package custody

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// predicateTypes maps each custody predicate type to its struct.
var predicateTypes = map[string]any{
	PredicateEnroll:    Enroll{},
	PredicateKeyRotate: KeyRotate{},
	PredicateKeyRevoke: KeyRevoke{},
	PredicateAcquire:   Acquire{},
	PredicateDerive:    Derive{},
	PredicateRelease:   Release{},
	PredicateAccept:    Accept{},
	PredicateReject:    Reject{},
	PredicateSeal:      Seal{},
	PredicateUnseal:    Unseal{},
	PredicateDispose:   Dispose{},

	PredicateFinding:      Finding{},
	PredicateReproduction: Reproduction{},
	PredicateHypothesis:   Hypothesis{},
	PredicatePolicy:       PolicyRegistration{},
	PredicateVerdict:      Verdict{},
}

type schemaObject struct {
	Schema               string                  `json:"$schema"`
	ID                   string                  `json:"$id"`
	Type                 string                  `json:"type"`
	Properties           map[string]schemaObject `json:"properties"`
	Required             []string                `json:"required"`
	AdditionalProperties *bool                   `json:"additionalProperties"`
}

// jsonTags returns the json names of t's fields, and those without omitempty.
func jsonTags(t reflect.Type) (all, required []string) {
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	return all, required
}

// checkSchema compares the object schema s with struct t, and recurses
// into fields of struct type.
func checkSchema(t *testing.T, path string, s schemaObject, typ reflect.Type) {
	t.Helper()
	all, required := jsonTags(typ)
	props := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		props = append(props, k)
	}
	slices.Sort(props)
	slices.Sort(all)
	if !slices.Equal(props, all) {
		t.Errorf("%s: properties = %v, want %v (the json tags of %s)", path, props, all, typ)
	}
	if got := slices.Sorted(slices.Values(s.Required)); !slices.Equal(got, slices.Sorted(slices.Values(required))) {
		t.Errorf("%s: required = %v, want %v", path, got, required)
	}
	if s.Type != "object" || s.AdditionalProperties == nil || *s.AdditionalProperties {
		t.Errorf("%s: type = %q, additionalProperties = %v, want \"object\", false", path, s.Type, s.AdditionalProperties)
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Type.Kind() == reflect.Struct {
			checkSchema(t, path+"."+name, s.Properties[name], f.Type)
		}
	}
}

func TestSchemasMatchPredicates(t *testing.T) {
	files, err := fs.Glob(Schemas, "schema/*.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	// The schema of the attribution policy document is not a predicate's.
	files = slices.DeleteFunc(files, func(f string) bool { return f == "schema/attribution-policy.schema.json" })
	if len(files) != len(predicateTypes) {
		t.Errorf("schema files = %v, want one for each of the %d predicates", files, len(predicateTypes))
	}
	for pt, v := range predicateTypes {
		event := eventOf[pt]
		t.Run(event, func(t *testing.T) {
			b, err := fs.ReadFile(Schemas, "schema/"+event+".schema.json")
			if err != nil {
				t.Fatal(err)
			}
			var s schemaObject
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatalf("schema does not decode: %v", err)
			}
			if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.ID != pt {
				t.Errorf("$schema, $id = %q, %q, want draft 2020-12, %q", s.Schema, s.ID, pt)
			}
			checkSchema(t, event, s, reflect.TypeOf(v))
		})
	}
}
