package custody

// Key checks that encoding/json does not make: one reading of a JSON
// document for every parser.

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"unicode/utf16"
)

// checkKeys refuses JSON that parsers may read differently: an object with
// two keys equal under Unicode case folding (encoding/json keeps the last
// and matches keys case-insensitively; other parsers keep the first), a key
// that names a field of v's type in other letter case, and a string escape
// that is a lone UTF-16 surrogate (encoding/json turns it into U+FFFD). b
// has already decoded into v.
func checkKeys(what string, b []byte, v any) error {
	if err := checkSurrogates(what, b); err != nil {
		return err
	}
	fields := fieldNames(reflect.TypeOf(v))
	// One pass over bytes the strict decode already accepted as JSON: a
	// stack of containers, and for each object the keys seen.
	type frame struct {
		obj       bool
		expectKey bool
		keys      []string // as written
	}
	var stack []frame
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{':
			stack = append(stack, frame{obj: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].expectKey = true
			}
		case '"':
			j := i + 1
			escaped := false
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					escaped = true
					j++
				}
			}
			raw := b[i : j+1]
			i = j
			n := len(stack)
			if n == 0 || !stack[n-1].obj || !stack[n-1].expectKey {
				continue
			}
			top := &stack[n-1]
			top.expectKey = false
			key := string(raw[1 : len(raw)-1])
			if escaped {
				if err := json.Unmarshal(raw, &key); err != nil {
					return parseErr(what, "", "a key does not decode: %v", err)
				}
			}
			for _, prev := range top.keys {
				switch {
				case prev == key:
					return parseErr(what, key, "duplicate key")
				case strings.EqualFold(prev, key):
					return parseErr(what, key, "key %q and key %q differ only in letter case", prev, key)
				}
			}
			top.keys = append(top.keys, key)
			if _, exact := fields.exact[key]; exact {
				continue
			}
			if name, ok := fields.folded[foldKey(key)]; ok {
				return parseErr(what, key, "key %q is field %q written in other letter case", key, name)
			}
		}
	}
	return nil
}

// checkSurrogates refuses a \u escape that is half of a UTF-16 surrogate
// pair without its other half.
func checkSurrogates(what string, b []byte) error {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !inString:
			if c == '"' {
				inString = true
			}
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(b):
			if b[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				continue // the decoder refused it already
			}
			i += 5
			if !utf16.IsSurrogate(r) {
				continue
			}
			r2, ok := rune(0), false
			if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
				r2, ok = hex4(b, i+3)
			}
			if !ok || utf16.DecodeRune(r, r2) == '\uFFFD' {
				return parseErr(what, "", "a lone UTF-16 surrogate escape (\\u%04x)", r)
			}
			i += 6
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c-'a') + 10
		case 'A' <= c && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

var fieldNameCache sync.Map // reflect.Type → *jsonFields

// jsonFields are the JSON names of the struct fields reachable from a type:
// as written, and keyed by their folded form.
type jsonFields struct {
	exact  map[string]bool
	folded map[string]string

	// ambiguous: two of the names are equal under folding, so folded
	// holds one of them and checkKeys refuses the other.
	ambiguous bool
}

// fieldNames returns the JSON field names reachable from t.
func fieldNames(t reflect.Type) *jsonFields {
	if m, ok := fieldNameCache.Load(t); ok {
		return m.(*jsonFields)
	}
	m := map[string]string{}
	ambiguous := false
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				walk(f.Type)
				continue
			}
			if name == "" {
				name = f.Name
			}
			if old, ok := m[foldKey(name)]; ok && old != name {
				ambiguous = true
			}
			m[foldKey(name)] = name
			walk(f.Type)
		}
	}
	walk(t)
	f := &jsonFields{exact: map[string]bool{}, folded: m, ambiguous: ambiguous}
	for _, name := range m {
		f.exact[name] = true
	}
	fieldNameCache.Store(t, f)
	return f
}

// foldKey folds s as encoding/json matches keys: case-insensitively,
// including the Kelvin sign and the long s.
func foldKey(s string) string { return strings.ToLower(strings.ToUpper(s)) }
