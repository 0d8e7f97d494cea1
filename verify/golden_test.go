package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	tnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/custody/attribution"
	"github.com/custos-ledger/custos/verify"
)

// goldenDir holds the bundles testdata/gen writes (go run ./testdata/gen).
var goldenDir = filepath.Join("..", "testdata", "bundles")

// goldenNow is a clock after the golden cosignatures (2026-03-01).
func goldenNow() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }

func goldenPolicy(t testing.TB) *verify.Policy {
	t.Helper()
	p, err := verify.ParsePolicy(readGolden(t, "trust.policy"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatalf("%v (rebuild the golden bundles with go run ./testdata/gen)", err)
	}
	return b
}

func verifyGolden(t testing.TB, name string, opts verify.BundleOptions) (*verify.BundleReport, error) {
	t.Helper()
	if opts.Policy == nil {
		opts.Policy = goldenPolicy(t)
	}
	if opts.Now == nil {
		opts.Now = goldenNow
	}
	return verify.VerifyBundle(bytes.NewReader(readGolden(t, name)), opts)
}

// TestGoldenBundles verifies every golden bundle: the valid one passes, each
// fault fails with its documented error class and a problem naming it.
func TestGoldenBundles(t *testing.T) {
	malformed := errors.New("*ledger.ParseError")
	for _, tc := range []struct {
		name  string
		class error  // nil: valid
		check string // the Check of a problem that must be reported
		msg   string // a regexp its String must match
	}{
		{"valid", nil, "", ""},
		{"flipped-byte-in-leaf", verify.ErrInvalid, "inclusion", `^inclusion: leaf 7: .*not proved`},
		{"reordered-leaves", verify.ErrInvalid, "leaf", `^leaf: leaf 7: entries/00000000000000000007.leaf records index 8`},
		{"dropped-history-entry", verify.ErrInvalid, "gap", `^gap: leaf 12: exhibit CERT-UA-2026-0043: .*leaf 11 is not in the bundle`},
		{"finding-input-broken", nil, "", ""},
		{"forged-signature", verify.ErrInvalid, "signature", `^signature: leaf 26: exhibit CERT-UA-2026-0042/D1: key sha256:[0-9a-f]{64}: `},
		{"signature-by-unenrolled-key", verify.ErrInvalid, "key", `^key: leaf 26: .*key sha256:.*not a key of any enrolled party`},
		{"signature-by-revoked-key", verify.ErrInvalid, "key", `^key: leaf 27: .*of facilitator was revoked at leaf 26`},
		{"accept-without-release", verify.ErrInvalid, "custody", `^custody: leaf 26: exhibit CERT-UA-2026-0043: .*no open release.*named-receiver`},
		{"digest-mismatch-accepted", verify.ErrInvalid, "custody", `^custody: leaf 27: exhibit CERT-UA-2026-0043: .*differs from the acquired.*digests-match`},
		{"verdict-count-altered", verify.ErrInvalid, "verdict", `^verdict: leaf 26: verdict on H-1 under policy un-gge-l1: the logged result differs from the verifier's evaluation .*logged .*"found":3,.* re-evaluation gives .*"found":2,`},
		{"verdict-before-policy", verify.ErrInvalid, "custody", `^custody: leaf 26: verdict under policy "un-gge-l2", which is not registered before it .*unknown-policy`},
		{"verdict-unwitnessed-claim", verify.ErrInvalid, "verdict", `^verdict: leaf 26: verdict on H-1 under policy un-gge-l1: it counts its checkpoint as witnessed, but under your trust policy: quorum not met: need 2 of 3 witnesses, valid 1`},
		{"checkpoint-wrong-key", verify.ErrInvalid, "checkpoint", `^checkpoint: .*no signature by log key ledger.golden.example/case-0042\+`},
		{"quorum-one-short", verify.ErrQuorum, "quorum", `need 2 of 3 witnesses, valid 1`},
		{"leaf-after-cosignature", verify.ErrInvalid, "time", `^time: leaf \d+: leaf \d+ claims time 2026-03-01T09:2\d:00Z, after every witness had cosigned a checkpoint holding it \(the latest at 2026-03-01T09:10:00Z`},
		{"cosignature-other-origin", verify.ErrQuorum, "quorum", `witness witness2.example.org does not verify over this checkpoint`},
		{"path-traversal-name", malformed, "archive", `\.\./\.\./etc/cron\.d/custos: name: `},
		{"oversized-member", malformed, "archive", `trust\.policy: size: 65537 bytes exceeds`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verifyGolden(t, tc.name+".custos", verify.BundleOptions{})
			switch {
			case tc.class == nil:
				if err != nil || r == nil || !r.Valid {
					t.Fatalf("VerifyBundle(%s) = %v, want valid; problems %v", tc.name, err, r.Problems)
				}
				return
			case tc.class == malformed:
				if !verify.IsMalformed(err) {
					t.Fatalf("VerifyBundle(%s) = %v, want a *ledger.ParseError", tc.name, err)
				}
			default:
				if !errors.Is(err, tc.class) {
					t.Fatalf("VerifyBundle(%s) = %v, want an error wrapping %v", tc.name, err, tc.class)
				}
				var be *verify.BundleError
				if !errors.As(err, &be) || len(be.Problems) == 0 {
					t.Fatalf("VerifyBundle(%s) = %v, want a *BundleError with problems", tc.name, err)
				}
				for _, other := range []error{verify.ErrInvalid, verify.ErrQuorum, verify.ErrEquivocation, verify.ErrRollback} {
					if other != tc.class && errors.Is(err, other) {
						t.Errorf("VerifyBundle(%s) = %v, also wraps %v", tc.name, err, other)
					}
				}
			}
			if r == nil || r.Valid {
				t.Fatalf("VerifyBundle(%s) report = %+v, want an invalid report", tc.name, r)
			}
			re := regexp.MustCompile(tc.msg)
			for _, p := range r.Problems {
				if p.Check == tc.check && re.MatchString(p.String()) {
					return
				}
			}
			t.Errorf("VerifyBundle(%s) problems:\n%v\nwant a %q problem matching %q", tc.name, r.Problems, tc.check, tc.msg)
		})
	}
}

// TestGoldenVerdicts reads the attribution record of the valid bundles:
// each verdict re-evaluated to the logged bytes, and the trace of the one
// made after F-02's input lost its custody excluding F-02.
func TestGoldenVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verdicts []int64 // the leaves of H-1's verdicts
		// f02 is whether the last verdict counts F-02 at the level, and
		// excluded the reason it must give when it does not.
		f02      bool
		excluded string
	}{
		{"valid", []int64{24}, true, ""},
		{"finding-input-broken", []int64{24, 28}, false,
			`^input exhibit CERT-UA-2026-0043 custody broken: leaf 27: a receiver observed digests of CERT-UA-2026-0043 that differ from the acquired ones`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verifyGolden(t, tc.name+".custos", verify.BundleOptions{})
			if err != nil {
				t.Fatalf("VerifyBundle(%s) = %v, want valid", tc.name, err)
			}
			if len(r.Hypotheses) != 1 || r.Hypotheses[0].ID != "H-1" {
				t.Fatalf("hypotheses = %+v, want H-1 alone", r.Hypotheses)
			}
			vs := r.Hypotheses[0].Verdicts
			var got []int64
			for _, v := range vs {
				got = append(got, v.Index)
				if !v.Ok || v.Result == nil || v.Level != "reasonable basis" || v.Policy != "un-gge-l1" {
					t.Errorf("verdict at leaf %d: ok %t, level %q, policy %s; want re-evaluated identical, reasonable basis under un-gge-l1", v.Index, v.Ok, v.Level, v.Policy)
				}
			}
			if !slices.Equal(got, tc.verdicts) {
				t.Fatalf("H-1 verdicts at leaves %v, want %v", got, tc.verdicts)
			}
			last := vs[len(vs)-1].Result
			if !last.Witnessed || len(last.Levels) != 1 {
				t.Fatalf("last verdict: witnessed %t, %d levels; want witnessed, 1 level", last.Witnessed, len(last.Levels))
			}
			var f02 *attribution.Disposition
			for i, d := range last.Levels[0].Findings {
				if d.Finding == "F-02" {
					f02 = &last.Levels[0].Findings[i]
				}
			}
			switch {
			case f02 == nil:
				t.Fatalf("last verdict's trace has no disposition of F-02: %+v", last.Levels[0].Findings)
			case f02.Counted != tc.f02:
				t.Errorf("F-02 counted = %t, want %t (excluded %q)", f02.Counted, tc.f02, f02.Excluded)
			case !tc.f02 && !slices.ContainsFunc(f02.Excluded, regexp.MustCompile(tc.excluded).MatchString):
				t.Errorf("F-02 excluded %q, want a reason matching %q", f02.Excluded, tc.excluded)
			}
		})
	}
}

// TestGoldenKnownCheckpoints: the valid bundle against checkpoints the
// verifier kept: consistent, forked (equivocation) and later (rollback).
func TestGoldenKnownCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		file  string
		class error
		check string
	}{
		{"known-6.checkpoint", nil, ""},
		{"fork.checkpoint", verify.ErrEquivocation, "equivocation"},
		{"later.checkpoint", verify.ErrRollback, "rollback"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := verifyGolden(t, "valid.custos", verify.BundleOptions{KnownCheckpoints: [][]byte{readGolden(t, tc.file)}})
			if tc.class == nil {
				if err != nil {
					t.Fatalf("VerifyBundle(valid, known %s) = %v, want nil", tc.file, err)
				}
				if len(r.Known) == 0 || !r.Known[len(r.Known)-1].Ok {
					t.Errorf("report.Known = %+v, want the known checkpoint proved consistent", r.Known)
				}
				return
			}
			if !errors.Is(err, tc.class) {
				t.Fatalf("VerifyBundle(valid, known %s) = %v, want %v", tc.file, err, tc.class)
			}
			if r.Problems[0].Check != tc.check {
				t.Errorf("first problem = %v, want check %s", r.Problems[0], tc.check)
			}
		})
	}
}

// TestGoldenEvidence matches the evidence files to the exhibits, and finds
// an altered one.
func TestGoldenEvidence(t *testing.T) {
	r, err := verifyGolden(t, "valid.custos", verify.BundleOptions{Evidence: filepath.Join(goldenDir, "evidence")})
	if err != nil {
		t.Fatalf("VerifyBundle(valid, evidence) = %v", err)
	}
	matched := map[string]string{}
	for _, x := range r.Exhibits {
		matched[x.ID] = x.Evidence
	}
	want := map[string]string{"CERT-UA-2026-0042": "hmi-disk.img", "CERT-UA-2026-0043": "hmi-memory.lime", "CERT-UA-2026-0042/D1": "dropper.bin"}
	for id, f := range want {
		if matched[id] != f {
			t.Errorf("exhibit %s evidence = %q, want %q", id, matched[id], f)
		}
	}

	dir := t.TempDir()
	disk := readGolden(t, filepath.Join("evidence", "hmi-disk.img"))
	disk[100] ^= 1
	if err := os.WriteFile(filepath.Join(dir, "hmi-disk.img"), disk, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = verifyGolden(t, "valid.custos", verify.BundleOptions{Evidence: dir})
	if !errors.Is(err, verify.ErrInvalid) {
		t.Fatalf("VerifyBundle(valid, altered evidence) = %v, want ErrInvalid", err)
	}
	if len(r.Evidence) != 1 || r.Evidence[0].Status != verify.EvidenceUnknown || r.Problems[0].Check != "evidence" {
		t.Errorf("evidence = %+v, problems %v; want the altered file unknown", r.Evidence, r.Problems)
	}
}

// TestTruncatedBundle: no prefix of the valid bundle verifies; each is a
// malformed archive. With -short, or under -race, a sample of the offsets
// is tried; the full loop runs in a plain `go test`.
func TestTruncatedBundle(t *testing.T) {
	b := readGolden(t, "valid.custos")
	p := goldenPolicy(t)
	step := 1
	switch {
	case testing.Short():
		step = 97
	case raceEnabled:
		step = 17
	}
	// Each prefix past the checkpoint costs its signature checks: spread
	// the prefixes over the cores.
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n := w * step; n < len(b); n += workers * step {
				r, err := verify.VerifyBundle(bytes.NewReader(b[:n]), verify.BundleOptions{Policy: p, Now: goldenNow})
				if err == nil || !verify.IsMalformed(err) || r == nil || r.Valid {
					t.Errorf("VerifyBundle(first %d of %d bytes) = %v, want a malformed bundle", n, len(b), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestVerifyBundleTamperLoop flips one bit in every byte of every proof,
// of the checkpoint's text and log signature, and of every leaf's header
// (a sample of its envelope) in the valid bundle: each must fail to verify.
func TestVerifyBundleTamperLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("flips every byte of every leaf and proof")
	}
	members := readMembers(t, readGolden(t, "valid.custos"))
	p := goldenPolicy(t)
	for mi, m := range members {
		if m.Kind != verify.KindLeaf && m.Kind != verify.KindLeafProof && m.Kind != verify.KindCheckpoint {
			continue
		}
		end := len(m.Data)
		if m.Kind != verify.KindLeaf {
			// Up to the end of the checkpoint's log signature line; a
			// damaged witness line only leaves the quorum of the other two.
			cp := 0
			if m.Kind == verify.KindLeafProof {
				cp = bytes.Index(m.Data, []byte("\n\n")) + 2
			}
			sigs := cp + bytes.Index(m.Data[cp:], []byte("\n\n")) + 2
			end = sigs + bytes.IndexByte(m.Data[sigs:], '\n')
			if m.Kind == verify.KindLeafProof && m.Index > 0 {
				end = cp // the same checkpoint as in proof 0: its path only
			}
		}
		for i := range end {
			if m.Kind == verify.KindLeaf && i > 80 && i%31 != 0 {
				continue // the envelope's JSON: a sample suffices
			}
			if raceEnabled && i%7 != 0 {
				continue // see raceEnabled
			}
			ms := cloneMembers(members)
			ms[mi].Data[i] ^= 0x10
			b := writeMembers(t, ms)
			r, err := verify.VerifyBundle(bytes.NewReader(b), verify.BundleOptions{Policy: p, Now: goldenNow})
			if err == nil || r.Valid {
				t.Fatalf("VerifyBundle(%s with byte %d flipped) = nil, want an error", m.Name, i)
			}
		}
	}
}

func readMembers(t testing.TB, b []byte) []*verify.Member {
	t.Helper()
	br := verify.NewBundleReader(bytes.NewReader(b))
	var out []*verify.Member
	for {
		m, err := br.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

func cloneMembers(ms []*verify.Member) []*verify.Member {
	out := make([]*verify.Member, len(ms))
	for i, m := range ms {
		c := *m
		c.Data = bytes.Clone(m.Data)
		out[i] = &c
	}
	return out
}

func writeMembers(t testing.TB, ms []*verify.Member) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := verify.NewBundleWriter(&buf)
	for _, m := range ms {
		if err := w.Add(m.Name, m.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGoldenInterop checks the valid bundle with libraries custos did not
// write: the checkpoint with golang.org/x/mod/sumdb/note, the cosignatures
// with transparency-dev/formats/note, every tlog-proof with
// transparency-dev/merkle/proof (parsed here by hand, not by package
// ledger), and every envelope with go-securesystemslib's DSSE verifier over
// crypto/ed25519 (keys taken from the enrolment leaves, parsed with
// crypto/x509).
func TestGoldenInterop(t *testing.T) {
	members := readMembers(t, readGolden(t, "valid.custos"))
	logKey := strings.TrimSpace(string(readGolden(t, "log.vkey")))

	// The checkpoint: log signature and body.
	cp := members[1].Data
	lv, err := note.NewVerifier(logKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp, note.VerifierList(lv))
	if err != nil {
		t.Fatalf("sumdb/note Open(checkpoint) = %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != lv.Name() {
		t.Fatalf("checkpoint text = %q, want origin %s, size, root", n.Text, lv.Name())
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		t.Fatal(err)
	}

	// The cosignatures: every witness of the policy cosigned.
	for i := 1; i <= 3; i++ {
		wk := strings.TrimSpace(string(readGolden(t, "witness"+strconv.Itoa(i)+".vkey")))
		cv, err := tnote.NewVerifierForCosignatureV1(wk)
		if err != nil {
			t.Fatal(err)
		}
		wn, err := note.Open(cp, note.VerifierList(cv))
		if err != nil {
			t.Errorf("formats/note: cosignature of witness %d does not verify: %v", i, err)
			continue
		}
		if ts, err := tnote.CoSigV1Timestamp(wn.Sigs[0]); err != nil || ts.IsZero() {
			t.Errorf("witness %d cosignature timestamp = %v, %v", i, ts, err)
		}
	}

	// The leaves, their proofs and their envelopes.
	keys := map[string]ed25519.PublicKey{}
	leaves := 0
	for i := 0; i < len(members); i++ {
		m := members[i]
		if m.Kind != verify.KindLeaf {
			continue
		}
		leaves++
		pm := members[i+1]
		head, pcp, ok := bytes.Cut(pm.Data, []byte("\n\n"))
		if !ok || !bytes.Equal(pcp, cp) {
			t.Fatalf("%s: the proof does not carry the bundle's checkpoint", pm.Name)
		}
		pl := strings.Split(string(head), "\n")
		if pl[0] != "c2sp.org/tlog-proof@v1" || pl[1] != "index "+strconv.FormatInt(m.Index, 10) {
			t.Fatalf("%s: header %q", pm.Name, pl[:2])
		}
		var path [][]byte
		for _, l := range pl[2:] {
			h, err := base64.StdEncoding.DecodeString(l)
			if err != nil {
				t.Fatal(err)
			}
			path = append(path, h)
		}
		leafHash := rfc6962.DefaultHasher.HashLeaf(m.Data)
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(m.Index), size, leafHash, path, root); err != nil {
			t.Errorf("merkle/proof: leaf %d: %v", m.Index, err)
		}

		// The envelope sits at offset 60 of the leaf (ledger.Leaf).
		env := m.Data[60:]
		var e ssldsse.Envelope
		if err := json.Unmarshal(env, &e); err != nil {
			t.Fatal(err)
		}
		payload, err := base64.StdEncoding.DecodeString(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		// Keys come into play in enrolments, which come first.
		var st struct {
			PredicateType string `json:"predicateType"`
			Predicate     struct {
				Key struct {
					ID  string `json:"id"`
					PEM string `json:"pem"`
				} `json:"key"`
			} `json:"predicate"`
		}
		if err := json.Unmarshal(payload, &st); err != nil {
			t.Fatal(err)
		}
		if st.PredicateType == custody.PredicateEnroll {
			blk, _ := pem.Decode([]byte(st.Predicate.Key.PEM))
			pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			keys[st.Predicate.Key.ID] = pub.(ed25519.PublicKey)
		}
		for _, s := range e.Signatures {
			pub, ok := keys[s.KeyID]
			if !ok {
				t.Fatalf("leaf %d: signed by %s, not enrolled before it", m.Index, s.KeyID)
			}
			one := e
			one.Signatures = []ssldsse.Signature{s}
			ev, err := ssldsse.NewEnvelopeVerifier(edVerifier{pub: pub, keyID: s.KeyID})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ev.Verify(context.Background(), &one); err != nil {
				t.Errorf("go-securesystemslib/dsse: leaf %d signature by %s: %v", m.Index, s.KeyID, err)
			}
		}
	}
	man, err := verify.ParseManifest(members[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if int64(leaves) != man.Entries || leaves == 0 {
		t.Errorf("checked %d leaves, the manifest says %d", leaves, man.Entries)
	}
}

// edVerifier is a go-securesystemslib dsse.Verifier on crypto/ed25519.
type edVerifier struct {
	pub   ed25519.PublicKey
	keyID string
}

func (v edVerifier) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(v.pub, data, sig) {
		return errors.New("ed25519: bad signature")
	}
	return nil
}
func (v edVerifier) Public() crypto.PublicKey { return v.pub }
func (v edVerifier) KeyID() (string, error)   { return v.keyID, nil }
