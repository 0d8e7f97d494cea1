package verify_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// witnessKey is a witness's note key pair: vkey as `custos witness init`
// writes it, and a cosignature/v1 signer.
type witnessKey struct {
	vkey   string
	signer note.Signer
}

func newWitnessKey(t testing.TB, name string) witnessKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	return witnessKey{vkey, s}
}

// cosign returns signed with a cosignature by each of ws added.
func cosign(t testing.TB, signed []byte, ws ...witnessKey) []byte {
	t.Helper()
	for _, w := range ws {
		_, err := note.Open(signed, note.VerifierList())
		var u *note.UnverifiedNoteError
		if !errors.As(err, &u) {
			t.Fatalf("note.Open(%q) = %v", signed, err)
		}
		n := u.Note
		n.Sigs, n.UnverifiedSigs = n.UnverifiedSigs, nil
		if signed, err = note.Sign(n, w.signer); err != nil {
			t.Fatal(err)
		}
	}
	return signed
}

// lastLine returns a note's last signature line, newline included.
func lastLine(signed []byte) string {
	lines := strings.SplitAfter(strings.TrimSuffix(string(signed), "\n"), "\n")
	return lines[len(lines)-1] + "\n"
}

// policyKeys are the keys the policy tests name.
type policyKeys struct {
	log               logKey
	w1, w2, w3, other witnessKey
}

func newPolicyKeys(t testing.TB) policyKeys {
	return policyKeys{
		log: newLogKey(t, "example.org/policy"),
		w1:  newWitnessKey(t, "w1.example.org"), w2: newWitnessKey(t, "w2.example.org"),
		w3: newWitnessKey(t, "w3.example.org"), other: newWitnessKey(t, "other.example.org"),
	}
}

func TestParsePolicy(t *testing.T) {
	k := newPolicyKeys(t)
	// expand replaces LOG, W1, W2, W3 by keys.
	expand := func(s string) []byte {
		return []byte(strings.NewReplacer("LOG", k.log.vkey, "W1", k.w1.vkey, "W2", k.w2.vkey, "W3", k.w3.vkey).Replace(s))
	}
	head := "log LOG\nwitness a W1\nwitness b W2\nwitness c W3\n" // lines 1-4
	ok := []struct {
		name, text string
		want       []verify.PolicyGroup
		quorum     string
	}{
		{"flat", head + "group g 2 a b c\nquorum g\n", []verify.PolicyGroup{{"g", 2, []string{"a", "b", "c"}}}, "g"},
		{"any all nested", head + "group x any a b\ngroup y all x c\nquorum y\n",
			[]verify.PolicyGroup{{"x", 1, []string{"a", "b"}}, {"y", 2, []string{"x", "c"}}}, "y"},
		{"comments blank lines spaces", "# policy\n\n  log   LOG   # the log\n\twitness a W1\r\nquorum a # one witness\n", nil, "a"},
		{"quorum none", "log LOG\nquorum none\n", nil, "none"},
		{"no final newline", "log LOG\nquorum none", nil, "none"},
		{"quorum first defined", "witness a W1\nquorum a\nlog LOG\n", nil, "a"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			p, err := verify.ParsePolicy(expand(tt.text))
			if err != nil {
				t.Fatalf("ParsePolicy = %v, want nil", err)
			}
			if p.LogVKey != k.log.vkey || p.Origin != "example.org/policy" || p.Quorum != tt.quorum || !reflect.DeepEqual(p.Groups, tt.want) {
				t.Errorf("ParsePolicy = %+v, want log %s, origin example.org/policy, groups %v, quorum %s", p, k.log.vkey, tt.want, tt.quorum)
			}
		})
	}

	big := "log LOG\n" + strings.Repeat("#", verify.MaxPolicySize) + "\nquorum none\n"
	bad := []struct {
		name, text string
		line       int
		want       string
	}{
		{"unknown keyword", "log LOG\nwitnes a W1\nquorum none\n", 2, `unknown keyword "witnes"`},
		{"no log", "witness a W1\nquorum a\n", 3, "no log line"},
		{"two logs", "log LOG\nlog LOG\nquorum none\n", 2, "second log line; the log is given on line 1"},
		{"log extra field", "log LOG https://example.org\nquorum none\n", 1, "want \"log <vkey>\""},
		{"log bad key", "log example.org/policy+00000000+AAAA\nquorum none\n", 1, "log key"},
		{"witness fields", "log LOG\nwitness W1\nquorum none\n", 2, "want \"witness <name> <vkey>\""},
		{"witness bad key", "log LOG\nwitness a w1.example.org+12345678+AQ==\nquorum none\n", 2, `witness "a" key`},
		{"witness is the log", "log LOG\nwitness a LOG\nquorum a\n", 2, "key already given on line 1"},
		{"same key twice", head + "witness d W1\nquorum a\n", 5, `witness "d" key is the key already given on line 2`},
		{"duplicate witness name", "log LOG\nwitness a W1\nwitness a W2\nquorum a\n", 3, `name "a" already defined on line 2`},
		{"group named as witness", head + "group a 1 b\nquorum a\n", 5, `name "a" already defined on line 2`},
		{"reserved name", "log LOG\nwitness none W1\nquorum none\n", 2, `"none" is reserved`},
		{"undefined member", head + "group g 1 a z\nquorum g\n", 5, `"z" is not defined`},
		{"member defined later", head + "group g 1 a h\ngroup h 1 b\nquorum g\n", 5, `"h" is used before its definition on line 6`},
		{"self cycle", head + "group g 1 a g\nquorum g\n", 5, `group "g" lists itself as a member (a cycle)`},
		{"two-group cycle", head + "group g 1 h\ngroup h 1 g\nquorum g\n", 5, "rules out cycles"},
		{"duplicate member", head + "group g 2 a a\nquorum g\n", 5, `lists "a" twice`},
		{"k zero", head + "group g 0 a b\nquorum g\n", 5, "threshold 0 out of range: it has 2 members, want 1..2"},
		{"k above n", head + "group g 3 a b\nquorum g\n", 5, "threshold 3 out of range"},
		{"k leading zero", head + "group g 01 a b\nquorum g\n", 5, `threshold "01"`},
		{"k negative", head + "group g -1 a b\nquorum g\n", 5, "threshold -1 out of range"},
		{"k plus sign", head + "group g +1 a b\nquorum g\n", 5, `threshold "+1"`},
		{"k word", head + "group g most a b\nquorum g\n", 5, `threshold "most"`},
		{"group no members", head + "group g any\nquorum none\n", 5, "want \"group <name>"},
		{"no quorum", head, 5, "no quorum line"},
		{"two quorums", head + "quorum a\nquorum b\n", 6, "second quorum line; the quorum is given on line 5"},
		{"quorum undefined", head + "quorum z\n", 5, `"z" is not defined`},
		{"quorum before definition", "log LOG\nquorum a\nwitness a W1\n", 2, "used before its definition on line 3"},
		{"quorum fields", head + "quorum a b\n", 5, "want \"quorum <name|none>\""},
		{"not UTF-8", "log LOG\nwitness \xff W1\nquorum none\n", 2, "not UTF-8"},
		{"control in name", "log LOG\nwitness a\x01 W1\nquorum none\n", 2, "control"},
		{"oversized", big, 0, "exceeds the 65536-byte cap"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify.ParsePolicy(expand(tt.text))
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePolicy = %v, want a *ledger.ParseError", err)
			}
			if tt.line > 0 && pe.Field != fmt.Sprintf("line %d", tt.line) {
				t.Errorf("ParsePolicy = %q, want it at line %d", err, tt.line)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePolicy = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPolicyRoundTrip(t *testing.T) {
	k := newPolicyKeys(t)
	text := fmt.Sprintf("# a comment\nwitness a %s\nlog %s\nwitness b %s\ngroup x any a b\nwitness c %s\ngroup y all x c\nquorum y\n",
		k.w1.vkey, k.log.vkey, k.w2.vkey, k.w3.vkey)
	p, err := verify.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("log %s\nwitness a %s\nwitness b %s\nwitness c %s\ngroup x 1 a b\ngroup y 2 x c\nquorum y\n",
		k.log.vkey, k.w1.vkey, k.w2.vkey, k.w3.vkey)
	if got := string(p.Marshal()); got != want {
		t.Errorf("Marshal = %q, want %q", got, want)
	}
	q, err := verify.ParsePolicy(p.Marshal())
	if err != nil || !reflect.DeepEqual(p, q) {
		t.Errorf("ParsePolicy(Marshal) = %+v, %v; want %+v", q, err, p)
	}

	n, err := verify.NewPolicy(k.log.vkey+"\n", []string{k.w1.vkey, k.w2.vkey + "\n", k.w3.vkey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf("log %s\nwitness w1.example.org %s\nwitness w2.example.org %s\nwitness w3.example.org %s\ngroup witnesses 2 w1.example.org w2.example.org w3.example.org\nquorum witnesses\n",
		k.log.vkey, k.w1.vkey, k.w2.vkey, k.w3.vkey)
	if got := string(n.Marshal()); got != want {
		t.Errorf("NewPolicy(3 witnesses, 2).Marshal() = %q, want %q", got, want)
	}
	if q, err := verify.ParsePolicy(n.Marshal()); err != nil || !reflect.DeepEqual(n, q) {
		t.Errorf("ParsePolicy(NewPolicy.Marshal) = %+v, %v; want %+v", q, err, n)
	}
	none, err := verify.NewPolicy(k.log.vkey, nil, 0)
	if err != nil || string(none.Marshal()) != "log "+k.log.vkey+"\nquorum none\n" {
		t.Errorf("NewPolicy(no witnesses) = %q, %v; want quorum none", none.Marshal(), err)
	}
	for _, tt := range []struct {
		name      string
		witnesses []string
		quorum    int
	}{
		{"quorum 0", []string{k.w1.vkey}, 0},
		{"quorum above n", []string{k.w1.vkey}, 2},
		{"quorum without witnesses", nil, 1},
		{"same key twice", []string{k.w1.vkey, k.w1.vkey}, 1},
		{"log key as witness", []string{k.log.vkey}, 1},
		{"malformed key", []string{"w+1+2"}, 1},
	} {
		if _, err := verify.NewPolicy(k.log.vkey, tt.witnesses, tt.quorum); err == nil {
			t.Errorf("NewPolicy(%s) = nil error", tt.name)
		}
	}
}

func TestCheckCheckpoint(t *testing.T) {
	k := newPolicyKeys(t)
	l := newTestLog(t, k.log, entries("policy", 0, 5), nil)
	cp := l.signed[5]
	p, err := verify.NewPolicy(k.log.vkey, []string{k.w1.vkey, k.w2.vkey, k.w3.vkey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// w1's cosignature on another checkpoint: of this log at size 4, and of
	// another log.
	older := lastLine(cosign(t, l.signed[4], k.w1))
	otherKey := newLogKey(t, "example.org/other")
	otherLog := newTestLog(t, otherKey, entries("policy", 0, 5), nil)
	otherOrigin := lastLine(cosign(t, otherLog.signed[5], k.w1))
	// A line by w1's key that does not verify, ahead of a valid one.
	valid := lastLine(cosign(t, cp, k.w1))
	name, b64, _ := strings.Cut(strings.TrimPrefix(strings.TrimSuffix(valid, "\n"), "— "), " ")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	raw[len(raw)-1] ^= 1
	forged := "— " + name + " " + base64.StdEncoding.EncodeToString(raw) + "\n"

	tests := []struct {
		name   string
		signed []byte
		now    time.Time
		valid  []string // want these counted, and the quorum met if 2 or more
	}{
		{"none", cp, time.Time{}, nil},
		{"one short", cosign(t, cp, k.w1), time.Time{}, []string{"w1.example.org"}},
		{"two", cosign(t, cp, k.w3, k.w1), time.Time{}, []string{"w3.example.org", "w1.example.org"}},
		{"three", cosign(t, cp, k.w1, k.w2, k.w3), time.Time{}, []string{"w1.example.org", "w2.example.org", "w3.example.org"}},
		{"unknown key ignored", cosign(t, cp, k.other, k.w2), time.Time{}, []string{"w2.example.org"}},
		{"one witness twice", cosign(t, cosign(t, cp, k.w2), k.w2), time.Time{}, []string{"w2.example.org"}},
		{"cosignature of an older checkpoint", append(cosign(t, cp, k.w2), older...), time.Time{}, []string{"w2.example.org"}},
		{"cosignature for another origin", append(cosign(t, cp, k.w2), otherOrigin...), time.Time{}, []string{"w2.example.org"}},
		{"forged line before a valid one", append(append(cosign(t, cp, k.w2), forged...), valid...), time.Time{}, []string{"w2.example.org", "w1.example.org"}},
		{"future timestamps", cosign(t, cp, k.w1, k.w2), time.Now().Add(-11 * time.Minute), nil},
		{"timestamps within skew", cosign(t, cp, k.w1, k.w2), time.Now().Add(-9 * time.Minute), []string{"w1.example.org", "w2.example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.Now = nil
			if !tt.now.IsZero() {
				p.Now = func() time.Time { return tt.now }
			}
			c, cosigs, err := p.CheckCheckpoint(tt.signed)
			if c.Size != 5 || c.Origin != "example.org/policy" {
				t.Errorf("CheckCheckpoint = %+v, want the checkpoint of size 5", c)
			}
			var got []string
			for _, cs := range cosigs {
				got = append(got, cs.Witness)
				if d := time.Since(cs.Time); d < -time.Minute || d > time.Minute {
					t.Errorf("cosignature by %s at %v, want about now", cs.Witness, cs.Time)
				}
			}
			if !slices.Equal(got, tt.valid) {
				t.Errorf("CheckCheckpoint counted %q, want %q", got, tt.valid)
			}
			if len(tt.valid) >= 2 {
				if err != nil {
					t.Errorf("CheckCheckpoint = %v, want nil", err)
				}
				return
			}
			var qe *verify.QuorumError
			if !errors.As(err, &qe) || !errors.Is(err, verify.ErrQuorum) {
				t.Fatalf("CheckCheckpoint = %v, want a *QuorumError wrapping ErrQuorum", err)
			}
			if qe.Need != 2 || qe.Of != 3 || qe.Have != len(tt.valid) {
				t.Errorf("QuorumError = need %d of %d, have %d; want need 2 of 3, have %d", qe.Need, qe.Of, qe.Have, len(tt.valid))
			}
		})
	}

	p.Now = nil
	_, _, err = p.CheckCheckpoint(cosign(t, cp, k.w1))
	if want := "quorum not met: need 2 of 3 witnesses, valid 1 (w1.example.org)"; err == nil || err.Error() != want {
		t.Errorf("CheckCheckpoint(one cosignature) = %v, want %q", err, want)
	}
	// The log's signature comes first: a checkpoint by another log key, or
	// none, fails as Checkpoint does, whatever its cosignatures.
	if _, _, err := p.CheckCheckpoint(cosign(t, otherLog.signed[5], k.w1, k.w2)); outcome(err) != "checkpoint signature" {
		t.Errorf("CheckCheckpoint(another log's checkpoint) = %v, want a checkpoint signature error", err)
	}
	if none, _ := verify.NewPolicy(k.log.vkey, nil, 0); none != nil {
		if _, cosigs, err := none.CheckCheckpoint(cosign(t, cp, k.w1)); err != nil || len(cosigs) != 0 {
			t.Errorf("quorum none: CheckCheckpoint = %v, %v; want no cosignatures, nil", cosigs, err)
		}
	}
}

// TestNestedQuorum evaluates the Sigsum example: two of the X witnesses and
// one of the Y witnesses.
func TestNestedQuorum(t *testing.T) {
	log := newLogKey(t, "example.org/nested")
	l := newTestLog(t, log, entries("nested", 0, 2), nil)
	ws := map[string]witnessKey{}
	var b strings.Builder
	fmt.Fprintf(&b, "log %s\n", log.vkey)
	for _, n := range []string{"x1", "x2", "x3", "y1", "y2"} {
		ws[n] = newWitnessKey(t, n+".example.org")
		fmt.Fprintf(&b, "witness %s %s\n", n, ws[n].vkey)
	}
	b.WriteString("group X 2 x1 x2 x3\ngroup Y any y1 y2\ngroup XY all X Y\nquorum XY\n")
	p, err := verify.ParsePolicy([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		signers []string
		ok      bool
	}{
		{[]string{"x1", "x3", "y2"}, true},
		{[]string{"x1", "x2", "x3"}, false},
		{[]string{"x1", "y1", "y2"}, false},
		{[]string{"x2", "x3", "y1", "y2"}, true},
	} {
		var keys []witnessKey
		for _, s := range tt.signers {
			keys = append(keys, ws[s])
		}
		_, _, err := p.CheckCheckpoint(cosign(t, l.signed[2], keys...))
		if (err == nil) != tt.ok {
			t.Errorf("CheckCheckpoint(cosigned by %v) = %v, want ok %v", tt.signers, err, tt.ok)
		}
		if !tt.ok && !strings.Contains(fmt.Sprint(err), `need 2 of 2 members of group "XY", satisfied 1`) {
			t.Errorf("CheckCheckpoint(cosigned by %v) = %v, want it to count the members of XY", tt.signers, err)
		}
	}
}

// FuzzParsePolicy requires that ParsePolicy never panics, reports only
// *ledger.ParseError, and that whatever it accepts survives the round trip
// through Marshal unchanged.
func FuzzParsePolicy(f *testing.F) {
	k := newPolicyKeys(f)
	f.Add([]byte(fmt.Sprintf("log %s\nwitness a %s\nwitness b %s\ngroup g any a b\nquorum g\n", k.log.vkey, k.w1.vkey, k.w2.vkey)))
	f.Add([]byte(fmt.Sprintf("# c\nlog %s # x\nwitness a %s\nwitness b %s\nwitness c %s\ngroup g 2 a b\ngroup h all g c\nquorum h", k.log.vkey, k.w1.vkey, k.w2.vkey, k.w3.vkey)))
	f.Add([]byte(fmt.Sprintf("log %s\nquorum none\n", k.log.vkey)))
	f.Add([]byte("group g 1 g\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := verify.ParsePolicy(b)
		if err != nil {
			if !verify.IsMalformed(err) {
				t.Fatalf("ParsePolicy(%q) = %v, want a *ledger.ParseError", b, err)
			}
			return
		}
		m := p.Marshal()
		q, err := verify.ParsePolicy(m)
		if err != nil {
			t.Fatalf("ParsePolicy(Marshal(ParsePolicy(%q))) = %v", b, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("ParsePolicy(%q) = %+v, but after Marshal %+v", b, p, q)
		}
		if m2 := q.Marshal(); !bytes.Equal(m, m2) {
			t.Fatalf("Marshal not stable: %q then %q", m, m2)
		}
	})
}
