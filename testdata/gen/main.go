// Command gen rebuilds the golden tribunal bundles in testdata/bundles: one
// valid bundle and one bundle per fault, each named after the fault it
// carries, with the trust policy, keys and evidence files they are checked
// with. Run it from the module root:
//
//	go run ./testdata/gen
//
// Every bundle comes from a real ledger (badger in a temporary directory)
// built through packages ledger and custody. The ledgers are opened without
// the custody indexer, so that a bundle whose fault is a custody fault (a
// revoked key signing, an accept without a release) holds a leaf that is
// correctly logged and correctly proved and only its custody is wrong; the
// generator replays custody itself on the valid case and refuses to write
// it unless every leaf passes. Verdicts are made as custos evaluate makes
// them: the evaluator run over the graph of the generator's own custody
// state at a checkpoint the bundle carries under known/. Faults in the container (path traversal, an
// oversized member) are written with archive/tar, since the bundle writer
// refuses them.
//
// The output is deterministic: keys come from fixed seeds, the ledger's
// clock and the witnesses' cosignature timestamps are fixed, and Ed25519
// signatures are deterministic. Running gen twice gives the same bytes.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/custody/attribution"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/verify"
)

const (
	origin   = "ledger.golden.example/case-0042"
	password = "custos-golden" // encrypts the throwaway keys written beside the bundles
	created  = "2026-03-01T12:00:00Z"
)

// epoch is the first leaf's time; each leaf is one minute later.
var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// cosignTime is the timestamp of every witness cosignature.
var cosignTime = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("out", filepath.Join("testdata", "bundles"), "output directory")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

// keyFromSeed returns a deterministic Ed25519 custody key named name.
func keyFromSeed(name string) (*custody.PrivateKey, []byte) {
	seed := sha256.Sum256([]byte("custos golden key " + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.StaticPasswordFunc([]byte(password)))
	must(err)
	pemBytes := cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der)
	k, err := custody.ParsePrivateKey(pemBytes, []byte(password))
	must(err)
	return k, seed[:]
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// cosigner signs C2SP tlog-cosignature/v1 lines with a fixed timestamp
// (transparency-dev/formats/note's signer takes the time from the clock).
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	at   time.Time // the timestamp it signs; zero means cosignTime
}

func newCosigner(name string, seed []byte) *cosigner {
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	// c2sp.org/signed-note: key hash = SHA-256(name || "\n" || alg || key)[:4],
	// alg 0x04 for cosignature/v1.
	h := sha256.Sum256(append([]byte(name+"\n\x04"), pub...))
	return &cosigner{name: name, hash: binary.BigEndian.Uint32(h[:4]), key: key}
}

func (c *cosigner) Name() string    { return c.name }
func (c *cosigner) KeyHash() uint32 { return c.hash }
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	at := cosignTime
	if !c.at.IsZero() {
		at = c.at
	}
	t := uint64(at.Unix())
	// c2sp.org/tlog-cosignature: the signed message is the header line, the
	// time line and the checkpoint text.
	m := fmt.Appendf(nil, "cosignature/v1\ntime %d\n", t)
	m = append(m, msg...)
	sig := binary.BigEndian.AppendUint64(nil, t)
	return append(sig, ed25519.Sign(c.key, m)...), nil
}

// vkey is the witness's Ed25519 note verifier key, as custos witness init
// writes it.
func (c *cosigner) vkey() string {
	v, err := note.NewEd25519VerifierKey(c.name, c.key.Public().(ed25519.PublicKey))
	must(err)
	return v
}

// actors of the case.
type actors struct {
	logKey, otherLog                           *custody.PrivateKey
	admin, certUA, lab, lab2, facilitator, rog *custody.PrivateKey
	witnesses                                  []*cosigner
	logSigner, otherSigner                     note.Signer
	logVerifier                                note.Verifier
	logVKey                                    string
}

func newActors() *actors {
	a := &actors{}
	a.logKey, _ = keyFromSeed("log")
	a.otherLog, _ = keyFromSeed("other-log")
	a.admin, _ = keyFromSeed("admin")
	a.certUA, _ = keyFromSeed("cert-ua")
	a.lab, _ = keyFromSeed("neutral-lab")
	a.lab2, _ = keyFromSeed("second-lab")
	a.facilitator, _ = keyFromSeed("facilitator")
	a.rog, _ = keyFromSeed("rogue")
	for _, w := range []string{"witness1.example.org", "witness2.example.org", "witness3.example.org"} {
		seed := sha256.Sum256([]byte("custos golden witness " + w))
		a.witnesses = append(a.witnesses, newCosigner(w, seed[:]))
	}
	var err error
	a.logSigner, err = a.logKey.NoteSigner(origin)
	must(err)
	a.otherSigner, err = a.otherLog.NoteSigner(origin)
	must(err)
	a.logVKey, err = a.logKey.Public().NoteVerifierKey(origin)
	must(err)
	a.logVerifier, err = note.NewVerifier(a.logVKey)
	must(err)
	return a
}

func (a *actors) policy(quorum int) *verify.Policy {
	var w []string
	for _, c := range a.witnesses {
		w = append(w, c.vkey())
	}
	p, err := verify.NewPolicy(a.logVKey, w, quorum)
	must(err)
	return p
}

// caseLog is a real ledger and the custody state of the leaves appended
// so far (where custody accepts them).
type caseLog struct {
	a      *actors
	log    *ledger.Log
	dir    string
	view   *custody.MemView
	refs   map[int64]custody.LeafRef
	strict bool // refuse to append what custody refuses
	known  map[int64][]byte
}

func newCaseLog(a *actors, strict bool) *caseLog {
	dir, err := os.MkdirTemp("", "custos-gen-")
	must(err)
	st, err := badgerstore.Open(filepath.Join(dir, "store"), badgerstore.Options{})
	must(err)
	n := 0
	clock := func() time.Time { n++; return epoch.Add(time.Duration(n) * time.Minute) }
	l, err := ledger.Open(st, ledger.Options{Verifier: a.logVerifier, Signer: a.logSigner, Now: clock})
	must(err)
	return &caseLog{a: a, log: l, dir: dir, view: custody.NewMemView(), refs: map[int64]custody.LeafRef{}, strict: strict, known: map[int64][]byte{}}
}

func (c *caseLog) close() {
	must(c.log.Close())
	os.RemoveAll(c.dir)
}

// append logs env; custody must accept it when strict, and may refuse it
// otherwise (the fault of a custody golden bundle). It returns the index.
func (c *caseLog) append(env []byte) int64 {
	i, h, err := c.log.Append(context.Background(), env)
	must(err)
	leaf, err := c.log.Leaf(i)
	must(err)
	l, err := ledger.ParseLeaf(leaf)
	must(err)
	e := custody.Entry{Index: i, LeafHash: h, Time: l.Time, Envelope: env}
	recs, _, err := custody.Apply(c.view, e)
	switch {
	case err == nil:
		c.view.Set(recs)
	case c.strict:
		log.Fatalf("gen: custody refuses leaf %d of the valid case: %v", i, err)
	}
	c.refs[i] = e.Ref()
	return i
}

func (c *caseLog) sign(ptype string, sub custody.Subject, pred any, keys ...*custody.PrivateKey) []byte {
	stmt, err := custody.NewStatement(ptype, sub, pred)
	must(err)
	env, err := custody.SignStatementMulti(stmt, keys...)
	must(err)
	return env
}

func (c *caseLog) exhibit(id string) *custody.ExhibitRecord {
	x, err := custody.Exhibit(c.view, id)
	must(err)
	if x == nil {
		log.Fatalf("gen: no exhibit %s", id)
	}
	return x
}

func (c *caseLog) enroll(name string, roles []string, k *custody.PrivateKey, signers ...*custody.PrivateKey) int64 {
	pub := k.Public()
	return c.append(c.sign(custody.PredicateEnroll, custody.PartySubject(name, pub), custody.Enroll{
		Party: name, Org: strings.ToUpper(name), Roles: roles,
		Key: custody.KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}}, append([]*custody.PrivateKey{k}, signers...)...))
}

func (c *caseLog) acquire(k *custody.PrivateKey, id string, content []byte) int64 {
	d := digests(content)
	return c.append(c.sign(custody.PredicateAcquire, custody.Subject{Name: id, Digest: d}, custody.Acquire{
		Exhibit: id, Size: int64(len(content)), Source: "golden source of " + id, Method: "dd via write blocker",
		Tool: "custos gen", Location: "Kharkiv", HashedBy: "custos"}, k))
}

func (c *caseLog) derive(k *custody.PrivateKey, id, parent string, content []byte) int64 {
	return c.append(c.sign(custody.PredicateDerive, custody.Subject{Name: id, Digest: digests(content)}, custody.Derive{
		Exhibit: id, Parents: []string{parent}, Kind: "extract", Size: int64(len(content)), Tool: "Sleuth Kit 4.12"}, k))
}

func (c *caseLog) release(k *custody.PrivateKey, id, to string) int64 {
	x := c.exhibit(id)
	return c.append(c.sign(custody.PredicateRelease, custody.Subject{Name: id, Digest: x.Digests},
		custody.Release{Exhibit: id, To: to, Reason: "hand-over for analysis", Prev: x.Last}, k))
}

func (c *caseLog) accept(k *custody.PrivateKey, id string, observed map[string]string, prev custody.LeafRef) int64 {
	return c.append(c.sign(custody.PredicateAccept, custody.Subject{Name: id, Digest: observed},
		custody.Accept{Exhibit: id, Prev: prev, Note: "re-hashed on arrival"}, k))
}

func (c *caseLog) reject(k *custody.PrivateKey, id string, observed map[string]string) int64 {
	x := c.exhibit(id)
	return c.append(c.sign(custody.PredicateReject, custody.Subject{Name: id, Digest: observed},
		custody.Reject{Exhibit: id, Prev: x.OpenRelease.Ref, Reason: "digest mismatch on arrival"}, k))
}

func (c *caseLog) seal(k *custody.PrivateKey, id string) int64 {
	x := c.exhibit(id)
	return c.append(c.sign(custody.PredicateSeal, custody.Subject{Name: id, Digest: x.Digests},
		custody.Seal{Exhibit: id, SealID: "NFL-S-0192", Reason: "analysis complete", Prev: x.Last}, k))
}

func (c *caseLog) attest(k *custody.PrivateKey, id string) int64 {
	x := c.exhibit(id)
	return c.append(c.sign("https://example.org/finding/v1", custody.Subject{Name: id, Digest: x.Digests},
		map[string]any{"finding": "dropper matches family X", "confidence": 80}, k))
}

// keepCheckpoint remembers the current checkpoint as one a witness kept.
func (c *caseLog) keepCheckpoint() {
	cp, size := c.log.Checkpoint()
	c.known[size] = cp
}

// keepCosigned remembers the current checkpoint, cosigned by every
// witness, as custos checkpoint attach keeps it, and returns it.
func (c *caseLog) keepCosigned() []byte {
	signed, size := c.log.Checkpoint()
	cp := cosign(signed, c.a.logVerifier, []note.Signer{c.a.witnesses[0], c.a.witnesses[1], c.a.witnesses[2]})
	c.known[size] = cp
	return cp
}

// finding states finding f, signed by k.
func (c *caseLog) finding(k *custody.PrivateKey, f custody.Finding) int64 {
	return c.append(c.sign(custody.PredicateFinding, custody.AttributionSubject("finding", f.ID, f.Claim), f, k))
}

// reproduce reports, signed by k, that finding id was repeated: confirmed.
func (c *caseLog) reproduce(k *custody.PrivateKey, id string) int64 {
	fs, err := custody.Findings(c.view)
	must(err)
	i := slices.IndexFunc(fs, func(f custody.FindingRecord) bool { return f.ID == id })
	if i < 0 {
		log.Fatalf("gen: no finding %s", id)
	}
	return c.append(c.sign(custody.PredicateReproduction, custody.AttributionSubject("finding", id, fs[i].Claim),
		custody.Reproduction{Finding: id, Result: custody.ResultConfirmed, Note: "re-ran the method on our own copy"}, k))
}

func (c *caseLog) hypothesis(k *custody.PrivateKey, h custody.Hypothesis) int64 {
	return c.append(c.sign(custody.PredicateHypothesis, custody.AttributionSubject("hypothesis", h.ID, h.Statement), h, k))
}

// registerPolicy logs the policy document doc, signed by keys (the first
// registers it, the others co-sign), as custos policy register does.
func (c *caseLog) registerPolicy(doc []byte, keys ...*custody.PrivateKey) int64 {
	pol, err := attribution.ParsePolicy(doc)
	must(err)
	reg := custody.PolicyRegistration{Name: pol.Name, Digest: attribution.PolicyDigest(doc), Policy: string(doc)}
	return c.append(c.sign(custody.PredicatePolicy, custody.AttributionSubject("policy", reg.Name, reg.Policy), reg, keys...))
}

// evaluate evaluates hypothesis hyp under the registered policy pol at the
// signed checkpoint, as custos evaluate does (cmd/custos evaluateAt): over
// the graph of the custody state as of the checkpoint, witnessed when the
// caller judged the checkpoint to carry the quorum. It returns the verdict
// predicate and the result.
func (c *caseLog) evaluate(hyp string, pol *custody.PolicyRecord, signed []byte, witnessed bool) (custody.Verdict, *attribution.Verdict) {
	cp, err := verify.Checkpoint(signed, c.a.logVerifier)
	must(err)
	g, err := custody.AttributionGraph(c.view, attribution.Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root.String()}, witnessed)
	must(err)
	r, err := attribution.Evaluate([]byte(pol.Policy), pol.Index, g, hyp)
	must(err)
	return custody.Verdict{Hypothesis: hyp, Policy: pol.Name, PolicyDigest: pol.Digest, Checkpoint: string(signed),
		Level: r.Reached, Result: r.Marshal()}, r
}

// verdict logs the verdict predicate v, signed by k.
func (c *caseLog) verdict(k *custody.PrivateKey, v custody.Verdict) int64 {
	return c.append(c.sign(custody.PredicateVerdict, custody.AttributionSubject("verdict", v.Hypothesis, string(v.Result)), v, k))
}

// evaluateLogged evaluates hyp under the registered policy named policy at
// the signed checkpoint, judging its quorum under trust, and logs the
// verdict signed by k.
func (c *caseLog) evaluateLogged(k *custody.PrivateKey, hyp, policy string, signed []byte, trust *verify.Policy) int64 {
	pol, err := custody.Policy(c.view, policy)
	must(err)
	if pol == nil {
		log.Fatalf("gen: no policy %s", policy)
	}
	_, _, qerr := trust.CheckCheckpoint(signed)
	v, _ := c.evaluate(hyp, pol, signed, qerr == nil)
	return c.verdict(k, v)
}

// evidence is the deterministic content of an exhibit's file.
func evidence(name string, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", name, i))
		b.Write(h[:])
	}
	return b.Bytes()[:n]
}

func digests(content []byte) map[string]string {
	d, _, err := custody.Digest(bytes.NewReader(content), []string{custody.HashSHA256, custody.HashSHA1, custody.HashMD5}, nil)
	must(err)
	return d
}

// readPolicy reads an example attribution policy (the generator runs from
// the module root).
func readPolicy(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "policies", name))
	must(err)
	return b
}

var (
	diskImage = evidence("hmi-disk.img", 6000)
	memImage  = evidence("hmi-memory.lime", 3000)
	dropper   = diskImage[1000:2500]
	unrelated = evidence("unrelated.img", 2000)
)

// baseCase appends the case every bundle starts from: parties enrolled,
// two exhibits acquired, handed over (one hand-over rejected for a digest
// mismatch and redone), an extract derived, sealed and handed on, a third
// exhibit that is not exported, the attribution record (a second lab
// enrolled, three findings on the exported exhibits by two organisations,
// a reproduction by the other, a hypothesis, policy un-gge-l1 registered,
// the witnesses' cosigned checkpoint and the verdict evaluated at it), and
// an attestation. It returns the exhibits exported.
//
// Leaf by leaf: 0-3 enrolments, 4-5 acquisitions (checkpoint 6 kept),
// 6-7 hand-over of 0042, 8-9 hand-over of 0043 rejected, 10 the unexported
// acquisition, 11-12 hand-over of 0043 redone, 13 derivation of D1, 14
// seal (checkpoint 15 kept), 15-16 hand-over of D1, 17 second-lab enrolled,
// 18-20 findings F-01 to F-03, 21 reproduction of F-01, 22 hypothesis H-1,
// 23 policy un-gge-l1 (checkpoint 24 kept, cosigned), 24 the verdict, 25
// the attestation. The bundle's tree has size 26.
func baseCase(c *caseLog) []string { return forkCase(c, "CERT-UA-2026-0043") }

// forkCase is baseCase with its last attestation about exhibit last: a
// ledger that agrees with the base case but for its last leaf.
func forkCase(c *caseLog, last string) []string {
	a := c.a
	trust := a.policy(2)
	c.enroll("admin", []string{custody.RoleAdmin}, a.admin)
	c.enroll("cert-ua", []string{custody.RoleCollector, custody.RoleCustodian}, a.certUA, a.admin)
	c.enroll("neutral-lab", []string{custody.RoleAnalyst, custody.RoleCustodian}, a.lab, a.admin)
	c.enroll("facilitator", []string{custody.RoleFacilitator}, a.facilitator, a.admin)
	c.acquire(a.certUA, "CERT-UA-2026-0042", diskImage)
	c.acquire(a.certUA, "CERT-UA-2026-0043", memImage)
	c.keepCheckpoint() // size 6: the checkpoint a witness cosigned after the acquisitions
	c.release(a.certUA, "CERT-UA-2026-0042", "neutral-lab")
	c.accept(a.lab, "CERT-UA-2026-0042", digests(diskImage), c.exhibit("CERT-UA-2026-0042").OpenRelease.Ref)
	c.release(a.certUA, "CERT-UA-2026-0043", "neutral-lab")
	damaged := slices.Clone(memImage)
	damaged[1500] ^= 0x20
	c.reject(a.lab, "CERT-UA-2026-0043", digests(damaged))
	c.acquire(a.certUA, "CERT-UA-2026-0050", unrelated) // not exported
	c.release(a.certUA, "CERT-UA-2026-0043", "neutral-lab")
	c.accept(a.lab, "CERT-UA-2026-0043", digests(memImage), c.exhibit("CERT-UA-2026-0043").OpenRelease.Ref)
	c.derive(a.lab, "CERT-UA-2026-0042/D1", "CERT-UA-2026-0042", dropper)
	c.seal(a.lab, "CERT-UA-2026-0042")
	c.keepCheckpoint()
	c.release(a.lab, "CERT-UA-2026-0042/D1", "facilitator")
	c.accept(a.facilitator, "CERT-UA-2026-0042/D1", digests(dropper), c.exhibit("CERT-UA-2026-0042/D1").OpenRelease.Ref)

	// The attribution record: two analysts of different organisations.
	c.enroll("second-lab", []string{custody.RoleAnalyst}, a.lab2, a.admin)
	c.finding(a.lab, custody.Finding{ID: "F-01", Claim: "the dropper shares its custom RC4 key schedule with APT-X's GRIDSTRIKE family",
		Category: "malware", Method: "LAB-SOP:MALWARE-SIM-3", Inputs: []string{"CERT-UA-2026-0042/D1"},
		SourceReliability: "A", Credibility: 2, Confidence: 85})
	c.finding(a.lab, custody.Finding{ID: "F-02", Claim: "the HMI beaconed to 203.0.113.7:443 every 300 s",
		Category: "infrastructure", Method: "SOLVE-IT:DFT-1042", Inputs: []string{"CERT-UA-2026-0043"},
		SourceReliability: "B", Credibility: 2, Confidence: 80})
	c.finding(a.lab2, custody.Finding{ID: "F-03", Claim: "persistence through a scheduled task named as in APT-X's known playbook",
		Category: "ttp", Method: "SOLVE-IT:DFT-1014", Inputs: []string{"CERT-UA-2026-0042"},
		SourceReliability: "B", Credibility: 2, Confidence: 75})
	c.reproduce(a.lab2, "F-01")
	c.hypothesis(a.facilitator, custody.Hypothesis{ID: "H-1", Statement: "Operation GRIDLOCK is attributable to actor APT-X",
		Supports: []string{"F-01", "F-02", "F-03"}, Likelihood: "likely"})
	c.registerPolicy(readPolicy("reasonable-basis.yaml"), a.facilitator, a.lab, a.lab2)
	cp := c.keepCosigned() // size 24: the witnesses cosign before the evaluation
	c.evaluateLogged(a.facilitator, "H-1", "un-gge-l1", cp, trust)

	c.attest(a.lab, last)
	return []string{"CERT-UA-2026-0042", "CERT-UA-2026-0043"}
}

// exportSet returns the indexes a bundle of exhibits holds: every party
// event, every leaf of the exhibits' histories and of their parents' and
// derived items', recursively, and the attribution record with the
// histories of the findings' inputs (docs/bundle-spec.md), plus extra.
func (c *caseLog) exportSet(exhibits []string, extra ...int64) []int64 {
	set := map[int64]bool{0: true}
	parties, err := custody.Parties(c.view)
	must(err)
	for _, p := range parties {
		set[p.Enrolled] = true
		for _, k := range p.Keys {
			set[k.Added] = true
			if k.Revoked != custody.NoIndex {
				set[k.Revoked] = true
			}
			if k.RotatedOut != custody.NoIndex {
				set[k.RotatedOut] = true
			}
		}
	}
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		x, steps, err := custody.History(c.view, id)
		must(err)
		for _, s := range steps {
			set[s.Index] = true
		}
		for _, p := range x.Parents {
			walk(p)
		}
		for _, d := range x.Derived {
			walk(d)
		}
	}
	for _, id := range exhibits {
		walk(id)
	}
	fs, err := custody.Findings(c.view)
	must(err)
	for _, f := range fs {
		set[f.Index] = true
		for _, r := range f.Reproductions {
			set[r.Index] = true
			for _, id := range r.Inputs {
				walk(id)
			}
		}
		for _, id := range f.Inputs {
			walk(id)
		}
	}
	hs, err := custody.Hypotheses(c.view)
	must(err)
	for _, h := range hs {
		set[h.Index] = true
	}
	ps, err := custody.Policies(c.view)
	must(err)
	for _, p := range ps {
		set[p.Index] = true
	}
	vs, err := custody.Verdicts(c.view)
	must(err)
	for _, v := range vs {
		set[v.Index] = true
	}
	for _, i := range extra {
		set[i] = true
	}
	var out []int64
	for i := range set {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// member is one bundle member.
type member struct {
	name string
	data []byte
}

// bundle is what a bundle holds, before it is written.
type bundle struct {
	manifest verify.Manifest
	members  []member // in order, manifest first
}

// export makes the members of a bundle of the leaves at indexes, with the
// checkpoint cosigned by the given witnesses, and consistency proofs from
// the checkpoints the case kept.
func (c *caseLog) export(exhibits []string, indexes []int64, policy *verify.Policy, cosigners []note.Signer) *bundle {
	signed, size := c.log.Checkpoint()
	cp := cosign(signed, c.a.logVerifier, cosigners)
	m := verify.Manifest{Format: verify.BundleFormat, Origin: origin, TreeSize: size, Created: created,
		Exhibits: slices.Sorted(slices.Values(exhibits)), Entries: int64(len(indexes)), Generator: "custos testdata/gen"}
	b := &bundle{manifest: m}
	b.members = append(b.members, member{verify.ManifestName, m.Marshal()}, member{verify.CheckpointName, cp}, member{verify.PolicyName, policy.Marshal()})
	var sizes []int64
	for s := range c.known {
		if s > 0 && s < size {
			sizes = append(sizes, s)
		}
	}
	slices.Sort(sizes)
	for _, s := range sizes {
		p, err := c.log.ProveConsistency(s)
		must(err)
		p.Checkpoint = cp
		b.members = append(b.members, member{verify.KnownCheckpointName(s), c.known[s]}, member{verify.KnownConsistencyName(s), p.Marshal()})
	}
	for _, i := range indexes {
		leaf, err := c.log.Leaf(i)
		must(err)
		p, err := c.log.ProveInclusion(i)
		must(err)
		p.Checkpoint = cp
		b.members = append(b.members, member{verify.LeafName(i), leaf}, member{verify.ProofName(i), p.Marshal()})
	}
	b.members = append(b.members, member{verify.ReportName, []byte("<!doctype html><title>report</title>\n")},
		member{verify.VerifyDocName, []byte(verifyDoc)})
	return b
}

const verifyDoc = `# Verifying this bundle

See the custos README ("How a tribunal verifies a bundle"): the checkpoint
verifies with golang.org/x/mod/sumdb/note, every entries/<index>.tlog-proof
with golang.org/x/mod/sumdb/tlog, every leaf hash is
( printf '\0'; cat entries/<index>.leaf ) | sha256sum.
`

// cosign adds the cosigners' signatures to a checkpoint signed by the log.
func cosign(signed []byte, logKey note.Verifier, cosigners []note.Signer) []byte {
	if len(cosigners) == 0 {
		return signed
	}
	n, err := note.Open(signed, note.VerifierList(logKey))
	must(err)
	out, err := note.Sign(n, cosigners...)
	must(err)
	return out
}

// write writes the bundle through verify's writer, with the report
// RenderReport makes of its own verification when policy is given.
func (b *bundle) write(path string, policy *verify.Policy) {
	data := b.bytes()
	if policy != nil {
		r, _ := verify.VerifyBundle(bytes.NewReader(data), verify.BundleOptions{Policy: policy, Now: func() time.Time { return cosignTime.Add(time.Hour) }})
		if r != nil {
			for i := range b.members {
				if b.members[i].name == verify.ReportName {
					b.members[i].data = verify.RenderReport(r)
				}
			}
			data = b.bytes()
		}
	}
	must(os.WriteFile(path, data, 0o644))
}

func (b *bundle) bytes() []byte {
	var buf bytes.Buffer
	w := verify.NewBundleWriter(&buf)
	for _, m := range b.members {
		must(w.Add(m.name, m.data))
	}
	must(w.Close())
	return buf.Bytes()
}

// rawTar writes members as a bundle writer would, without its checks.
func rawTar(path string, members []member) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mod, _ := time.Parse(time.RFC3339, created)
	for _, m := range members {
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o644, ModTime: mod, Format: tar.FormatUSTAR}))
		_, err := tw.Write(m.data)
		must(err)
	}
	must(tw.Close())
	must(os.WriteFile(path, buf.Bytes(), 0o644))
}

func (b *bundle) index(name string) int {
	for i, m := range b.members {
		if m.name == name {
			return i
		}
	}
	log.Fatalf("gen: no member %s", name)
	return -1
}

func (b *bundle) clone() *bundle {
	c := &bundle{manifest: b.manifest, members: slices.Clone(b.members)}
	for i := range c.members {
		c.members[i].data = slices.Clone(c.members[i].data)
	}
	return c
}

// setCheckpoint replaces the checkpoint everywhere it appears.
func (b *bundle) setCheckpoint(cp []byte) {
	old := b.members[b.index(verify.CheckpointName)].data
	for i := range b.members {
		m := &b.members[i]
		switch {
		case m.name == verify.CheckpointName:
			m.data = cp
		case strings.HasSuffix(m.name, ".tlog-proof") || strings.HasSuffix(m.name, ".consistency"):
			m.data = bytes.Replace(m.data, old, cp, 1)
		}
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	a := newActors()
	policy := a.policy(2)
	w := func(name string, data []byte) { must(os.WriteFile(filepath.Join(out, name), data, 0o644)) }
	w("trust.policy", policy.Marshal())
	w("log.vkey", []byte(a.logVKey+"\n"))
	for i, c := range a.witnesses {
		w(fmt.Sprintf("witness%d.vkey", i+1), []byte(c.vkey()+"\n"))
	}
	ev := filepath.Join(out, "evidence")
	must(os.MkdirAll(ev, 0o755))
	must(os.WriteFile(filepath.Join(ev, "hmi-disk.img"), diskImage, 0o644))
	must(os.WriteFile(filepath.Join(ev, "hmi-memory.lime"), memImage, 0o644))
	must(os.WriteFile(filepath.Join(ev, "dropper.bin"), dropper, 0o644))
	all := []note.Signer{a.witnesses[0], a.witnesses[1], a.witnesses[2]}
	path := func(name string) string { return filepath.Join(out, name+".custos") }

	// The valid case, and the faults made by editing its members.
	c := newCaseLog(a, true)
	exhibits := baseCase(c)
	valid := c.export(exhibits, c.exportSet(exhibits), policy, all)
	valid.write(path("valid"), policy)
	// Checkpoints for --known-checkpoint: one the bundle proves itself
	// consistent with, and the log's later state (the bundle is then a
	// rollback).
	w("known-6.checkpoint", c.known[6])
	c.attest(a.lab, "CERT-UA-2026-0042/D1")
	later, _ := c.log.Checkpoint()
	w("later.checkpoint", later)
	c.close()
	// A fork: the same log key signs a tree of the bundle's size whose last
	// leaf differs (equivocation).
	f := newCaseLog(a, true)
	forkCase(f, "CERT-UA-2026-0042")
	fork, _ := f.log.Checkpoint()
	w("fork.checkpoint", fork)
	f.close()

	// flipped-byte-in-leaf: one byte in the middle of leaf 7's envelope.
	b := valid.clone()
	i := b.index(verify.LeafName(7))
	b.members[i].data[len(b.members[i].data)/2] ^= 0x01
	b.write(path("flipped-byte-in-leaf"), nil)

	// reordered-leaves: leaves 7 and 8 swap places (names and proofs stay).
	b = valid.clone()
	i, j := b.index(verify.LeafName(7)), b.index(verify.LeafName(8))
	b.members[i].data, b.members[j].data = b.members[j].data, b.members[i].data
	b.write(path("reordered-leaves"), nil)

	// dropped-history-entry: leaf 11, the second release of
	// CERT-UA-2026-0043, is left out (with its proof); the manifest counts
	// what is left, as a careless or dishonest exporter would.
	b = valid.clone()
	i = b.index(verify.LeafName(11))
	b.members = slices.Delete(b.members, i, i+2)
	b.manifest.Entries--
	b.members[0].data = b.manifest.Marshal()
	b.write(path("dropped-history-entry"), nil)

	// checkpoint-wrong-key: the checkpoint (and the one in every proof) is
	// signed by another key under the log's name, and cosigned by all.
	b = valid.clone()
	n, err := note.Open(valid.members[1].data, note.VerifierList(a.logVerifier))
	must(err)
	wrong, err := note.Sign(&note.Note{Text: n.Text}, a.otherSigner)
	must(err)
	wrongVerifier, err := note.NewVerifier(mustString(a.otherLog.Public().NoteVerifierKey(origin)))
	must(err)
	b.setCheckpoint(cosign(wrong, wrongVerifier, all))
	b.write(path("checkpoint-wrong-key"), nil)

	// quorum-one-short: one cosignature of the two the policy requires.
	b = valid.clone()
	signedByLog, err := note.Sign(&note.Note{Text: n.Text}, a.logSigner)
	must(err)
	b.setCheckpoint(cosign(signedByLog, a.logVerifier, all[:1]))
	b.write(path("quorum-one-short"), nil)

	// leaf-after-cosignature: the quorum's cosignatures are valid but
	// dated 10 minutes after the first leaf, while the checkpoint holds
	// leaves logged half an hour later: the log's clock and the
	// witnesses' contradict each other (row 12).
	b = valid.clone()
	var early []note.Signer
	for _, w := range a.witnesses {
		c := *w
		c.at = epoch.Add(10 * time.Minute)
		early = append(early, &c)
	}
	b.setCheckpoint(cosign(signedByLog, a.logVerifier, early))
	b.write(path("leaf-after-cosignature"), nil)

	// cosignature-other-origin: witness 2's cosignature line is its valid
	// cosignature of a checkpoint of another log (same size and root); with
	// witness 1 the quorum would be met if that line counted.
	b = valid.clone()
	otherText := strings.Replace(n.Text, origin, "ledger.other.example/case-0042", 1)
	otherSigner, err := a.otherLog.NoteSigner("ledger.other.example/case-0042")
	must(err)
	other, err := note.Sign(&note.Note{Text: otherText}, otherSigner, a.witnesses[1])
	must(err)
	w2line := lastLine(other)
	b.setCheckpoint(append(cosign(signedByLog, a.logVerifier, all[:1]), w2line...))
	b.write(path("cosignature-other-origin"), nil)

	// path-traversal-name: a member named to escape the directory it is
	// unpacked in, where trust.policy stands.
	b = valid.clone()
	b.members[2].name = "../../etc/cron.d/custos"
	rawTar(path("path-traversal-name"), b.members)

	// oversized-member: trust.policy one byte over its 64 KiB cap.
	b = valid.clone()
	pad := bytes.Repeat([]byte("# padding\n"), verify.MaxPolicySize/10+1)
	b.members[2].data = append(b.members[2].data, pad[:verify.MaxPolicySize+1-len(b.members[2].data)]...)
	rawTar(path("oversized-member"), b.members)

	// Faults that are custody or verdict faults: correctly logged,
	// correctly proved leaves that custody refuses or whose verdict does
	// not re-evaluate, each appended to the base case in a ledger of its
	// own (from leaf 26 on).
	extend := func(name string, strict bool, add func(c *caseLog) []int64) {
		c := newCaseLog(a, strict)
		ex := baseCase(c)
		extra := add(c)
		b := c.export(ex, c.exportSet(ex, extra...), policy, all)
		if strict {
			b.write(path(name), policy)
		} else {
			b.write(path(name), nil)
		}
		c.close()
	}
	fault := func(name string, add func(c *caseLog) []int64) { extend(name, false, add) }
	fault("forged-signature", func(c *caseLog) []int64 {
		// cert-ua's signature on a release, replaced by its valid signature
		// of another statement: it verifies, but not over this payload.
		env := c.sign(custody.PredicateRelease, custody.Subject{Name: "CERT-UA-2026-0042/D1", Digest: c.exhibit("CERT-UA-2026-0042/D1").Digests},
			custody.Release{Exhibit: "CERT-UA-2026-0042/D1", To: "cert-ua", Reason: "return", Prev: c.exhibit("CERT-UA-2026-0042/D1").Last}, a.facilitator)
		otherEnv := c.sign("https://example.org/finding/v1", custody.Subject{Name: "x", Digest: digests([]byte("x"))}, map[string]any{"x": 1}, a.facilitator)
		e, err := custody.ParseEnvelope(env)
		must(err)
		oe, err := custody.ParseEnvelope(otherEnv)
		must(err)
		e.Signatures[0].Sig = oe.Signatures[0].Sig
		return []int64{c.append(e.Marshal())}
	})
	fault("signature-by-unenrolled-key", func(c *caseLog) []int64 {
		x := c.exhibit("CERT-UA-2026-0042/D1")
		env := c.sign(custody.PredicateRelease, custody.Subject{Name: x.ID, Digest: x.Digests},
			custody.Release{Exhibit: x.ID, To: "cert-ua", Reason: "return", Prev: x.Last}, a.rog)
		return []int64{c.append(env)}
	})
	fault("signature-by-revoked-key", func(c *caseLog) []int64 {
		// The admin revokes the facilitator's key at leaf N; at N+1 the
		// facilitator releases with it.
		pub := a.facilitator.Public()
		hexID := strings.TrimPrefix(pub.KeyID(), "sha256:")
		rev := c.append(c.sign(custody.PredicateKeyRevoke, custody.Subject{Name: "party:facilitator", Digest: map[string]string{"sha256": hexID}},
			custody.KeyRevoke{Party: "facilitator", KeyID: pub.KeyID(), Reason: "laptop stolen"}, a.admin))
		x := c.exhibit("CERT-UA-2026-0042/D1")
		env := c.sign(custody.PredicateRelease, custody.Subject{Name: x.ID, Digest: x.Digests},
			custody.Release{Exhibit: x.ID, To: "cert-ua", Reason: "return", Prev: x.Last}, a.facilitator)
		return []int64{rev, c.append(env)}
	})
	fault("accept-without-release", func(c *caseLog) []int64 {
		// The lab holds CERT-UA-2026-0043 released to no one; cert-ua
		// "accepts" it back, naming the lab's last event.
		x := c.exhibit("CERT-UA-2026-0043")
		return []int64{c.accept(a.certUA, x.ID, x.Digests, x.Last)}
	})
	fault("digest-mismatch-accepted", func(c *caseLog) []int64 {
		// The lab releases CERT-UA-2026-0043 to cert-ua, which accepts it
		// with digests that differ from the acquired ones.
		rel := c.release(a.lab, "CERT-UA-2026-0043", "cert-ua")
		damaged := slices.Clone(memImage)
		damaged[10] ^= 0x01
		return []int64{rel, c.accept(a.certUA, "CERT-UA-2026-0043", digests(damaged), c.exhibit("CERT-UA-2026-0043").OpenRelease.Ref)}
	})
	fault("verdict-count-altered", func(c *caseLog) []int64 {
		// The facilitator logs H-1's verdict again at the same checkpoint
		// with one count raised (the lines of evidence found, 2 to 3),
		// re-encoded canonically and signed: custody accepts it, only
		// evaluating it again shows the bytes differ.
		pol, err := custody.Policy(c.view, "un-gge-l1")
		must(err)
		v, r := c.evaluate("H-1", pol, c.known[24], true)
		k := slices.IndexFunc(r.Levels[0].Rules, func(r attribution.RuleResult) bool { return r.Rule == "corroboration.min_lines" })
		if k < 0 {
			log.Fatal("gen: the verdict of H-1 has no corroboration.min_lines rule")
		}
		r.Levels[0].Rules[k].Found++
		v.Result = r.Marshal()
		return []int64{c.verdict(a.facilitator, v)}
	})
	fault("verdict-before-policy", func(c *caseLog) []int64 {
		// The facilitator logs a verdict under un-gge-l2 at leaf 26 and
		// registers that policy only at leaf 27: a policy chosen after the
		// evaluation. The result names the registration's leaf; nothing
		// could have evaluated it at a checkpoint covering that leaf.
		// It is evaluated at checkpoint 24 as if registered at leaf 23
		// (Evaluate wants a covered index), then made to name leaf 27.
		doc := readPolicy("reasonable-grounds.yaml")
		_, size := c.log.Checkpoint()
		pol := &custody.PolicyRecord{Name: "un-gge-l2", Digest: attribution.PolicyDigest(doc), Policy: string(doc), Index: 23}
		v, r := c.evaluate("H-1", pol, c.known[24], true)
		r.Policy.Index = size + 1
		v.Result = r.Marshal()
		return []int64{c.verdict(a.facilitator, v), c.registerPolicy(doc, a.facilitator)}
	})
	fault("verdict-unwitnessed-claim", func(c *caseLog) []int64 {
		// A verdict at checkpoint 24 as cosigned by witness 1 alone (the
		// trust policy needs 2 of 3) that counts it as witnessed.
		pol, err := custody.Policy(c.view, "un-gge-l1")
		must(err)
		n, err := note.Open(c.known[24], note.VerifierList(a.logVerifier))
		must(err)
		one, err := note.Sign(&note.Note{Text: n.Text}, a.logSigner, a.witnesses[0])
		must(err)
		v, _ := c.evaluate("H-1", pol, one, true)
		return []int64{c.verdict(a.facilitator, v)}
	})
	extend("finding-input-broken", true, func(c *caseLog) []int64 {
		// A valid bundle: the lab hands CERT-UA-2026-0043 (the input of
		// F-02) back to cert-ua, which rejects it for a digest mismatch and
		// accepts no hand-over after; H-1 evaluated again at the cosigned
		// checkpoint after the rejection excludes F-02, custody broken.
		rel := c.release(a.lab, "CERT-UA-2026-0043", "cert-ua")
		damaged := slices.Clone(memImage)
		damaged[2500] ^= 0x04
		rej := c.reject(a.certUA, "CERT-UA-2026-0043", digests(damaged))
		cp := c.keepCosigned()
		return []int64{rel, rej, c.evaluateLogged(a.facilitator, "H-1", "un-gge-l1", cp, policy)}
	})
	return nil
}

func mustString(s string, err error) string {
	must(err)
	return s
}

// lastLine returns the last signature line of a signed note.
func lastLine(signed []byte) []byte {
	lines := bytes.SplitAfter(signed, []byte("\n"))
	for k := len(lines) - 1; k >= 0; k-- {
		if len(lines[k]) > 0 {
			return lines[k]
		}
	}
	return nil
}
