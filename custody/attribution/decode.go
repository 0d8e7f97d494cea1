package attribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	goyaml "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// maxJSONSize caps the JSON that a YAML policy converts to: YAML aliases can
// expand a document, and a policy is small.
const maxJSONSize = 4 * MaxPolicySize

// toJSON returns the JSON form of a policy written in JSON or YAML. Input
// whose first non-blank byte is '{' is JSON and is returned as it is; any
// other input is one YAML document (a second document is trailing data) with
// no duplicate keys.
func toJSON(b []byte) (j []byte, err error) {
	// The YAML parser is not ours: should it ever panic on some input, that
	// input is malformed, not a reason to crash the ledger.
	defer func() {
		if r := recover(); r != nil {
			j, err = nil, &ParseError{Msg: fmt.Sprintf("not YAML: parser failed: %v", r)}
		}
	}()
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return b, nil
	}
	dec := goyaml.NewDecoder(bytes.NewReader(b))
	dec.SetStrict(true)
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{Msg: "empty document"}
		}
		return nil, &ParseError{Msg: "not YAML: " + err.Error()}
	}
	if err := dec.Decode(&doc); !errors.Is(err, io.EOF) {
		return nil, &ParseError{Msg: "trailing data after the policy document (a policy is one YAML document)"}
	}
	j, err = yaml.YAMLToJSONStrict(b)
	if err != nil {
		return nil, &ParseError{Msg: "not YAML: " + err.Error()}
	}
	if len(j) > maxJSONSize {
		return nil, &ParseError{Msg: fmt.Sprintf("policy expands to %d bytes of JSON, over the limit of %d", len(j), maxJSONSize)}
	}
	return j, nil
}

// decodeTree decodes one JSON value into maps, slices, json.Numbers, strings,
// bools and nils, refusing duplicate object keys and trailing data, which
// encoding/json would silently accept.
func decodeTree(j []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	v, err := decodeValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ParseError{Msg: "trailing data after the policy document"}
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, &ParseError{Field: path, Msg: "not JSON: " + err.Error()}
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, &ParseError{Field: path, Msg: "not JSON: " + err.Error()}
			}
			k, ok := kt.(string)
			if !ok { // json.Decoder refuses non-string keys; be safe regardless
				return nil, &ParseError{Field: path, Msg: "not JSON: object key is not a string"}
			}
			p := joinPath(path, k)
			if _, dup := m[k]; dup {
				return nil, &ParseError{Field: p, Msg: "duplicate key"}
			}
			if m[k], err = decodeValue(dec, p); err != nil {
				return nil, err
			}
		}
		return m, closing(dec, path, '}')
	case json.Delim('['):
		s := []any{}
		for i := 0; dec.More(); i++ {
			v, err := decodeValue(dec, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, closing(dec, path, ']')
	}
	return tok, nil
}

// closing consumes the delimiter that ends an object or array.
func closing(dec *json.Decoder, path string, delim json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return &ParseError{Field: path, Msg: "not JSON: " + err.Error()}
	}
	if tok != delim {
		return &ParseError{Field: path, Msg: fmt.Sprintf("not JSON: want %v, got %v", delim, tok)}
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkShape checks the decoded tree v against the Go type t of which it is
// to be the JSON encoding: objects have exactly the json-tagged fields of
// the struct (matched case-sensitively, unlike encoding/json), every field
// without omitempty is present, no value is null, and every scalar has the
// field's type. Errors name the path of the offending field.
func checkShape(v any, t reflect.Type, path string) error {
	if v == nil {
		return &ParseError{Field: path, Msg: "must not be null"}
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return &ParseError{Field: path, Msg: "must be an object (mapping), not " + kindOf(v)}
		}
		known := map[string]bool{}
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			known[name] = true
		}
		// Unknown fields first: a misspelt field is reported as itself, not
		// as the required field it was meant to be.
		for _, k := range sortedKeys(m) {
			if !known[k] {
				return &ParseError{Field: joinPath(path, k), Msg: "unknown field"}
			}
		}
		for i := range t.NumField() {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			fv, present := m[name]
			if !present {
				if opts != "omitempty" {
					return &ParseError{Field: joinPath(path, name), Msg: "required field missing"}
				}
				continue
			}
			if err := checkShape(fv, t.Field(i).Type, joinPath(path, name)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return &ParseError{Field: path, Msg: "must be a list, not " + kindOf(v)}
		}
		for i, e := range s {
			if err := checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return &ParseError{Field: path, Msg: "must be a string, not " + kindOf(v)}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return &ParseError{Field: path, Msg: "must be true or false, not " + kindOf(v)}
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			return &ParseError{Field: path, Msg: "must be an integer, not " + kindOf(v)}
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			return &ParseError{Field: path, Msg: fmt.Sprintf("must be an integer of at most 32 bits, not %s", n)}
		}
	default:
		panic("attribution: checkShape: unexpected kind " + t.Kind().String())
	}
	return nil
}

func kindOf(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "the number " + v.String()
	}
	return "null"
}
