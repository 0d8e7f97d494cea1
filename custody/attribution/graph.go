package attribution

// A Graph is the evidence graph as of one checkpoint of the log, built by
// the caller from the ledger's entries. Evaluate reads it and never changes
// it; the order of its slices and maps does not affect the verdict.
type Graph struct {
	Checkpoint Checkpoint
	// Witnessed reports that the checkpoint carries the witness quorum of
	// the trust policy (the integrity.witnessed gate).
	Witnessed bool
	// Parties by name. A finding's originating organisation is its party's
	// Org; a party with no Org is an organisation of its own.
	Parties map[string]Party
	// Exhibits by id, with the state of each one's custody chain at the
	// checkpoint.
	Exhibits      map[string]Exhibit
	Findings      []Finding
	Reproductions []Reproduction
	Hypotheses    []Hypothesis
}

// A Checkpoint names the log state a graph and its verdict are as of: the
// C2SP tlog-checkpoint origin, tree size and base64 root hash. Entries with
// a leaf index at or above Size are not covered and are not evaluated.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Root   string `json:"root"`
}

// A Party is an enrolled party and the organisation it belongs to.
type Party struct {
	Name string
	Org  string
}

// An Exhibit is an artifact's custody state: Unbroken when its chain runs
// from acquisition to the checkpoint without a break, else Reason says why
// (for example "accepted digest differs from the acquired one at index 41").
type Exhibit struct {
	ID       string
	Unbroken bool
	Reason   string
}

// A Finding is an asserted finding (the finding predicate): a claim made by
// Party with Method over the Inputs exhibits, graded on the Admiralty scales
// and with the analyst's confidence. Lineage names the findings it derives
// from; Rebuts the findings it rebuts. KeysValid reports that its signing
// key was valid at Index.
type Finding struct {
	ID                string
	Index             int64
	Party             string
	Claim             string
	Category          string
	Method            string
	Inputs            []string
	SourceReliability string
	Credibility       int
	Confidence        int
	Lineage           []string
	Rebuts            []string
	KeysValid         bool
}

// A Reproduction records that Party re-ran the method of Finding and
// Result, ResultConfirmed or ResultRefuted.
type Reproduction struct {
	Finding string
	Index   int64
	Party   string
	Result  string
}

// A Hypothesis is a stated hypothesis ("operation O is attributable to
// actor A"), the findings that support and contradict it, and the ICD 203
// likelihood band it asserts.
type Hypothesis struct {
	ID          string
	Index       int64
	Party       string
	Statement   string
	Supports    []string
	Contradicts []string
	Likelihood  string
}
