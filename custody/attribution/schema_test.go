package attribution

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type schemaNode struct {
	Schema               string                `json:"$schema"`
	ID                   string                `json:"$id"`
	Ref                  string                `json:"$ref"`
	Type                 string                `json:"type"`
	Enum                 []any                 `json:"enum"`
	Properties           map[string]schemaNode `json:"properties"`
	Required             []string              `json:"required"`
	AdditionalProperties *bool                 `json:"additionalProperties"`
	Items                *schemaNode           `json:"items"`
	Defs                 map[string]schemaNode `json:"$defs"`
}

// TestSchemaMatchesPolicy keeps custody/schema/attribution-policy.schema.json
// equal to the Policy struct: the same properties, the same required fields
// (those without omitempty), closed objects, and enums equal to this
// package's vocabularies.
func TestSchemaMatchesPolicy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "schema", "attribution-policy.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("schema does not decode: %v", err)
	}
	if root.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", root.Schema)
	}
	resolve := func(n schemaNode) schemaNode {
		if name, ok := strings.CutPrefix(n.Ref, "#/$defs/"); ok {
			return root.Defs[name]
		}
		return n
	}
	var check func(path string, n schemaNode, typ reflect.Type)
	check = func(path string, n schemaNode, typ reflect.Type) {
		n = resolve(n)
		var all, required []string
		for i := range typ.NumField() {
			name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			all = append(all, name)
			if opts != "omitempty" {
				required = append(required, name)
			}
		}
		if got := sortedKeys(n.Properties); !slices.Equal(got, slices.Sorted(slices.Values(all))) {
			t.Errorf("%s: properties = %v, want %v", path, got, all)
		}
		if got := slices.Sorted(slices.Values(n.Required)); !slices.Equal(got, slices.Sorted(slices.Values(required))) {
			t.Errorf("%s: required = %v, want %v", path, got, required)
		}
		if n.Type != "object" || n.AdditionalProperties == nil || *n.AdditionalProperties {
			t.Errorf("%s: type = %q, additionalProperties = %v, want object, false", path, n.Type, n.AdditionalProperties)
		}
		for i := range typ.NumField() {
			ft := typ.Field(i).Type
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			switch {
			case ft.Kind() == reflect.Struct:
				check(path+"."+name, n.Properties[name], ft)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				p := resolve(n.Properties[name])
				if p.Items == nil {
					t.Errorf("%s.%s: no items", path, name)
					continue
				}
				check(path+"."+name+"[]", *p.Items, ft.Elem())
			}
		}
	}
	check("policy", root, reflect.TypeFor[Policy]())

	enum := func(n schemaNode) []string {
		var s []string
		for _, v := range resolve(n).Enum {
			s = append(s, v.(string))
		}
		return s
	}
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"$defs.likelihood", enum(root.Defs["likelihood"]), LikelihoodBands},
		{"$defs.category", enum(root.Defs["category"]), Categories},
		{"$defs.quality.source_reliability", enum(root.Defs["quality"].Properties["source_reliability"]), SourceReliabilities},
		{"$defs.contradictions.source_reliability", enum(root.Defs["contradictions"].Properties["source_reliability"]), SourceReliabilities},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s enum = %q, want %q", c.name, c.got, c.want)
		}
	}
}
