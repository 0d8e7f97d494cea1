package witness_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
	"github.com/custos-ledger/custos/verify/witness"
)

// newServer serves w's add-checkpoint on loopback under the submission
// prefix /w/, as a deployment behind a shared host would.
func newServer(t testing.TB, w *witness.Witness) (baseURL string, c *http.Client) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/w/", http.StripPrefix("/w", witness.NewHandler(w, slog.New(slog.DiscardHandler))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/w", srv.Client()
}

// post sends body to the add-checkpoint URL and returns the response.
func post(t testing.TB, c *http.Client, baseURL string, body []byte) (status int, contentType string, respBody []byte) {
	t.Helper()
	resp, err := c.Post(baseURL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// stateSize returns the size of the checkpoint in the witness's state for
// the only log it has.
func stateSize(t testing.TB, dir string, key logKey) int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "state"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("state/ holds %v, %v; want one file", entries, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state", entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify.Checkpoint(b, key.verifier)
	if err != nil {
		t.Fatalf("state does not verify: %v", err)
	}
	return c.Size
}

// TestAddCheckpointHTTP follows a log as it grows, over HTTP: the response
// is the witness's cosignature line alone, and the checkpoint with it
// appended verifies with sumdb/note and formats/note.
func TestAddCheckpointHTTP(t *testing.T) {
	key := newLogKey(t, "example.org/http")
	l := newTestLog(t, key, "main")
	w, dir := newWitness(t, key, "witness.example.org")
	base, c := newServer(t, w)
	size := int64(0)
	for _, grow := range []int{1, 4, 0, 7, 16} {
		l.grow(t, grow, 0)
		old := size
		size += int64(grow)
		lines, err := witness.AddCheckpoint(context.Background(), c, base, old, pathBetween(t, l, old, size), l.signed[size])
		if err != nil {
			t.Fatalf("AddCheckpoint(%d -> %d) = %v", old, size, err)
		}
		if n := bytes.Count(lines, []byte("\n")); n != 1 || !bytes.HasPrefix(lines, []byte("— witness.example.org ")) {
			t.Fatalf("AddCheckpoint(%d -> %d) = %q, want one cosignature line of witness.example.org", old, size, lines)
		}
		checkCosigned(t, append(bytes.Clone(l.signed[size]), lines...), l.signed[size], key, w)
		if got := stateSize(t, dir, key); got != size {
			t.Errorf("after AddCheckpoint(%d -> %d): state size %d", old, size, got)
		}
	}

	// The raw response, as the spec gives it.
	status, _, body := post(t, c, base, l.proof(t, size))
	if status != http.StatusOK || !bytes.HasPrefix(body, []byte("— witness.example.org ")) || !bytes.HasSuffix(body, []byte("\n")) {
		t.Errorf("POST add-checkpoint (same checkpoint again) = %d %q, want 200 and a signature line", status, body)
	}
	// A checkpoint that arrives with another witness's cosignature gets
	// this witness's line only.
	other, _ := newWitness(t, key, "other.example.org")
	l.grow(t, 2, 0)
	fromOther, err := other.Cosign(l.proof(t, 0), now)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := witness.AddCheckpoint(context.Background(), c, base, size, pathBetween(t, l, size, size+2), fromOther)
	if err != nil || bytes.Count(lines, []byte("\n")) != 1 || !bytes.HasPrefix(lines, []byte("— witness.example.org ")) {
		t.Errorf("AddCheckpoint(cosigned by another witness) = %q, %v; want this witness's line only", lines, err)
	}
}

// TestAddCheckpointStatuses runs the C2SP tlog-witness refusals over HTTP
// against a witness that cosigned size 7 of a log now at 12, and checks the
// status, the content type and body of each, and the client's error. None
// may move the state.
func TestAddCheckpointStatuses(t *testing.T) {
	const common = 5 // the fork shares the log's first 5 entries
	key := newLogKey(t, "example.org/statuses")
	l, fork := newTestLog(t, key, "main"), newTestLog(t, key, "fork")
	l.grow(t, 12, common)
	fork.grow(t, 12, common)
	w, dir := newWitness(t, key, "witness.example.org")
	base, c := newServer(t, w)
	if _, err := witness.AddCheckpoint(context.Background(), c, base, 0, nil, l.signed[7]); err != nil {
		t.Fatal(err)
	}
	proofBetween := func(old, new int64) []ledger.Hash { return pathBetween(t, l, old, new) }
	garbage := proofBetween(7, 12)
	garbage[0][0] ^= 1
	stranger := newLogKey(t, "example.org/stranger")
	strangeLog := newTestLog(t, stranger, "main")
	strangeLog.grow(t, 2, 0)

	type request struct {
		old   int64
		proof []ledger.Hash
		cp    []byte
	}
	conflictSize := func(n int64) func(error) bool {
		return func(err error) bool {
			var ce *witness.ConflictError
			return errors.As(err, &ce) && ce.StateSize == n
		}
	}
	status := func(code int, sentinel error) func(error) bool {
		return func(err error) bool {
			var re *witness.ResponseError
			return errors.As(err, &re) && re.StatusCode == code && (sentinel == nil || errors.Is(err, sentinel))
		}
	}
	tests := []struct {
		name       string
		req        request
		raw        []byte // sent as is instead of req
		wantStatus int
		wantBody   string // exact, for 409 with a size
		clientErr  func(error) bool
	}{
		{name: "old size behind", req: request{3, proofBetween(3, 12), l.signed[12]},
			wantStatus: 409, wantBody: "7\n", clientErr: conflictSize(7)},
		{name: "old size 0", req: request{0, proofBetween(0, 12), l.signed[12]},
			wantStatus: 409, wantBody: "7\n", clientErr: conflictSize(7)},
		{name: "old size ahead", req: request{9, proofBetween(9, 12), l.signed[12]},
			wantStatus: 409, wantBody: "7\n", clientErr: conflictSize(7)},
		{name: "rollback", req: request{5, nil, l.signed[5]},
			wantStatus: 409, wantBody: "7\n", clientErr: conflictSize(7)},
		{name: "rollback from the witness's size", req: request{7, nil, l.signed[5]},
			wantStatus: 400, clientErr: status(400, nil)},
		{name: "old larger than the checkpoint", req: request{12, nil, l.signed[10]},
			wantStatus: 400, clientErr: status(400, nil)},
		{name: "bad consistency proof", req: request{7, garbage, l.signed[12]},
			wantStatus: 422, clientErr: status(422, witness.ErrBadProof)},
		{name: "proof for other sizes", req: request{7, proofBetween(6, 12), l.signed[12]},
			wantStatus: 422, clientErr: status(422, witness.ErrBadProof)},
		{name: "hashes for the same size", req: request{7, proofBetween(6, 7), l.signed[7]},
			wantStatus: 422, clientErr: status(422, witness.ErrBadProof)},
		{name: "fork from the common prefix", req: request{7, pathBetween(t, fork, 7, 12), fork.signed[12]},
			wantStatus: 422, clientErr: status(422, witness.ErrBadProof)},
		{name: "unknown log", req: request{0, nil, strangeLog.signed[2]},
			wantStatus: 404, clientErr: status(404, witness.ErrUnknownLog)},
		{name: "signed by another key of the origin", req: request{7, proofBetween(7, 12), reSign(t, l.signed[12])},
			wantStatus: 403, clientErr: status(403, witness.ErrLogSignature)},
		{name: "bad log signature", req: request{7, proofBetween(7, 12), flipSignature(t, l.signed[12])},
			wantStatus: 403, clientErr: status(403, witness.ErrLogSignature)},
		{name: "unparsable old", raw: []byte("old seven\n\n" + string(l.signed[12])), wantStatus: 400},
		{name: "old with a leading zero", raw: []byte("old 07\n\n" + string(l.signed[12])), wantStatus: 400},
		{name: "no empty line", raw: []byte("old 7\n" + string(l.signed[12])), wantStatus: 400},
		{name: "empty body", raw: []byte{}, wantStatus: 400},
		{name: "hash not base64", raw: []byte("old 7\n!!!!\n\n" + string(l.signed[12])), wantStatus: 400},
		{name: "too many hashes", raw: tooManyHashes(l.signed[12]), wantStatus: 400},
		{name: "not a signed note", raw: []byte("old 7\n\nexample.org/statuses\n12\n"), wantStatus: 400},
		{name: "signature line not base64", raw: []byte("old 7\n\nexample.org/statuses\n12\nAAAA\n\n— example.org/statuses !!!!\n"), wantStatus: 400},
		{name: "checkpoint not a checkpoint", req: request{7, nil, signText(t, key, "example.org/statuses\ntwelve\nAAAA\n")}, wantStatus: 400},
		{name: "oversized", raw: append([]byte("old 7\n\n"), bytes.Repeat([]byte("a"), witness.MaxRequestSize)...), wantStatus: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.raw
			if body == nil {
				body = (&ledger.ConsistencyProof{Old: tt.req.old, Path: tt.req.proof, Checkpoint: tt.req.cp}).Marshal()
			}
			code, ctype, resp := post(t, c, base, body)
			if code != tt.wantStatus {
				t.Errorf("POST = %d %q, want %d", code, resp, tt.wantStatus)
			}
			if tt.wantBody != "" {
				if ctype != "text/x.tlog.size" || string(resp) != tt.wantBody {
					t.Errorf("POST = %d, Content-Type %q, body %q; want text/x.tlog.size %q", code, ctype, resp, tt.wantBody)
				}
			} else if ctype == "text/x.tlog.size" {
				t.Errorf("POST = %d with Content-Type text/x.tlog.size, body %q", code, resp)
			}
			if tt.clientErr == nil {
				return
			}
			out, err := witness.AddCheckpoint(context.Background(), c, base, tt.req.old, tt.req.proof, tt.req.cp)
			if out != nil || !tt.clientErr(err) {
				t.Errorf("AddCheckpoint = %q, %v (%T); want the status's typed error", out, err, err)
			}
		})
	}
	if got := stateSize(t, dir, key); got != 7 {
		t.Fatalf("after the refusals the state size is %d, want 7", got)
	}
	if records, _ := filepath.Glob(filepath.Join(dir, "equivocation", "*")); len(records) != 0 {
		t.Errorf("equivocation records %v after no equivocation", records)
	}

	// Same size, another root: 409 without a size, and both notes kept.
	var re *witness.ResponseError
	_, err := witness.AddCheckpoint(context.Background(), c, base, 7, nil, fork.signed[7])
	if !errors.As(err, &re) || re.StatusCode != 409 || !errors.Is(err, verify.ErrEquivocation) {
		t.Fatalf("AddCheckpoint(fork's checkpoint 7 after the log's) = %v, want a 409 ResponseError wrapping verify.ErrEquivocation", err)
	}
	if strings.Contains(re.Msg, dir) {
		t.Errorf("409 message %q names the witness's state directory", re.Msg)
	}
	code, ctype, _ := post(t, c, base, (&ledger.ConsistencyProof{Old: 3, Checkpoint: fork.signed[7]}).Marshal())
	if code != 409 || ctype == "text/x.tlog.size" {
		t.Errorf("POST fork's checkpoint 7 from old 3 = %d %q, want 409 without a size", code, ctype)
	}
	records, _ := filepath.Glob(filepath.Join(dir, "equivocation", "*.txt"))
	if len(records) != 2 {
		t.Fatalf("equivocation records %v, want two", records)
	}
	rec, err := os.ReadFile(records[0])
	if err != nil || !bytes.Contains(rec, fork.signed[7]) || !bytes.Contains(rec, l.signed[7][:bytes.Index(l.signed[7], []byte("\n\n"))]) {
		t.Errorf("record %q, %v; want both checkpoints", rec, err)
	}
	if got := stateSize(t, dir, key); got != 7 {
		t.Errorf("after the equivocation the state size is %d, want 7", got)
	}
	if _, err := witness.AddCheckpoint(context.Background(), c, base, 7, proofBetween(7, 12), l.signed[12]); err != nil {
		t.Errorf("AddCheckpoint(7 -> 12) after the refusals = %v", err)
	}

	// Only POST.
	resp, err := c.Get(base + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET add-checkpoint = %d, want 405", resp.StatusCode)
	}
}

// pathBetween returns the consistency path in l from size old to new
// (none from 0).
func pathBetween(t testing.TB, l *testLog, old, new int64) []ledger.Hash {
	t.Helper()
	if old == 0 {
		return nil
	}
	p, err := l.ProveConsistencyBetween(old, new)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// reSign returns signed's text signed by another key of the same name.
func reSign(t testing.TB, signed []byte) []byte {
	p, err := ledger.ParseConsistencyProof(forged(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	return p.Checkpoint
}

// signText signs text with key as a note.
func signText(t testing.TB, key logKey, text string) []byte {
	b, err := note.Sign(&note.Note{Text: text}, key.signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flipSignature changes one base64 character of the log's signature, past
// its 4-byte key hash: the line still names the log key, and does not
// verify.
func flipSignature(t testing.TB, signed []byte) []byte {
	b := bytes.Clone(signed)
	j := len(b) - 10 // inside the last signature line's base64
	if bytes.LastIndex(b, []byte("\n\n")) > j-60 {
		t.Fatalf("note %q has no signature line to flip", signed)
	}
	if b[j] == 'A' {
		b[j] = 'B'
	} else {
		b[j] = 'A'
	}
	return b
}

func tooManyHashes(cp []byte) []byte {
	var path []ledger.Hash
	for range ledger.MaxProofHashes + 1 {
		path = append(path, ledger.Hash{1})
	}
	return (&ledger.ConsistencyProof{Old: 7, Path: path, Checkpoint: cp}).Marshal()
}

// TestAddCheckpointFirstSight: a witness that never cosigned the log
// answers 409 "0" to any old size but 0, and takes only an empty proof.
func TestAddCheckpointFirstSight(t *testing.T) {
	key := newLogKey(t, "example.org/first")
	l := newTestLog(t, key, "main")
	l.grow(t, 5, 0)
	w, _ := newWitness(t, key, "witness.example.org")
	base, c := newServer(t, w)
	p := pathBetween(t, l, 2, 5)
	var ce *witness.ConflictError
	_, err := witness.AddCheckpoint(context.Background(), c, base, 2, p, l.signed[5])
	if !errors.As(err, &ce) || ce.StateSize != 0 || ce.Old != 2 || ce.Origin != "example.org/first" {
		t.Errorf("AddCheckpoint(from 2, first sight) = %v, want a ConflictError with state size 0", err)
	}
	code, ctype, body := post(t, c, base, (&ledger.ConsistencyProof{Old: 2, Path: p, Checkpoint: l.signed[5]}).Marshal())
	if code != 409 || ctype != "text/x.tlog.size" || string(body) != "0\n" {
		t.Errorf("POST from 2, first sight = %d %q %q, want 409 text/x.tlog.size \"0\\n\"", code, ctype, body)
	}
	if _, err := witness.AddCheckpoint(context.Background(), c, base, 0, []ledger.Hash{{1}}, l.signed[5]); !errors.Is(err, witness.ErrBadProof) {
		t.Errorf("AddCheckpoint(from 0 with a hash) = %v, want ErrBadProof (422)", err)
	}
	if _, err := witness.AddCheckpoint(context.Background(), c, base, ce.StateSize, nil, l.signed[5]); err != nil {
		t.Errorf("AddCheckpoint(from the 409's size) = %v", err)
	}
}

// TestAddCheckpointClient covers what the client checks itself: bad
// arguments, transport errors, redirects and malformed responses.
func TestAddCheckpointClient(t *testing.T) {
	key := newLogKey(t, "example.org/client")
	l := newTestLog(t, key, "main")
	l.grow(t, 3, 0)
	ctx := context.Background()

	if _, err := witness.AddCheckpoint(ctx, nil, "http://127.0.0.1:1", -1, nil, l.signed[3]); err == nil {
		t.Error("AddCheckpoint(old -1) = nil error")
	}
	if _, err := witness.AddCheckpoint(ctx, nil, "http://127.0.0.1:1", 0, make([]ledger.Hash, 64), l.signed[3]); err == nil {
		t.Error("AddCheckpoint(64 hashes) = nil error")
	}

	// Transport: a closed server, and a cancelled context.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	var ue *url.Error
	if _, err := witness.AddCheckpoint(ctx, srv.Client(), srv.URL, 0, nil, l.signed[3]); !errors.As(err, &ue) {
		t.Errorf("AddCheckpoint(closed server) = %v, want a *url.Error", err)
	}
	w, _ := newWitness(t, key, "witness.example.org")
	base, c := newServer(t, w)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := witness.AddCheckpoint(cctx, c, base, 0, nil, l.signed[3]); !errors.Is(err, context.Canceled) {
		t.Errorf("AddCheckpoint(cancelled) = %v, want context.Canceled", err)
	}

	// Servers that do not speak tlog-witness.
	fake := func(code int, ctype, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved/add-checkpoint" {
				http.Redirect(rw, r, "/elsewhere", http.StatusFound)
				return
			}
			if ctype != "" {
				rw.Header().Set("Content-Type", ctype)
			}
			rw.WriteHeader(code)
			io.WriteString(rw, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name  string
		url   string
		check func(error) bool
	}{
		{"200 not signature lines", fake(200, "", "hello\n"), verify.IsMalformed},
		{"200 empty", fake(200, "", ""), verify.IsMalformed},
		{"200 no newline", fake(200, "", "— w AAAA"), verify.IsMalformed},
		{"409 size not a number", fake(409, "text/x.tlog.size", "seven\n"), verify.IsMalformed},
		{"409 size with a leading zero", fake(409, "text/x.tlog.size", "07\n"), verify.IsMalformed},
		{"409 size with a charset", fake(409, "text/x.tlog.size; charset=utf-8", "4\n"), func(err error) bool {
			var ce *witness.ConflictError
			return errors.As(err, &ce) && ce.StateSize == 4
		}},
		{"500", fake(500, "", "boom\x1b[31m\n"), func(err error) bool {
			var re *witness.ResponseError
			return errors.As(err, &re) && re.StatusCode == 500 && re.Unwrap() == nil && re.Msg == "boom?[31m"
		}},
		{"redirect", fake(200, "", "") + "/moved", func(err error) bool { return err != nil && strings.Contains(err.Error(), "redirected") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := witness.AddCheckpoint(ctx, nil, tt.url, 0, nil, l.signed[3])
			if out != nil || !tt.check(err) {
				t.Errorf("AddCheckpoint = %q, %v (%T)", out, err, err)
			}
		})
	}
}

// TestAddCheckpointConcurrent: clients race to move one log's witness to
// checkpoints of different sizes, each retrying from the size a 409 gives
// until it is cosigned or the witness is past its checkpoint. Every
// success moved the state from its old size to its checkpoint's, so if the
// check and the update are atomic (tlog-witness's race) the successes that
// grew the tree form one chain 0 → a → b → … → 24, each from the size the
// one before it reached; a lost update shows as two links from one size.
func TestAddCheckpointConcurrent(t *testing.T) {
	const size = 24
	key := newLogKey(t, "example.org/race")
	l := newTestLog(t, key, "main")
	l.grow(t, size, 0)
	w, dir := newWitness(t, key, "witness.example.org")
	base, c := newServer(t, w)
	proofs := make([][][]ledger.Hash, size+1)
	for old := range int64(size + 1) {
		proofs[old] = make([][]ledger.Hash, size+1)
		for n := old; n <= size; n++ {
			proofs[old][n] = pathBetween(t, l, old, n)
		}
	}

	type link struct{ old, size int64 }
	var (
		mu       sync.Mutex
		links    []link
		failures []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for i := range 32 {
		target := int64(1 + (i*7)%size)
		if i == 31 {
			target = size
		}
		wg.Go(func() {
			old := int64(0)
			for range size + 2 {
				lines, err := witness.AddCheckpoint(context.Background(), c, base, old, proofs[old][target], l.signed[target])
				var ce *witness.ConflictError
				switch {
				case err == nil:
					n, err := note.Open(append(bytes.Clone(l.signed[target]), lines...), note.VerifierList(key.verifier, cosigVerifier(t, w)))
					if err != nil || len(n.Sigs) != 2 {
						fail("size %d: cosigned note does not verify: %v", target, err)
					}
					mu.Lock()
					links = append(links, link{old, target})
					mu.Unlock()
					return
				case errors.As(err, &ce) && ce.StateSize <= target:
					old = ce.StateSize
				case errors.As(err, &ce):
					return // the witness is past this checkpoint
				default:
					fail("size %d: %v", target, err)
					return
				}
			}
			fail("size %d: no progress", target)
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	reached := map[int64]bool{0: true}
	var grew []link
	for _, k := range links {
		if k.old < k.size {
			grew = append(grew, k)
		}
	}
	slices.SortFunc(grew, func(a, b link) int { return cmp.Compare(a.size, b.size) })
	at := int64(0)
	for _, k := range grew {
		if k.old != at {
			t.Errorf("cosigned %d -> %d while the witness was at %d (links %v)", k.old, k.size, at, links)
		}
		at = k.size
		reached[at] = true
	}
	for _, k := range links {
		if k.old == k.size && !reached[k.size] {
			t.Errorf("cosigned %d again, a size the witness never reached (links %v)", k.size, links)
		}
	}
	if got := stateSize(t, dir, key); got != size || at != size {
		t.Errorf("state size %d, chain ends at %d; want %d", got, at, size)
	}
}

// cosigVerifier returns the cosignature/v1 verifier of w's key.
func cosigVerifier(t testing.TB, w *witness.Witness) note.Verifier {
	cv, err := tnote.VKeyToCosignatureV1(w.VKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := tnote.NewVerifierForCosignatureV1(cv)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHandlerLog: one structured line per request, with the origin, the
// sizes and the status; refusals with the reason.
func TestHandlerLog(t *testing.T) {
	key := newLogKey(t, "example.org/logged")
	l := newTestLog(t, key, "main")
	l.grow(t, 3, 0)
	w, _ := newWitness(t, key, "witness.example.org")
	var buf bytes.Buffer
	srv := httptest.NewServer(witness.NewHandler(w, slog.New(slog.NewJSONHandler(&buf, nil))))
	defer srv.Close()
	if _, err := witness.AddCheckpoint(context.Background(), srv.Client(), srv.URL, 0, nil, l.signed[3]); err != nil {
		t.Fatal(err)
	}
	_, err := witness.AddCheckpoint(context.Background(), srv.Client(), srv.URL, 1, pathBetween(t, l, 1, 3), l.signed[3])
	var ce *witness.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("AddCheckpoint(from 1) = %v, want a ConflictError", err)
	}
	var got []map[string]any
	for line := range bytes.Lines(buf.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("log = %s, want two lines", buf.Bytes())
	}
	for i, want := range []map[string]any{
		{"msg": "add-checkpoint: cosigned", "origin": "example.org/logged", "old": 0.0, "size": 3.0, "status": 200.0},
		{"msg": "add-checkpoint: refused", "origin": "example.org/logged", "old": 1.0, "size": 3.0, "status": 409.0},
	} {
		for k, v := range want {
			if got[i][k] != v {
				t.Errorf("log line %d: %s = %v, want %v", i, k, got[i][k], v)
			}
		}
	}
	if e, _ := got[1]["error"].(string); !strings.Contains(e, "latest size 3") {
		t.Errorf("log line 1: error %q, want the conflict", e)
	}
	if want := "witness " + srv.URL + "/add-checkpoint: 404 Not Found: "; !strings.HasPrefix(fmt.Sprint(&witness.ResponseError{URL: srv.URL + "/add-checkpoint", StatusCode: 404, Msg: "x"}), want) {
		t.Errorf("ResponseError.Error() does not start with %q", want)
	}
}

// FuzzHandler: whatever the body, the witness answers one of the statuses
// the spec names, never 500, and cosigns only a checkpoint consistent
// with its state: after a 200 the state is the request's checkpoint.
func FuzzHandler(f *testing.F) {
	key := newLogKey(f, "example.org/fuzzed")
	l := newTestLog(f, key, "main")
	l.grow(f, 9, 0)
	w, dir := newWitness(f, key, "witness.example.org")
	if _, err := w.Cosign(l.proof(f, 0), now); err != nil {
		f.Fatal(err)
	}
	h := witness.NewHandler(w, nil)
	for _, old := range []int64{0, 3, 9} {
		f.Add(l.proof(f, old))
	}
	f.Add((&ledger.ConsistencyProof{Old: 9, Checkpoint: l.signed[6]}).Marshal())
	f.Add(forged(f, l.signed[9]))
	f.Add([]byte("old 9\n\n"))
	big := bytes.Clone(l.signed[9])
	for len(big) <= ledger.MaxCheckpointSize {
		big = append(big, l.signed[9][bytes.LastIndex(l.signed[9], []byte("\n\n"))+2:]...)
	}
	f.Add((&ledger.ConsistencyProof{Old: 9, Checkpoint: big}).Marshal())
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/add-checkpoint", bytes.NewReader(body)))
		switch rec.Code {
		case 200:
			p, err := ledger.ParseConsistencyProof(body)
			if err != nil {
				t.Fatalf("200 for an unparsable body: %v", err)
			}
			c, err := verify.Checkpoint(p.Checkpoint, key.verifier)
			if err != nil {
				t.Fatalf("200 for a checkpoint that does not verify: %v", err)
			}
			if got := stateSize(t, dir, key); got != c.Size {
				t.Fatalf("200 for size %d, state size %d", c.Size, got)
			}
		case 400, 403, 404, 409, 413, 422:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}

// TestHandlerDamagedState: a state file the witness cannot read back is
// the witness's failure (500, nothing cosigned), not the request's, and
// the answer does not name the file.
func TestHandlerDamagedState(t *testing.T) {
	key := newLogKey(t, "example.org/damaged")
	l := newTestLog(t, key, "main")
	l.grow(t, 4, 0)
	w, dir := newWitness(t, key, "witness.example.org")
	base, c := newServer(t, w)
	if _, err := witness.AddCheckpoint(context.Background(), c, base, 0, nil, l.signed[2]); err != nil {
		t.Fatal(err)
	}
	states, _ := filepath.Glob(filepath.Join(dir, "state", "*.checkpoint"))
	if len(states) != 1 {
		t.Fatalf("state files %v, want one", states)
	}
	if err := os.WriteFile(states[0], []byte("not a note"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, req := range [][]byte{l.proof(t, 2), (&ledger.ConsistencyProof{Old: 1, Checkpoint: l.signed[1]}).Marshal()} {
		code, _, body := post(t, c, base, req)
		if code != http.StatusInternalServerError || string(body) != "internal error\n" {
			t.Errorf("POST with a damaged state = %d %q, want 500 \"internal error\\n\"", code, body)
		}
	}
	_, err := witness.AddCheckpoint(context.Background(), c, base, 2, pathBetween(t, l, 2, 4), l.signed[4])
	var re *witness.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 500 || re.Unwrap() != nil {
		t.Errorf("AddCheckpoint with a damaged state = %v, want a 500 ResponseError", err)
	}
}
