package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// exportedBundle is a bundle read back with verify.BundleReader.
type exportedBundle struct {
	raw        []byte
	manifest   *verify.Manifest
	checkpoint []byte
	leaves     map[int64][]byte
	proofs     map[int64][]byte
	order      []string
	verifyDoc  []byte
	report     []byte
}

func readExported(t *testing.T, path string) *exportedBundle {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := &exportedBundle{raw: raw, leaves: map[int64][]byte{}, proofs: map[int64][]byte{}}
	r := verify.NewBundleReader(bytes.NewReader(raw))
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		b.order = append(b.order, m.Name)
		switch m.Kind {
		case verify.KindManifest:
			if b.manifest, err = verify.ParseManifest(m.Data); err != nil {
				t.Fatal(err)
			}
		case verify.KindCheckpoint:
			b.checkpoint = m.Data
		case verify.KindLeaf:
			b.leaves[m.Index] = m.Data
		case verify.KindLeafProof:
			b.proofs[m.Index] = m.Data
		case verify.KindVerifyDoc:
			b.verifyDoc = m.Data
		case verify.KindReport:
			b.report = m.Data
		}
	}
	return b
}

// exportCmd runs custos export in-process and fails the test unless it
// exits 0.
func exportCmd(t *testing.T, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"custos", "export"}, args...), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("custos export %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("custos export %s: stderr %s", strings.Join(args, " "), stderr.String())
	}
}

// TestExportDemo exports the demo case and checks the bundle with code
// custos did not write: the checkpoint with golang.org/x/mod/sumdb/note,
// each inclusion proof with transparency-dev/merkle, and the program
// VERIFY.md prints, compiled and run.
func TestExportDemo(t *testing.T) {
	dir := t.TempDir()
	if _, err := runDemo(dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	L := filepath.Join(dir, "ledger")
	vkey, err := os.ReadFile(filepath.Join(L, logVKeyName))
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	// Two checkpoints filed as cosigned (signed by the log alone: the
	// export does not judge witnesses): the bundle is proven to the
	// larger, and carries the smaller with a consistency proof.
	knownSize := signCosigned(t, L, 10)
	treeSize := signCosigned(t, L, -1)

	cases := []struct {
		name     string
		exhibits []string
	}{
		{"acquired-with-derived", []string{"CERT-UA-2026-0043"}},
		{"derived-with-parent", []string{"CERT-UA-2026-0042/D1"}},
		{"two", []string{"CERT-UA-2026-0043", "CERT-UA-2026-0042"}},
	}
	var first string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".custos")
			args := []string{"--ledger", L, "--out", out}
			for _, x := range tc.exhibits {
				args = append(args, "--exhibit", x)
			}
			exportCmd(t, args...)
			if first == "" {
				first = out
			}
			b := readExported(t, out)

			// The checkpoint opens with sumdb/note and the log key alone.
			n, err := note.Open(b.checkpoint, note.VerifierList(logKey))
			if err != nil {
				t.Fatalf("note.Open(checkpoint) = %v", err)
			}
			lines := strings.Split(n.Text, "\n")
			if len(lines) != 4 || lines[0] != logKey.Name() {
				t.Fatalf("checkpoint text %q", n.Text)
			}
			size, err := strconv.ParseInt(lines[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			root, err := base64.StdEncoding.DecodeString(lines[2])
			if err != nil {
				t.Fatal(err)
			}
			if size != treeSize {
				t.Errorf("checkpoint size %d, want the latest cosigned, %d", size, treeSize)
			}
			if !slices.Contains(b.order, verify.KnownCheckpointName(knownSize)) || !slices.Contains(b.order, verify.KnownConsistencyName(knownSize)) {
				t.Errorf("bundle members %v lack the known checkpoint of size %d", b.order, knownSize)
			}
			if b.manifest.TreeSize != size || b.manifest.Origin != logKey.Name() || b.manifest.Entries != int64(len(b.leaves)) {
				t.Errorf("manifest %+v, checkpoint size %d, %d leaves", b.manifest, size, len(b.leaves))
			}

			// Every leaf's proof verifies with transparency-dev/merkle.
			for i, leaf := range b.leaves {
				p, err := ledger.ParseInclusionProof(b.proofs[i])
				if err != nil {
					t.Fatalf("proof of leaf %d: %v", i, err)
				}
				if p.Index != i || !bytes.Equal(p.Checkpoint, b.checkpoint) {
					t.Errorf("proof of leaf %d: index %d, checkpoint equal %v", i, p.Index, bytes.Equal(p.Checkpoint, b.checkpoint))
				}
				var path [][]byte
				for _, h := range p.Path {
					path = append(path, h[:])
				}
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(size), rfc6962.DefaultHasher.HashLeaf(leaf), path, root); err != nil {
					t.Errorf("leaf %d: merkle/proof.VerifyInclusion = %v", i, err)
				}
				if l, err := ledger.ParseLeaf(leaf); err != nil || l.Index != i {
					t.Errorf("leaf %d: ParseLeaf = %v, %v", i, l, err)
				}
			}

			// The selection: the exhibits' histories, their derived items',
			// their parents' up to the derivation, every party event, leaf
			// 0 — and nothing else.
			want := wantSelection(t, L, tc.exhibits, size)
			var got []int64
			for i := range b.leaves {
				got = append(got, i)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("bundle holds leaves %v, want %v", got, want)
			}

			// report.html: the verdict, and each exported exhibit's
			// custody timeline, leaf by leaf.
			report := string(b.report)
			if !strings.Contains(report, "Verdict: VALID") {
				t.Errorf("report.html lacks the verdict VALID")
			}
			for _, x := range tc.exhibits {
				if !strings.Contains(report, html.EscapeString(x)) {
					t.Errorf("report.html does not name exhibit %s", x)
				}
			}
			for i, leaf := range b.leaves {
				v, err := describeLeaf(leaf)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(v.Statement), custody.PredicateEnroll) ||
					strings.Contains(string(v.Statement), custody.PredicateKeyRotate) ||
					strings.Contains(string(v.Statement), custody.PredicateKeyRevoke) {
					continue // party events are no exhibit's timeline
				}
				if strings.Contains(string(v.Statement), custody.PredicateHypothesis) ||
					strings.Contains(string(v.Statement), custody.PredicatePolicy) ||
					strings.Contains(string(v.Statement), custody.PredicateVerdict) {
					continue // in the report's hypothesis section, checked below
				}
				if !strings.Contains(report, fmt.Sprintf("<tr><td>%d</td>", i)) {
					t.Errorf("report.html has no timeline row for leaf %d", i)
				}
			}
			// The attribution record: the hypothesis, each verdict as the
			// verifier evaluated it again, and its rule-by-rule trace.
			for _, want := range []string{`id="hypothesis-H-1"`, "Operation GRIDLOCK is attributable to actor APT-X",
				"re-evaluated by the verifier: identical", "corroboration.min_lines", "clear and convincing: fails"} {
				if !strings.Contains(report, html.EscapeString(want)) && !strings.Contains(report, want) {
					t.Errorf("report.html lacks %q", want)
				}
			}
		})
	}

	t.Run("VERIFY.md-program", func(t *testing.T) {
		if first == "" {
			t.Skip("no bundle exported")
		}
		testVerifyDocProgram(t, first, strings.TrimSpace(string(vkey)))
	})
}

// signCosigned signs the checkpoint of the first size leaves of the ledger
// at L (all of them if size is -1) with the log key and files it as
// cosigned. It returns the size.
func signCosigned(t *testing.T, L string, size int64) int64 {
	t.Helper()
	d := ledgerDir(L)
	l, err := d.openRead()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if size < 0 {
		size = l.Size()
	}
	root, err := l.TreeHash(size)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := d.logSigner(&passwords{getenv: func(string) string { return demoPassword }, stderr: io.Discard}, l.Origin())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ledger.SignCheckpoint(ledger.Checkpoint{Origin: l.Origin(), Size: size, Root: root}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d.path("cosigned"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.path(filepath.Join("cosigned", fmt.Sprintf("%020d.checkpoint", size))), signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return size
}

// wantSelection computes, from the ledger's custody records, the leaves a
// bundle of exhibits must hold, as the spec words it.
func wantSelection(t *testing.T, L string, exhibits []string, size int64) []int64 {
	t.Helper()
	l, err := ledgerDir(L).openRead()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	v := l.Index()
	set := map[int64]bool{0: true}
	history := func(id string, upTo int64) {
		_, steps, err := custody.History(v, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if s.Index <= upTo && s.Index < size {
				set[s.Index] = true
			}
		}
	}
	var ancestors func(id string)
	ancestors = func(id string) { // parents up to the derivation, recursively
		x, err := custody.Exhibit(v, id)
		if err != nil || x == nil {
			t.Fatalf("exhibit %s: %v", id, err)
		}
		for _, p := range x.Parents {
			history(p, x.Acquired)
			ancestors(p)
		}
	}
	var whole func(id string)
	whole = func(id string) { // whole history, derived items recursively
		x, err := custody.Exhibit(v, id)
		if err != nil || x == nil {
			t.Fatalf("exhibit %s: %v", id, err)
		}
		history(id, size)
		ancestors(id)
		for _, d := range x.Derived {
			whole(d)
		}
	}
	for _, id := range exhibits {
		whole(id)
	}
	// Every attribution event, read from the leaves themselves, and the
	// whole history of each exhibit a finding or reproduction takes as input.
	for i := range size {
		b, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		lv, err := describeLeaf(b)
		if err != nil {
			t.Fatal(err)
		}
		st, err := custody.ParseStatement(lv.Statement)
		if err != nil {
			t.Fatal(err)
		}
		switch st.PredicateType {
		case custody.PredicateFinding, custody.PredicateReproduction:
			var p struct{ Inputs []string }
			if err := json.Unmarshal(st.Predicate, &p); err != nil {
				t.Fatal(err)
			}
			for _, id := range p.Inputs {
				whole(id)
			}
			set[i] = true
		case custody.PredicateHypothesis, custody.PredicatePolicy, custody.PredicateVerdict:
			set[i] = true
		}
	}
	parties, err := custody.Parties(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parties {
		set[p.Enrolled] = true
		for _, k := range p.Keys {
			for _, i := range []int64{k.Added, k.Revoked, k.RotatedOut} {
				if i != custody.NoIndex {
					set[i] = true
				}
			}
		}
	}
	var out []int64
	for i := range set {
		if i < size {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// testVerifyDocProgram unpacks a bundle with tar, builds the Go program
// its VERIFY.md prints (golang.org/x/mod at go.mod's version, from the
// module cache or GOPROXY), runs it, then damages one leaf and runs it
// again.
func testVerifyDocProgram(t *testing.T, bundle, vkey string) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	tarCmd, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar command")
	}
	unpacked := t.TempDir()
	if out, err := exec.Command(tarCmd, "-xf", bundle, "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v\n%s", err, out)
	}
	doc, err := os.ReadFile(filepath.Join(unpacked, "VERIFY.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, program, ok := strings.Cut(string(doc), "```go\n")
	program, _, ok2 := strings.Cut(program, "```")
	if !ok || !ok2 {
		t.Fatalf("VERIFY.md has no Go program:\n%s", doc)
	}
	if program != clerkProgram {
		t.Errorf("VERIFY.md's program is not clerkProgram")
	}

	mod := t.TempDir()
	sum, err := os.ReadFile(filepath.Join("..", "..", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"main.go": program,
		"go.mod":  "module checkbundle\n\ngo 1.26\n\nrequire golang.org/x/mod " + xmodVersion + "\n",
		"go.sum":  string(sum),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(mod, "checkbundle")
	build := exec.Command(goCmd, "build", "-o", bin, ".")
	build.Dir = mod
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		s := string(out)
		for _, net := range []string{"dial tcp", "lookup ", "GOPROXY", "proxy.golang.org", "no such host", "connection refused", "network is unreachable", "module lookup disabled"} {
			if strings.Contains(s, net) {
				t.Skipf("cannot fetch golang.org/x/mod %s (offline?): %s", xmodVersion, s)
			}
		}
		t.Fatalf("building VERIFY.md's program: %v\n%s", err, s)
	}
	out, err := exec.Command(bin, vkey, unpacked).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "OK: ") || !regexp.MustCompile(`; [1-9] earlier checkpoints consistent`).Match(out) {
		t.Fatalf("VERIFY.md's program on a good bundle: %v\n%s", err, out)
	}
	t.Logf("%s", out)

	leaves, _ := filepath.Glob(filepath.Join(unpacked, "entries", "*.leaf"))
	if len(leaves) == 0 {
		t.Fatal("no leaves unpacked")
	}
	damaged := leaves[len(leaves)/2]
	leaf, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	leaf[len(leaf)-2] ^= 1
	if err := os.WriteFile(damaged, leaf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, vkey, unpacked).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || strings.HasPrefix(string(out), "OK: ") {
		t.Errorf("VERIFY.md's program on a damaged leaf: %v\n%s, want a failure", err, out)
	}
}
