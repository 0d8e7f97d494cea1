package server

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
)

// TestEndToEnd: two parties submit concurrently over HTTP, a hand-over
// goes through, a wrong one is refused naming its rule, a resubmission is
// idempotent, and an inclusion proof fetched over HTTP verifies with
// transparency-dev/merkle.
func TestEndToEnd(t *testing.T) {
	f := newFixture(t, Config{})
	const each = 20
	var wg sync.WaitGroup
	results := make(chan Appended, 2*each)
	errs := make(chan string, 2*each)
	for _, party := range []string{"cert", "lab"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				env := f.acquireEnv(party, fmt.Sprintf("EX-%s-%d", party, i))
				code, a, r := f.submit(party, env)
				if code != http.StatusOK {
					errs <- fmt.Sprintf("%s: POST = %d %+v", party, code, r)
					continue
				}
				results <- a
			}
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	seen := map[int64]bool{}
	for a := range results {
		if seen[a.Index] || a.Size != a.Index+1 {
			t.Errorf("answer %+v: index repeated or size not index+1", a)
		}
		seen[a.Index] = true
		leaf, err := f.log.Leaf(a.Index)
		if err != nil || ledger.LeafHash(leaf).String() != a.LeafHash {
			t.Errorf("answer %+v: leaf hash does not match leaf %d", a, a.Index)
		}
	}
	if got, want := f.log.Size(), int64(4+2*each); got != want {
		t.Fatalf("size after concurrent submissions = %d, want %d", got, want)
	}

	// A hand-over: cert releases to lab, lab accepts.
	code, rel, r := f.submit("cert", f.releaseEnv("cert", "EX-cert-0", "lab", f.parties["cert"]))
	if code != http.StatusOK {
		t.Fatalf("release = %d %+v", code, r)
	}
	// lab tries to release what cert still holds: holder-only.
	size := f.log.Size()
	code, _, r = f.submit("lab", f.releaseEnv("lab", "EX-cert-1", "outsider", f.parties["lab"]))
	if code != http.StatusUnprocessableEntity || r.Rule != "holder-only" || r.Exhibit != "EX-cert-1" {
		t.Errorf("release by a non-holder = %d %+v, want 422 rule holder-only naming the exhibit", code, r)
	}
	// outsider tries to accept the release to lab: named-receiver.
	code, _, r = f.submit("outsider", f.acceptEnv("EX-cert-0", f.parties["outsider"]))
	if code != http.StatusUnprocessableEntity || r.Rule != "named-receiver" {
		t.Errorf("accept by another party = %d %+v, want 422 rule named-receiver", code, r)
	}
	if f.log.Size() != size {
		t.Errorf("size after refusals = %d, want %d", f.log.Size(), size)
	}
	acc := f.acceptEnv("EX-cert-0", f.parties["lab"])
	code, a, r := f.submit("lab", acc)
	if code != http.StatusOK || a.Index != rel.Index+1 {
		t.Fatalf("accept = %d %+v %+v, want 200 at %d", code, a, r, rel.Index+1)
	}
	// The same envelope again: the same answer, nothing appended.
	size = f.log.Size()
	code, again, r := f.submit("lab", acc)
	if code != http.StatusOK || again.Index != a.Index || again.LeafHash != a.LeafHash || !again.Duplicate || f.log.Size() != size {
		t.Errorf("resubmission = %d %+v %+v (size %d), want 200 with index %d, duplicate, size %d", code, again, r, f.log.Size(), a.Index, size)
	}

	// The inclusion proof of the accept, checked with merkle/proof and the
	// checkpoint with sumdb/note: libraries we did not write.
	resp, body := f.do(http.MethodGet, fmt.Sprintf("/custos/v1/proof/inclusion?index=%d", a.Index), "", nil)
	mustStatus(t, "GET inclusion proof", resp.StatusCode, http.StatusOK, body)
	p, err := ledger.ParseInclusionProof(body)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(p.Checkpoint, note.VerifierList(f.verifier))
	if err != nil {
		t.Fatalf("note.Open(proof's checkpoint) = %v", err)
	}
	c, err := ledger.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	leafHash, _ := base64.StdEncoding.DecodeString(a.LeafHash)
	path := make([][]byte, len(p.Path))
	for i := range p.Path {
		path[i] = p.Path[i][:]
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(a.Index), uint64(c.Size), leafHash, path, c.Root[:]); err != nil {
		t.Errorf("proof.VerifyInclusion = %v", err)
	}
	resp, body = f.do(http.MethodGet, fmt.Sprintf("/custos/v1/proof/inclusion?index=%d", f.log.Size()), "", nil)
	mustStatus(t, "GET inclusion proof beyond the tree", resp.StatusCode, http.StatusNotFound, body)

	// Consistency from an earlier size to the latest, with merkle/proof.
	old := c.Size - 7
	oldRoot, _ := f.log.TreeHash(old)
	resp, body = f.do(http.MethodGet, fmt.Sprintf("/custos/v1/proof/consistency?from=%d", old), "", nil)
	mustStatus(t, "GET consistency proof", resp.StatusCode, http.StatusOK, body)
	cp, err := ledger.ParseConsistencyProof(body)
	if err != nil {
		t.Fatal(err)
	}
	n, err = note.Open(cp.Checkpoint, note.VerifierList(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	newC, _ := ledger.ParseCheckpoint([]byte(n.Text))
	cpath := make([][]byte, len(cp.Path))
	for i := range cp.Path {
		cpath[i] = cp.Path[i][:]
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(newC.Size), cpath, oldRoot[:], newC.Root[:]); err != nil {
		t.Errorf("proof.VerifyConsistency = %v", err)
	}

	counts, err := f.srv.PublicCounts()
	if err != nil || counts.Parties != 4 || counts.Exhibits != 2*each || counts.HandOvers != 1 || counts.OpenReleases != 0 {
		t.Errorf("PublicCounts() = %+v, %v; want 4 parties, %d exhibits, 1 hand-over, no open release", counts, err, 2*each)
	}

	// History and status, as the party.
	resp, body = f.do(http.MethodGet, "/custos/v1/exhibits/EX-cert-0/history", "lab", nil)
	mustStatus(t, "GET history as lab", resp.StatusCode, http.StatusOK, body)
	if !strings.Contains(string(body), `"holder":"lab"`) || !strings.Contains(string(body), `"event":"accept"`) {
		t.Errorf("history = %.300s, want lab holding it after an accept", body)
	}
	resp, body = f.do(http.MethodGet, "/custos/v1/status", "lab", nil)
	mustStatus(t, "GET status as lab", resp.StatusCode, http.StatusOK, body)
	if !strings.Contains(string(body), `"EX-cert-0"`) || strings.Contains(string(body), `"EX-cert-1"`) {
		t.Errorf("status of lab = %.300s, want EX-cert-0 only", body)
	}
}
