package verify

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
)

// MaxCosignatureSkew is how far in the future, by the verifier's clock, a
// cosignature's timestamp may be and still count towards the quorum. A
// witness's clock may run a little fast; a timestamp further ahead is a
// witness that cannot be telling the time, and CheckCheckpoint does not
// count it.
const MaxCosignatureSkew = 10 * time.Minute

// ErrQuorum is wrapped by the *QuorumError that CheckCheckpoint returns when
// a checkpoint signed by the log lacks the cosignatures its trust policy
// requires. Check with errors.Is.
var ErrQuorum = errors.New("witness quorum not met")

// A Policy is a trust policy: the one log a verifier trusts, the witnesses
// it trusts to have checked that log, and how many of them must have
// cosigned a checkpoint for the verifier to believe it (the quorum).
//
// Its text form follows the Sigsum policy file
// (https://git.glasklar.is/sigsum/core/sigsum-go/-/blob/main/doc/policy.md),
// with C2SP signed-note verifier keys (name+hash+base64) in place of hex
// keys:
//
//	# Trust policy for case 0042. "#" starts a comment; blank lines are ignored.
//	log example.org/cert-ledger+6e2a8c1d+AXW5...
//	witness w1 witness1.example.org+1b9c4f02+AZ3x...
//	witness w2 witness2.example.org+77d0e5a3+Aa7Q...
//	witness w3 witness3.example.org+0c4419be+AfLk...
//	group witnesses 2 w1 w2 w3
//	quorum witnesses
//
// Each line is a keyword and fields separated by white space:
//
//	log <vkey>                      exactly one; the key's name is the log's origin
//	witness <name> <vkey>           an Ed25519 note key, as `custos witness init` writes it
//	group <name> <k|any|all> <member>...
//	                                satisfied when k of its members are (any: 1, all: every one);
//	                                members are witness or group names
//	quorum <name|none>              exactly one; the witness or group that must be satisfied,
//	                                or none to require no cosignature
//
// Witness and group names share one namespace; they label lines of this
// file and mean nothing outside it ("none" is reserved). A name must be
// defined on a line before any line that uses it, so groups cannot form a
// cycle. Every witness key and the log key must be distinct: one key
// cannot count twice. A witness key is checked as a C2SP tlog-cosignature
// v1 key (https://c2sp.org/tlog-cosignature), converted from the Ed25519
// note key with transparency-dev/formats/note's VKeyToCosignatureV1.
//
// Marshal writes the log line, the witnesses, the groups (in their order)
// and the quorum line, numbers for thresholds and no comments; ParsePolicy
// of that text gives the same Policy.
type Policy struct {
	LogVKey   string // the log's note verifier key
	Origin    string // the log's origin: LogVKey's name (set by ParsePolicy and NewPolicy)
	Witnesses []PolicyWitness
	Groups    []PolicyGroup
	Quorum    string // a witness or group name, or "none"

	// Now is the clock that future cosignature timestamps are judged by
	// (see MaxCosignatureSkew); nil means time.Now.
	Now func() time.Time
}

// A PolicyWitness is a witness line of a Policy.
type PolicyWitness struct {
	Name string // the policy's name for the witness
	VKey string // its Ed25519 note verifier key, name+hash+base64
}

// A PolicyGroup is a group line of a Policy: it is satisfied when at least
// K of Members (witness or group names) are.
type PolicyGroup struct {
	Name    string
	K       int
	Members []string
}

// A Cosignature is a witness cosignature that CheckCheckpoint counted.
type Cosignature struct {
	Witness string    // the policy's name for the witness
	Time    time.Time // the timestamp the witness signed
}

// A QuorumError reports a checkpoint validly signed by the log whose
// cosignatures do not satisfy the policy's quorum. It wraps ErrQuorum.
type QuorumError struct {
	Quorum string   // the policy's quorum: a group or witness name
	Need   int      // members of the quorum that must be satisfied
	Have   int      // members that are
	Of     int      // members the quorum has
	Valid  []string // witnesses whose cosignatures counted, in policy order
	nested bool     // the quorum has groups as members
}

func (e *QuorumError) Error() string {
	var b strings.Builder
	if e.nested {
		fmt.Fprintf(&b, "quorum not met: need %d of %d members of group %q, satisfied %d; valid witnesses %d", e.Need, e.Of, e.Quorum, e.Have, len(e.Valid))
	} else {
		fmt.Fprintf(&b, "quorum not met: need %d of %d witnesses, valid %d", e.Need, e.Of, e.Have)
	}
	if len(e.Valid) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(e.Valid, ", "))
	}
	return b.String()
}

func (e *QuorumError) Unwrap() error { return ErrQuorum }

// compiledPolicy is a Policy's keys parsed and its names resolved.
type compiledPolicy struct {
	log       note.Verifier
	verifiers note.Verifiers   // witness cosignature verifiers
	byKey     map[keyID]string // verifier name and key hash -> witness name
	isWitness map[string]bool  // witness names
	groups    map[string]PolicyGroup
	order     []string // witness names in policy order
}

type keyID struct {
	name string
	hash uint32
}

// ParsePolicy parses a trust policy in the form Policy documents. It
// refuses unknown keywords, a missing or repeated log or quorum line,
// malformed or repeated keys, repeated names, members or quorums naming
// nothing defined on an earlier line (so cycles too), and thresholds
// outside 1..n. Input over MaxPolicySize (declared with the bundle limits)
// is refused before parsing. Every error is a *ledger.ParseError naming
// the line.
func ParsePolicy(b []byte) (*Policy, error) {
	p, _, err := parsePolicy(b)
	return p, err
}

func parsePolicy(b []byte) (*Policy, *compiledPolicy, error) {
	if len(b) > MaxPolicySize {
		return nil, nil, &ledger.ParseError{What: "trust policy", Msg: fmt.Sprintf("%d bytes exceeds the %d-byte cap", len(b), MaxPolicySize)}
	}
	lines := strings.Split(string(b), "\n")
	bad := func(n int, format string, args ...any) error {
		return &ledger.ParseError{What: "trust policy", Field: fmt.Sprintf("line %d", n), Msg: fmt.Sprintf(format, args...)}
	}
	// Where each name is defined, for saying so when it is used too early.
	definedAt := map[string]int{}
	for i, l := range lines {
		f := strings.Fields(stripComment(l))
		if len(f) >= 2 && (f[0] == "witness" || f[0] == "group") {
			if _, ok := definedAt[f[1]]; !ok {
				definedAt[f[1]] = i + 1
			}
		}
	}

	p := &Policy{}
	c := &compiledPolicy{byKey: map[keyID]string{}, isWitness: map[string]bool{}, groups: map[string]PolicyGroup{}}
	var verifiers []note.Verifier
	defined := map[string]int{} // names defined so far -> line
	keys := map[string]int{}    // raw public keys so far -> line
	logLine, quorumLine := 0, 0
	for i, l := range lines {
		n := i + 1
		if !utf8.ValidString(l) {
			return nil, nil, bad(n, "not UTF-8")
		}
		f := strings.Fields(stripComment(l))
		if len(f) == 0 {
			continue
		}
		name := func(s string) error {
			if err := checkName(s); err != nil {
				return bad(n, "%v", err)
			}
			if prev, ok := defined[s]; ok {
				return bad(n, "name %q already defined on line %d", s, prev)
			}
			return nil
		}
		key := func(raw []byte, what string) error {
			if prev, ok := keys[string(raw)]; ok {
				return bad(n, "%s is the key already given on line %d; one key cannot count twice", what, prev)
			}
			keys[string(raw)] = n
			return nil
		}
		use := func(s, user string) error {
			if _, ok := defined[s]; ok {
				return nil
			}
			switch at, ok := definedAt[s]; {
			case s == user:
				return bad(n, "group %q lists itself as a member (a cycle)", s)
			case ok:
				return bad(n, "%q is used before its definition on line %d; names must be defined on an earlier line (which also rules out cycles)", s, at)
			}
			return bad(n, "%q is not defined", s)
		}
		switch f[0] {
		case "log":
			if logLine != 0 {
				return nil, nil, bad(n, "a second log line; the log is given on line %d", logLine)
			}
			if len(f) != 2 {
				return nil, nil, bad(n, "want \"log <vkey>\", got %d fields", len(f))
			}
			v, err := ParseLogKey(f[1])
			if err != nil {
				return nil, nil, bad(n, "log key: %v", errMsg(err))
			}
			raw, err := ed25519Key(f[1])
			if err != nil {
				return nil, nil, bad(n, "log key: %v", err)
			}
			if err := key(raw, "the log key"); err != nil {
				return nil, nil, err
			}
			logLine, p.LogVKey, p.Origin, c.log = n, f[1], v.Name(), v
		case "witness":
			if len(f) != 3 {
				return nil, nil, bad(n, "want \"witness <name> <vkey>\", got %d fields", len(f))
			}
			if err := name(f[1]); err != nil {
				return nil, nil, err
			}
			v, raw, err := parseWitnessKey(f[2])
			if err != nil {
				return nil, nil, bad(n, "witness %q key: %v", f[1], err)
			}
			if err := key(raw, fmt.Sprintf("witness %q key", f[1])); err != nil {
				return nil, nil, err
			}
			defined[f[1]] = n
			p.Witnesses = append(p.Witnesses, PolicyWitness{Name: f[1], VKey: f[2]})
			verifiers = append(verifiers, v)
			c.byKey[keyID{v.Name(), v.KeyHash()}] = f[1]
			c.isWitness[f[1]] = true
			c.order = append(c.order, f[1])
		case "group":
			if len(f) < 4 {
				return nil, nil, bad(n, "want \"group <name> <k|any|all> <member>...\", got %d fields", len(f))
			}
			if err := name(f[1]); err != nil {
				return nil, nil, err
			}
			g := PolicyGroup{Name: f[1], Members: f[3:]}
			seen := map[string]bool{}
			for _, m := range g.Members {
				if err := use(m, g.Name); err != nil {
					return nil, nil, err
				}
				if seen[m] {
					return nil, nil, bad(n, "group %q lists %q twice", g.Name, m)
				}
				seen[m] = true
			}
			switch k := f[2]; k {
			case "any":
				g.K = 1
			case "all":
				g.K = len(g.Members)
			default:
				v, err := strconv.Atoi(k)
				if err != nil || strconv.Itoa(v) != k {
					return nil, nil, bad(n, "group %q threshold %q: want a number, any or all", g.Name, k)
				}
				if v < 1 || v > len(g.Members) {
					return nil, nil, bad(n, "group %q threshold %d out of range: it has %d members, want 1..%d", g.Name, v, len(g.Members), len(g.Members))
				}
				g.K = v
			}
			defined[g.Name] = n
			p.Groups = append(p.Groups, g)
			c.groups[g.Name] = g
		case "quorum":
			if quorumLine != 0 {
				return nil, nil, bad(n, "a second quorum line; the quorum is given on line %d", quorumLine)
			}
			if len(f) != 2 {
				return nil, nil, bad(n, "want \"quorum <name|none>\", got %d fields", len(f))
			}
			if f[1] != "none" {
				if err := use(f[1], ""); err != nil {
					return nil, nil, err
				}
			}
			quorumLine, p.Quorum = n, f[1]
		default:
			return nil, nil, bad(n, "unknown keyword %q; want log, witness, group or quorum", f[0])
		}
	}
	end := len(lines)
	if logLine == 0 {
		return nil, nil, bad(end, "no log line")
	}
	if quorumLine == 0 {
		return nil, nil, bad(end, "no quorum line (write \"quorum none\" to require no cosignatures)")
	}
	c.verifiers = note.VerifierList(verifiers...)
	return p, c, nil
}

// stripComment removes a comment: "#" to the end of the line.
func stripComment(l string) string {
	if i := strings.IndexByte(l, '#'); i >= 0 {
		return l[:i]
	}
	return l
}

// checkName checks a witness or group name: one token of printable
// characters, not the reserved "none".
func checkName(s string) error {
	if s == "none" {
		return errors.New(`"none" is reserved`)
	}
	if len(s) > 256 {
		return fmt.Errorf("name of %d bytes, at most 256 allowed", len(s))
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '#' || r == utf8.RuneError {
			return fmt.Errorf("name %q holds a control, space or '#' character", s)
		}
	}
	return nil
}

// errMsg is a ParseError's message without its "malformed ..." prefix, for
// nesting it in another.
func errMsg(err error) string {
	var pe *ledger.ParseError
	if errors.As(err, &pe) {
		return pe.Msg
	}
	return err.Error()
}

// ed25519Key returns the raw public key of an Ed25519 note verifier key
// (algorithm byte 1), which note.NewVerifier has accepted.
func ed25519Key(vkey string) ([]byte, error) {
	_, rest, _ := strings.Cut(vkey, "+")
	_, b64, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 note key")
	}
	return raw[1:], nil
}

// parseWitnessKey parses a witness's Ed25519 note verifier key and returns
// the verifier of its C2SP tlog-cosignature v1 signatures and its raw key.
func parseWitnessKey(vkey string) (note.Verifier, []byte, error) {
	if len(vkey) > maxLogKeySize {
		return nil, nil, fmt.Errorf("%d bytes exceeds the %d-byte cap", len(vkey), maxLogKeySize)
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return nil, nil, fmt.Errorf("%v (want an Ed25519 note key name+hash+base64, as custos witness init writes it)", err)
	}
	raw, err := ed25519Key(vkey)
	if err != nil {
		return nil, nil, err
	}
	cosig, err := tnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		return nil, nil, err
	}
	v, err := tnote.NewVerifierForCosignatureV1(cosig)
	if err != nil {
		return nil, nil, err
	}
	return v, raw, nil
}

// Marshal returns the policy's text form. ParsePolicy(p.Marshal()) gives
// p back (with Now unset).
func (p *Policy) Marshal() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "log %s\n", p.LogVKey)
	for _, w := range p.Witnesses {
		fmt.Fprintf(&b, "witness %s %s\n", w.Name, w.VKey)
	}
	for _, g := range p.Groups {
		fmt.Fprintf(&b, "group %s %d %s\n", g.Name, g.K, strings.Join(g.Members, " "))
	}
	fmt.Fprintf(&b, "quorum %s\n", p.Quorum)
	return []byte(b.String())
}

// NewPolicy returns the policy that trusts the log with key logVKey and
// requires cosignatures by quorum of the witnesses with keys witnessVKeys
// (Ed25519 note keys, as `custos witness init` writes them), each named in
// the policy by its key's name:
//
//	log <logVKey>
//	witness <name> <vkey>      (one per witness)
//	group witnesses <quorum> <name>...
//	quorum witnesses
//
// With no witnesses quorum must be 0 and the policy says "quorum none".
// Keys and names must be distinct. Malformed keys give a
// *ledger.ParseError.
func NewPolicy(logVKey string, witnessVKeys []string, quorum int) (*Policy, error) {
	v, err := ParseLogKey(logVKey)
	if err != nil {
		return nil, err
	}
	p := &Policy{LogVKey: strings.TrimSpace(logVKey), Origin: v.Name(), Quorum: "none"}
	const group = "witnesses"
	switch n := len(witnessVKeys); {
	case n == 0 && quorum != 0:
		return nil, fmt.Errorf("verify: quorum %d with no witnesses; give witnesses or quorum 0", quorum)
	case n > 0 && (quorum < 1 || quorum > n):
		return nil, fmt.Errorf("verify: quorum %d out of range: want 1..%d (the number of witnesses)", quorum, n)
	}
	names := map[string]int{}
	var members []string
	for i, wk := range witnessVKeys {
		wk = strings.TrimSpace(wk)
		if _, _, err := parseWitnessKey(wk); err != nil {
			return nil, &ledger.ParseError{What: "witness key", Field: fmt.Sprintf("witness %d", i+1), Msg: err.Error()}
		}
		name, _, _ := strings.Cut(wk, "+")
		if err := checkName(name); err != nil || name == group {
			return nil, fmt.Errorf("verify: witness %d's key name %q cannot name a witness in a policy", i+1, name)
		}
		if j, ok := names[name]; ok {
			return nil, fmt.Errorf("verify: witnesses %d and %d are both named %q", j, i+1, name)
		}
		names[name] = i + 1
		members = append(members, name)
		p.Witnesses = append(p.Witnesses, PolicyWitness{Name: name, VKey: wk})
	}
	if len(members) > 0 {
		p.Groups = []PolicyGroup{{Name: group, K: quorum, Members: members}}
		p.Quorum = group
	}
	// One validation path: what NewPolicy writes must parse (repeated keys,
	// the log key listed as a witness).
	if _, _, err := p.compile(); err != nil {
		return nil, err
	}
	return p, nil
}

// compile validates p, by parsing its text form, and resolves its keys.
func (p *Policy) compile() (*Policy, *compiledPolicy, error) {
	// Marshal writes each field as one token; a field that is not one would
	// be read back as something else.
	tokens := []string{p.LogVKey, p.Quorum}
	for _, w := range p.Witnesses {
		tokens = append(tokens, w.Name, w.VKey)
	}
	for _, g := range p.Groups {
		tokens = append(tokens, g.Name)
		tokens = append(tokens, g.Members...)
	}
	for _, t := range tokens {
		if t == "" || strings.ContainsRune(t, '#') || len(strings.Fields(t)) != 1 || strings.TrimSpace(t) != t {
			return nil, nil, &ledger.ParseError{What: "trust policy", Msg: fmt.Sprintf("field %q is not one token", t)}
		}
	}
	return parsePolicy(p.Marshal())
}

// CheckCheckpoint verifies a signed checkpoint under the policy. It
// verifies the log's signature and the origin as Checkpoint does, then
// every signature line that is a valid C2SP tlog-cosignature v1 by a
// witness of the policy (lines by other keys are ignored, as
// golang.org/x/mod/sumdb/note ignores unknown keys; a line that does not
// verify does not count; a witness counts once), then the quorum.
// Cosignatures whose timestamp is more than MaxCosignatureSkew after p.Now
// do not count.
//
// It returns the checkpoint and the cosignatures that counted, in the order
// of their lines. If the quorum is not met it returns them with a
// *QuorumError (wrapping ErrQuorum); other errors are as Checkpoint's, or
// a *ledger.ParseError if the policy itself is invalid.
func (p *Policy) CheckCheckpoint(signed []byte) (ledger.Checkpoint, []Cosignature, error) {
	_, q, err := p.compile()
	if err != nil {
		return ledger.Checkpoint{}, nil, err
	}
	c, err := Checkpoint(signed, q.log)
	if err != nil {
		return ledger.Checkpoint{}, nil, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	latest := now().Add(MaxCosignatureSkew)

	// Checkpoint opened the note, so it is text, a blank line and signature
	// lines. Each line is checked on its own, so that one bad line cannot
	// hide a good one by the same witness.
	split := strings.LastIndex(string(signed), "\n\n")
	text, sigs := string(signed[:split+1]), string(signed[split+2:])
	var cosigs []Cosignature
	counted := map[string]bool{}
	for _, line := range strings.SplitAfter(sigs, "\n") {
		if line == "" {
			continue
		}
		n, err := note.Open([]byte(text+"\n"+line), q.verifiers)
		if err != nil {
			continue // another key's line, or one that does not verify
		}
		s := n.Sigs[0]
		w := q.byKey[keyID{s.Name, s.Hash}]
		if counted[w] {
			continue
		}
		t, err := tnote.CoSigV1Timestamp(s)
		if err != nil || t.After(latest) {
			continue
		}
		counted[w] = true
		cosigs = append(cosigs, Cosignature{Witness: w, Time: t})
	}
	if p.Quorum == "none" {
		return c, cosigs, nil
	}
	if e := q.quorum(p.Quorum, counted); e != nil {
		return c, cosigs, e
	}
	return c, cosigs, nil
}

// quorum returns nil if the quorum is satisfied by the witnesses in valid,
// and otherwise the *QuorumError saying by how much it is not.
func (q *compiledPolicy) quorum(name string, valid map[string]bool) *QuorumError {
	// Groups may share members, so results are memoized: without it a
	// chain of groups each holding the two before it takes exponential time.
	memo := map[string]bool{}
	var ok func(string) bool
	ok = func(m string) bool {
		if q.isWitness[m] {
			return valid[m]
		}
		if r, done := memo[m]; done {
			return r
		}
		g := q.groups[m]
		have := 0
		for _, mm := range g.Members {
			if ok(mm) {
				have++
			}
		}
		memo[m] = have >= g.K
		return memo[m]
	}
	e := &QuorumError{Quorum: name}
	for _, w := range q.order {
		if valid[w] {
			e.Valid = append(e.Valid, w)
		}
	}
	if q.isWitness[name] {
		e.Need, e.Of = 1, 1
		if valid[name] {
			return nil
		}
		return e
	}
	g := q.groups[name]
	e.Need, e.Of = g.K, len(g.Members)
	for _, m := range g.Members {
		if !q.isWitness[m] {
			e.nested = true
		}
		if ok(m) {
			e.Have++
		}
	}
	if e.Have >= e.Need {
		return nil
	}
	return e
}
