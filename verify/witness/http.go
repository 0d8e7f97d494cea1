package witness

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// The C2SP tlog-witness HTTP interface (https://c2sp.org/tlog-witness).
const (
	// AddCheckpointPath is the add-checkpoint endpoint, below the
	// witness's submission prefix.
	AddCheckpointPath = "/add-checkpoint"

	// SizeContentType is the media type of a 409 response that carries
	// the witness's latest size for the log ("N\n").
	SizeContentType = "text/x.tlog.size"

	// MaxRequestSize caps an add-checkpoint request body; the handler
	// answers 413 beyond it, before parsing. No larger body could parse:
	// it is the cap on a consistency proof, 63 hashes and a checkpoint
	// with its signatures included.
	MaxRequestSize = ledger.MaxProofSize
)

// NewHandler returns an http.Handler serving the C2SP tlog-witness
// add-checkpoint call as POST /add-checkpoint (mount it under a submission
// prefix with http.StripPrefix). Every request goes through w.Cosign, so
// the checks, the atomic state update and the equivocation records are
// those of Cosign; the handler only maps its results to the statuses the
// spec requires:
//
//	200  the body is the witness's cosignature line ("— <name> <base64>\n"),
//	     to be appended to the checkpoint's signature lines
//	400  the body is malformed (not "old N", base64 hashes, an empty line and
//	     a signed checkpoint), or old is larger than the checkpoint's size
//	403  the checkpoint has no valid signature by the key registered for its
//	     origin (signatures by other keys are ignored)
//	404  no key is registered for the checkpoint's origin (AddLog)
//	409  with Content-Type text/x.tlog.size and body "N\n": old is not N,
//	     the size the witness cosigned last for the log (0 if none); this is
//	     also the answer to a checkpoint smaller than N (a rollback)
//	409  with a text/plain body: the log key signed a checkpoint of the
//	     size the witness cosigned last with another root; both notes are
//	     kept in equivocation/ (whatever old says: the evidence comes
//	     before the request's other faults)
//	413  the body is larger than MaxRequestSize
//	422  the consistency proof does not verify
//	500  the witness's state or log key file could not be read or written;
//	     no cosignature is returned
//
// Non-POST requests to /add-checkpoint get 405. Error bodies are one line
// of text/plain for the operator of the log; they carry no secret and no
// local path. Each request is logged on log (nil logs nothing) with its
// origin, sizes, status and duration.
func NewHandler(w *Witness, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{w: w, log: log, now: time.Now}
	mux := http.NewServeMux()
	mux.Handle("POST "+AddCheckpointPath, h)
	return mux
}

type handler struct {
	w   *Witness
	log *slog.Logger
	now func() time.Time
}

func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := h.now()
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxRequestSize))
	var res result
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		res = result{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body exceeds %d bytes", MaxRequestSize), err: err}
	case err != nil:
		res = result{code: http.StatusBadRequest, msg: "reading the request body failed", err: err}
	default:
		res = h.addCheckpoint(body, start)
	}
	attrs := []any{
		slog.String("remote", r.RemoteAddr),
		slog.Int("status", res.code),
		slog.Duration("duration", h.now().Sub(start)),
	}
	if res.origin != "" {
		attrs = append(attrs, slog.String("origin", res.origin), slog.Int64("old", res.old), slog.Int64("size", res.size))
	}
	switch {
	case res.code == http.StatusOK:
		h.log.Info("add-checkpoint: cosigned", attrs...)
	case res.code >= 500:
		h.log.Error("add-checkpoint: failed", append(attrs, slog.Any("error", res.err))...)
	case errors.Is(res.err, verify.ErrEquivocation):
		h.log.Warn("add-checkpoint: log equivocation", append(attrs, slog.Any("error", res.err))...)
	default:
		h.log.Info("add-checkpoint: refused", append(attrs, slog.Any("error", res.err))...)
	}

	switch {
	case res.code == http.StatusOK:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.WriteHeader(http.StatusOK)
		rw.Write(res.body)
	case res.sizeBody:
		rw.Header().Set("Content-Type", SizeContentType)
		rw.WriteHeader(res.code)
		rw.Write(res.body)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		rw.WriteHeader(res.code)
		fmt.Fprintln(rw, strings.ReplaceAll(res.msg, "\n", " "))
	}
}

// A result is the outcome of one add-checkpoint request.
type result struct {
	code     int
	body     []byte // 200: cosignature lines; 409 with sizeBody: "N\n"
	sizeBody bool
	msg      string // error statuses: the response body
	err      error  // logged, not sent

	origin    string // when the request parsed
	old, size int64
}

// addCheckpoint runs Cosign on a request body and maps its outcome to the
// tlog-witness status codes.
func (h *handler) addCheckpoint(body []byte, now time.Time) result {
	var res result
	if err := checkRequest(body, &res); err != nil {
		res.code, res.msg, res.err = http.StatusBadRequest, err.Error(), err
		return res
	}
	out, err := h.w.Cosign(body, now)
	res.err = err
	// tlog-witness checks the signature (404, 403) before the sizes, and
	// old ≤ size (400) before old against the witness's state (409).
	// Cosign refuses old > size as a conflict or a rollback after checking
	// the signature: turning those into 400 here keeps the spec's order.
	var (
		conflict *ConflictError
		verr     *verify.Error
	)
	switch {
	case err == nil:
		lines, err := h.w.ownSignatures(out)
		if err != nil {
			res.code, res.msg, res.err = http.StatusInternalServerError, "internal error", err
			return res
		}
		res.code, res.body = http.StatusOK, lines
	case errors.Is(err, ErrUnknownLog):
		res.code, res.msg = http.StatusNotFound, err.Error()
	case errors.Is(err, verify.ErrEquivocation):
		res.code = http.StatusConflict
		res.msg = fmt.Sprintf("witness: the log key signed another checkpoint of size %d for origin %q, with another root, and this witness cosigned it; both are kept as a proof of equivocation", res.size, res.origin)
	case (errors.As(err, &conflict) || errors.Is(err, ErrRollback)) && res.old > res.size:
		res.code = http.StatusBadRequest
		res.msg = fmt.Sprintf("old size %d is larger than the checkpoint's size %d", res.old, res.size)
		res.err = errors.New(res.msg)
	case errors.As(err, &conflict):
		res.code, res.sizeBody, res.body = http.StatusConflict, true, fmt.Appendf(nil, "%d\n", conflict.StateSize)
	case errors.Is(err, ErrRollback):
		// old ≤ size < the witness's size: old is not the witness's size.
		n, serr := h.w.latestSize(res.origin)
		if serr != nil {
			res.code, res.msg, res.err = http.StatusInternalServerError, "internal error", errors.Join(err, serr)
			return res
		}
		res.code, res.sizeBody, res.body = http.StatusConflict, true, fmt.Appendf(nil, "%d\n", n)
	case errors.Is(err, ErrBadProof):
		res.code, res.msg = http.StatusUnprocessableEntity, err.Error()
	case errors.As(err, &verr) && verr.Check == "checkpoint signature":
		res.code, res.msg = http.StatusForbidden, err.Error()
	default:
		res.code, res.msg = http.StatusInternalServerError, "internal error"
	}
	return res
}

// checkRequest parses an add-checkpoint body as Cosign will, without
// checking signatures, and records its origin and sizes in res. A body
// it accepts parses in Cosign too, so a *ledger.ParseError from Cosign
// after it is about the witness's own files (500), not the request.
func checkRequest(body []byte, res *result) error {
	p, err := ledger.ParseConsistencyProof(body)
	if err != nil {
		return err
	}
	if len(p.Checkpoint) > ledger.MaxCheckpointSize {
		return &ledger.ParseError{What: "checkpoint", Msg: fmt.Sprintf("%d bytes exceeds the %d-byte cap", len(p.Checkpoint), ledger.MaxCheckpointSize)}
	}
	if _, err := noteOrigin(p.Checkpoint); err != nil {
		return err
	}
	c, err := noteCheckpoint(p.Checkpoint)
	if err != nil {
		return err
	}
	res.origin, res.old, res.size = c.Origin, p.Old, c.Size
	return nil
}

// ownSignatures returns the signature lines of w's key in a note Cosign
// returned: the one it just added (note.Sign replaces an earlier one of
// the same key).
func (w *Witness) ownSignatures(cosigned []byte) ([]byte, error) {
	i := bytes.LastIndex(cosigned, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("witness: cosigned note has no signatures")
	}
	var out []byte
	for line := range bytes.Lines(cosigned[i+2:]) {
		name, sig, ok := strings.Cut(strings.TrimPrefix(strings.TrimSuffix(string(line), "\n"), "— "), " ")
		if !ok || name != w.verifier.Name() {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && len(raw) >= 4 && binary.BigEndian.Uint32(raw) == w.verifier.KeyHash() {
			out = append(out, line...)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("witness: cosigned note has no signature of the witness's key")
	}
	return out, nil
}

// latestSize returns the size of the checkpoint w cosigned last for
// origin, or 0 if none.
func (w *Witness) latestSize(origin string) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := ledger.ReadFileCapped(w.originPath(stateDir, origin, ".checkpoint"), ledger.MaxCheckpointSize)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	logV, err := w.logKey(origin)
	if err != nil {
		return 0, err
	}
	c, err := verify.Checkpoint(b, logV)
	if err != nil {
		return 0, fmt.Errorf("witness: state of origin %q does not verify with the log key: %w", origin, err)
	}
	return c.Size, nil
}

// noteCheckpoint parses the checkpoint in a signed note without checking
// any signature.
func noteCheckpoint(signed []byte) (ledger.Checkpoint, error) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return ledger.Checkpoint{}, &ledger.ParseError{What: "checkpoint", Msg: "not a signed note"}
	}
	return ledger.ParseCheckpoint(signed[:i+1])
}
