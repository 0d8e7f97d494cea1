package custody

// The strict decoder's fast path: a decoder of the JSON that custos itself
// writes, for a replay's every statement and predicate.
//
// decodeStrict (encoding/json with DisallowUnknownFields, then checkKeys)
// costs more than the Ed25519 signature check beside it: encoding/json
// scans each document twice (checkValid, then the decode), matches keys
// case-insensitively, and checkKeys walks the bytes a third time. No
// library fits in its place. What the ledger accepts must not change: every
// input must get decodeStrict's verdict, value and error, rule for rule
// (duplicate keys, keys in other letter case anywhere in the document,
// lone surrogate escapes, invalid UTF-8, trailing data), and no JSON
// library implements exactly that set; encoding/json/v2 comes closest and
// is still behind GOEXPERIMENT=jsonv2 in Go 1.26. Code-generated decoders
// (easyjson and the like) and faster reflective ones (go-json, sonic)
// aim at encoding/json's leniency, which is what checkKeys exists to
// undo. So this is a fast path, not a decoder: it reads a plain subset of
// JSON (exact field names, no null, no empty array or map, no surrogate
// escapes, no key escapes, integers of at most 18 digits) and gives up on
// anything else, which decodeStrict then reads and explains. When it does
// not give up, decodeStrict would accept the input and set the same
// values; FuzzFastDecode holds the two to that.

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// fastKind is the kind of a field fastDecode sets.
type fastKind int

const (
	fastString     fastKind = iota // string
	fastInt                        // int64
	fastStrings                    // []string
	fastStruct                     // a struct of these kinds
	fastStructs                    // a slice of such structs
	fastStringMap                  // map[string]string
	fastRawMessage                 // json.RawMessage
	fastStructPtr                  // a pointer to a struct of these kinds
	fastInts                       // []int64
)

type fastField struct {
	name  string
	index int
	kind  fastKind
	elem  *fastType // for fastStruct and fastStructs
}

// A fastType is a struct type fastDecode can set: its fields by JSON name.
type fastType struct {
	fields []fastField
}

// field returns the field named name and its place in t.fields, or -1.
func (t *fastType) field(name []byte) (*fastField, int) {
	for i := range t.fields {
		if t.fields[i].name == string(name) {
			return &t.fields[i], i
		}
	}
	return nil, -1
}

var fastTypes sync.Map // reflect.Type → *fastType, nil when not supported

// fastTypeOf returns the fastType of struct type t, or nil if a field of
// it is of a kind fastDecode does not set.
func fastTypeOf(t reflect.Type) *fastType {
	if ft, ok := fastTypes.Load(t); ok {
		return ft.(*fastType)
	}
	ft := buildFastType(t)
	fastTypes.Store(t, ft)
	return ft
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

func buildFastType(t reflect.Type) *fastType {
	if t.Kind() != reflect.Struct || customDecoding(t) {
		return nil
	}
	ft := &fastType{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := cutComma(tag)
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous || name == "" || (opts != "" && opts != "omitempty") {
			return nil // embedded structs, untagged fields and ",string" are left to encoding/json
		}
		ff := fastField{name: name, index: i}
		switch ft := f.Type; {
		case ft == rawMessageType:
			ff.kind = fastRawMessage
		case customDecoding(ft) || ft.Name() != "" && ft.PkgPath() != "" && ft.Kind() != reflect.Struct:
			return nil
		case ft.Kind() == reflect.String:
			ff.kind = fastString
		case ft.Kind() == reflect.Int64:
			ff.kind = fastInt
		case ft.Kind() == reflect.Struct:
			ff.kind, ff.elem = fastStruct, buildFastType(ft)
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && !customDecoding(ft.Elem()):
			ff.kind, ff.elem = fastStructPtr, buildFastType(ft.Elem())
		case ft.Kind() == reflect.Slice && ft.Elem() == reflect.TypeFor[int64]():
			ff.kind = fastInts
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String && ft.Elem().Name() == "string":
			ff.kind = fastStrings
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			ff.kind, ff.elem = fastStructs, buildFastType(ft.Elem())
		case ft.Kind() == reflect.Map && ft.Key() == reflect.TypeFor[string]() && ft.Elem() == reflect.TypeFor[string]():
			ff.kind = fastStringMap
		default:
			return nil
		}
		if (ff.kind == fastStruct || ff.kind == fastStructs || ff.kind == fastStructPtr) && ff.elem == nil {
			return nil
		}
		for _, g := range ft.fields {
			if strings.EqualFold(g.name, name) {
				return nil // two fields one key could name: left to encoding/json
			}
		}
		ft.fields = append(ft.fields, ff)
	}
	if len(ft.fields) > 64 {
		return nil // object's bit set of fields seen
	}
	return ft
}

// customDecoding reports whether encoding/json decodes t by a method.
func customDecoding(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(unmarshalerType) || p.Implements(unmarshalerType) ||
		t.Implements(textUnmarshaler) || p.Implements(textUnmarshaler)
}

func cutComma(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// fastDecode decodes b into v, a pointer to a zero struct, and reports
// whether it could; see the top of this file. It reports false for
// anything out of its subset, leaving v in any state.
func fastDecode(max int, b []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || len(b) > max {
		return false
	}
	ft := fastTypeOf(rv.Type().Elem())
	if ft == nil || !utf8.Valid(b) {
		return false
	}
	d := fastDecoder{b: b, names: fieldNames(rv.Type())}
	d.space()
	if !d.object(rv.Elem(), ft) {
		return false
	}
	d.space()
	return d.i == len(b)
}

// decodeRecord is json.Unmarshal(b, v) for a v that points to a zero
// value, by fastDecode when it can: a custody record as Apply wrote it.
// What fastDecode reads, encoding/json reads to the same value, strict or
// not.
func decodeRecord(b []byte, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().IsZero() {
		if fastDecode(len(b), b, v) {
			return nil
		}
		rv.Elem().SetZero()
	}
	return json.Unmarshal(b, v)
}

// maxFastDepth bounds the nesting fastDecode reads (encoding/json's is
// 10000).
const maxFastDepth = 64

type fastDecoder struct {
	b     []byte
	i     int
	depth int
	names *jsonFields // the field names checkKeys holds every key to
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// consume reads the byte c after optional white space.
func (d *fastDecoder) consume(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDecoder) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// key reads an object key and its colon. Keys are printable ASCII without
// escapes, and checkKeys would not refuse them: a key that is not a field
// name exactly must not be one in other letter case.
func (d *fastDecoder) key() ([]byte, bool) {
	k, ok := d.rawKey()
	return k, ok && d.names.allowed(k)
}

// allowed reports whether checkKeys lets an ASCII key k be: a field name
// exactly, or no field name in other letter case.
func (f *jsonFields) allowed(k []byte) bool {
	// ASCII folds to lower case (foldKey), and no field name is long.
	// exact holds the names of folded, one per folded key, so one lookup
	// answers both questions: k is a field name exactly if folded[k
	// folded] is k.
	var buf [64]byte
	if len(k) > len(buf) {
		return true
	}
	for i, c := range k {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	name, ok := f.folded[string(buf[:len(k)])]
	return !ok || name == string(k)
}

// rawKey reads an object key and its colon, as key does, but does not
// hold it to checkKeys: object uses it, which gives up on a key that is not
// a field name of its struct exactly, and checks the key only if the field
// names are ambiguous; any other field name passes checkKeys.
func (d *fastDecoder) rawKey() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) && !keyStop[d.b[d.i]] {
		d.i++
	}
	if d.i == len(d.b) || d.b[d.i] != '"' {
		return nil, false // not printable ASCII, or an escape
	}
	k := d.b[start:d.i]
	d.i++
	if !d.consume(':') {
		return nil, false
	}
	return k, true
}

// object reads a JSON object into the struct v of type t.
func (d *fastDecoder) object(v reflect.Value, t *fastType) bool {
	if !d.consume('{') {
		return false
	}
	if d.depth++; d.depth > maxFastDepth {
		return false
	}
	var seen uint64 // the fields set, by index in t.fields
	if d.consume('}') {
		d.depth--
		return true
	}
	for {
		k, ok := d.rawKey()
		if !ok {
			return false
		}
		f, i := t.field(k)
		if f == nil {
			return false // unknown: refused by DisallowUnknownFields
		}
		if d.names.ambiguous && !d.names.allowed(k) {
			return false
		}
		bit := uint64(1) << i
		if seen&bit != 0 {
			return false // duplicate: refused by checkKeys
		}
		seen |= bit
		if !d.value(v.Field(f.index), f) {
			return false
		}
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			d.depth--
			return true
		}
		return false
	}
}

// value reads the value of field f into v.
func (d *fastDecoder) value(v reflect.Value, f *fastField) bool {
	switch f.kind {
	case fastString:
		s, ok := d.str()
		v.SetString(s)
		return ok
	case fastInt:
		n, ok := d.int()
		v.SetInt(n)
		return ok
	case fastStrings:
		return d.array(func() bool {
			s, ok := d.str()
			appendElem(v).SetString(s)
			return ok
		})
	case fastStruct:
		return d.object(v, f.elem)
	case fastStructPtr:
		p := reflect.New(v.Type().Elem())
		v.Set(p)
		return d.object(p.Elem(), f.elem)
	case fastInts:
		return d.array(func() bool {
			n, ok := d.int()
			appendElem(v).SetInt(n)
			return ok
		})
	case fastStructs:
		return d.array(func() bool {
			return d.object(appendElem(v), f.elem)
		})
	case fastStringMap:
		m, ok := d.stringMap()
		if ok {
			v.Set(reflect.ValueOf(m).Convert(v.Type()))
		}
		return ok
	case fastRawMessage:
		// The bytes of the value, copied (as encoding/json does). Only an
		// object: statements and predicates hold no other raw value.
		d.space()
		start := d.i
		if d.peek() != '{' || !d.skip() {
			return false
		}
		v.SetBytes(append([]byte(nil), d.b[start:d.i]...))
		return true
	}
	return false
}

// appendElem appends a zero element to the slice v, which is settable
// (fastDecode's v points to it), and returns the element: the slice grows
// in place, as append grows it, where reflect.Append would allocate a
// slice header as well.
func appendElem(v reflect.Value) reflect.Value {
	n := v.Len()
	v.Grow(1)
	v.SetLen(n + 1)
	e := v.Index(n)
	e.SetZero()
	return e
}

// array reads a non-empty JSON array, calling elem for each element.
func (d *fastDecoder) array(elem func() bool) bool {
	if !d.consume('[') || d.peek() == ']' {
		return false
	}
	if d.depth++; d.depth > maxFastDepth {
		return false
	}
	for {
		if !elem() {
			return false
		}
		if d.consume(',') {
			continue
		}
		d.depth--
		return d.consume(']')
	}
}

// stringMap reads a non-empty object of strings. Its keys must be
// distinct under case folding (checkKeys).
func (d *fastDecoder) stringMap() (map[string]string, bool) {
	if !d.consume('{') || d.peek() == '}' {
		return nil, false
	}
	m := make(map[string]string, 1)
	var arr [8][]byte // digest sets have one or two keys
	keys := arr[:0]
	for {
		k, ok := d.key()
		if !ok || foldSeen(keys, k) {
			return nil, false
		}
		keys = append(keys, k)
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		m[intern(k)] = s
		if d.consume(',') {
			continue
		}
		return m, d.consume('}')
	}
}

// foldSeen reports whether k equals one of keys under ASCII case folding
// (keys are ASCII).
func foldSeen(keys [][]byte, k []byte) bool {
	for _, p := range keys {
		if len(p) != len(k) {
			continue
		}
		same := true
		for i := range p {
			a, b := p[i], k[i]
			if 'A' <= a && a <= 'Z' {
				a += 'a' - 'A'
			}
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if a != b {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// str reads a JSON string and returns its value. Escapes are decoded as
// encoding/json decodes them; a \u escape of a surrogate is left to it.
func (d *fastDecoder) str() (string, bool) { return d.readStr(true) }

// readStr is str; unless keep, it only checks the string (skip), and
// makes no copy of it if it holds no escape.
func (d *fastDecoder) readStr(keep bool) (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.b) && !strStop[d.b[d.i]] {
		d.i++
	}
	switch {
	case d.i == len(d.b):
		return "", false
	case d.b[d.i] == '"':
		var s string
		if keep {
			s = intern(d.b[start:d.i])
		}
		d.i++
		return s, true
	case d.b[d.i] == '\\':
		return d.escaped(start)
	}
	return "", false // a control character
}

// strStop and keyStop are the bytes at which a scan of a string or of a
// key stops: the closing quote, an escape, a control character and, in a
// key, any byte that is not printable ASCII. Tables, because every string
// of every statement runs through them byte by byte.
var strStop, keyStop = func() (str, key [256]bool) {
	for c := range 256 {
		str[c] = c == '"' || c == '\\' || c < 0x20
		key[c] = str[c] || c > 0x7e
	}
	return str, key
}()

// internedStrings are strings that nearly every statement holds: its
// type, its predicate type, digest algorithm names. intern returns these
// rather than a new copy of each; a string's value is the same either way.
var internedStrings = func() map[string]string {
	m := map[string]string{StatementType: StatementType}
	for t := range eventOf {
		m[t] = t
	}
	for alg := range hexDigestLen {
		m[alg] = alg
	}
	return m
}()

// internLen holds the lengths of the internedStrings, so that most other
// strings are not looked up.
var internLen = func() (n [maxPredicateTypeLen + 1]bool) {
	for s := range internedStrings {
		n[len(s)] = true
	}
	return n
}()

// intern returns string(b), as internedStrings holds it if it does.
func intern(b []byte) string {
	if len(b) < len(internLen) && internLen[len(b)] {
		if s, ok := internedStrings[string(b)]; ok {
			return s
		}
	}
	return string(b)
}

// escaped finishes reading a string that holds an escape, from start.
func (d *fastDecoder) escaped(start int) (string, bool) {
	out := append(make([]byte, 0, d.i-start+16), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", false
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(d.b, d.i)
			if !ok || 0xd800 <= r && r < 0xe000 {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			d.i += 4
		default:
			return "", false
		}
	}
	return "", false
}

// int reads a JSON integer of at most 18 digits (no fraction, no
// exponent), which encoding/json decodes into an int64 as strconv.ParseInt
// does.
func (d *fastDecoder) int() (int64, bool) {
	d.space()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	start := d.i
	var n int64
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		n = n*10 + int64(d.b[d.i]-'0')
		d.i++
	}
	digits := d.i - start
	if digits == 0 || digits > 18 || digits > 1 && d.b[start] == '0' {
		return 0, false
	}
	if d.i < len(d.b) {
		if c := d.b[d.i]; c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// skip reads any JSON value, checking what encoding/json and checkKeys
// check: its syntax, and in its objects distinct keys that are not field
// names in other letter case.
func (d *fastDecoder) skip() bool {
	switch d.peek() {
	case '{':
		d.i++
		if d.depth++; d.depth > maxFastDepth {
			return false
		}
		if d.consume('}') {
			d.depth--
			return true
		}
		var arr [8][]byte // a predicate has a handful of fields
		keys := arr[:0]
		for {
			k, ok := d.key()
			if !ok || foldSeen(keys, k) || len(keys) == 64 {
				return false
			}
			keys = append(keys, k)
			if !d.skip() {
				return false
			}
			if d.consume(',') {
				continue
			}
			d.depth--
			return d.consume('}')
		}
	case '[':
		d.i++
		if d.depth++; d.depth > maxFastDepth {
			return false
		}
		if d.consume(']') {
			d.depth--
			return true
		}
		for {
			if !d.skip() {
				return false
			}
			if d.consume(',') {
				continue
			}
			d.depth--
			return d.consume(']')
		}
	case '"':
		_, ok := d.readStr(false)
		return ok
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.number()
}

func (d *fastDecoder) literal(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// number reads a JSON number (RFC 8259 §6).
func (d *fastDecoder) number() bool {
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	start := d.i
	if n := digits(); n == 0 || n > 1 && d.b[start] == '0' {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
