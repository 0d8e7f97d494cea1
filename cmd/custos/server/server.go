// Package server is custos's HTTP front: the write API through which
// enrolled parties submit signed envelopes from their own machines, the
// C2SP tlog-tiles read API (https://c2sp.org/tlog-tiles) with inclusion
// and consistency proofs, authenticated reads of custody state, Prometheus
// metrics, and the collection of witness cosignatures over C2SP
// tlog-witness (https://c2sp.org/tlog-witness).
//
// It promises:
//
//   - One code path for appends: a submission goes through the same
//     *ledger.Log, with the same custody Indexer, as the CLI's local
//     appends; every custody rule is judged by the sequencer, never here.
//   - Public data only for anonymous clients: the checkpoint, hash tiles,
//     proofs, metrics and counts. Entry bundles, exhibit histories, custody
//     state and status are served only to an enrolled party that signs the
//     request with its current key (see SignRequest); everyone else gets 401.
//   - Request bodies are capped before they are read, and every client
//     (authenticated party, or remote address) is rate limited.
//
// # Endpoints
//
//	POST /custos/v1/entries                  one DSSE envelope → {"index","leaf_hash","size"}
//	GET  /custos/v1/proof/inclusion?index=N  C2SP tlog-proof against the latest checkpoint
//	GET  /custos/v1/proof/consistency?from=N consistency proof (tlog-witness request form)
//	GET  /checkpoint                         latest checkpoint, with cosignatures if collected
//	GET  /tile/<L>/<N>[.p/<W>]               hash tiles (height 8)
//	GET  /tile/entries/<N>[.p/<W>]           entry bundles (private)
//	GET  /custos/v1/exhibits/<id>/history    an exhibit's record and history (private)
//	GET  /custos/v1/status                   the caller's exhibits, size, witnesses (private)
//	GET  /custos/v1/state?key=K | ?prefix=P  raw custody index records (private; remote CLI)
//	GET  /metrics                            Prometheus text format
//	GET  /                                   dashboard
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// Config configures New.
type Config struct {
	// Log is the open, writable ledger, opened with the custody Indexer.
	Log *ledger.Log

	// Dir is the ledger directory; cosignatures collected from witnesses
	// are stored in Dir/cosigned as `custos checkpoint attach` stores them.
	// Empty keeps them in memory only.
	Dir string

	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger

	// Now is the clock for request dates. Default time.Now.
	Now func() time.Time

	// Rate and Burst limit each client: an authenticated party, or a
	// remote address for anonymous requests and failed authentications.
	// Zero Rate means DefaultRate, DefaultBurst.
	Rate  rate.Limit
	Burst int

	// Policy and Witnesses enable witness collection (see witness.go).
	Policy    *verify.Policy
	Witnesses []WitnessEndpoint
	// HTTPClient calls witnesses; nil means a client with a 10 s timeout.
	HTTPClient *http.Client

	// Dashboard serves GET /, behind the same authentication (PartyOf
	// tells it who is asking); nil serves a placeholder page.
	Dashboard http.Handler
}

// Default client limits: generous for people and scripts, low enough that
// one client cannot take the sequencer for itself.
const (
	DefaultRate  = rate.Limit(200)
	DefaultBurst = 400
)

// A Server serves one ledger. Create it with New, serve Handler, and call
// Close after the http.Server has shut down and before closing the log.
type Server struct {
	log     *ledger.Log
	dir     string
	logger  *slog.Logger
	now     func() time.Time
	limits  *limiter
	metrics *metrics
	keys    keyCache
	seen    seenSigs
	tiles   tileCache
	mux     *http.ServeMux
	wit     *collector // nil without witnesses

	dashboard http.Handler

	countsMu   sync.Mutex
	counts     *custody.Counts // PublicCounts at countsSize
	countsSize int64
}

// New returns a server for cfg.Log.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		return nil, errors.New("server: Config.Log is required")
	}
	s := &Server{log: cfg.Log, dir: cfg.Dir, logger: cfg.Logger, now: cfg.Now, metrics: newMetrics(), dashboard: cfg.Dashboard}
	if s.dashboard == nil {
		s.dashboard = DashboardHandler(s.dashboardData)
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	r, b := cfg.Rate, cfg.Burst
	if r == 0 {
		r, b = DefaultRate, DefaultBurst
	}
	b = max(b, 1) // a zero burst would refuse everything
	s.limits = newLimiter(r, b)
	if cfg.Policy != nil || len(cfg.Witnesses) > 0 {
		c, err := newCollector(s, cfg)
		if err != nil {
			return nil, err
		}
		s.wit = c
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /custos/v1/entries", s.handleAppend)
	m.HandleFunc("GET /custos/v1/proof/inclusion", s.handleInclusion)
	m.HandleFunc("GET /custos/v1/proof/consistency", s.handleConsistency)
	m.HandleFunc("GET /checkpoint", s.handleCheckpoint)
	m.HandleFunc("GET /tile/", s.handleTile)
	m.HandleFunc("GET /custos/v1/exhibits/{rest...}", s.private(s.handleHistory))
	m.HandleFunc("GET /custos/v1/status", s.private(s.handleStatus))
	m.HandleFunc("GET /custos/v1/state", s.private(s.handleState))
	m.HandleFunc("GET /metrics", s.handleMetrics)
	m.HandleFunc("/{$}", s.handleIndex)
	s.mux = m
}

// Handler returns the server's handler: authentication, rate limits and
// request logging around the endpoints.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Close stops witness collection. Call it after http.Server.Shutdown
// returned (no handler is running) and before closing the log.
func (s *Server) Close() {
	if s.wit != nil {
		s.wit.close()
	}
}

type ctxKey struct{}

// PartyOf returns the party that authenticated r (see SignRequest), or ""
// for an anonymous request.
func PartyOf(r *http.Request) string {
	p, _ := r.Context().Value(ctxKey{}).(string)
	return p
}

// serve authenticates r if it carries Custos-* headers, applies the rate
// limit of its client, and dispatches it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	host := remoteHost(r)
	// Failed authentications are limited per address in a bucket of
	// their own ("fail:"), apart from the address's anonymous reads. Once
	// it is empty, signed requests from that address are refused before
	// their signature is checked (verifying costs more than refusing): a
	// party behind the same address as a forger waits with it.
	if r.Header.Get(HeaderSignature) != "" && s.limits.blocked("fail:"+host) {
		s.metrics.rateLimited.Add(1)
		rec.Header().Set("Retry-After", "1")
		writeError(rec, http.StatusTooManyRequests, "too many failed authentications; retry later", nil)
		s.logRequest(r, "fail:"+host, rec.status, start)
		return
	}
	party, authErr := s.authenticate(r)
	var client string
	switch {
	case authErr != nil:
		client = "fail:" + host
	case party != "":
		client = "party:" + party
	default:
		client = "addr:" + host
	}
	switch {
	case !s.limits.allow(client):
		s.metrics.rateLimited.Add(1)
		rec.Header().Set("Retry-After", "1")
		writeError(rec, http.StatusTooManyRequests, "rate limit exceeded; retry later", nil)
	case authErr != nil:
		rec.Header().Set("WWW-Authenticate", authScheme)
		writeError(rec, http.StatusUnauthorized, authErr.Error(), nil)
	default:
		if party != "" {
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, party))
		}
		s.mux.ServeHTTP(rec, r)
	}
	s.logRequest(r, client, rec.status, start)
}

// logPath is the path as logged: exhibit ids are evidence metadata, so the
// history endpoint is logged without its id.
func logPath(p string) string {
	if strings.HasPrefix(p, "/custos/v1/exhibits/") {
		return "/custos/v1/exhibits/{id}/history"
	}
	return p
}

// logRequest logs what a request was and how it ended. No header values,
// query strings (which name exhibits), bodies or signatures are logged.
func (s *Server) logRequest(r *http.Request, client string, status int, start time.Time) {
	s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method), slog.String("path", logPath(r.URL.Path)),
		slog.String("client", client), slog.Int("status", status),
		slog.Duration("duration", time.Since(start)))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// private wraps a handler that only authenticated parties may call.
func (s *Server) private(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if PartyOf(r) == "" {
			w.Header().Set("WWW-Authenticate", authScheme)
			writeError(w, http.StatusUnauthorized, "authentication required: sign the request as an enrolled party (Custos-Party, Custos-Date, Custos-Signature)", nil)
			return
		}
		h(w, r)
	}
}

// Appended is the answer to a submission.
type Appended struct {
	Index     int64  `json:"index"`
	LeafHash  string `json:"leaf_hash"` // base64, as in tlog-proof
	Size      int64  `json:"size"`      // Index+1: the tree size that covers the entry
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Refusal is the body of every error answer. Rule is set for a custody
// refusal (custody.RuleError's rule ids, "duplicate-artifact" and
// "signature").
type Refusal struct {
	Error   string `json:"error"`
	Rule    string `json:"rule,omitempty"`
	Exhibit string `json:"exhibit,omitempty"`
	Holder  string `json:"holder,omitempty"`
	Party   string `json:"party,omitempty"`
	Index   *int64 `json:"index,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	Field   string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string, r *Refusal) {
	if r == nil {
		r = &Refusal{}
	}
	r.Error = msg
	writeJSON(w, code, r)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeText(w http.ResponseWriter, b []byte, cache string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", cache)
	w.Write(b)
}

// handleAppend is the write API. The body is capped at the envelope cap
// before it is read; the sequencer's custody Indexer parses and judges it.
func (s *Server) handleAppend(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > custody.MaxEnvelopeSize {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds the %d-byte envelope cap", r.ContentLength, custody.MaxEnvelopeSize), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, custody.MaxEnvelopeSize))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the %d-byte envelope cap", custody.MaxEnvelopeSize), nil)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error(), nil)
		return
	}
	// The sequencer's custody check parses the envelope (canonical form
	// first) before anything else; a malformed one takes no index.
	start := time.Now()
	idx, h, err := s.log.Append(r.Context(), body)
	s.metrics.appendLatency.observe(time.Since(start).Seconds())
	var dup *custody.DuplicateError
	if errors.As(err, &dup) && dup.Exhibit == "" {
		// The same envelope again: answer as the first time.
		leaf, lerr := s.log.Leaf(dup.Index)
		if lerr != nil {
			writeError(w, http.StatusInternalServerError, "reading the earlier leaf", nil)
			return
		}
		writeJSON(w, http.StatusOK, Appended{Index: dup.Index, LeafHash: ledger.LeafHash(leaf).String(), Size: dup.Index + 1, Duplicate: true})
		return
	}
	if err != nil {
		s.metrics.refused.Add(1)
		writeAppendError(w, err)
		if code := appendErrorCode(err); code >= 500 {
			s.logger.Error("append failed", slog.String("error", err.Error()))
		}
		return
	}
	s.metrics.appends.Add(1)
	s.metrics.observeSize(s.log.Size())
	if s.wit != nil {
		s.wit.poke()
	}
	writeJSON(w, http.StatusOK, Appended{Index: idx, LeafHash: h.String(), Size: idx + 1})
}

// appendErrorCode maps an append error to its HTTP status: a refusal by a
// custody rule or a signature is 422, malformed input 400, a closing
// ledger 503, a full disk 507, anything else 500.
func appendErrorCode(err error) int {
	var (
		rule *custody.RuleError
		dup  *custody.DuplicateError
		sig  *custody.SignatureError
		cpe  *custody.ParseError
		lpe  *ledger.ParseError
	)
	switch {
	case errors.As(err, &rule), errors.As(err, &dup), errors.As(err, &sig):
		return http.StatusUnprocessableEntity
	case errors.As(err, &cpe), errors.As(err, &lpe):
		return http.StatusBadRequest
	case errors.Is(err, ledger.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, ledger.ErrNoSpace):
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

func writeAppendError(w http.ResponseWriter, err error) {
	code := appendErrorCode(err)
	ref := &Refusal{}
	var (
		rule *custody.RuleError
		dup  *custody.DuplicateError
		sig  *custody.SignatureError
		cpe  *custody.ParseError
	)
	switch {
	case errors.As(err, &rule):
		ref.Rule, ref.Exhibit, ref.Holder, ref.Party = rule.Rule, rule.Exhibit, rule.Holder, rule.Party
	case errors.As(err, &dup):
		ref.Rule, ref.Exhibit, ref.Index = "duplicate-artifact", dup.Exhibit, &dup.Index
	case errors.As(err, &sig):
		ref.Rule, ref.KeyID = "signature", sig.KeyID
	case errors.As(err, &cpe):
		ref.Field = cpe.Field
	}
	msg := err.Error()
	if code == http.StatusInternalServerError {
		msg = "internal error; the entry was not appended"
	} else if code == http.StatusServiceUnavailable {
		msg = "the ledger is shutting down; the entry was not appended, submit it again"
	} else if code == http.StatusInsufficientStorage {
		msg = "the ledger's disk is full; the entry was not appended, submit it again once the operator has freed space"
	}
	writeError(w, code, msg, ref)
}

func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != v {
		return 0, fmt.Errorf("want ?%s=N, a non-negative decimal", name)
	}
	return n, nil
}

func (s *Server) handleInclusion(w http.ResponseWriter, r *http.Request) {
	n, err := queryInt(r, "index")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	start := time.Now()
	if n >= s.log.Size() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("leaf %d is not covered by the latest checkpoint (size %d)", n, s.log.Size()), nil)
		return
	}
	p, err := s.log.ProveInclusion(n)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error(), nil)
		return
	}
	s.metrics.proofLatency.observe(time.Since(start).Seconds())
	writeText(w, p.Marshal(), "no-cache")
}

func (s *Server) handleConsistency(w http.ResponseWriter, r *http.Request) {
	n, err := queryInt(r, "from")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	start := time.Now()
	p, err := s.log.ProveConsistency(n)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error(), nil)
		return
	}
	s.metrics.proofLatency.observe(time.Since(start).Seconds())
	writeText(w, p.Marshal(), "no-cache")
}

// handleCheckpoint serves the latest checkpoint; once witnesses have
// cosigned it, with their cosignature lines.
func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, _ := s.Checkpoint()
	writeText(w, cp, "no-cache")
}

// Checkpoint returns the log's latest checkpoint and its size; once
// witnesses have cosigned it, with their cosignature lines.
func (s *Server) Checkpoint() (signed []byte, size int64) {
	cp, size := s.log.Checkpoint()
	if s.wit != nil {
		if note, n := s.wit.cosignedAt(); n == size && note != nil {
			cp = note
		}
	}
	return cp, size
}

// PublicCounts returns custody.PublicCounts of the ledger's custody index,
// computed once per tree size.
func (s *Server) PublicCounts() (custody.Counts, error) {
	size := s.log.Size()
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	if s.counts != nil && s.countsSize == size {
		return *s.counts, nil
	}
	c, err := custody.PublicCounts(s.log.Index())
	if err != nil {
		return custody.Counts{}, err
	}
	s.counts, s.countsSize = &c, size
	return c, nil
}

// History is the answer of the history endpoint.
type History struct {
	Exhibit *custody.ExhibitRecord `json:"exhibit"`
	Steps   []custody.HistoryStep  `json:"history"`
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("rest"), "/history")
	if !ok || id == "" {
		writeError(w, http.StatusNotFound, "want /custos/v1/exhibits/<id>/history", nil)
		return
	}
	x, steps, err := custody.History(s.log.Index(), id)
	if err != nil {
		s.logger.Error("reading history", slog.String("error", err.Error()))
		writeError(w, http.StatusInternalServerError, "reading the custody index", nil)
		return
	}
	if x == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no exhibit %q", id), nil)
		return
	}
	writeJSON(w, http.StatusOK, History{Exhibit: x, Steps: steps})
}

// Status is the answer of the status endpoint.
type Status struct {
	Party     string                  `json:"party"`
	Size      int64                   `json:"size"`
	Exhibits  []custody.ExhibitRecord `json:"exhibits"` // held by the party or released to it
	Witnesses []WitnessStatus         `json:"witnesses,omitempty"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	party := PartyOf(r)
	xs, err := custody.Status(s.log.Index(), party)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reading the custody index", nil)
		return
	}
	writeJSON(w, http.StatusOK, Status{Party: party, Size: s.log.Size(), Exhibits: xs, Witnesses: s.WitnessStatus()})
}

// StateRecord is one custody index record, as the state endpoint lists
// them for a prefix.
type StateRecord struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// maxStateRecords caps a prefix listing.
const maxStateRecords = 10000

// handleState serves raw custody index records (they are JSON) to an
// enrolled party's CLI, which builds its statement from them exactly as it
// does from a local ledger: ?key=K gives the record (404 if none),
// ?prefix=P the records under P in key order, as a JSON list. The records
// are derived from the entries, which the party may read in full anyway.
func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	idx := s.log.Index()
	if q.Has("key") {
		v, ok, err := idx.Get(q.Get("key"))
		if err != nil {
			writeError(w, http.StatusInternalServerError, "reading the custody index", nil)
			return
		}
		if !ok {
			writeError(w, http.StatusNotFound, "no such record", nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Custos-Size", strconv.FormatInt(s.log.Size(), 10))
		w.Write(v)
		return
	}
	if !q.Has("prefix") || q.Get("prefix") == "" {
		writeError(w, http.StatusBadRequest, "want ?key=K or ?prefix=P", nil)
		return
	}
	out := []StateRecord{}
	errFull := errors.New("full")
	err := idx.Scan(q.Get("prefix"), func(k string, v []byte) error {
		if len(out) == maxStateRecords {
			return errFull
		}
		out = append(out, StateRecord{Key: k, Value: append(json.RawMessage(nil), v...)})
		return nil
	})
	if errors.Is(err, errFull) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d records under this prefix", maxStateRecords), nil)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reading the custody index", nil)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// Timeouts of HTTPServer. ReadHeaderTimeout ends slow-header (slowloris)
// connections; ReadTimeout bounds a whole request, body included (1 MiB
// at 10 KiB/s); WriteTimeout covers the slowest answer, an entry bundle.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 2 * time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 16 << 10
)

// HTTPServer returns an http.Server for s on addr with custos's timeouts
// and header cap.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}
