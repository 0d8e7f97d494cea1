package custody

// Custody predicates: the events of DESIGN.md §2, each an in-toto predicate
// with a versioned type URI. A change to any shape is a new version; old
// versions stay readable, since ledgers keep them forever.
//
// Every custody statement has exactly one subject: the artifact (name = the
// exhibit id, digest = its digest set), or, for party events, the party's
// key (name = "party:<name>", digest = {"sha256": key id hex}).
//
// The JSON Schema of each predicate is in custody/schema/<event>.schema.json.
const (
	predicateBase = "https://custos.dev/custody/"

	PredicateEnroll    = predicateBase + "enroll/v1"
	PredicateKeyRotate = predicateBase + "key-rotate/v1"
	PredicateKeyRevoke = predicateBase + "key-revoke/v1"
	PredicateAcquire   = predicateBase + "acquire/v1"
	PredicateDerive    = predicateBase + "derive/v1"
	PredicateRelease   = predicateBase + "release/v1"
	PredicateAccept    = predicateBase + "accept/v1"
	PredicateReject    = predicateBase + "reject/v1"
	PredicateSeal      = predicateBase + "seal/v1"
	PredicateUnseal    = predicateBase + "unseal/v1"
	PredicateDispose   = predicateBase + "dispose/v1"
)

// Roles a party may hold.
const (
	RoleAdmin       = "admin" // the ledger's administrator: authorises enrolments
	RoleCollector   = "collector"
	RoleCustodian   = "custodian"
	RoleAnalyst     = "analyst"
	RoleFacilitator = "facilitator"
	RoleWitness     = "witness"
	RoleTribunal    = "tribunal"
)

// A LeafRef names a leaf of the ledger by index and RFC 6962 leaf hash
// (standard base64). Custody events bind the exhibit's previous event this
// way, so an old signed event cannot be replayed: it names a leaf that is no
// longer the exhibit's latest.
type LeafRef struct {
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

// A KeyRef carries a public key in a predicate: its id (KeyID) and PEM.
type KeyRef struct {
	ID  string `json:"id"`
	PEM string `json:"pem"`
}

// Enroll adds a party. Signed by the party's key (proof of possession) and
// by the ledger admin's current key. The first entry of every ledger enrols
// the admin party itself, self-signed.
type Enroll struct {
	Party string   `json:"party"` // [a-z0-9][a-z0-9._-]{0,63}
	Org   string   `json:"org"`
	Roles []string `json:"roles"`
	Key   KeyRef   `json:"key"`
}

// KeyRotate replaces a party's current key. Signed by the current (old)
// key, or by the admin (the way back after a compromised key is revoked);
// from its index on, only the new key signs for the party.
type KeyRotate struct {
	Party  string `json:"party"`
	OldKey string `json:"old_key_id"`
	NewKey KeyRef `json:"new_key"`
	Reason string `json:"reason,omitempty"`
}

// KeyRevoke revokes one of a party's keys from its own index on: the key
// signs nothing at or after that index, and what it signed before stays
// valid. Signed by the party (with a key not revoked) or by the admin. A
// party whose current key is revoked signs again after a KeyRotate signed
// by the admin.
type KeyRevoke struct {
	Party  string `json:"party"`
	KeyID  string `json:"key_id"`
	Reason string `json:"reason"`
}

// Acquire registers an artifact: the acquirer becomes its holder. The
// subject's digest set is the artifact's identity (sha256 always).
type Acquire struct {
	Exhibit    string `json:"exhibit"`               // the exhibit number, e.g. CERT-UA-2026-0042
	Size       int64  `json:"size"`                  // bytes
	Source     string `json:"source"`                // what it was taken from
	Method     string `json:"method"`                // how
	Tool       string `json:"tool,omitempty"`        // which tool and version hashed it
	Location   string `json:"location,omitempty"`    // where
	AcquiredAt string `json:"acquired_at,omitempty"` // RFC 3339; the acquirer's claim
	HashedBy   string `json:"hashed_by,omitempty"`   // "custos" or, for --digest, where it was hashed
	Note       string `json:"note,omitempty"`
}

// Derive registers an artifact made from others the signer holds: a
// working copy, an extract, an analysis output. The signer holds it.
type Derive struct {
	Exhibit string   `json:"exhibit"`
	Parents []string `json:"parents"`
	Kind    string   `json:"kind"` // one of DeriveKinds
	Size    int64    `json:"size"`
	Tool    string   `json:"tool,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// DeriveKinds is the vocabulary of Derive.Kind.
var DeriveKinds = []string{"copy", "image", "extract", "analysis-output", "report"}

// Release offers the exhibit to a named receiver. Signed by the holder, who
// stays responsible until the receiver accepts.
type Release struct {
	Exhibit string  `json:"exhibit"`
	To      string  `json:"to"`
	Reason  string  `json:"reason,omitempty"`
	Prev    LeafRef `json:"prev"` // the exhibit's latest event
}

// Accept takes an open release. Signed by the named receiver after it
// re-hashed the artifact: the subject's digests are what it observed, and
// must equal the acquired ones. Prev is the release.
type Accept struct {
	Exhibit string  `json:"exhibit"`
	Prev    LeafRef `json:"prev"`
	Note    string  `json:"note,omitempty"`
}

// Reject refuses an open release; the holder keeps the exhibit. Signed by
// the named receiver. The subject's digests are what it observed; when they
// differ from the acquired ones the rejection records a digest mismatch,
// which stays in the exhibit's record.
type Reject struct {
	Exhibit string  `json:"exhibit"`
	Prev    LeafRef `json:"prev"`
	Reason  string  `json:"reason"`
}

// Seal, Unseal and Dispose are the holder's. A sealed exhibit is released,
// derived from or disposed of only after an Unseal; a disposed one takes no
// further event.
type Seal struct {
	Exhibit string  `json:"exhibit"`
	SealID  string  `json:"seal_id,omitempty"` // the physical or logical seal's number
	Reason  string  `json:"reason,omitempty"`
	Prev    LeafRef `json:"prev"`
}

type Unseal struct {
	Exhibit string  `json:"exhibit"`
	SealID  string  `json:"seal_id,omitempty"`
	Reason  string  `json:"reason"`
	Prev    LeafRef `json:"prev"`
}

type Dispose struct {
	Exhibit string  `json:"exhibit"`
	Method  string  `json:"method"` // e.g. "returned to owner", "destroyed"
	Reason  string  `json:"reason"`
	Prev    LeafRef `json:"prev"`
}
