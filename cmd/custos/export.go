package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// noPolicyLine is trust.policy in a bundle exported without --trust.
const noPolicyLine = "# no trust policy was given at export\n"

func (e *env) exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write a tribunal bundle: exhibits' custody histories, every party event, proofs to the (cosigned) checkpoint, report.html, VERIFY.md",
		UsageText: "custos export --ledger DIR (--exhibit ID [--exhibit ID ...] | --all) --out FILE [--trust trust.policy] [--json]\n\n" +
			"The bundle (docs/bundle-spec.md) is proven to the latest checkpoint witnesses cosigned (custos checkpoint attach),\n" +
			"or to the latest checkpoint if none was. It holds every leaf of each exhibit's history, its derived items'\n" +
			"histories, its parents' histories up to the derivation, every party event and leaf 0. It is written to a\n" +
			"temporary file beside FILE and renamed, so FILE is never a partial bundle. SOURCE_DATE_EPOCH, if set, is\n" +
			"the manifest's created time, for byte-identical exports.",
		Flags: []cli.Flag{ledgerFlag(), jsonFlag(),
			&cli.StringSliceFlag{Name: "exhibit", Usage: "an exhibit to export (repeatable)"},
			&cli.BoolFlag{Name: "all", Usage: "export every exhibit"},
			&cli.StringFlag{Name: "out", Usage: "the bundle file to write (conventionally NAME.custos)"},
			&cli.StringFlag{Name: "trust", Usage: "the trust policy the bundle is made for (copied in, informational)"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			exhibits, all := c.StringSlice("exhibit"), c.Bool("all")
			if all == (len(exhibits) > 0) {
				return usagef("export: give --exhibit ID (repeatable) or --all, not both")
			}
			out := c.String("out")
			if out == "" {
				return usagef("export: --out FILE is required")
			}
			req := exportRequest{exhibits: exhibits, all: all, out: out, policy: []byte(noPolicyLine)}
			if p := c.String("trust"); p != "" {
				if req.policy, err = readFileCapped(p, verify.MaxPolicySize); err != nil {
					return fmt.Errorf("reading the trust policy: %w", err)
				}
				if req.trust, err = verify.ParsePolicy(req.policy); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				req.trustName = p
			} else {
				// No policy given: the report is of a check under the
				// log's key alone, with no witness required.
				_, vkey, err := d.readVerifier()
				if err != nil {
					return err
				}
				if req.trust, err = verify.ParsePolicy([]byte("log " + vkey + "\nquorum none\n")); err != nil {
					return err
				}
				req.trustName = "the log key alone (no --trust)"
			}
			if req.created, err = exportTime(); err != nil {
				return err
			}
			res, err := exportBundle(d, req, e.stderr)
			if err != nil {
				return err
			}
			return e.emit(c, res, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s: %d entries of %d exhibits, proven to the checkpoint of size %d (%d bytes)\n",
					res.Out, res.Entries, len(res.Exhibits), res.TreeSize, res.Bytes)
			})
		},
	}
}

// exportTime is the manifest's created time: SOURCE_DATE_EPOCH
// (reproducible-builds.org) if set, else now, in whole seconds.
func exportTime() (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, usagef("export: SOURCE_DATE_EPOCH=%q is not a Unix time", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

type exportRequest struct {
	exhibits  []string
	all       bool
	out       string
	policy    []byte         // trust.policy as given, or noPolicyLine
	trust     *verify.Policy // the policy the draft is verified under
	trustName string         // how the warnings name it
	created   time.Time
}

// exportResult is what export prints with --json.
type exportResult struct {
	Out      string   `json:"out"`
	Entries  int64    `json:"entries"`
	Exhibits []string `json:"exhibits"`
	TreeSize int64    `json:"tree_size"`
	Bytes    int64    `json:"bytes"`
}

// exportBundle writes the bundle of req from the ledger at d.
func exportBundle(d ledgerDir, req exportRequest, stderr io.Writer) (*exportResult, error) {
	logKey, vkey, err := d.readVerifier()
	if err != nil {
		return nil, err
	}
	l, err := d.openRead()
	if err != nil {
		return nil, err
	}
	defer l.Close()

	cp, size, err := bundleCheckpoint(d, l, logKey)
	if err != nil {
		return nil, err
	}
	known, err := knownCheckpoints(d, l, logKey, size)
	if err != nil {
		return nil, err
	}
	sel, err := selectExport(l.Index(), req.exhibits, req.all, size)
	if err != nil {
		return nil, err
	}
	if sel.later > 0 {
		fmt.Fprintf(stderr, "custos: export: %d events of these exhibits are after the checkpoint of size %d (the ledger has %d leaves) and are not in the bundle; have witnesses cosign a newer checkpoint to include them\n",
			sel.later, size, l.Size())
	}

	m := &verify.Manifest{Format: verify.BundleFormat, Origin: logKey.Name(), TreeSize: size,
		Created: req.created.Format(time.RFC3339), Exhibits: sel.exhibits, Entries: int64(len(sel.leaves)), Generator: "custos"}

	doc, err := renderVerifyDoc(m, vkey)
	if err != nil {
		return nil, err
	}

	// First a draft with a placeholder report, verified as a tribunal
	// would verify it; then the bundle, the draft's members with the
	// report of that verification.
	draft, err := os.CreateTemp(filepath.Dir(req.out), "."+filepath.Base(req.out)+".draft*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(draft.Name())
	dw := bufio.NewWriterSize(draft, 1<<20)
	err = writeMembers(verify.NewBundleWriter(dw), l, m, cp, req.policy, known, sel.leaves, doc)
	if err == nil {
		err = dw.Flush()
	}
	if cerr := draft.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	report, verr := renderReport(draft.Name(), req.trust, req.created)
	if report == nil {
		return nil, verr
	}
	if verr != nil {
		fmt.Fprintf(stderr, "custos: export: warning: the bundle does not verify under %s: %v\n", req.trustName, verr)
	}

	var n int64
	err = ledger.WriteAtomic(req.out, 0o644, func(w io.Writer) error {
		f, err := os.Open(draft.Name())
		if err != nil {
			return err
		}
		defer f.Close()
		cw := &countWriter{w: w}
		bw := verify.NewBundleWriter(cw)
		br := verify.NewBundleReader(bufio.NewReaderSize(f, 1<<20))
		for {
			mb, err := br.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("export: re-reading the draft: %w", err)
			}
			if mb.Kind == verify.KindReport {
				mb.Data = report
			}
			if err := bw.Add(mb.Name, mb.Data); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		if err := bw.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		n = cw.n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &exportResult{Out: req.out, Entries: m.Entries, Exhibits: m.Exhibits, TreeSize: size, Bytes: n}, nil
}

// draftReport is report.html in a draft bundle, before verification.
const draftReport = "<!doctype html><meta charset=utf-8><title>custos report</title><p>not yet verified</p>\n"

// writeMembers writes a bundle: manifest, checkpoint, policy, the known
// checkpoints with their consistency proofs to cp, each leaf with its
// inclusion proof in the tree of cp, a draft report and VERIFY.md.
func writeMembers(bw *verify.BundleWriter, l *ledger.Log, m *verify.Manifest, cp, policy []byte, known []knownCheckpoint, leaves []int64, doc []byte) error {
	add := func(name string, data []byte) error {
		if err := bw.Add(name, data); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}
	if err := add(verify.ManifestName, m.Marshal()); err != nil {
		return err
	}
	if err := add(verify.CheckpointName, cp); err != nil {
		return err
	}
	if err := add(verify.PolicyName, policy); err != nil {
		return err
	}
	for _, k := range known {
		path, err := l.ProveConsistencyBetween(k.size, m.TreeSize)
		if err != nil {
			return err
		}
		if err := add(verify.KnownCheckpointName(k.size), k.signed); err != nil {
			return err
		}
		proof := &ledger.ConsistencyProof{Old: k.size, Path: path, Checkpoint: cp}
		if err := add(verify.KnownConsistencyName(k.size), proof.Marshal()); err != nil {
			return err
		}
	}
	for _, i := range leaves {
		leaf, err := l.Leaf(i)
		if err != nil {
			return err
		}
		path, err := l.ProveInclusionAt(i, m.TreeSize)
		if err != nil {
			return err
		}
		if err := add(verify.LeafName(i), leaf); err != nil {
			return err
		}
		proof := &ledger.InclusionProof{Index: i, Path: path, Checkpoint: cp}
		if err := add(verify.ProofName(i), proof.Marshal()); err != nil {
			return err
		}
	}
	if err := add(verify.ReportName, []byte(draftReport)); err != nil {
		return err
	}
	if err := add(verify.VerifyDocName, doc); err != nil {
		return err
	}
	if err := bw.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// bundleCheckpoint returns the checkpoint the bundle's proofs lead to: the
// latest one witnesses cosigned, else the log's latest. It must be signed
// by the log key and match the stored tree.
func bundleCheckpoint(d ledgerDir, l *ledger.Log, logKey note.Verifier) ([]byte, int64, error) {
	cp, size, err := latestCosigned(d)
	if err != nil {
		return nil, 0, err
	}
	if len(cp) == 0 {
		cp, size = l.Checkpoint()
	}
	c, err := verify.Checkpoint(cp, logKey)
	if err != nil {
		return nil, 0, err
	}
	if c.Size != size {
		return nil, 0, fmt.Errorf("%w: the cosigned checkpoint filed as size %d has size %d", errMalformed, size, c.Size)
	}
	if c.Size == 0 {
		return nil, 0, usagef("export: the ledger is empty")
	}
	if err := matchesTree(l, c); err != nil {
		return nil, 0, err
	}
	return cp, c.Size, nil
}

// matchesTree checks a signed checkpoint's root against the stored tree:
// a log-signed checkpoint that does not match is a fork or a damaged store,
// and no bundle is made from it.
func matchesTree(l *ledger.Log, c ledger.Checkpoint) error {
	if c.Size > l.Size() {
		return &ledger.IntegrityError{Index: -1, Msg: fmt.Sprintf("a signed checkpoint has size %d, but the store holds %d leaves", c.Size, l.Size()), Err: ledger.ErrRollback}
	}
	root, err := l.TreeHash(c.Size)
	if err != nil {
		return err
	}
	if root != c.Root {
		return fmt.Errorf("the signed checkpoint of size %d has root %s, the stored tree %s: %w", c.Size, c.Root, root, verify.ErrEquivocation)
	}
	return nil
}

type knownCheckpoint struct {
	size   int64
	signed []byte
}

// knownCheckpoints returns the cosigned checkpoints smaller than size, in
// increasing size, one per size.
func knownCheckpoints(d ledgerDir, l *ledger.Log, logKey note.Verifier, size int64) ([]knownCheckpoint, error) {
	all, err := knownCosigned(d)
	if err != nil {
		return nil, err
	}
	// The checkpoints verdicts were evaluated at: the verifier proves each
	// a prefix of the bundle's. A cosigned copy of the same size, read
	// first, is kept instead.
	vs, err := custody.Verdicts(l.Index())
	if err != nil {
		return nil, err
	}
	for _, vr := range vs {
		if vr.Index < size {
			all = append(all, []byte(vr.Checkpoint))
		}
	}
	var out []knownCheckpoint
	for _, b := range all {
		c, err := verify.Checkpoint(b, logKey)
		if err != nil {
			return nil, fmt.Errorf("a cosigned checkpoint of the ledger, or one a verdict names: %w", err)
		}
		if c.Size < 1 || c.Size >= size {
			continue
		}
		if err := matchesTree(l, c); err != nil {
			return nil, err
		}
		out = append(out, knownCheckpoint{c.Size, b})
	}
	slices.SortStableFunc(out, func(a, b knownCheckpoint) int { return cmp.Compare(a.size, b.size) })
	return slices.CompactFunc(out, func(a, b knownCheckpoint) bool { return a.size == b.size }), nil
}

// exportSelection is what a bundle holds.
type exportSelection struct {
	exhibits []string // the exported exhibits, sorted
	leaves   []int64  // the leaf indexes, increasing
	later    int      // history steps of these exhibits after the checkpoint
}

// selectExport chooses the leaves of a bundle proven to a tree of size
// (docs/bundle-spec.md, "What the export holds"):
//
//   - every leaf of the history of each exported exhibit and, recursively,
//     of the exhibits derived from it;
//   - for each of those, the history of each parent up to and including
//     the derivation, recursively (so a replay can check that whoever
//     derived held the parent);
//   - every party event: each enrolment, key rotation and key revocation;
//   - every attribution event (finding, reproduction, hypothesis, policy,
//     verdict) and the whole history of every exhibit a finding or
//     reproduction takes as input, with its derived items and parents as
//     above;
//   - leaf 0, the admin's enrolment.
//
// Events at or after size are left out (they are not in the tree the
// bundle proves); an exhibit registered at or after size cannot be
// exported.
func selectExport(v custody.ScanView, ids []string, all bool, size int64) (*exportSelection, error) {
	records := map[string]*custody.ExhibitRecord{}
	record := func(id string) (*custody.ExhibitRecord, error) {
		if x, ok := records[id]; ok {
			return x, nil
		}
		x, err := custody.Exhibit(v, id)
		if err != nil {
			return nil, err
		}
		if x == nil {
			return nil, fmt.Errorf("%w: exhibit %s is named by the custody records but has none", errMalformed, id)
		}
		records[id] = x
		return x, nil
	}
	sel := &exportSelection{}
	if all {
		xs, err := custody.Status(v, "")
		if err != nil {
			return nil, err
		}
		for i := range xs {
			if xs[i].Acquired < size {
				records[xs[i].ID] = &xs[i]
				sel.exhibits = append(sel.exhibits, xs[i].ID)
			}
		}
	} else {
		for _, id := range ids {
			x, err := custody.Exhibit(v, id)
			if err != nil {
				return nil, err
			}
			if x == nil {
				return nil, usagef("export: no exhibit %q in this ledger", id)
			}
			if x.Acquired >= size {
				return nil, usagef("export: exhibit %s was registered at leaf %d, after the checkpoint of size %d the bundle is proven to; have witnesses cosign a newer checkpoint", id, x.Acquired, size)
			}
			records[id] = x
			sel.exhibits = append(sel.exhibits, id)
		}
		slices.Sort(sel.exhibits)
		sel.exhibits = slices.Compact(sel.exhibits)
	}

	// The attribution record: every finding, reproduction, hypothesis,
	// policy and verdict, and the whole history of every exhibit a finding
	// or reproduction takes as input, so that the verifier rebuilds the
	// evidence graph each verdict was evaluated on.
	attrLeaves, inputs, err := attributionLeaves(v, size)
	if err != nil {
		return nil, err
	}

	// limit[x] is the last index of x's history the bundle holds.
	limit := map[string]int64{}
	queue := slices.Clone(sel.exhibits)
	for _, id := range sel.exhibits {
		limit[id] = math.MaxInt64
	}
	for _, id := range inputs {
		if x, err := record(id); err != nil {
			return nil, err
		} else if _, ok := limit[id]; !ok && x.Acquired < size {
			limit[id] = math.MaxInt64
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 { // derived items, recursively: their whole histories
		id := queue[0]
		queue = queue[1:]
		x, err := record(id)
		if err != nil {
			return nil, err
		}
		for _, dv := range x.Derived {
			dx, err := record(dv)
			if err != nil {
				return nil, err
			}
			if _, ok := limit[dv]; !ok && dx.Acquired < size {
				limit[dv] = math.MaxInt64
				queue = append(queue, dv)
			}
		}
	}
	for id := range limit {
		queue = append(queue, id)
	}
	slices.Sort(queue)
	for len(queue) > 0 { // parents, recursively: up to the derivation
		id := queue[0]
		queue = queue[1:]
		x, err := record(id)
		if err != nil {
			return nil, err
		}
		for _, p := range x.Parents {
			if old, ok := limit[p]; !ok || old < x.Acquired {
				limit[p] = x.Acquired
				queue = append(queue, p)
			}
		}
	}

	set := map[int64]bool{0: true}
	for _, i := range attrLeaves {
		set[i] = true
	}
	for id, last := range limit {
		_, steps, err := custody.History(v, id)
		if err != nil {
			return nil, err
		}
		for _, st := range steps {
			switch {
			case st.Index >= size:
				if last == math.MaxInt64 {
					sel.later++
				}
			case st.Index <= last:
				set[st.Index] = true
			}
		}
	}
	parties, err := custody.Parties(v)
	if err != nil {
		return nil, err
	}
	for _, p := range parties {
		idx := []int64{p.Enrolled}
		for _, k := range p.Keys {
			idx = append(idx, k.Added, k.Revoked, k.RotatedOut)
		}
		for _, i := range idx {
			if i != custody.NoIndex && i < size {
				set[i] = true
			}
		}
	}
	for i := range set {
		sel.leaves = append(sel.leaves, i)
	}
	slices.Sort(sel.leaves)
	return sel, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// renderReport verifies the draft bundle at path as a tribunal would, under
// policy, and renders report.html from the result with verify.RenderReport.
// A bundle that does not verify still gets its report (which names every
// problem); the error says why, for the exporter to warn.
func renderReport(path string, policy *verify.Policy, now time.Time) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep, verr := verify.VerifyBundle(bufio.NewReaderSize(f, 1<<20), verify.BundleOptions{Policy: policy, Now: func() time.Time { return now }})
	if rep == nil {
		return nil, verr
	}
	return verify.RenderReport(rep), verr
}

// attributionLeaves returns the leaves of every attribution event below
// size and the exhibits that findings and reproductions take as input.
func attributionLeaves(v custody.ScanView, size int64) (leaves []int64, inputs []string, err error) {
	fs, err := custody.Findings(v)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range fs {
		if f.Index >= size {
			continue
		}
		leaves = append(leaves, f.Index)
		inputs = append(inputs, f.Inputs...)
		for _, r := range f.Reproductions {
			if r.Index < size {
				leaves = append(leaves, r.Index)
				inputs = append(inputs, r.Inputs...)
			}
		}
	}
	hs, err := custody.Hypotheses(v)
	if err != nil {
		return nil, nil, err
	}
	for _, h := range hs {
		leaves = append(leaves, h.Index)
	}
	ps, err := custody.Policies(v)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range ps {
		leaves = append(leaves, p.Index)
	}
	vs, err := custody.Verdicts(v)
	if err != nil {
		return nil, nil, err
	}
	for _, vr := range vs {
		leaves = append(leaves, vr.Index)
	}
	leaves = slices.DeleteFunc(leaves, func(i int64) bool { return i >= size })
	slices.Sort(inputs)
	return leaves, slices.Compact(inputs), nil
}
