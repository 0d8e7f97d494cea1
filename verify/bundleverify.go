package verify

// VerifyBundle: the offline check of a tribunal bundle (docs/bundle-spec.md).

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

var (
	// ErrInvalid is wrapped in the error VerifyBundle returns when a
	// well-formed bundle fails a check: a leaf, a prev link, an inclusion
	// or consistency proof, the checkpoint's log signature or origin, a
	// DSSE signature, a custody rule, a gap in an exhibit's history, an
	// evidence file that matches no exhibit. The report's Problems say
	// which. Check with errors.Is.
	ErrInvalid = errors.New("bundle is invalid")

	// ErrRollback is wrapped in the error VerifyBundle returns when a
	// checkpoint the verifier already knows (BundleOptions.KnownCheckpoints),
	// validly signed by the log key, is larger than the bundle's: the bundle
	// shows an older state of the log than one the log has already
	// published. Check with errors.Is.
	ErrRollback = errors.New("bundle checkpoint is older than a checkpoint already known")
)

// BundleOptions configure VerifyBundle.
type BundleOptions struct {
	// Policy is the trust policy: the log key and origin, the witness keys
	// and the quorum. Required. The bundle's own trust.policy member is
	// informational and never used.
	Policy *Policy

	// Evidence, if not empty, is a directory of evidence files. Every
	// regular file under it (symbolic links are not followed) is hashed
	// with the algorithms the exhibits carry and matched to an exhibit by
	// SHA-256.
	Evidence string

	// KnownCheckpoints are signed checkpoints the verifier kept from
	// before (from a witness, an earlier bundle). Each must be consistent
	// with the bundle's checkpoint; the proof comes from the bundle's
	// known/<size>.consistency members.
	KnownCheckpoints [][]byte

	// Now is the verifier's clock, used only to stamp the report. Default
	// time.Now. No check depends on it: key state is judged by leaf index.
	Now func() time.Time
}

// A BundleReport is what VerifyBundle found. It is the input of
// RenderReport and of custos verify's output. To keep a large bundle's
// report small, equal strings and maps in it (party names, an exhibit's
// digests and its acquisition's, repeated step details) may be one value
// shared: treat the report as read-only.
type BundleReport struct {
	// Valid is true only when every check passed.
	Valid bool `json:"valid"`
	// Verdict is a one-line summary: "valid", or the class of the failure
	// and the number of problems.
	Verdict string `json:"verdict"`

	Origin     string    `json:"origin"`
	TreeSize   int64     `json:"tree_size"`
	Root       string    `json:"root"`       // base64, as in the checkpoint
	Checkpoint string    `json:"checkpoint"` // the signed checkpoint, verbatim
	Created    string    `json:"created,omitempty"`
	Generator  string    `json:"generator,omitempty"`
	VerifiedAt time.Time `json:"verified_at"`

	// Entries is the number of leaves in the bundle.
	Entries int64 `json:"entries"`
	// Witnesses are the cosignatures of the checkpoint that the policy
	// counted.
	Witnesses []Cosignature `json:"witnesses"`
	// Known are the earlier checkpoints checked against the bundle's.
	Known []KnownVerdict `json:"known,omitempty"`
	// Exhibits are the verdicts per exhibit: first those the manifest
	// names, in its order, then the others the bundle holds (parents,
	// derived items), by id.
	Exhibits []ExhibitVerdict `json:"exhibits"`
	// Hypotheses are the bundle's attribution hypotheses, each with its
	// logged verdicts evaluated again by the verifier.
	Hypotheses []HypothesisReport `json:"hypotheses,omitempty"`
	// Evidence are the files of BundleOptions.Evidence, in path order.
	Evidence []EvidenceFile `json:"evidence,omitempty"`
	// Problems are every failed check, in the order found.
	Problems []Problem `json:"problems"`
}

// An ExhibitVerdict is the replayed custody record of one exhibit and
// whether every leaf of it verified.
type ExhibitVerdict struct {
	ID         string                `json:"id"`
	InManifest bool                  `json:"in_manifest"`
	Holder     string                `json:"holder"`
	Status     string                `json:"status"`
	Digests    map[string]string     `json:"digests"`
	Size       int64                 `json:"size"`
	Parents    []string              `json:"parents,omitempty"`
	Derived    []string              `json:"derived,omitempty"`
	Steps      []custody.HistoryStep `json:"steps"`
	// Evidence is the evidence file matched to the exhibit, "" if none.
	Evidence string `json:"evidence,omitempty"`
	// Ok is true when the bundle's checkpoint verified and no problem
	// concerns this exhibit.
	Ok       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// A KnownVerdict is the check of one earlier checkpoint against the
// bundle's: Source is "bundle" (a known/ member) or "verifier"
// (BundleOptions.KnownCheckpoints).
type KnownVerdict struct {
	Source string `json:"source"`
	Size   int64  `json:"size"`
	Root   string `json:"root,omitempty"`
	Ok     bool   `json:"ok"`
}

// Evidence file statuses.
const (
	EvidenceMatched    = "matched"    // its SHA-256 and every other digest the exhibit carries agree
	EvidenceMismatched = "mismatched" // its SHA-256 names an exhibit, another digest differs
	EvidenceUnknown    = "unknown"    // its SHA-256 is no exhibit's
)

// An EvidenceFile is one file of BundleOptions.Evidence.
type EvidenceFile struct {
	Path    string            `json:"path"` // relative to the evidence directory, slash-separated
	Size    int64             `json:"size"`
	Digests map[string]string `json:"digests"`
	Status  string            `json:"status"`
	Exhibit string            `json:"exhibit,omitempty"`
}

// A Problem is one failed check. It says which check, which leaf, exhibit
// or key, and why.
//
// Check is one of:
//
//	archive           the archive is malformed (a *ledger.ParseError)
//	manifest          the manifest contradicts the bundle (origin, size, entry count, exhibits)
//	checkpoint        no valid log signature, wrong origin
//	quorum            too few valid witness cosignatures (see ErrQuorum)
//	consistency       a known/ proof does not lead to the bundle's checkpoint
//	equivocation      two validly signed checkpoints that cannot both be true
//	rollback          a known checkpoint is larger than the bundle's
//	leaf              a leaf does not parse, or records another index than its name
//	inclusion         a tlog-proof is missing, malformed, or does not lead to the checkpoint
//	prev              a leaf's prev is not the hash of the leaf before it
//	time              a leaf's time is before the time of the leaf before it
//	envelope          a leaf's envelope or statement does not parse
//	signature         a DSSE signature does not verify (KeyID names the key)
//	key               a signing key is unenrolled, revoked or rotated out at the leaf's index
//	custody           the entry breaks a custody rule on replay
//	gap               an exhibit's history names a leaf the bundle does not hold
//	exhibit           an exhibit the manifest names is missing, or its record is inconsistent
//	evidence          an evidence file matches no exhibit, or differs from it
//	verdict           a logged attribution verdict is not what evaluating its policy again gives
//
// Index is the leaf concerned, or -1.
type Problem struct {
	Check   string `json:"check"`
	Index   int64  `json:"index"`
	Exhibit string `json:"exhibit,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	Msg     string `json:"msg"`

	class error // ErrInvalid, ErrQuorum, ErrEquivocation or ErrRollback
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Check)
	if p.Index >= 0 {
		fmt.Fprintf(&b, ": leaf %d", p.Index)
	}
	if p.Exhibit != "" {
		fmt.Fprintf(&b, ": exhibit %s", p.Exhibit)
	}
	if p.KeyID != "" {
		fmt.Fprintf(&b, ": key %s", p.KeyID)
	}
	return b.String() + ": " + p.Msg
}

// A BundleError is the error VerifyBundle returns for a well-formed bundle
// that fails a check. It wraps the class of the most serious problem
// (ErrEquivocation, then ErrRollback, then ErrInvalid, then ErrQuorum) and,
// for a quorum failure, the policy's *QuorumError. Check with errors.Is.
type BundleError struct {
	Class    error
	Problems []Problem
	cause    error
}

func (e *BundleError) Error() string {
	if len(e.Problems) == 0 {
		return "verify: " + e.Class.Error()
	}
	s := fmt.Sprintf("verify: %s: %s", e.Class, e.Problems[0])
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more problem%s)", n, plural(n))
	}
	return s
}

func (e *BundleError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Class, e.cause}
	}
	return []error{e.Class}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// VerifyBundle verifies a tribunal bundle (docs/bundle-spec.md) offline,
// trusting nothing in it but what opts.Policy vouches for. In one pass over
// the members it checks:
//
//   - the manifest: its origin and tree size are the checkpoint's, its
//     entry count is the number of leaves, every exhibit it names is in the
//     replayed custody state;
//   - the checkpoint under the policy: the log key's signature, the
//     origin, and a quorum of witness cosignatures;
//   - each known/ checkpoint and its consistency proof to the checkpoint,
//     and each of opts.KnownCheckpoints: same size and another root, or a
//     proof that fails between validly signed checkpoints, is equivocation;
//     a known checkpoint larger than the bundle's is a rollback;
//   - each leaf: it parses and records the index its name says; its hash,
//     recomputed from its bytes, leads through its tlog-proof to the
//     checkpoint's root; its prev is the hash of the leaf before it when
//     that leaf is in the bundle too; leaf 0 is present;
//   - the custody state machine (custody.Apply), replayed over the leaves
//     in index order from an empty state: every DSSE signature against the
//     key state as of the leaf's index, and every custody rule. The export
//     holds every party event and every leaf of each exported exhibit's
//     history, so a dropped entry makes a later event name a leaf the
//     bundle lacks: that is reported as a gap, naming the exhibit and the
//     missing index;
//   - with opts.Evidence, every file in the directory against the
//     exhibits' digests.
//
// It returns the report and:
//
//   - nil when every check passed (report.Valid);
//   - a *ledger.ParseError when the archive is malformed (bad tar, a
//     member name, type, order, size or count out of the spec, a manifest
//     or checkpoint that does not parse, trailing garbage, truncation),
//     with a partial report;
//   - otherwise a *BundleError wrapping ErrEquivocation, ErrRollback,
//     ErrInvalid or ErrQuorum (in that order of precedence, when several
//     apply) with every problem; report.Problems holds the same.
//
// A leaf whose bytes do not parse is a problem of that leaf (ErrInvalid),
// not a malformed archive: the archive around it is sound.
//
// An error in using it (no policy, an unreadable evidence directory) is
// returned as is, with a nil report.
//
// # Memory
//
// VerifyBundle streams: it holds at most five windows of leaves and their
// proofs (one being read, two queued, one being checked, and the one
// before it, being committed, whose proofs and leaf bytes are dropped and
// only its parsed leaves kept), each of at most 2048 leaves and about
// 8 MiB (windowBytes, plus one leaf and proof), one other member at a
// time (report.html, read and dropped, is the largest: MaxReportSize), and
// never retains a leaf or a proof after checking it. That is at most
// about 110 MiB, fixed; about 30 MiB for leaves of 1 KiB.
// What it keeps grows with the custody state and the report, not with the
// leaves' bytes:
//
//   - per leaf: its index (8 bytes, for gap detection) and the hash of its
//     envelope (a 32-byte key and an index in a map, some 60 bytes), which
//     custody uses to refuse a replayed envelope;
//   - per event: one history step, decoded once and kept only decoded, the
//     names, key ids and details it repeats shared (some 250 bytes), since
//     the report shows it;
//   - per exhibit: its custody record, kept decoded (its digests map and
//     leaf hash are its acquisition step's), and its digest record as
//     custody wrote it (some 350 bytes with keys and map slots), and in
//     the report its verdict, whose digests map is its acquisition step's
//     (some 500 bytes);
//   - per party: its records (a few hundred bytes per key), and for an
//     Ed25519 key that has signed eight entries, its table of multiples
//     (40 KiB; at most 256 tables, 10 MiB, are kept at once: custody's
//     baseTable).
//
// Measured by BenchmarkVerifyBundle on acquisitions of distinct exhibits,
// the worst case (every entry is an exhibit): the live heap at the end
// (state and report) is 151 MiB for 100,000 entries, some 1.5 KiB per
// entry, of which the report keeps 0.85 KiB; the heap in use peaks at about
// twice the live heap under the default GOGC=100: 343 MiB at 100,000
// entries, 1.15 GiB at 300,000 (3.5 to 4 KiB per entry). At 1,000,000
// entries (measured once): 1.61 GiB live at the end (1.65 KiB per entry,
// the report 824 MiB of it) and 3.63 GiB of heap in use at the peak. A
// memory limit brings the peak near the live heap, at some GC time
// (300,000 entries under GOMEMLIMIT=640MiB peaked at 743 MiB). A bundle of
// few exhibits with many events needs less: some 350 bytes per event.
// (These figures were measured while the exhibit records were kept as
// JSON, some 100 bytes more per exhibit; TestVerifyBundleMemory's live
// heap at 20,000 entries went from 2.1 to 1.6 KiB per entry.)
//
// VerifyBundle sets no collector setting. custos verify, unless GOGC or
// GOMEMLIMIT is set in its environment, runs it under GOGC=GCPercent (400)
// with a memory limit (debug.SetMemoryLimit) of the bundle file's size, at
// least GCMinLimit (512 MiB), and restores both after: the collector then
// runs about a quarter as often (at GOGC=100 it took a third of the time
// beside the signatures in the benchmark), and the heap in use peaks near
// that limit rather than at twice the live heap. The live heap, the bound
// above, is the same, and stays below the bundle's size: a leaf costs more
// bytes in the bundle (its tar headers, envelope and proof, 2 KiB and more)
// than in the state and report. Measured by BenchmarkVerifyBundle, which
// sets the same, at 100,000 entries (a 357 MB bundle): 440 to 490 MiB in
// use at the peak (at GOGC=100, 290 to 310 MiB).
//
// # Speed
//
// Leaves are checked on GOMAXPROCS goroutines, custody.Apply included: each
// leaf of a window is applied speculatively against the state before the
// window while the log of the keys it read is kept; the leaves are then
// committed in index order, and a leaf that read a key an earlier leaf of
// the window wrote is applied again against the true state. Apply is a
// function of the records it reads, so the result is the in-order replay's.
// The history steps the replay writes are decoded on those goroutines too,
// and the report's exhibit verdicts built on them at the end. The commit is
// serial; while it runs, the next window's leaves are parsed, hashed and
// proved included, which needs no state. Signatures are checked one by
// one, with crypto/ed25519's equation, each signing key decoded once
// (custody's ed25519Key) and, once it has signed eight entries, with a
// table of its multiples (custody's baseTable: some 20 µs a signature,
// where crypto/ed25519.Verify takes 36): nothing is batched, and no
// signature's verdict is kept beyond its own entry.
func VerifyBundle(r io.Reader, opts BundleOptions) (*BundleReport, error) {
	if opts.Policy == nil {
		return nil, errors.New("verify: VerifyBundle needs a trust policy")
	}
	logKey, err := policyLogVerifier(opts.Policy)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
		if opts.Policy.Now == nil {
			p := *opts.Policy
			p.Now = now
			opts.Policy = &p
		}
	}
	v := &bundleVerifier{
		seed:   maphash.MakeSeed(),
		opts:   opts,
		logKey: logKey,
		report: &BundleReport{VerifiedAt: now().UTC(), Exhibits: []ExhibitVerdict{}, Problems: []Problem{}},
		view:   newReplayView(),
		known:  map[int64]ledger.Checkpoint{},
		lastIx: -1,
	}
	for _, k := range opts.KnownCheckpoints {
		c, err := openCheckpoint(k, logKey, "known checkpoint")
		if err != nil {
			return nil, fmt.Errorf("verify: a known checkpoint given to the verifier: %w", err)
		}
		if old, ok := v.known[c.Size]; ok && old.Root != c.Root {
			return nil, &BundleError{Class: ErrEquivocation, Problems: []Problem{{Check: "equivocation", Index: -1,
				Msg: fmt.Sprintf("the known checkpoints given include two of size %d with roots %s and %s", c.Size, old.Root, c.Root)}}}
		}
		v.known[c.Size] = c
		v.knownSigned = append(v.knownSigned, k)
	}
	if err := v.run(r); err != nil {
		v.report.Valid = false
		v.report.Verdict = "malformed bundle: " + err.Error()
		v.report.Problems = append(v.report.Problems, Problem{Check: "archive", Index: -1, Msg: err.Error()})
		return v.report, err
	}
	if err := v.finish(); err != nil {
		return nil, err
	}
	return v.report, v.result()
}

// The collector settings custos verify runs VerifyBundle under (see its
// Memory doc): GOGC=GCPercent, and a memory limit of the bundle's size, at
// least GCMinLimit bytes.
const (
	GCPercent  = 400
	GCMinLimit = 512 << 20
)

// policyLogVerifier is the log's note verifier from the policy.
func policyLogVerifier(p *Policy) (note.Verifier, error) {
	if p.LogVKey == "" {
		return nil, errors.New("verify: the trust policy has no log key")
	}
	return ParseLogKey(p.LogVKey)
}

// window is how many leaves are checked in parallel before they are
// committed in order; a window ends early past windowBytes of leaves and
// proofs, so that the windows in memory stay small however large the
// leaves (up to ledger.MaxLeafSize each).
const (
	window      = 2048
	windowBytes = 8 << 20
)

// readBuffer is the size of the buffer VerifyBundle reads the bundle
// through.
const readBuffer = 256 << 10

type bundleVerifier struct {
	seed   maphash.Seed // of the keys the commits wrote
	opts   BundleOptions
	logKey note.Verifier
	report *BundleReport

	manifest   *Manifest
	signedCP   []byte
	cp         ledger.Checkpoint
	cpVerified bool // the log's signature and origin verified: proofs can be checked against it

	known       map[int64]ledger.Checkpoint // the verifier's own known checkpoints, by size
	knownSigned [][]byte
	knownProved map[int64]bool // sizes of KnownCheckpoints proved consistent by a known/ member
	pendingKnow *Member        // a known/<size>.checkpoint waiting for its proof

	view    *replayView
	pending *pendingWindow      // checked and not yet committed (checkBatch)
	written map[uint64]struct{} // commitPending's, kept from window to window
	present []int64             // indexes of the leaves in the bundle, increasing
	leaves  int64               // leaf members seen
	lastIx  int64               // index of the last leaf committed, -1 before the first
	lastH   ledger.Hash
	lastT   time.Time
	refused map[int64]bool // leaves the custody replay refused
	damaged map[int64]bool // leaf members that did not parse, or stand at another index
	sawLeaf bool

	// witnessedBy is the latest timestamp among the counted cosignatures
	// of the bundle's checkpoint: every leaf it holds was logged before
	// it (zero without cosignatures).
	witnessedBy time.Time

	quorumErr error
}

func (v *bundleVerifier) problem(class error, p Problem) {
	p.class = class
	v.report.Problems = append(v.report.Problems, p)
}

func (v *bundleVerifier) invalid(check string, index int64, format string, args ...any) {
	v.problem(ErrInvalid, Problem{Check: check, Index: index, Msg: fmt.Sprintf(format, args...)})
}

// batch is one run of leaf and proof members; item is the unit of a batch.
type item struct {
	leaf  *Member
	proof *Member // nil when the leaf's proof is missing
}

// readerItem is what the reading goroutine hands over: a member that is not
// a leaf or proof, a batch of leaves, or the error that ended the read
// (io.EOF at the end).
type readerItem struct {
	m     *Member
	batch []item
	err   error
}

// run reads the bundle on one goroutine and checks it on this one.
func (v *bundleVerifier) run(r io.Reader) error {
	// Buffered: the reader takes a member in three reads (header, data,
	// padding), each a system call on a file.
	br := NewBundleReader(bufio.NewReaderSize(r, readBuffer))
	ch := make(chan readerItem, 2)
	done := make(chan struct{})
	defer close(done)
	go readMembers(br, ch, done)

	n := 0
	for it := range ch {
		if it.batch == nil {
			// Anything but leaves, the end included, comes after the
			// leaves before it are committed.
			v.commitPending()
		}
		if it.err != nil {
			if it.err == io.EOF {
				if n < 2 {
					return &ledger.ParseError{What: "bundle", Msg: "no manifest and checkpoint"}
				}
				return nil
			}
			return it.err
		}
		if it.batch != nil {
			if n < 2 {
				return &ledger.ParseError{What: "bundle", Msg: "entries before the manifest and checkpoint"}
			}
			v.flushKnown()
			v.checkBatch(it.batch)
			continue
		}
		m := it.m
		switch {
		case n == 0 && m.Kind != KindManifest:
			return &ledger.ParseError{What: "bundle", Msg: fmt.Sprintf("first member is %s, want manifest.json", m.Name)}
		case n == 1 && m.Kind != KindCheckpoint:
			return &ledger.ParseError{What: "bundle", Msg: fmt.Sprintf("second member is %s, want checkpoint", m.Name)}
		}
		n++
		var err error
		switch m.Kind {
		case KindManifest:
			err = v.checkManifest(m)
		case KindCheckpoint:
			err = v.checkCheckpoint(m)
		case KindKnownCheckpoint:
			v.flushKnown()
			v.pendingKnow = m
		case KindKnownConsistency:
			err = v.checkKnown(m)
		default:
			// trust.policy, report.html and VERIFY.md are for people; the
			// verifier uses the policy it is given and makes its own report.
			v.flushKnown()
		}
		if err != nil {
			return err
		}
	}
	return &ledger.ParseError{What: "bundle", Msg: "read ended without an error"}
}

// readMembers reads the bundle and sends its members, leaves and proofs in
// batches of up to window leaves. It stops after sending an error (io.EOF
// at the end) or when done is closed.
func readMembers(br *BundleReader, ch chan<- readerItem, done <-chan struct{}) {
	defer close(ch)
	send := func(it readerItem) bool {
		select {
		case ch <- it:
			return true
		case <-done:
			return false
		}
	}
	var batch []item
	var size int // the bytes of the batch's leaves and proofs
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		b := batch
		batch, size = nil, 0
		return send(readerItem{batch: b})
	}
	for {
		m, err := br.Next()
		if err == io.EOF {
			if flush() {
				send(readerItem{err: err})
			}
			return
		}
		if err != nil {
			// The bundle is malformed: the leaves read since the last
			// batch would not change the verdict, only cost time.
			send(readerItem{err: err})
			return
		}
		switch m.Kind {
		case KindLeaf:
			if (len(batch) == window || size >= windowBytes) && !flush() {
				return
			}
			batch = append(batch, item{leaf: m})
			size += len(m.Data)
		case KindLeafProof:
			if n := len(batch); n > 0 && batch[n-1].proof == nil && batch[n-1].leaf.Index == m.Index {
				batch[n-1].proof = m
				size += len(m.Data)
				continue
			}
			// A proof that follows no leaf of its index: the reader's order
			// rules should have refused it; report it as malformed.
			if flush() {
				send(readerItem{err: &ledger.ParseError{What: "bundle", Field: m.Name, Msg: "tlog-proof does not follow its leaf"}})
			}
			return
		default:
			if !flush() || !send(readerItem{m: m}) {
				return
			}
		}
	}
}

func (v *bundleVerifier) checkManifest(m *Member) error {
	man, err := ParseManifest(m.Data)
	if err != nil {
		return err
	}
	v.manifest = man
	v.report.Origin = man.Origin
	v.report.TreeSize = man.TreeSize
	v.report.Created = man.Created
	v.report.Generator = man.Generator
	return nil
}

func (v *bundleVerifier) checkCheckpoint(m *Member) error {
	v.signedCP = m.Data
	v.report.Checkpoint = string(m.Data)
	cp, cosigs, err := v.opts.Policy.CheckCheckpoint(m.Data)
	v.report.Witnesses = cosigs
	for _, c := range cosigs {
		if c.Time.After(v.witnessedBy) {
			v.witnessedBy = c.Time
		}
	}
	var quorum *QuorumError
	switch {
	case err == nil:
		v.cp, v.cpVerified = cp, true
	case errors.As(err, &quorum):
		// The log's signature and origin hold (CheckCheckpoint checks them
		// first): the rest of the bundle is judged against its root.
		v.problem(ErrQuorum, Problem{Check: "quorum", Index: -1,
			Msg: fmt.Sprintf("%v; the trust policy requires quorum %q", err, v.opts.Policy.Quorum)})
		v.quorumErr = err
		v.cp, v.cpVerified = cp, true
		v.uncounted(m.Data, cosigs)
	default:
		return v.badCheckpoint(err)
	}
	v.report.Root = v.cp.Root.String()
	if v.cp.Origin != v.manifest.Origin {
		v.invalid("manifest", -1, "manifest origin %q is not the checkpoint's %q", v.manifest.Origin, v.cp.Origin)
	}
	if v.cp.Size != v.manifest.TreeSize {
		v.invalid("manifest", -1, "manifest tree_size %d is not the checkpoint's size %d", v.manifest.TreeSize, v.cp.Size)
	}
	v.report.Origin, v.report.TreeSize = v.cp.Origin, v.cp.Size
	for size, k := range v.known {
		switch {
		case size > v.cp.Size:
			v.problem(ErrRollback, Problem{Check: "rollback", Index: -1,
				Msg: fmt.Sprintf("the bundle's checkpoint of size %d is older than the known checkpoint of size %d (root %s), validly signed by the log key: the bundle shows a rolled-back log", v.cp.Size, size, k.Root)})
			v.report.Known = append(v.report.Known, KnownVerdict{Source: "verifier", Size: size, Root: k.Root.String()})
		case size == v.cp.Size && k.Root != v.cp.Root:
			v.problem(ErrEquivocation, Problem{Check: "equivocation", Index: -1,
				Msg: fmt.Sprintf("log key %s signed two checkpoints of size %d with different roots: %s (known) and %s (bundle); keep both notes as proof", keyName(v.logKey), size, k.Root, v.cp.Root)})
			v.report.Known = append(v.report.Known, KnownVerdict{Source: "verifier", Size: size, Root: k.Root.String()})
		case size == v.cp.Size:
			v.report.Known = append(v.report.Known, KnownVerdict{Source: "verifier", Size: size, Root: k.Root.String(), Ok: true})
		}
	}
	return nil
}

// uncounted reports the signature lines by a policy witness's key that did
// not count: a cosignature of another checkpoint or origin, a bad
// signature, a timestamp too far ahead.
func (v *bundleVerifier) uncounted(signed []byte, counted []Cosignature) {
	split := bytes.LastIndex(signed, []byte("\n\n"))
	if split < 0 {
		return
	}
	for _, w := range v.opts.Policy.Witnesses {
		if slices.ContainsFunc(counted, func(c Cosignature) bool { return c.Witness == w.Name }) {
			continue
		}
		wv, _, err := parseWitnessKey(w.VKey)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(signed[split+2:]), "\n") {
			name, sig, ok := strings.Cut(strings.TrimPrefix(line, "\u2014 "), " ")
			raw, err := base64.StdEncoding.DecodeString(sig)
			if !ok || err != nil || name != wv.Name() || len(raw) < 4 || binary.BigEndian.Uint32(raw) != wv.KeyHash() {
				continue
			}
			v.problem(ErrQuorum, Problem{Check: "quorum", Index: -1, KeyID: keyName(wv),
				Msg: fmt.Sprintf("the cosignature line of witness %s does not verify over this checkpoint (origin %s, size %d): it was made for another checkpoint or origin, or its timestamp is too far ahead", w.Name, v.cp.Origin, v.cp.Size)})
		}
	}
}

// badCheckpoint records a checkpoint that fails the log's signature or
// origin; malformed ones end the verification.
func (v *bundleVerifier) badCheckpoint(err error) error {
	if IsMalformed(err) {
		return err
	}
	v.invalid("checkpoint", -1, "%v", err)
	if c, perr := ledger.ParseCheckpoint(noteText(v.signedCP)); perr == nil {
		v.cp = c // unverified: for the report only
		v.report.Root = c.Root.String()
	}
	return nil
}

// noteText returns the text of a signed note without checking it.
func noteText(signed []byte) []byte {
	if i := bytes.Index(signed, []byte("\n\n")); i >= 0 {
		return signed[:i+1]
	}
	return nil
}

func keyName(v note.Verifier) string { return fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()) }

// flushKnown reports a known/ checkpoint that no proof followed.
func (v *bundleVerifier) flushKnown() {
	if m := v.pendingKnow; m != nil {
		v.pendingKnow = nil
		v.invalid("consistency", -1, "%s has no consistency proof after it", m.Name)
	}
}

// checkKnown checks a known/<size>.consistency member against the
// known/<size>.checkpoint before it, the bundle's checkpoint and any
// checkpoint of that size the verifier knows.
func (v *bundleVerifier) checkKnown(m *Member) error {
	k := v.pendingKnow
	v.pendingKnow = nil
	if k == nil || k.Index != m.Index {
		v.invalid("consistency", -1, "%s does not follow known/%020d.checkpoint", m.Name, m.Index)
		return nil
	}
	kv := KnownVerdict{Source: "bundle", Size: m.Index}
	defer func() { v.report.Known = append(v.report.Known, kv) }()
	if !v.cpVerified {
		v.invalid("consistency", -1, "%s: not checked: the bundle's checkpoint did not verify", m.Name)
		return nil
	}
	// The verifier's own checkpoint of this size, if any, with this proof.
	if mine, ok := v.known[m.Index]; ok && m.Index < v.cp.Size {
		vk := KnownVerdict{Source: "verifier", Size: m.Index, Root: mine.Root.String()}
		if err := v.consistent(m, signedOf(v.knownSigned, v.logKey, m.Index), "the known checkpoint of size "+fmt.Sprint(m.Index), true); err == nil {
			vk.Ok = true
			if v.knownProved == nil {
				v.knownProved = map[int64]bool{}
			}
			v.knownProved[m.Index] = true
		}
		v.report.Known = append(v.report.Known, vk)
	}
	old, err := openCheckpoint(k.Data, v.logKey, k.Name)
	if err != nil {
		if IsMalformed(err) {
			v.invalid("consistency", -1, "%s: %v", k.Name, err)
			return nil
		}
		v.invalid("consistency", -1, "%v", err)
		return nil
	}
	kv.Root = old.Root.String()
	if old.Size != m.Index {
		v.invalid("consistency", -1, "%s holds a checkpoint of size %d", k.Name, old.Size)
		return nil
	}
	if v.consistent(m, k.Data, k.Name, false) == nil {
		kv.Ok = true
	}
	return nil
}

// signedOf returns the signed checkpoint of size among signed.
func signedOf(signed [][]byte, logKey note.Verifier, size int64) []byte {
	for _, s := range signed {
		if c, err := openCheckpoint(s, logKey, "known checkpoint"); err == nil && c.Size == size {
			return s
		}
	}
	return nil
}

// consistent runs the consistency proof m from oldSigned to the bundle's
// checkpoint and records a problem if it fails. A failure between two
// validly signed checkpoints is equivocation when strict (the verifier's
// own checkpoint: its history must be a prefix of the bundle's); else it
// is an invalid proof.
func (v *bundleVerifier) consistent(m *Member, oldSigned []byte, what string, strict bool) error {
	_, newCP, err := Consistency(m.Data, oldSigned, v.logKey)
	if err == nil && (newCP.Size != v.cp.Size || newCP.Root != v.cp.Root) {
		err = &Error{Check: "consistency", Index: -1,
			Msg: fmt.Sprintf("%s leads to a checkpoint of size %d (root %s), not the bundle's of size %d (root %s)", m.Name, newCP.Size, newCP.Root, v.cp.Size, v.cp.Root)}
	}
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrEquivocation):
		v.problem(ErrEquivocation, Problem{Check: "equivocation", Index: -1, Msg: fmt.Sprintf("%s: %v", what, err)})
	case strict && !IsMalformed(err):
		v.problem(ErrEquivocation, Problem{Check: "equivocation", Index: -1,
			Msg: fmt.Sprintf("%s, validly signed by the log key, is not proved a prefix of the bundle's checkpoint of size %d: %v; keep both notes", what, v.cp.Size, err)})
	default:
		v.invalid("consistency", -1, "%s: %v", m.Name, err)
	}
	return err
}

// result is the error for the problems found.
func (v *bundleVerifier) result() error {
	if len(v.report.Problems) == 0 {
		v.report.Valid = true
		v.report.Verdict = "valid"
		return nil
	}
	var class error
	for _, c := range []error{ErrEquivocation, ErrRollback, ErrInvalid, ErrQuorum} {
		if slices.ContainsFunc(v.report.Problems, func(p Problem) bool { return p.class == c }) {
			class = c
			break
		}
	}
	n := len(v.report.Problems)
	v.report.Verdict = fmt.Sprintf("%s: %d problem%s", class, n, plural(n))
	e := &BundleError{Class: class, Problems: v.report.Problems}
	if class == ErrQuorum {
		e.cause = v.quorumErr
	}
	return e
}

// leafResult is what the parallel phase found about one leaf.
type leafResult struct {
	leaf     *ledger.Leaf
	hash     ledger.Hash
	problems []Problem
	entry    custody.Entry
	prep     *custody.PreparedEntry // entry, prepared by the first phase
	applied  bool                   // Apply ran (the leaf parsed)
	recs     []custody.Record
	ev       *custody.Event
	err      error
	reads    []string
	rv       recordingView    // the view Apply read through (its log is reads)
	readsBuf [8]string        // rv's first keys: an entry reads a handful
	steps    []exhibitStep    // the history steps of recs, decoded
	rest     []custody.Record // recs less those steps
}

// A window of leaves goes through three phases: first, in parallel,
// everything that depends on no other leaf (checkStatic: the leaf parsed,
// hashed and proved included, its entry prepared for custody.Apply); then, in parallel, custody.Apply run
// speculatively against the state before the window (checkApply); then,
// in index order, the links between leaves and the custody commit
// (commit). The first phase of a window runs while the window before it
// is committed, so that the other cores do not wait on the commit, which
// is serial.
type pendingWindow struct {
	batch []item
	res   []leafResult
}

// checkBatch runs the first phase of batch while the window before it, if
// any, is committed; then the second phase of batch. The batch stays
// pending until commitPending.
func (v *bundleVerifier) checkBatch(batch []item) {
	if !v.sawLeaf {
		v.sawLeaf = true
		if batch[0].leaf.Index != 0 {
			v.invalid("gap", 0, "leaf 0, the admin's enrolment that every bundle holds, is not in the bundle (the first leaf is %d)", batch[0].leaf.Index)
		}
	}
	res := make([]leafResult, len(batch))
	var static sync.WaitGroup
	static.Go(func() {
		parallelWorkers(len(batch), func() func(i int) {
			var memo *pathMemo
			if v.cpVerified {
				memo = newPathMemo(v.cp.Size, v.cp.Root)
			}
			return func(i int) { v.checkStatic(batch[i], &res[i], memo) }
		})
	})
	v.commitPending()
	static.Wait()
	for i := range batch {
		// Checked: only the parsed leaf is used from here on.
		batch[i].leaf.Data = nil
		if batch[i].proof != nil {
			batch[i].proof.Data = nil
		}
	}
	parallel(len(batch), func(i int) { v.checkApply(batch[i], &res[i]) })
	v.pending = &pendingWindow{batch: batch, res: res}
}

// commitPending commits the pending window, if any.
func (v *bundleVerifier) commitPending() {
	w := v.pending
	if w == nil {
		return
	}
	v.pending = nil
	// The keys the window's commits wrote, by hash: a collision only
	// applies a leaf again, which gives the same result.
	written := v.written
	if written == nil {
		written = make(map[uint64]struct{}, 4*window)
		v.written = written
	}
	clear(written)
	for i := range w.batch {
		v.commit(w.batch[i].leaf, &w.res[i], written)
	}
}

// checkStatic is the first phase for one leaf: it reads nothing the other
// leaves change. memo is the worker's, nil when the checkpoint did not
// verify.
func (v *bundleVerifier) checkStatic(it item, r *leafResult, memo *pathMemo) {
	m := it.leaf
	l, err := ledger.ParseLeaf(m.Data)
	if err != nil {
		r.bad(m.Index, "leaf", "%s does not parse: %v", m.Name, err)
		return
	}
	if l.Index != m.Index {
		r.bad(m.Index, "leaf", "%s records index %d: leaves are out of place (reordered or renamed)", m.Name, l.Index)
	}
	r.leaf = l
	r.hash = ledger.LeafHash(m.Data)
	if it.proof == nil {
		r.bad(m.Index, "inclusion", "leaf %d has no tlog-proof", m.Index)
	} else if v.cpVerified {
		if err := v.inclusion(memo, it.proof.Data, m.Data, l, r.hash); err != nil {
			r.bad(m.Index, "inclusion", "%v", err)
		}
	}
	if l.Index == m.Index {
		r.entry = custody.Entry{Index: l.Index, LeafHash: r.hash, Time: l.Time, Envelope: l.Entry}
		r.prep = custody.Prepare(r.entry) // what of Apply reads no state
	}
}

// checkApply is the second phase for one leaf: custody.Apply against
// v.view, which no one writes meanwhile, logging the keys it reads.
func (v *bundleVerifier) checkApply(it item, r *leafResult) {
	l := r.leaf
	if l == nil || l.Index != it.leaf.Index {
		return // not applied: it does not parse, or its index is not where it stands
	}
	r.rv = recordingView{v: v.view, keys: r.readsBuf[:0]}
	r.recs, r.ev, r.err = custody.ApplyPrepared(&r.rv, r.prep)
	r.reads, r.applied = r.rv.keys, true
	if r.err == nil {
		r.steps, r.rest = splitSteps(r.recs)
		var buf []byte
		for i := range r.steps {
			if s := &r.steps[i]; !s.del {
				s.interned = v.view.internedAlready(&s.one[0], &buf)
			}
		}
	}
}

// bad records a problem of the leaf at index.
func (r *leafResult) bad(index int64, check, format string, args ...any) {
	r.problems = append(r.problems, Problem{Check: check, Index: index, Msg: fmt.Sprintf(format, args...), class: ErrInvalid})
}

// commit is the in-order phase for one leaf.
func (v *bundleVerifier) commit(m *Member, r *leafResult, written map[uint64]struct{}) {
	v.leaves++
	v.report.Problems = append(v.report.Problems, r.problems...)
	l := r.leaf
	if l == nil || l.Index != m.Index {
		if v.damaged == nil {
			v.damaged = map[int64]bool{}
		}
		v.damaged[m.Index] = true
	}
	if l == nil {
		v.lastIx = -1
		return
	}
	if l.Index == m.Index {
		v.present = append(v.present, l.Index)
	}
	if v.lastIx >= 0 && l.Index == v.lastIx+1 {
		if l.Prev != v.lastH {
			v.invalid("prev", l.Index, "leaf %d records prev %s, but leaf %d hashes to %s: one of them was altered", l.Index, l.Prev, v.lastIx, v.lastH)
		}
		if l.Time.Before(v.lastT) {
			v.invalid("time", l.Index, "leaf %d claims time %s, before leaf %d's %s", l.Index, l.Time.Format(time.RFC3339Nano), v.lastIx, v.lastT.Format(time.RFC3339Nano))
		}
	}
	if !v.witnessedBy.IsZero() && l.Time.After(v.witnessedBy.Add(MaxCosignatureSkew)) {
		v.invalid("time", l.Index, "leaf %d claims time %s, after every witness had cosigned a checkpoint holding it (the latest at %s, with %s allowed for clocks): the log's clock or the leaf's time is wrong",
			l.Index, l.Time.Format(time.RFC3339Nano), v.witnessedBy.Format(time.RFC3339), MaxCosignatureSkew)
	}
	v.lastIx, v.lastH, v.lastT = l.Index, r.hash, l.Time
	if !r.applied {
		return
	}
	recs, steps, rest, err := r.recs, r.steps, r.rest, r.err
	for _, k := range r.reads {
		if _, ok := written[maphash.String(v.seed, k)]; ok {
			// Speculated against a state an earlier leaf of the window
			// changed: apply again against the true state. The prepared
			// entry holds the signatures already verified: only the
			// rules are checked again (and the signatures of any other
			// key the true state names).
			recs, _, err = custody.ApplyPrepared(v.view, r.prep)
			if err == nil {
				steps, rest = splitSteps(recs)
			}
			break
		}
	}
	if err != nil {
		v.custodyProblem(r.entry, err)
		return
	}
	for _, rec := range recs {
		written[maphash.String(v.seed, rec.Key)] = struct{}{}
	}
	v.view.Set(rest, steps)
}

// custodyProblem turns a refusal of the replay into a problem naming the
// leaf, exhibit and key.
func (v *bundleVerifier) custodyProblem(e custody.Entry, err error) {
	if v.refused == nil {
		v.refused = map[int64]bool{}
	}
	v.refused[e.Index] = true
	p := Problem{Index: e.Index, class: ErrInvalid}
	var (
		rule  *custody.RuleError
		sig   *custody.SignatureError
		cpe   *custody.ParseError
		dup   *custody.DuplicateError
		about = peekEntry(e.Envelope)
	)
	p.Exhibit = about.exhibit
	switch {
	case errors.As(err, &rule):
		p.Check = "custody"
		if rule.Exhibit != "" {
			p.Exhibit = rule.Exhibit
		}
		switch rule.Rule {
		case "not-enrolled", "key-revoked", "key-not-current":
			p.Check = "key"
			p.KeyID = about.keyFor(v.view, rule.Rule)
		}
		p.Msg = fmt.Sprintf("%s (custody rule %s)", rule.Msg, rule.Rule)
		if about.prev != nil && p.Exhibit != "" {
			switch {
			case v.damaged[about.prev.Index]:
				p.Msg += fmt.Sprintf(" (it follows leaf %d, which is damaged or out of place in the bundle)", about.prev.Index)
			case !v.has(about.prev.Index):
				p.Check = "gap"
				p.Msg = fmt.Sprintf("exhibit %s: leaf %d names leaf %d as the exhibit's previous event, but leaf %d is not in the bundle: its history has a gap (a dropped entry); replay: %s",
					p.Exhibit, e.Index, about.prev.Index, about.prev.Index, p.Msg)
			case v.refused[about.prev.Index]:
				p.Msg += fmt.Sprintf(" (it follows leaf %d, which the replay refused)", about.prev.Index)
			}
		}
	case errors.As(err, &sig):
		p.Check, p.KeyID = "signature", sig.KeyID
		p.Msg = fmt.Sprintf("the DSSE signature by key %s does not verify over the envelope: %v", sig.KeyID, sig.Err)
	case errors.As(err, &dup):
		p.Check = "custody"
		p.Msg = dup.Error()
	case errors.As(err, &cpe):
		p.Check = "envelope"
		p.Msg = cpe.Error()
	default:
		p.Check = "custody"
		p.Msg = "replay failed: " + err.Error()
	}
	v.report.Problems = append(v.report.Problems, p)
}

// has reports whether leaf i is in the bundle.
func (v *bundleVerifier) has(i int64) bool {
	_, ok := slices.BinarySearch(v.present, i)
	return ok
}

// entryAbout is what a refused entry claims, read without trusting it, to
// say which exhibit and key a problem concerns.
type entryAbout struct {
	exhibit string
	prev    *custody.LeafRef
	keyIDs  []string
}

func peekEntry(envelope []byte) entryAbout {
	var a entryAbout
	env, err := custody.ParseEnvelope(envelope)
	if err != nil {
		return a
	}
	for _, s := range env.Signatures {
		a.keyIDs = append(a.keyIDs, s.KeyID)
	}
	st, err := env.Statement()
	if err != nil || st.Predicate == nil {
		return a
	}
	var p struct {
		Exhibit string           `json:"exhibit"`
		Prev    *custody.LeafRef `json:"prev"`
	}
	if json.Unmarshal(st.Predicate, &p) == nil {
		a.exhibit, a.prev = p.Exhibit, p.Prev
	}
	return a
}

// keyFor names the signing key a key rule refused: the first that is not
// an active key at the moment of the refusal (unknown, revoked or rotated
// out), else the first.
func (a entryAbout) keyFor(view custody.View, rule string) string {
	for _, id := range a.keyIDs {
		b, ok, _ := view.Get("k/" + id)
		if !ok {
			if rule == "not-enrolled" {
				return id
			}
			continue
		}
		var party string
		if json.Unmarshal(b, &party) != nil {
			continue
		}
		p, err := custody.Party(view, party)
		if err != nil || p == nil {
			continue
		}
		for _, k := range p.Keys {
			if k.ID == id && (k.Revoked != custody.NoIndex || k.RotatedOut != custody.NoIndex) {
				return id
			}
		}
	}
	if len(a.keyIDs) > 0 {
		return a.keyIDs[0]
	}
	return ""
}

// finish runs the checks that need the whole bundle.
func (v *bundleVerifier) finish() error {
	v.flushKnown()
	v.report.Entries = v.leaves
	if v.manifest.Entries != v.leaves {
		v.invalid("manifest", -1, "manifest says %d entries, the bundle holds %d leaves", v.manifest.Entries, v.leaves)
	}
	if !v.sawLeaf {
		v.invalid("gap", 0, "the bundle holds no leaves; leaf 0, the admin's enrolment, is always exported")
	}
	if v.cpVerified {
		for size := range v.known {
			if size < v.cp.Size && !v.knownProved[size] {
				v.invalid("consistency", -1, "the known checkpoint of size %d cannot be checked: the bundle holds no consistency proof from size %d (export it with that checkpoint known)", size, size)
				v.report.Known = append(v.report.Known, KnownVerdict{Source: "verifier", Size: size, Root: v.known[size].Root.String()})
			}
		}
	}

	ids := v.view.exhibits()
	named := map[string]bool{}
	var order []string
	for _, id := range v.manifest.Exhibits {
		if named[id] {
			continue
		}
		named[id] = true
		if _, ok := slices.BinarySearch(ids, id); !ok {
			v.problem(ErrInvalid, Problem{Check: "exhibit", Index: -1, Exhibit: id,
				Msg: fmt.Sprintf("exhibit %s, named in the manifest, is not registered by any leaf the replay accepted", id)})
			continue
		}
		order = append(order, id)
	}
	for _, id := range ids {
		if !named[id] {
			order = append(order, id)
		}
	}
	ids = nil
	// Each exhibit's verdict is its record, decoded, and the history steps
	// the replay kept decoded; on GOMAXPROCS goroutines, since a bundle
	// can hold millions.
	verdicts := make([]ExhibitVerdict, len(order))
	lasts := make([]int64, len(order))
	errs := make([]error, len(order))
	parallel(len(order), func(i int) {
		id := order[i]
		x, err := v.view.ex[id], error(nil)
		if x == nil {
			x, err = custody.Exhibit(v.view, id)
		}
		if x == nil && err == nil {
			err = fmt.Errorf("custody: record e/%s is gone", id) // ids are the view's keys
		}
		if err != nil {
			errs[i] = err
			return
		}
		steps := v.view.steps[id]
		if steps == nil {
			steps = []custody.HistoryStep{}
		}
		lasts[i] = x.Last.Index
		verdicts[i] = ExhibitVerdict{
			ID: id, InManifest: named[id], Holder: x.Holder, Status: x.Status, Digests: x.Digests, Size: x.Size,
			Parents: x.Parents, Derived: x.Derived, Steps: steps,
		}
	})
	for i, id := range order {
		if errs[i] != nil {
			return errs[i]
		}
		x := &verdicts[i]
		x.Holder, x.Status = v.view.interned(x.Holder), v.view.interned(x.Status)
		if len(x.Digests) > 0 && len(x.Steps) > 0 && maps.Equal(x.Steps[0].Digests, x.Digests) {
			x.Digests = x.Steps[0].Digests // the acquisition's (or derivation's): one map, not two
		}
		last, steps := lasts[i], x.Steps
		if !v.has(last) {
			v.problem(ErrInvalid, Problem{Check: "exhibit", Index: last, Exhibit: id,
				Msg: fmt.Sprintf("exhibit %s's latest event is leaf %d, which is not in the bundle", id, last)})
		}
		if len(steps) == 0 || steps[len(steps)-1].Index < last {
			v.problem(ErrInvalid, Problem{Check: "exhibit", Index: last, Exhibit: id,
				Msg: fmt.Sprintf("exhibit %s's latest event, leaf %d, is missing from its replayed history", id, last)})
		}
	}
	v.report.Exhibits = verdicts
	if err := v.checkVerdicts(); err != nil {
		return err
	}
	if v.opts.Evidence != "" {
		if err := v.checkEvidence(); err != nil {
			return err
		}
	}
	// Attribute the problems to exhibits.
	global := !v.cpVerified
	byExhibit := map[string][]string{}
	for _, p := range v.report.Problems {
		if p.Exhibit != "" {
			byExhibit[p.Exhibit] = append(byExhibit[p.Exhibit], p.String())
		}
	}
	for i := range v.report.Exhibits {
		x := &v.report.Exhibits[i]
		x.Problems = byExhibit[x.ID]
		x.Ok = !global && len(x.Problems) == 0
	}
	return nil
}

// parallel calls f(0), ..., f(n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	parallelWorkers(n, func() func(int) { return f })
}

// parallelWorkers calls f(0), ..., f(n-1) on GOMAXPROCS goroutines, each
// with the function worker returns for it (which may hold the goroutine's
// own buffers).
func parallelWorkers(n int, worker func() func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			f := worker()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// checkEvidence hashes every regular file under the evidence directory and
// matches it to an exhibit by SHA-256.
func (v *bundleVerifier) checkEvidence() error {
	algs := map[string]bool{custody.HashSHA256: true}
	for _, x := range v.report.Exhibits {
		for alg := range x.Digests {
			algs[alg] = true
		}
	}
	var list []string
	for _, alg := range []string{custody.HashSHA256, custody.HashSHA512, custody.HashSHA1, custody.HashMD5} {
		if algs[alg] {
			list = append(list, alg)
		}
	}
	bySHA := map[string]*ExhibitVerdict{}
	for i := range v.report.Exhibits {
		x := &v.report.Exhibits[i]
		bySHA[x.Digests[custody.HashSHA256]] = x
	}
	root := v.opts.Evidence
	var files []EvidenceFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories are walked; links and devices are not evidence files
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		ds, n, err := custody.DigestFile(path, list, nil)
		if err != nil {
			return err
		}
		f := EvidenceFile{Path: filepath.ToSlash(rel), Size: n, Digests: ds, Status: EvidenceUnknown}
		if x := bySHA[ds[custody.HashSHA256]]; x != nil {
			f.Exhibit = x.ID
			f.Status = EvidenceMatched
			for alg, want := range x.Digests {
				if got, ok := ds[alg]; ok && got != want {
					f.Status = EvidenceMismatched
					v.problem(ErrInvalid, Problem{Check: "evidence", Index: -1, Exhibit: x.ID,
						Msg: fmt.Sprintf("evidence file %s has exhibit %s's SHA-256 but %s %s, not the acquired %s", f.Path, x.ID, alg, got, want)})
				}
			}
		} else {
			v.problem(ErrInvalid, Problem{Check: "evidence", Index: -1,
				Msg: fmt.Sprintf("evidence file %s (sha256 %s, %d bytes) is no exhibit of the bundle: altered, or not evidence of this case", f.Path, ds[custody.HashSHA256], n)})
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify: evidence directory: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	v.report.Evidence = files
	for i := range v.report.Exhibits {
		x := &v.report.Exhibits[i]
		for _, f := range files {
			if f.Exhibit == x.ID && f.Status == EvidenceMatched {
				x.Evidence = f.Path
				break
			}
		}
	}
	return nil
}

// recordingView reads through to v and logs every key read.
type recordingView struct {
	v    custody.View
	keys []string
}

func (r *recordingView) Get(key string) ([]byte, bool, error) {
	r.keys = append(r.keys, key)
	return r.v.Get(key)
}

// replayView is the custody state the replay builds, in memory, kept
// compact since a bundle may hold millions of entries. The envelope
// records ("n/<sha256 hex>", one per leaf, used to refuse a replayed
// envelope) are kept as 32-byte keys and an index rather than strings. The
// history steps ("h/<exhibit>/<index>", one per event and exhibit), which
// custody writes but never reads back during a replay, are kept decoded,
// by exhibit, in index order: they are what the report shows, so they are
// taken decoded from custody (custody.Record.Step) and never stored as JSON
// too. The exhibit records ("e/<exhibit>") are kept as custody handed them
// over decoded (custody.Record.Exhibit), sharing the acquisition step's
// digests and leaf hash, and encoded again when custody reads one back:
// the report's verdicts are built on them without decoding each.
type replayView struct {
	m      map[string][]byte
	n      map[[32]byte]int64
	steps  map[string][]custody.HistoryStep
	intern map[string]string            // party names, key ids and event names of the steps
	maps   map[string]map[string]string // step details, by content

	ex      map[string]*custody.ExhibitRecord // the exhibit records custody handed over decoded (Record.Exhibit), by id
	exIDs   []string                          // the keys of ex in order, built by Scan; nil after Set
	sorted  []string                          // the keys of m in order, built by Scan; nil after Set
	scans   int                               // scans since Set, without sorted
	stepIDs []string                          // the keys of steps in order, built by Scan; nil after Set
	mapKey  []byte                            // internedMap's buffer
	exInM   bool                              // m has held an "e/" record: one not decoded
}

func newReplayView() *replayView {
	return &replayView{m: map[string][]byte{}, n: map[[32]byte]int64{}, ex: map[string]*custody.ExhibitRecord{},
		steps: map[string][]custody.HistoryStep{}, intern: map[string]string{}, maps: map[string]map[string]string{}}
}

// An exhibitStep is a decoded history record.
type exhibitStep struct {
	exhibit string
	// one is the step, in a list of its own: the exhibit's list of steps
	// when it has none yet (a new exhibit), so that the commit only
	// stores it.
	one []custody.HistoryStep
	del bool // the record is deleted
	// interned says that the step's names and details are already the
	// view's own (replayView.internedAlready).
	interned bool
}

// historyKey splits an "h/<exhibit>/<index as %016d>" key.
func historyKey(key string) (exhibit string, index int64, ok bool) {
	if len(key) < len("h/x/")+16 || !strings.HasPrefix(key, "h/") || key[len(key)-17] != '/' {
		return "", 0, false
	}
	for _, c := range key[len(key)-16:] {
		if c < '0' || c > '9' {
			return "", 0, false
		}
		index = index*10 + int64(c-'0')
	}
	return key[2 : len(key)-17], index, true
}

// splitSteps decodes the history records among recs, and returns them and
// the other records.
func splitSteps(recs []custody.Record) (steps []exhibitStep, rest []custody.Record) {
	n := 0
	for _, r := range recs {
		if strings.HasPrefix(r.Key, "h/") {
			n++
		}
	}
	steps, rest = make([]exhibitStep, 0, n), make([]custody.Record, 0, len(recs)-n)
	for _, r := range recs {
		ex, index, ok := historyKey(r.Key)
		if !ok {
			rest = append(rest, r)
			continue
		}
		s := exhibitStep{exhibit: ex, del: r.Value == nil, one: make([]custody.HistoryStep, 1)}
		st := &s.one[0]
		if p := r.Step(); p != nil && !s.del {
			*st = *p // custody's own decoding of r.Value
		} else if !s.del && json.Unmarshal(r.Value, st) != nil {
			rest = append(rest, r) // kept as it is: custody writes no such record
			continue
		}
		if !s.del && st.Index != index {
			rest = append(rest, r)
			continue
		}
		st.Index = index
		steps = append(steps, s)
	}
	return steps, rest
}

// envelopeKey decodes an "n/<64 hex>" key.
func envelopeKey(key string) ([32]byte, bool) {
	var k [32]byte
	hexPart, ok := strings.CutPrefix(key, "n/")
	if !ok || len(hexPart) != 64 {
		return k, false
	}
	for i := range 32 {
		hi, ok1 := unhex(hexPart[2*i])
		lo, ok2 := unhex(hexPart[2*i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k[i] = hi<<4 | lo
	}
	return k, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (v *replayView) Get(key string) ([]byte, bool, error) {
	if id, ok := strings.CutPrefix(key, "e/"); ok {
		if x := v.ex[id]; x != nil {
			b, err := json.Marshal(x) // what custody wrote
			return b, err == nil, err
		}
		if !v.exInM {
			return nil, false, nil // every exhibit record is in ex
		}
	}
	if k, ok := envelopeKey(key); ok {
		i, ok := v.n[k]
		if !ok {
			return nil, false, nil
		}
		return fmt.Appendf(nil, "%d", i), true, nil
	}
	if ex, index, ok := historyKey(key); ok {
		for _, st := range v.steps[ex] {
			if st.Index == index {
				b, err := json.Marshal(&st)
				return b, err == nil, err
			}
		}
	}
	b, ok := v.m[key]
	return b, ok, nil
}

// Set writes the records of one applied entry: steps are its history
// records, decoded, and recs the others (splitSteps).
func (v *replayView) Set(recs []custody.Record, steps []exhibitStep) {
	v.sorted, v.stepIDs, v.exIDs, v.scans = nil, nil, nil, 0
	for _, r := range recs {
		if id, ok := strings.CutPrefix(r.Key, "e/"); ok {
			if x := r.Exhibit(); x != nil && r.Value != nil && x.ID == id {
				x.Holder, x.Status = v.interned(x.Holder), v.interned(x.Status)
				v.ex[x.ID] = x
				if v.exInM {
					delete(v.m, r.Key)
				}
				continue
			}
			delete(v.ex, id)
		}
		if k, ok := envelopeKey(r.Key); ok {
			i, ok := plainIndex(r.Value) // as custody writes it
			if !ok && r.Value != nil {
				ok = json.Unmarshal(r.Value, &i) == nil
			}
			if r.Value != nil && ok {
				v.n[k] = i
				continue
			}
			delete(v.n, k)
			if r.Value == nil {
				continue
			}
		}
		if r.Value == nil {
			delete(v.m, r.Key)
		} else {
			v.m[r.Key] = r.Value
			v.exInM = v.exInM || strings.HasPrefix(r.Key, "e/")
		}
	}
	for _, s := range steps {
		st := &s.one[0]
		if !s.interned {
			st.Event, st.Party, st.To, st.From = v.interned(st.Event), v.interned(st.Party), v.interned(st.To), v.interned(st.From)
			for i, id := range st.KeyIDs {
				st.KeyIDs[i] = v.interned(id)
			}
			st.Detail = v.internedMap(st.Detail)
		}
		list := v.steps[s.exhibit]
		if list == nil {
			if !s.del {
				v.steps[s.exhibit] = s.one
			}
			continue
		}
		i, found := slices.BinarySearchFunc(list, st.Index, func(a custody.HistoryStep, i int64) int { return cmp.Compare(a.Index, i) })
		switch {
		case found && s.del:
			list = slices.Delete(list, i, i+1)
		case found:
			list[i] = *st
		case !s.del:
			list = slices.Insert(list, i, *st) // at the end: steps come in index order
		}
		if len(list) == 0 {
			delete(v.steps, s.exhibit)
			continue
		}
		v.steps[s.exhibit] = list
	}
}

// internedAlready replaces the step's names and details by the view's
// equal ones, and reports whether it found them all, in which case Set
// need not look again. It only reads the view: the parallel phase calls
// it while no one writes the view. buf is the caller's.
func (v *replayView) internedAlready(st *custody.HistoryStep, buf *[]byte) bool {
	all := true
	look := func(s *string) {
		if *s == "" {
			return
		}
		if t, ok := v.intern[*s]; ok {
			*s = t
		} else {
			all = false
		}
	}
	look(&st.Event)
	look(&st.Party)
	look(&st.To)
	look(&st.From)
	for i := range st.KeyIDs {
		look(&st.KeyIDs[i])
	}
	if len(st.Detail) > 0 {
		*buf = detailKey(st.Detail, (*buf)[:0])
		if t, ok := v.maps[string(*buf)]; ok {
			st.Detail = t
		} else {
			all = false
		}
	}
	return all
}

// plainIndex parses b if it is a JSON integer of at most 18 digits, to
// the value encoding/json decodes from it.
func plainIndex(b []byte) (int64, bool) {
	digits := bytes.TrimPrefix(b, []byte("-"))
	if len(digits) == 0 || len(digits) > 18 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(b) {
		n = -n
	}
	return n, true
}

// interned returns s, sharing the memory of an equal string seen before.
// Only names are interned (parties, keys, events): there are few of them.
func (v *replayView) interned(s string) string {
	if s == "" {
		return ""
	}
	if t, ok := v.intern[s]; ok {
		return t
	}
	v.intern[s] = s
	return s
}

// internedMap returns m, or an equal map seen before. Step details
// (an acquisition's source and method, an attestation's predicate type)
// repeat from step to step; a small map costs some 300 bytes.
func (v *replayView) internedMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	b := detailKey(m, v.mapKey[:0])
	v.mapKey = b
	if t, ok := v.maps[string(b)]; ok {
		return t
	}
	if len(v.maps) < maxInternedMaps {
		v.maps[string(b)] = m
	}
	return m
}

// detailKey appends to b the key of m in replayView.maps: each
// length-prefixed key and value, in key order.
func detailKey(m map[string]string, b []byte) []byte {
	var arr [8]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(m[k])))
		b = append(b, m[k]...)
	}
	return b
}

// sortAfterScans is how many scans replayView.Scan runs over its map
// before it sorts the map's keys once for all the scans that follow.
const sortAfterScans = 4

// maxInternedMaps bounds replayView.maps: details that never repeat are
// not worth keeping.
const maxInternedMaps = 1 << 16

// Scan lists the records under prefix in key order, the history steps
// encoded again as custody wrote them. Queries run after the replay: the
// keys are sorted once.
func (v *replayView) Scan(prefix string, fn func(key string, value []byte) error) error {
	type rec struct {
		key   string
		value []byte
	}
	var recs []rec
	if v.sorted == nil && v.scans < sortAfterScans {
		// A few scans cost less as passes over the map than sorting its
		// every key.
		v.scans++
		for k, b := range v.m {
			if strings.HasPrefix(k, prefix) {
				recs = append(recs, rec{k, b})
			}
		}
		slices.SortFunc(recs, func(a, b rec) int { return strings.Compare(a.key, b.key) })
	} else {
		if v.sorted == nil {
			v.sorted = slices.Sorted(maps.Keys(v.m))
		}
		i, _ := slices.BinarySearch(v.sorted, prefix)
		for _, k := range v.sorted[i:] {
			if !strings.HasPrefix(k, prefix) {
				break
			}
			recs = append(recs, rec{k, v.m[k]})
		}
	}
	merged := len(recs)
	for _, id := range v.decodedExhibits(prefix) {
		b, err := json.Marshal(v.ex[id])
		if err != nil {
			return err
		}
		recs = append(recs, rec{"e/" + id, b})
	}
	for _, ex := range v.stepExhibits(prefix) {
		for _, st := range v.steps[ex] {
			if k := custody.HistoryKey(ex, st.Index); strings.HasPrefix(k, prefix) {
				b, err := json.Marshal(&st)
				if err != nil {
					return err
				}
				recs = append(recs, rec{k, b})
			}
		}
	}
	if len(recs) > merged {
		slices.SortFunc(recs, func(a, b rec) int { return strings.Compare(a.key, b.key) })
	}
	for _, r := range recs {
		if err := fn(r.key, r.value); err != nil {
			return err
		}
	}
	return nil
}

// stepExhibits returns the exhibits whose history keys may start with
// prefix.
func (v *replayView) stepExhibits(prefix string) []string {
	if !strings.HasPrefix(prefix, "h/") {
		if !strings.HasPrefix("h/", prefix) {
			return nil
		}
		return slices.Collect(maps.Keys(v.steps)) // a scan of everything
	}
	// "h/<q>": the exhibits that start with q, and those that are q up to
	// one of its '/' (ids may hold '/').
	q := prefix[2:]
	var out []string
	if v.stepIDs == nil {
		v.stepIDs = slices.Sorted(maps.Keys(v.steps))
	}
	i, _ := slices.BinarySearch(v.stepIDs, q)
	for _, ex := range v.stepIDs[i:] {
		if !strings.HasPrefix(ex, q) {
			break
		}
		out = append(out, ex)
	}
	for j := range len(q) {
		if q[j] == '/' {
			if _, ok := v.steps[q[:j]]; ok && !strings.HasPrefix(q[:j], q) {
				out = append(out, q[:j])
			}
		}
	}
	return out
}

// decodedExhibits returns the ids of the exhibits in v.ex whose records'
// keys start with prefix, sorted.
func (v *replayView) decodedExhibits(prefix string) []string {
	if !strings.HasPrefix(prefix, "e/") && !strings.HasPrefix("e/", prefix) {
		return nil
	}
	if v.exIDs == nil {
		v.exIDs = slices.Sorted(maps.Keys(v.ex))
	}
	q := strings.TrimPrefix(prefix, "e/")
	if len(prefix) < len("e/") {
		q = ""
	}
	i, _ := slices.BinarySearch(v.exIDs, q)
	j := i
	for j < len(v.exIDs) && strings.HasPrefix(v.exIDs[j], q) {
		j++
	}
	return v.exIDs[i:j]
}

// exhibits returns the ids of the registered exhibits, sorted.
func (v *replayView) exhibits() []string {
	ids := make([]string, 0, len(v.ex))
	for id := range v.ex {
		ids = append(ids, id)
	}
	for k := range v.m {
		if id, ok := strings.CutPrefix(k, "e/"); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
