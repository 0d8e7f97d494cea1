package custody

// The custody rules, one method per predicate (see Apply and RuleError).

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

var (
	exhibitIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)
	partyNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// decode decodes the predicate strictly into p (a pointer to a predicate
// struct): no unknown field, every field without omitempty non-empty, and
// exactly one subject.
func (a *applier) decode(p any) error {
	party := a.actor().name
	if n := len(a.stmt.Subject); n != 1 {
		return a.refuse("bad-predicate", nil, party, "a custody statement has exactly one subject, got %d", n)
	}
	if err := decodeStrict("predicate", MaxStatementSize, a.stmt.Predicate, p); err != nil {
		return a.refuseErr("bad-predicate", party, err, "%s: %v", a.stmt.PredicateType, err)
	}
	v := reflect.ValueOf(p).Elem()
	for _, f := range requiredFieldsOf(v.Type()) {
		if v.FieldByIndex(f.index).Len() == 0 {
			return a.refuse("bad-predicate", nil, party, "%s: field %s is required", a.stmt.PredicateType, f.path)
		}
	}
	return nil
}

// A requiredField is a field of a predicate struct that must not be empty:
// a string or slice whose json tag has no omitempty, directly or in a
// struct field that is required in turn. path is its JSON name, dotted.
type requiredField struct {
	index []int
	path  string
}

var requiredFields sync.Map // reflect.Type → []requiredField

// requiredFieldsOf returns the required fields of struct type t, in field
// order (depth first), from a walk of the type made once: decode checks
// them for every predicate.
func requiredFieldsOf(t reflect.Type) []requiredField {
	if fs, ok := requiredFields.Load(t); ok {
		return fs.([]requiredField)
	}
	var fs []requiredField
	var walk func(t reflect.Type, index []int, prefix string)
	walk = func(t reflect.Type, index []int, prefix string) {
		for i := range t.NumField() {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" || strings.Contains(opts, "omitempty") {
				continue
			}
			at := append(slices.Clip(index), i)
			switch t.Field(i).Type.Kind() {
			case reflect.String, reflect.Slice:
				fs = append(fs, requiredField{index: at, path: prefix + name})
			case reflect.Struct:
				walk(t.Field(i).Type, at, prefix+name+".")
			}
		}
	}
	walk(t, nil, "")
	requiredFields.Store(t, fs)
	return fs
}

// validID is exhibitIDPattern.MatchString(id), without the regexp
// engine: every registration and custody event checks an id.
// TestValidIDMatchesPattern holds the two equal.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 128 || !isAlnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

// validPartyName is partyNamePattern.MatchString(name), as validID is.
func validPartyName(name string) bool {
	lowerAlnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	if len(name) == 0 || len(name) > 64 || !lowerAlnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !lowerAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

func (a *applier) checkExhibitID(field, id string) error {
	if !validID(id) {
		return a.refuse("bad-predicate", nil, a.actor().name, "%s %s: want %s", field, quoteShort(id), exhibitIDPattern)
	}
	return nil
}

func (a *applier) checkPartyName(field, name string) error {
	if !validPartyName(name) {
		return a.refuse("bad-predicate", nil, a.actor().name, "%s %s: want %s", field, quoteShort(name), partyNamePattern)
	}
	return nil
}

// exhibitSubject checks that the subject names the exhibit.
func (a *applier) exhibitSubject(id string) error {
	if err := a.checkExhibitID("exhibit", id); err != nil {
		return err
	}
	if n := a.stmt.Subject[0].Name; n != id {
		return a.refuse("bad-predicate", nil, a.actor().name, "subject name %s is not the exhibit %s", quoteShort(n), id)
	}
	return nil
}

// partySubject checks the subject of a party event: name "party:<name>",
// digest exactly {"sha256": the key id's hex}.
func (a *applier) partySubject(party, keyID string) error {
	sub := a.stmt.Subject[0]
	hexID, ok := strings.CutPrefix(keyID, "sha256:")
	if !ok || sub.Name != "party:"+party || len(sub.Digest) != 1 || sub.Digest[identityAlgorithm] != hexID {
		return a.refuse("bad-predicate", nil, a.actor().name,
			"the subject of a party event is named \"party:%s\" with digest {\"sha256\": the hex of key id %s}", party, quoteShort(keyID))
	}
	return nil
}

// newKey checks a KeyRef that a party event adds: it parses, its id is its
// KeyID, and no party has it yet.
func (a *applier) newKey(party string, k KeyRef) error {
	pub, err := ParsePublicKey([]byte(k.PEM))
	if err != nil {
		return a.refuseErr("bad-predicate", party, err, "key of %s: %v", party, err)
	}
	if pub.KeyID() != k.ID {
		return a.refuse("bad-predicate", nil, party, "key of %s: id %s, but the key's id is %s", party, quoteShort(k.ID), pub.KeyID())
	}
	if owner, ok, err := a.tx.getString(keyKey(k.ID)); err != nil {
		return err
	} else if ok {
		return a.refuse("key-exists", nil, party, "key %s is already a key of %s", k.ID, owner)
	}
	return nil
}

func (a *applier) enroll() (*Event, error) {
	var p Enroll
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	if err := a.checkPartyName("party", p.Party); err != nil {
		return nil, err
	}
	for i, r := range p.Roles {
		if !slices.Contains(allRoles, r) || slices.Index(p.Roles, r) != i {
			return nil, a.refuse("role", nil, p.Party, "role %s of %s: want distinct roles from %s", quoteShort(r), p.Party, strings.Join(allRoles, ", "))
		}
	}
	if err := a.partySubject(p.Party, p.Key.ID); err != nil {
		return nil, err
	}
	if old, err := a.tx.party(p.Party); err != nil {
		return nil, err
	} else if old != nil {
		return nil, a.refuse("party-exists", nil, p.Party, "party %s was enrolled at leaf %d", p.Party, old.Enrolled)
	}
	if err := a.newKey(p.Party, p.Key); err != nil {
		return nil, err
	}
	// Proof of possession: the added key signed (verify checked the signature).
	if !slices.ContainsFunc(a.signers, func(s signer) bool { return s.party == nil && s.keyID == p.Key.ID }) {
		return nil, a.refuse("possession", nil, p.Party, "the enrolment of %s is not signed by the key it enrols, %s", p.Party, p.Key.ID)
	}
	if a.e.Index == 0 {
		if !slices.Contains(p.Roles, RoleAdmin) {
			return nil, a.refuse("genesis", nil, p.Party, "leaf 0 must enrol the ledger's admin; %s has roles %s", p.Party, strings.Join(p.Roles, ", "))
		}
	} else if _, ok := a.adminSigner(); !ok {
		return nil, a.refuse("admin-only", nil, p.Party, "the enrolment of %s is not signed by the current key of an admin", p.Party)
	}
	rec := &PartyRecord{
		Name:     p.Party,
		Org:      p.Org,
		Roles:    p.Roles,
		Keys:     []KeyRecord{{ID: p.Key.ID, PEM: p.Key.PEM, Added: a.e.Index, Revoked: NoIndex, RotatedOut: NoIndex}},
		Current:  p.Key.ID,
		Enrolled: a.e.Index,
	}
	a.tx.put(partyKey(p.Party), rec)
	a.tx.put(keyKey(p.Key.ID), p.Party)
	return &Event{Kind: EventEnroll, Party: p.Party}, nil
}

// keyAuthority checks that the party itself or an admin signed a key event.
func (a *applier) keyAuthority(party string) error {
	if a.signedByParty(party) {
		return nil
	}
	if _, ok := a.adminSigner(); ok {
		return nil
	}
	return a.refuse("admin-only", nil, a.actor().name, "a key event of %s is signed by %s itself or by an admin; %s is neither", party, party, a.actor().name)
}

func (a *applier) keyRotate() (*Event, error) {
	var p KeyRotate
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	if err := a.checkPartyName("party", p.Party); err != nil {
		return nil, err
	}
	if err := a.partySubject(p.Party, p.NewKey.ID); err != nil {
		return nil, err
	}
	rec, err := a.tx.party(p.Party)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, a.refuse("not-enrolled", nil, p.Party, "party %s is not enrolled", p.Party)
	}
	if p.OldKey != rec.Current {
		return nil, a.refuse("key-not-current", nil, p.Party, "key %s is not the current key of %s, which is %s", quoteShort(p.OldKey), p.Party, rec.Current)
	}
	if err := a.keyAuthority(p.Party); err != nil {
		return nil, err
	}
	if err := a.newKey(p.Party, p.NewKey); err != nil {
		return nil, err
	}
	rec.key(p.OldKey).RotatedOut = a.e.Index
	rec.Keys = append(rec.Keys, KeyRecord{ID: p.NewKey.ID, PEM: p.NewKey.PEM, Added: a.e.Index, Revoked: NoIndex, RotatedOut: NoIndex})
	rec.Current = p.NewKey.ID
	a.tx.put(partyKey(p.Party), rec)
	a.tx.put(keyKey(p.NewKey.ID), p.Party)
	return &Event{Kind: EventKeyRotate, Party: p.Party}, nil
}

func (a *applier) keyRevoke() (*Event, error) {
	var p KeyRevoke
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	if err := a.checkPartyName("party", p.Party); err != nil {
		return nil, err
	}
	if err := a.partySubject(p.Party, p.KeyID); err != nil {
		return nil, err
	}
	rec, err := a.tx.party(p.Party)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, a.refuse("not-enrolled", nil, p.Party, "party %s is not enrolled", p.Party)
	}
	k := rec.key(p.KeyID)
	if k == nil {
		return nil, a.refuse("not-enrolled", nil, p.Party, "%s is not a key of %s", quoteShort(p.KeyID), p.Party)
	}
	if k.Revoked != NoIndex {
		return nil, a.refuse("key-revoked", nil, p.Party, "key %s of %s was already revoked at leaf %d", k.ID, p.Party, k.Revoked)
	}
	if err := a.keyAuthority(p.Party); err != nil {
		return nil, err
	}
	k.Revoked = a.e.Index
	a.tx.put(partyKey(p.Party), rec)
	return &Event{Kind: EventKeyRevoke, Party: p.Party}, nil
}

// registered returns the exhibit whose SHA-256 is the subject's, as a
// *DuplicateError, looking it up by dkey, the subject's digest key.
func (a *applier) registered(sub Subject, dkey string) error {
	sum := sub.Digest[identityAlgorithm]
	id, ok, err := a.tx.getString(dkey)
	if err != nil || !ok {
		return err
	}
	x, err := a.tx.exhibit(id)
	if err != nil {
		return err
	}
	if x == nil {
		return fmt.Errorf("custody: record %s names exhibit %q, which has no record", dkey, id)
	}
	return &DuplicateError{Exhibit: id, SHA256: sum, Index: x.Acquired, At: a.e.Index}
}

// newExhibit checks that an acquire or derive may register id with the
// subject's digests. It returns the keys of the exhibit record and the
// digest record, for the caller to write.
func (a *applier) newExhibit(id string) (ekey, dkey string, err error) {
	sub := a.stmt.Subject[0]
	ekey, dkey = exhibitKey(id), digestKey(sub.Digest[identityAlgorithm])
	if err := a.registered(sub, dkey); err != nil {
		return "", "", err
	}
	if x, err := a.tx.exhibitAt(ekey); err != nil {
		return "", "", err
	} else if x != nil {
		return "", "", a.refuse("exhibit-exists", x, a.actor().name, "%s is already registered (leaf %d), held by %s", id, x.Acquired, x.Holder)
	}
	return ekey, dkey, nil
}

func (a *applier) acquire() (*Event, error) {
	var p Acquire
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	actor := a.actor()
	if err := a.exhibitSubject(p.Exhibit); err != nil {
		return nil, err
	}
	if p.Size < 0 {
		return nil, a.refuse("bad-predicate", nil, actor.name, "size of %s is negative", p.Exhibit)
	}
	if err := a.checkAcquiredAt(p, actor.name); err != nil {
		return nil, err
	}
	if !actor.party.canHold() {
		return nil, a.refuse("role", nil, actor.name, "%s (roles %s) cannot acquire %s: it needs one of %s",
			actor.name, strings.Join(actor.party.Roles, ", "), p.Exhibit, strings.Join(holdingRoles, ", "))
	}
	ekey, dkey, err := a.newExhibit(p.Exhibit)
	if err != nil {
		return nil, err
	}
	sub := a.stmt.Subject[0]
	x := &ExhibitRecord{
		ID:       p.Exhibit,
		Digests:  sub.Digest,
		Size:     p.Size,
		Holder:   actor.name,
		Status:   StatusHeld,
		Last:     a.ref,
		Acquired: a.e.Index,
	}
	st := a.step(EventAcquire)
	st.Digests = sub.Digest
	st.Detail = details("source", p.Source, "method", p.Method, "tool", p.Tool, "location", p.Location,
		"acquired_at", p.AcquiredAt, "hashed_by", p.HashedBy, "note", p.Note)
	a.tx.put(ekey, x)
	a.tx.put(dkey, x.ID)
	a.putStep(x.ID, st)
	return a.exhibitEvent(EventAcquire, x), nil
}

// MaxClaimSkew is how far after its own leaf's time a time claimed in a
// statement may lie. The claimant's clock may run a little fast, but an
// acquisition cannot have happened after the ledger logged it.
const MaxClaimSkew = 10 * time.Minute

// checkAcquiredAt checks the acquirer's claimed acquisition time: RFC 3339,
// and not after the entry's leaf time (the ledger's clock) by more than
// MaxClaimSkew (rule claimed-time). An earlier claim is the normal case:
// evidence is logged after it is taken. Entries without a leaf time (a
// check before signing) are judged on the format only.
func (a *applier) checkAcquiredAt(p Acquire, actor string) error {
	if p.AcquiredAt == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, p.AcquiredAt)
	if err != nil {
		re := a.refuse("bad-predicate", nil, actor, "%s claims acquired_at %s for %s: not an RFC 3339 time", actor, quoteShort(p.AcquiredAt), p.Exhibit)
		re.Exhibit = p.Exhibit
		return re
	}
	if !a.e.Time.IsZero() && t.After(a.e.Time.Add(MaxClaimSkew)) {
		re := a.refuse("claimed-time", nil, actor, "%s claims %s was acquired at %s, %s after the ledger logged it at %s: an acquisition cannot follow its logging (check the acquiring machine's clock)",
			actor, p.Exhibit, t.UTC().Format(time.RFC3339), t.Sub(a.e.Time).Round(time.Second), a.e.Time.UTC().Format(time.RFC3339))
		re.Exhibit = p.Exhibit
		return re
	}
	return nil
}

func (a *applier) derive() (*Event, error) {
	var p Derive
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	actor := a.actor()
	if err := a.exhibitSubject(p.Exhibit); err != nil {
		return nil, err
	}
	if !slices.Contains(DeriveKinds, p.Kind) {
		return nil, a.refuse("bad-predicate", nil, actor.name, "kind %s: want one of %s", quoteShort(p.Kind), strings.Join(DeriveKinds, ", "))
	}
	if p.Size < 0 {
		return nil, a.refuse("bad-predicate", nil, actor.name, "size of %s is negative", p.Exhibit)
	}
	parents := make([]*ExhibitRecord, len(p.Parents))
	for i, id := range p.Parents {
		if err := a.checkExhibitID("parent", id); err != nil {
			return nil, err
		}
		if slices.Index(p.Parents, id) != i || id == p.Exhibit {
			return nil, a.refuse("bad-predicate", nil, actor.name, "parent %s is listed twice, or is the derived exhibit", id)
		}
		x, err := a.tx.exhibit(id)
		if err != nil {
			return nil, err
		}
		if x == nil {
			return nil, a.refuse("unknown-exhibit", nil, actor.name, "parent %s of %s is not a registered exhibit", id, p.Exhibit)
		}
		if err := a.holderMay(x, "derive from", false); err != nil {
			return nil, err
		}
		parents[i] = x
	}
	ekey, dkey, err := a.newExhibit(p.Exhibit)
	if err != nil {
		return nil, err
	}
	sub := a.stmt.Subject[0]
	x := &ExhibitRecord{
		ID:       p.Exhibit,
		Digests:  sub.Digest,
		Size:     p.Size,
		Holder:   actor.name,
		Status:   StatusHeld,
		Last:     a.ref,
		Parents:  p.Parents,
		Acquired: a.e.Index,
	}
	st := a.step(EventDerive)
	st.Digests = sub.Digest
	st.Detail = details("kind", p.Kind, "parents", strings.Join(p.Parents, " "), "tool", p.Tool, "note", p.Note)
	a.tx.put(ekey, x)
	a.tx.put(dkey, x.ID)
	a.putStep(x.ID, st)
	for _, px := range parents {
		px.Derived = append(px.Derived, x.ID)
		a.tx.put(exhibitKey(px.ID), px)
		pst := a.step(EventDerive)
		pst.Detail = details("derived", x.ID, "kind", p.Kind)
		a.putStep(px.ID, pst)
	}
	return a.exhibitEvent(EventDerive, x), nil
}

// holderMay checks that the acting party holds x and that x is held, not
// released, sealed (unless unsealing) or disposed of. verb says what the
// party tried, for the message.
func (a *applier) holderMay(x *ExhibitRecord, verb string, unseal bool) error {
	who := a.actor().name
	if x.Status == StatusDisposed {
		return a.refuse("disposed", x, who, "%s was disposed of by %s (leaf %d); %s cannot %s it", x.ID, x.Holder, x.Last.Index, who, verb)
	}
	if x.Holder != who {
		return a.refuse("holder-only", x, who, "%s is held by %s; %s cannot %s it", x.ID, x.Holder, who, verb)
	}
	switch {
	case unseal && x.Status != StatusSealed:
		return a.refuse("sealed", x, who, "%s, held by %s, is not sealed (it is %s); %s cannot unseal it", x.ID, x.Holder, x.Status, who)
	case !unseal && x.Status == StatusSealed:
		return a.refuse("sealed", x, who, "%s, held by %s, is sealed (leaf %d); it must be unsealed before %s can %s it", x.ID, x.Holder, x.Last.Index, who, verb)
	case x.Status == StatusReleased:
		return a.refuse("one-open-release", x, who, "%s, held by %s, has an open release to %s (leaf %d); it must be accepted or rejected before %s can %s it",
			x.ID, x.Holder, x.OpenRelease.To, x.OpenRelease.Ref.Index, who, verb)
	}
	return nil
}

// checkPrev checks that prev is want: the exhibit's latest event, or its
// open release.
func (a *applier) checkPrev(x *ExhibitRecord, prev, want LeafRef) error {
	if prev != want {
		return a.refuse("replay", x, a.actor().name, "%s, held by %s: the event names leaf %d (%s) as its previous, but that is leaf %d (%s); a stale or replayed event",
			x.ID, x.Holder, prev.Index, quoteShort(prev.LeafHash), want.Index, want.LeafHash)
	}
	return nil
}

// checkDigests checks the subject's digests against the acquired ones:
// equal if exact, else agreeing on every algorithm both carry.
func (a *applier) checkDigests(x *ExhibitRecord, exact bool) error {
	got := a.stmt.Subject[0].Digest
	if alg, bad := firstMismatch(got, x.Digests); bad {
		return a.refuse("digests-match", x, a.actor().name, "%s, held by %s: %s digest %s differs from the acquired %s",
			x.ID, x.Holder, alg, got[alg], x.Digests[alg])
	}
	if exact && !maps.Equal(got, x.Digests) {
		return a.refuse("digests-match", x, a.actor().name, "%s, held by %s: the release's subject must carry exactly the acquired digests (%s)",
			x.ID, x.Holder, strings.Join(slices.Sorted(maps.Keys(x.Digests)), ", "))
	}
	return nil
}

// heldExhibit loads the exhibit a custody event names, checking the subject.
func (a *applier) heldExhibit(id string) (*ExhibitRecord, error) {
	if err := a.exhibitSubject(id); err != nil {
		return nil, err
	}
	x, err := a.tx.exhibit(id)
	if err != nil {
		return nil, err
	}
	if x == nil {
		return nil, a.refuse("unknown-exhibit", nil, a.actor().name, "no exhibit %s is registered", id)
	}
	return x, nil
}

func (a *applier) release() (*Event, error) {
	var p Release
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	x, err := a.heldExhibit(p.Exhibit)
	if err != nil {
		return nil, err
	}
	who := a.actor().name
	if err := a.holderMay(x, "release", false); err != nil {
		return nil, err
	}
	if err := a.checkPartyName("to", p.To); err != nil {
		return nil, err
	}
	if p.To == x.Holder {
		return nil, a.refuse("named-receiver", x, who, "%s is held by %s, which cannot release it to itself", x.ID, x.Holder)
	}
	to, err := a.tx.party(p.To)
	if err != nil {
		return nil, err
	}
	if to == nil {
		return nil, a.refuse("not-enrolled", x, who, "%s, held by %s, cannot be released to %s, which is not enrolled", x.ID, x.Holder, p.To)
	}
	if !to.canHold() {
		return nil, a.refuse("role", x, who, "%s, held by %s, cannot be released to %s (roles %s): the receiver needs one of %s",
			x.ID, x.Holder, p.To, strings.Join(to.Roles, ", "), strings.Join(holdingRoles, ", "))
	}
	if err := a.checkPrev(x, p.Prev, x.Last); err != nil {
		return nil, err
	}
	if err := a.checkDigests(x, true); err != nil {
		return nil, err
	}
	x.Status = StatusReleased
	x.OpenRelease = &OpenRelease{To: p.To, Ref: a.ref}
	x.Last = a.ref
	st := a.step(EventRelease)
	st.To, st.Reason = p.To, p.Reason
	return a.putExhibit(EventRelease, x, st), nil
}

// openRelease checks that the acting party may answer x's open release
// whose leaf is prev.
func (a *applier) openRelease(x *ExhibitRecord, prev LeafRef) error {
	who := a.actor().name
	switch {
	case x.Status == StatusDisposed:
		return a.refuse("disposed", x, who, "%s was disposed of by %s (leaf %d); it has no release to answer", x.ID, x.Holder, x.Last.Index)
	case x.OpenRelease == nil:
		return a.refuse("named-receiver", x, who, "%s, held by %s, has no open release; %s has nothing to answer", x.ID, x.Holder, who)
	case x.OpenRelease.To != who:
		return a.refuse("named-receiver", x, who, "%s, held by %s, was released to %s; %s cannot answer the release", x.ID, x.Holder, x.OpenRelease.To, who)
	}
	return a.checkPrev(x, prev, x.OpenRelease.Ref)
}

func (a *applier) accept() (*Event, error) {
	var p Accept
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	x, err := a.heldExhibit(p.Exhibit)
	if err != nil {
		return nil, err
	}
	if err := a.openRelease(x, p.Prev); err != nil {
		return nil, err
	}
	if err := a.checkDigests(x, false); err != nil {
		return nil, err
	}
	st := a.step(EventAccept)
	st.From, st.Digests = x.Holder, a.stmt.Subject[0].Digest
	st.Detail = details("note", p.Note)
	x.Holder = a.actor().name
	x.Status = StatusHeld
	x.OpenRelease = nil
	x.Last = a.ref
	return a.putExhibit(EventAccept, x, st), nil
}

func (a *applier) reject() (*Event, error) {
	var p Reject
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	x, err := a.heldExhibit(p.Exhibit)
	if err != nil {
		return nil, err
	}
	if err := a.openRelease(x, p.Prev); err != nil {
		return nil, err
	}
	observed := a.stmt.Subject[0].Digest
	_, mismatch := firstMismatch(observed, x.Digests)
	st := a.step(EventReject)
	st.From, st.Reason, st.Digests, st.Mismatch = x.Holder, p.Reason, observed, mismatch
	if mismatch {
		x.Mismatches = append(x.Mismatches, a.e.Index)
	}
	x.Status = StatusHeld
	x.OpenRelease = nil
	x.Last = a.ref
	return a.putExhibit(EventReject, x, st), nil
}

// holderEvent applies seal, unseal and dispose.
func (a *applier) holderEvent(event, id string, prev LeafRef, unseal bool, status string, detail map[string]string, reason string) (*Event, error) {
	x, err := a.heldExhibit(id)
	if err != nil {
		return nil, err
	}
	if err := a.holderMay(x, event, unseal); err != nil {
		return nil, err
	}
	if err := a.checkPrev(x, prev, x.Last); err != nil {
		return nil, err
	}
	if err := a.checkDigests(x, false); err != nil {
		return nil, err
	}
	x.Status = status
	x.Last = a.ref
	st := a.step(event)
	st.Reason, st.Detail = reason, detail
	return a.putExhibit(event, x, st), nil
}

func (a *applier) seal() (*Event, error) {
	var p Seal
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	return a.holderEvent(EventSeal, p.Exhibit, p.Prev, false, StatusSealed, details("seal_id", p.SealID), p.Reason)
}

func (a *applier) unseal() (*Event, error) {
	var p Unseal
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	return a.holderEvent(EventUnseal, p.Exhibit, p.Prev, true, StatusHeld, details("seal_id", p.SealID), p.Reason)
}

func (a *applier) dispose() (*Event, error) {
	var p Dispose
	if err := a.decode(&p); err != nil {
		return nil, err
	}
	return a.holderEvent(EventDispose, p.Exhibit, p.Prev, false, StatusDisposed, details("method", p.Method), p.Reason)
}

func (a *applier) putExhibit(event string, x *ExhibitRecord, st *HistoryStep) *Event {
	a.tx.put(exhibitKey(x.ID), x)
	a.putStep(x.ID, st)
	return a.exhibitEvent(event, x)
}

func (a *applier) exhibitEvent(event string, x *ExhibitRecord) *Event {
	return &Event{Kind: event, Party: a.actor().name, Exhibit: x.ID, Holder: x.Holder, Status: x.Status}
}

// details makes a HistoryStep.Detail of the non-empty values of key, value pairs.
func details(kv ...string) map[string]string {
	var m map[string]string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			if m == nil {
				m = map[string]string{}
			}
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}
