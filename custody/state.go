package custody

// The custody state machine (DESIGN.md §2): Apply judges one ledger leaf
// against the custody rules as of the leaf's index and returns the records
// it changes. It keeps no state of its own: it reads the records written so
// far through a View, so the ledger can store its records in the same
// transaction as the leaf, and anyone (the ledger on rebuild, the offline
// verifier on a bundle) can derive the same records again by applying every
// leaf from index 0 in order.
//
// # Records
//
// Keys are ASCII; every value is JSON (compact, fields in struct order):
//
//	p/<party>                      PartyRecord
//	k/<key id>                     the party name owning the key (JSON string)
//	e/<exhibit>                    ExhibitRecord
//	d/<sha256 hex>                 the exhibit id with that SHA-256 (JSON string)
//	h/<exhibit>/<index as %016d>   HistoryStep
//	n/<sha256 hex of envelope>     the index of the leaf that holds it (JSON number)
//
// The history keys of an exhibit sort in index order. Exhibit ids may hold
// '/', so a prefix scan of "h/<exhibit>/" can also meet the history of
// "<exhibit>/..."; History skips those keys.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A View reads the custody records written so far (committed ones and those
// of earlier entries of the same batch).
type View interface {
	Get(key string) (value []byte, ok bool, err error)
}

// A ScanView also lists records by key prefix, in key order (for queries).
type ScanView interface {
	View
	Scan(prefix string, fn func(key string, value []byte) error) error
}

// A Record is one record to set (Value nil deletes it).
type Record struct {
	Key   string
	Value []byte

	step    *HistoryStep   // of a history record Apply made: what Value encodes
	exhibit *ExhibitRecord // of an exhibit record Apply made: what Value encodes
}

// Step returns the history step that a history record made by Apply holds,
// decoded: json.Unmarshal of Value gives an equal HistoryStep. It is nil
// for every other record. A replay that keeps the steps decoded (the
// offline verifier) takes them from here rather than decode each again.
// Apply keeps no reference to it: it is the caller's.
func (r Record) Step() *HistoryStep { return r.step }

// Exhibit is Step for an exhibit record ("e/<exhibit>"): the ExhibitRecord
// that json.Unmarshal of Value gives, as Apply held it, or nil. It is the
// caller's; its digests map may be the entry's history step's.
func (r Record) Exhibit() *ExhibitRecord { return r.exhibit }

// An Entry is a leaf as the state machine sees it: its index, its RFC 6962
// leaf hash, the time the ledger gave it, and the DSSE envelope it holds.
type Entry struct {
	Index    int64
	LeafHash [32]byte
	Time     time.Time
	Envelope []byte
}

// Ref is the LeafRef by which later events name e.
func (e Entry) Ref() LeafRef {
	return LeafRef{Index: e.Index, LeafHash: base64.StdEncoding.EncodeToString(e.LeafHash[:])}
}

// Exhibit statuses.
const (
	StatusHeld     = "held"     // a holder has it; it may be released, derived from, sealed, disposed of
	StatusReleased = "released" // offered to a named receiver; the holder is still responsible
	StatusSealed   = "sealed"   // only Unseal applies
	StatusDisposed = "disposed" // final
)

// Event names, as in HistoryStep.Event and Event.Kind.
const (
	EventEnroll      = "enroll"
	EventKeyRotate   = "key-rotate"
	EventKeyRevoke   = "key-revoke"
	EventAcquire     = "acquire"
	EventDerive      = "derive"
	EventRelease     = "release"
	EventAccept      = "accept"
	EventReject      = "reject"
	EventSeal        = "seal"
	EventUnseal      = "unseal"
	EventDispose     = "dispose"
	EventAttestation = "attestation" // any predicate that is not a custody predicate
)

// eventOf maps each custody predicate type to its event name.
var eventOf = map[string]string{
	PredicateEnroll:    EventEnroll,
	PredicateKeyRotate: EventKeyRotate,
	PredicateKeyRevoke: EventKeyRevoke,
	PredicateAcquire:   EventAcquire,
	PredicateDerive:    EventDerive,
	PredicateRelease:   EventRelease,
	PredicateAccept:    EventAccept,
	PredicateReject:    EventReject,
	PredicateSeal:      EventSeal,
	PredicateUnseal:    EventUnseal,
	PredicateDispose:   EventDispose,

	PredicateFinding:      EventFinding,
	PredicateReproduction: EventReproduction,
	PredicateHypothesis:   EventHypothesis,
	PredicatePolicy:       EventPolicy,
	PredicateVerdict:      EventVerdict,
}

// holdingRoles are the roles that may hold an exhibit.
var holdingRoles = []string{RoleCollector, RoleCustodian, RoleAnalyst, RoleFacilitator}

// allRoles is the fixed set of roles.
var allRoles = []string{RoleAdmin, RoleCollector, RoleCustodian, RoleAnalyst, RoleFacilitator, RoleWitness, RoleTribunal}

// NoIndex marks a KeyRecord that was never revoked or rotated out.
const NoIndex = -1

// KeyRecord is one key of a party and the indexes that bound its life: it
// signs at index i when Added ≤ i and neither Revoked nor RotatedOut is ≤ i.
type KeyRecord struct {
	ID         string `json:"id"`
	PEM        string `json:"pem"`
	Added      int64  `json:"added"`
	Revoked    int64  `json:"revoked"`     // NoIndex: not revoked
	RotatedOut int64  `json:"rotated_out"` // NoIndex: not rotated out
}

// ActiveAt reports whether k signs at index i (the server authenticates
// requests with a key active at the current size).
func (k *KeyRecord) ActiveAt(i int64) bool {
	return k.Added <= i && !(k.Revoked != NoIndex && k.Revoked <= i) && !(k.RotatedOut != NoIndex && k.RotatedOut <= i)
}

// PartyRecord is an enrolled party. Current is the id of its one key that
// is not rotated out; it signs only if it is not revoked either.
type PartyRecord struct {
	Name     string      `json:"name"`
	Org      string      `json:"org"`
	Roles    []string    `json:"roles"`
	Keys     []KeyRecord `json:"keys"`
	Current  string      `json:"current"`
	Enrolled int64       `json:"enrolled"`
}

func (p *PartyRecord) key(id string) *KeyRecord {
	for i := range p.Keys {
		if p.Keys[i].ID == id {
			return &p.Keys[i]
		}
	}
	return nil
}

// HasRole reports whether p holds role r.
func (p *PartyRecord) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

func (p *PartyRecord) canHold() bool {
	return slices.ContainsFunc(holdingRoles, p.HasRole)
}

// OpenRelease is a release not yet accepted or rejected.
type OpenRelease struct {
	To  string  `json:"to"`
	Ref LeafRef `json:"ref"` // the release's leaf
}

// ExhibitRecord is the state of one exhibit. Last is the exhibit's latest
// custody event: the leaf that the next release, seal, unseal or dispose
// must name as Prev. Derivations from it and attestations about it do not
// move Last (they are in its history), so a third party cannot invalidate
// the holder's signed but not yet submitted event.
type ExhibitRecord struct {
	ID          string            `json:"id"`
	Digests     map[string]string `json:"digests"`
	Size        int64             `json:"size"`
	Holder      string            `json:"holder"`
	Status      string            `json:"status"`
	OpenRelease *OpenRelease      `json:"open_release,omitempty"`
	Last        LeafRef           `json:"last"`
	Parents     []string          `json:"parents,omitempty"`
	Acquired    int64             `json:"acquired"`             // the index of its acquire or derive
	Mismatches  []int64           `json:"mismatches,omitempty"` // rejections whose observed digests differed
	Derived     []string          `json:"derived,omitempty"`
}

// HistoryStep is one event in an exhibit's history. Party is the party that
// acted (the first signature's); KeyIDs are all the envelope's signers.
// Release: To is the receiver. Accept and reject: From is the holder that
// released, Digests what the receiver observed, Mismatch whether they differ
// from the acquired ones.
type HistoryStep struct {
	Index    int64             `json:"index"`
	LeafHash string            `json:"leaf_hash"`
	Time     time.Time         `json:"time"`
	Event    string            `json:"event"`
	Party    string            `json:"party"`
	KeyIDs   []string          `json:"key_ids"`
	To       string            `json:"to,omitempty"`
	From     string            `json:"from,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Digests  map[string]string `json:"digests,omitempty"`
	Mismatch bool              `json:"mismatch,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
}

// Event summarises an accepted entry, for the submitter and for logs.
type Event struct {
	Index         int64    `json:"index"`
	Kind          string   `json:"kind"` // an Event* name
	PredicateType string   `json:"predicate_type"`
	Party         string   `json:"party"`   // the acting party; for party events the party enrolled, rotated or revoked
	Signers       []string `json:"signers"` // the party of each signature, in envelope order
	KeyIDs        []string `json:"key_ids"`
	Exhibit       string   `json:"exhibit,omitempty"`
	Holder        string   `json:"holder,omitempty"` // the exhibit's holder after the event
	Status        string   `json:"status,omitempty"` // the exhibit's status after the event
	Exhibits      []string `json:"exhibits,omitempty"`
}

// RuleError is a refusal by a custody rule. Rule is a short stable id:
//
//	genesis           leaf 0 must be the admin's self-signed enrolment, and only it
//	not-enrolled      a signing key, a named party or a party's key is not enrolled
//	key-revoked       a signing key was revoked at or before the entry's index
//	key-not-current   a signing key was rotated out, or KeyRotate names a key that is not current
//	admin-only        needs the signature of an admin's current key (or, for keys, the party's)
//	possession        an enrolment lacks the signature of the key it enrols
//	party-exists      an enrolment names a party already enrolled
//	key-exists        an enrolment or rotation adds a key already known
//	role              a party lacks a role the event needs
//	bad-predicate     the predicate or its subject breaks its shape (Err says how, when it is a *ParseError)
//	unknown-exhibit   the exhibit is not registered
//	exhibit-exists    acquire or derive names an exhibit id already registered
//	holder-only       only the holder releases, derives, seals, unseals or disposes
//	named-receiver    only the named receiver accepts or rejects an open release
//	one-open-release  the exhibit has an open release
//	sealed            the exhibit is sealed (or, for unseal, is not)
//	disposed          the exhibit was disposed of
//	replay            Prev is not the exhibit's latest event (or the open release)
//	digests-match     the subject's digests differ from the acquired ones
//
// A registered digest is refused with a *DuplicateError instead.
// Exhibit and Holder are set when the rule concerns an exhibit, Party is the
// party refused, Index the entry's index.
type RuleError struct {
	Rule    string
	Exhibit string
	Holder  string
	Party   string
	Index   int64
	Msg     string
	Err     error // for bad-predicate, the *ParseError of the predicate, if any
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("custody rule %s: %s (leaf %d)", e.Rule, e.Msg, e.Index)
}

func (e *RuleError) Unwrap() error { return e.Err }

// DuplicateError refuses an entry that repeats an earlier one. Exhibit is
// "" when the envelope is byte for byte the one at Index; otherwise the
// entry registers an artifact whose SHA-256 is already exhibit Exhibit,
// acquired (or derived) at Index.
type DuplicateError struct {
	Exhibit string
	SHA256  string
	Index   int64 // the earlier leaf
	At      int64 // the refused entry's index
}

func (e *DuplicateError) Error() string {
	if e.Exhibit == "" {
		return fmt.Sprintf("duplicate entry: leaf %d holds the same envelope (leaf %d)", e.Index, e.At)
	}
	return fmt.Sprintf("duplicate artifact: sha256 %s is already exhibit %s, registered at leaf %d (leaf %d)", e.SHA256, e.Exhibit, e.Index, e.At)
}

// Apply checks e against the custody rules as of e.Index and returns the
// records it changes and a summary of the event. On refusal it returns a
// *RuleError (or *DuplicateError, or a *ParseError / *SignatureError) and
// no records; any other error is the View's, or a stored record that does
// not decode.
//
// Every signature of the envelope must verify and be by a key of an
// enrolled party that is active at e.Index (the one exception: the key an
// Enroll or KeyRotate adds). The party of the first signature is the one
// that acts; other signatures are co-signatures (a witness, an admin).
func Apply(v View, e Entry) ([]Record, *Event, error) {
	return ApplyPrepared(v, Prepare(e))
}

// A PreparedEntry is an entry with the part of Apply's work done that
// reads no state: the hash of its envelope, the envelope parsed, and the
// envelope's statement parsed (or why either does not parse). A replay
// that applies entries in order can prepare the next ones on other
// goroutines meanwhile.
type PreparedEntry struct {
	e       Entry
	nkey    string // the envelope's record key (entryKey)
	env     *Envelope
	envErr  error
	stmt    *Statement
	stmtErr error
	// verified are the ids of the keys (PublicKey.KeyID, of the key
	// itself) whose signature over this envelope ApplyPrepared has
	// verified: applied again, against another state, the envelope's
	// signatures by those keys are not checked again. Whether a signature
	// verifies depends on the envelope and the key alone.
	verified []string
}

// Prepare does the work of Apply on e that reads no state. It is safe to
// call on any goroutine; ApplyPrepared does the rest.
func Prepare(e Entry) *PreparedEntry {
	p := &PreparedEntry{e: e, nkey: entryKey(e.Envelope)}
	p.env, p.envErr = ParseEnvelope(e.Envelope)
	if p.envErr == nil {
		p.stmt, p.stmtErr = ParseStatement(p.env.Payload)
	}
	return p
}

// Entry is the entry p was prepared from.
func (p *PreparedEntry) Entry() Entry { return p.e }

// ApplyPrepared is Apply(v, p.Entry()), on the work Prepare did: the
// same records, event and errors, in the same order of checks (a
// duplicate envelope is reported before one that does not parse). It
// notes in p which keys' signatures verified, so that applying p again
// against another state (a replay that applied it speculatively) checks
// only the rules, and signatures by other keys; so one p must not be
// applied on two goroutines at once.
func ApplyPrepared(v View, p *PreparedEntry) ([]Record, *Event, error) {
	if v == nil {
		return nil, nil, errors.New("custody: Apply with a nil View")
	}
	e := p.e
	if e.Index < 0 {
		return nil, nil, fmt.Errorf("custody: Apply at negative index %d", e.Index)
	}
	a := &applier{tx: tx{v: v, set: make([]Record, 0, 4)}, e: e, ref: e.Ref(), prep: p} // most entries set 3 or 4 records
	a.signers = a.signerBuf[:0]
	ev, err := a.apply()
	if err != nil {
		return nil, nil, err
	}
	return a.tx.records(), ev, nil
}

// tx is a View with the records of the entry being applied laid on top.
type tx struct {
	v   View
	set []Record // each key once; an entry sets a handful
}

// find returns the place of key in t.set, or -1.
func (t *tx) find(key string) int {
	for i := range t.set {
		if t.set[i].Key == key {
			return i
		}
	}
	return -1
}

// raw returns the record at key, reporting whether it exists.
func (t *tx) raw(key string) ([]byte, bool, error) {
	var b []byte
	i := t.find(key)
	ok := i >= 0
	if ok {
		b = t.set[i].Value
	} else {
		var err error
		if b, ok, err = t.v.Get(key); err != nil {
			return nil, false, fmt.Errorf("custody: reading record %s: %w", key, err)
		}
	}
	return b, ok && b != nil, nil
}

// get decodes the record at key into into, reporting whether it exists.
func (t *tx) get(key string, into any) (bool, error) {
	b, ok, err := t.raw(key)
	if !ok || err != nil {
		return false, err
	}
	if err := decodeRecord(b, into); err != nil {
		return false, fmt.Errorf("custody: record %s does not decode: %w", key, err)
	}
	return true, nil
}

// The k/ and d/ records, read for every entry, are a JSON string, and the
// n/ records a JSON number: getString and getInt are get of a string and
// of an int64. Plain ones are read without encoding/json, to the same
// value, and without a variable that escapes to the heap through get's
// interface.

func (t *tx) getString(key string) (string, bool, error) {
	b, ok, err := t.raw(key)
	if !ok || err != nil {
		return "", false, err
	}
	if s, ok := plainString(b); ok {
		return s, true, nil
	}
	var s string
	if err := decodeRecord(b, &s); err != nil {
		return "", false, fmt.Errorf("custody: record %s does not decode: %w", key, err)
	}
	return s, true, nil
}

func (t *tx) getInt(key string) (int64, bool, error) {
	b, ok, err := t.raw(key)
	if !ok || err != nil {
		return 0, false, err
	}
	if n, ok := plainInt(b); ok {
		return n, true, nil
	}
	var n int64
	if err := decodeRecord(b, &n); err != nil {
		return 0, false, fmt.Errorf("custody: record %s does not decode: %w", key, err)
	}
	return n, true, nil
}

// plainString returns the string a JSON string of printable ASCII without
// escapes decodes to.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}

// plainName reports whether json.Marshal writes s as it is between quotes:
// printable ASCII other than '"', '\\' and the characters it escapes for
// HTML ('<', '>', '&').
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte is plainName of each byte, a table: every record custos
// writes runs every byte of its strings through it.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// plainInt returns the int64 a JSON integer (no sign but '-', no leading
// zero, no fraction or exponent) decodes to.
func plainInt(b []byte) (int64, bool) {
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

func (t *tx) put(key string, v any) {
	r := Record{Key: key, Value: encodeRecord(key, v)}
	r.exhibit, _ = v.(*ExhibitRecord) // the handlers change an exhibit before they put it, never after
	t.setRecord(r)
}

// setRecord sets r, in place of the record of its key if there is one.
func (t *tx) setRecord(r Record) {
	if i := t.find(r.Key); i >= 0 {
		t.set[i] = r
		return
	}
	t.set = append(t.set, r)
}

// encodeRecord returns json.Marshal(v), the value of the record key.
func encodeRecord(key string, v any) []byte {
	// The k/, d/ and n/ records, written for every entry, are a name or an
	// index, and most e/ and h/ records hold only plain strings: encoded
	// as json.Marshal would, without it (recordjson.go).
	switch v := v.(type) {
	case int64:
		return strconv.AppendInt(nil, v, 10)
	case string:
		if plainName(v) {
			return append(append(append(make([]byte, 0, len(v)+2), '"'), v...), '"')
		}
	case *ExhibitRecord:
		// Written on the stack and copied at its size: a replay keeps
		// every record it writes.
		var buf [512]byte
		if b, ok := appendExhibitRecord(buf[:0], v); ok {
			return bytes.Clone(b)
		}
	case *HistoryStep:
		var buf [512]byte
		if b, ok := appendHistoryStep(buf[:0], v); ok {
			return bytes.Clone(b)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("custody: encoding record %s: %v", key, err)) // our own types always encode
	}
	return b
}

// records returns the records set, in key order.
func (t *tx) records() []Record {
	slices.SortFunc(t.set, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	return t.set
}

func (t *tx) party(name string) (*PartyRecord, error) {
	p, err := t.sharedParty(name)
	if p == nil || err != nil {
		return nil, err
	}
	return p.clone(), nil
}

// sharedParty is party, read-only: the record may be shared (sharedParty
// in keycache.go), so nobody may change it.
func (t *tx) sharedParty(name string) (*PartyRecord, error) {
	key := partyKey(name)
	b, ok, err := t.raw(key)
	if !ok || err != nil {
		return nil, err
	}
	p, err := sharedParty(b)
	if err != nil {
		return nil, fmt.Errorf("custody: record %s does not decode: %w", key, err)
	}
	return p, nil
}

func (t *tx) exhibit(id string) (*ExhibitRecord, error) {
	return t.exhibitAt(exhibitKey(id))
}

// exhibitAt is exhibit by the record's key.
func (t *tx) exhibitAt(key string) (*ExhibitRecord, error) {
	b, ok, err := t.raw(key)
	if !ok || err != nil {
		return nil, err
	}
	x := new(ExhibitRecord)
	if err := decodeRecord(b, x); err != nil {
		return nil, fmt.Errorf("custody: record %s does not decode: %w", key, err)
	}
	return x, nil
}

func partyKey(name string) string         { return "p/" + name }
func keyKey(id string) string             { return "k/" + id }
func exhibitKey(id string) string         { return "e/" + id }
func digestKey(sha256hex string) string   { return "d/" + sha256hex }
func historyPrefix(exhibit string) string { return "h/" + exhibit + "/" }

// HistoryKey is the index key of the history step of exhibit ex at leaf i:
// "h/<ex>/<i, 16 digits>", so that a scan of an exhibit's prefix gives its
// steps in leaf order.
func HistoryKey(ex string, i int64) string {
	// fmt.Sprintf("h/%s/%016d", ex, i), for i ≥ 0, without fmt.
	b := make([]byte, 0, len(ex)+20)
	b = append(append(append(b, "h/"...), ex...), '/')
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], i, 10)
	for range 16 - len(d) {
		b = append(b, '0')
	}
	return string(append(b, d...))
}
func entryKey(env []byte) string {
	sum := sha256.Sum256(env)
	var b [2 + 2*sha256.Size]byte // "n/" + hex, made in one allocation
	copy(b[:], "n/")
	hex.Encode(b[2:], sum[:])
	return string(b[:])
}

// signer is one verified signature of the entry.
type signer struct {
	keyID string
	party *PartyRecord // nil for the key an Enroll or KeyRotate adds; shared: read only
	name  string       // the party's name (for an added key, the predicate's party)
}

type applier struct {
	tx      tx
	e       Entry
	ref     LeafRef
	prep    *PreparedEntry
	stmt    *Statement
	signers []signer

	signerBuf [2]signer // signers' first array: most entries have one or two
}

func (a *applier) apply() (*Event, error) {
	p := a.prep
	nkey := p.nkey
	if prev, ok, err := a.tx.getInt(nkey); err != nil {
		return nil, err
	} else if ok {
		return nil, &DuplicateError{Index: prev, At: a.e.Index}
	}
	if p.envErr != nil {
		return nil, p.envErr
	}
	env := p.env
	// Parsed before the signatures are checked only to find the key an
	// Enroll or KeyRotate adds; nothing acts on it until they verify.
	if p.stmtErr != nil {
		return nil, p.stmtErr
	}
	stmt := p.stmt
	a.stmt = stmt
	const genesis = "leaf 0 must enrol the ledger's admin, signed by the admin's key alone"
	if a.e.Index == 0 && stmt.PredicateType != PredicateEnroll {
		return nil, a.refuse("genesis", nil, "", genesis+"; got %s", quoteShort(stmt.PredicateType))
	}
	if err := a.verify(env); err != nil {
		return nil, err
	}
	if a.e.Index == 0 && (len(a.signers) != 1 || a.signers[0].party != nil) {
		return nil, a.refuse("genesis", nil, a.signers[0].name, genesis)
	}
	var (
		ev  *Event
		err error
	)
	switch stmt.PredicateType {
	case PredicateEnroll:
		ev, err = a.enroll()
	case PredicateKeyRotate:
		ev, err = a.keyRotate()
	case PredicateKeyRevoke:
		ev, err = a.keyRevoke()
	case PredicateAcquire:
		ev, err = a.acquire()
	case PredicateDerive:
		ev, err = a.derive()
	case PredicateRelease:
		ev, err = a.release()
	case PredicateAccept:
		ev, err = a.accept()
	case PredicateReject:
		ev, err = a.reject()
	case PredicateSeal:
		ev, err = a.seal()
	case PredicateUnseal:
		ev, err = a.unseal()
	case PredicateDispose:
		ev, err = a.dispose()
	case PredicateFinding:
		ev, err = a.applyFinding()
	case PredicateReproduction:
		ev, err = a.applyReproduction()
	case PredicateHypothesis:
		ev, err = a.applyHypothesis()
	case PredicatePolicy:
		ev, err = a.applyPolicy()
	case PredicateVerdict:
		ev, err = a.applyVerdict()
	default:
		if strings.HasPrefix(stmt.PredicateType, predicateBase) {
			// A custody predicate of a version this code does not know
			// must not pass as a mere attestation.
			return nil, a.refuse("bad-predicate", nil, a.actor().name, "unknown custody predicate type %s", quoteShort(stmt.PredicateType))
		}
		ev, err = a.attestation()
	}
	if err != nil {
		return nil, err
	}
	ev.Index = a.e.Index
	ev.PredicateType = stmt.PredicateType
	n := len(a.signers)
	lists := make([]string, 2*n) // both lists in one allocation
	ev.Signers, ev.KeyIDs = lists[:n:n], lists[n:]
	for i, s := range a.signers {
		ev.Signers[i], ev.KeyIDs[i] = s.name, s.keyID
	}
	a.tx.put(nkey, a.e.Index)
	return ev, nil
}

// addedKey returns the key that the (not yet verified) statement adds, if
// it is an Enroll or KeyRotate: its id, PEM and party. A predicate that does
// not decode adds no key; the handler reports it once the signatures verify.
func addedKey(stmt *Statement) (id, pem, party string) {
	switch stmt.PredicateType {
	case PredicateEnroll:
		var p Enroll
		if json.Unmarshal(stmt.Predicate, &p) == nil {
			return p.Key.ID, p.Key.PEM, p.Party
		}
	case PredicateKeyRotate:
		var p KeyRotate
		if json.Unmarshal(stmt.Predicate, &p) == nil {
			return p.NewKey.ID, p.NewKey.PEM, p.Party
		}
	}
	return "", "", ""
}

// verify checks rule 1 for every signature of env and fills a.signers.
func (a *applier) verify(env *Envelope) error {
	i := a.e.Index
	newID, newPEM, newParty := addedKey(a.stmt)
	for _, s := range env.Signatures {
		name, ok, err := a.tx.getString(keyKey(s.KeyID))
		if err != nil {
			return err
		}
		if !ok {
			if s.KeyID == "" || s.KeyID != newID {
				return a.refuse("not-enrolled", nil, "", "key %s is not a key of any enrolled party", quoteShort(s.KeyID))
			}
			pub, err := cachedPublicKey(newPEM)
			if err != nil {
				return a.refuseErr("bad-predicate", newParty, err, "the key added for %s does not parse: %v", newParty, err)
			}
			if pub.KeyID() != newID {
				return a.refuse("bad-predicate", nil, newParty, "the key added for %s has id %s, not %s", newParty, pub.KeyID(), quoteShort(newID))
			}
			if err := a.verifySignature(env, pub); err != nil {
				return err
			}
			a.signers = append(a.signers, signer{keyID: s.KeyID, name: newParty})
			continue
		}
		p, err := a.tx.sharedParty(name) // a signer's record is only read
		if err != nil {
			return err
		}
		var k *KeyRecord
		if p != nil {
			k = p.key(s.KeyID)
		}
		if k == nil {
			return fmt.Errorf("custody: record %s names party %q, which does not list the key", keyKey(s.KeyID), name)
		}
		switch {
		case k.Revoked != NoIndex && k.Revoked <= i:
			return a.refuse("key-revoked", nil, name, "key %s of %s was revoked at leaf %d; it signs nothing from then on", k.ID, name, k.Revoked)
		case k.RotatedOut != NoIndex && k.RotatedOut <= i:
			return a.refuse("key-not-current", nil, name, "key %s of %s was rotated out at leaf %d; %s signs with %s", k.ID, name, k.RotatedOut, name, p.Current)
		case k.Added > i:
			return a.refuse("key-not-current", nil, name, "key %s of %s was added at leaf %d", k.ID, name, k.Added)
		}
		pub, err := cachedPublicKey(k.PEM)
		if err != nil {
			return fmt.Errorf("custody: stored key %s of %s: %w", k.ID, name, err)
		}
		if err := a.verifySignature(env, pub); err != nil {
			return err
		}
		a.signers = append(a.signers, signer{keyID: s.KeyID, party: p, name: name})
	}
	return nil
}

// verifySignature checks that a signature of env by pub verifies, unless
// one did when this prepared entry was applied before.
func (a *applier) verifySignature(env *Envelope, pub *PublicKey) error {
	if slices.Contains(a.prep.verified, pub.KeyID()) {
		return nil
	}
	if _, err := verifyParsed(env, pub); err != nil {
		return err
	}
	a.prep.verified = append(a.prep.verified, pub.KeyID())
	return nil
}

// actor is the signer that acts: the first.
func (a *applier) actor() signer { return a.signers[0] }

// signedByParty reports whether an enrolled key of the named party signed.
func (a *applier) signedByParty(name string) bool {
	return slices.ContainsFunc(a.signers, func(s signer) bool { return s.party != nil && s.name == name })
}

// adminSigner returns the name of a signing party with role admin. Its key
// is active, so it is the party's current key.
func (a *applier) adminSigner() (string, bool) {
	for _, s := range a.signers {
		if s.party != nil && s.party.HasRole(RoleAdmin) && s.party.Current == s.keyID {
			return s.name, true
		}
	}
	return "", false
}

func (a *applier) refuse(rule string, x *ExhibitRecord, party, format string, args ...any) *RuleError {
	re := &RuleError{Rule: rule, Party: party, Index: a.e.Index, Msg: fmt.Sprintf(format, args...)}
	if x != nil {
		re.Exhibit, re.Holder = x.ID, x.Holder
	}
	return re
}

func (a *applier) refuseErr(rule, party string, err error, format string, args ...any) *RuleError {
	re := a.refuse(rule, nil, party, format, args...)
	re.Err = err
	return re
}

// step returns the history step of this entry, by the acting party.
func (a *applier) step(event string) *HistoryStep {
	st := &HistoryStep{
		Index:    a.e.Index,
		LeafHash: a.ref.LeafHash,
		Time:     a.e.Time.UTC(),
		Event:    event,
		Party:    a.actor().name,
	}
	for _, s := range a.signers {
		st.KeyIDs = append(st.KeyIDs, s.keyID)
	}
	return st
}

func (a *applier) putStep(exhibit string, st *HistoryStep) {
	key := HistoryKey(exhibit, a.e.Index)
	a.tx.setRecord(Record{Key: key, Value: encodeRecord(key, st), step: st})
}

// attestation applies a statement of any non-custody predicate: rule 1
// only, and a history step for each registered exhibit among its subjects.
func (a *applier) attestation() (*Event, error) {
	ev := &Event{Kind: EventAttestation, Party: a.actor().name}
	for _, sub := range a.stmt.Subject {
		id, ok, err := a.tx.getString(digestKey(sub.Digest[identityAlgorithm]))
		if err != nil {
			return nil, err
		}
		if !ok || slices.Contains(ev.Exhibits, id) {
			continue
		}
		st := a.step(EventAttestation)
		st.Detail = map[string]string{"predicate_type": a.stmt.PredicateType}
		a.putStep(id, st)
		ev.Exhibits = append(ev.Exhibits, id)
	}
	return ev, nil
}

// firstMismatch returns the first algorithm, in name order, that observed
// and acquired both carry with different digests.
func firstMismatch(observed, acquired map[string]string) (string, bool) {
	for _, alg := range slices.Sorted(maps.Keys(observed)) {
		if w, ok := acquired[alg]; ok && w != observed[alg] {
			return alg, true
		}
	}
	return "", false
}
