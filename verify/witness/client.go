package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// ErrLogSignature is wrapped in the *ResponseError that AddCheckpoint
// returns when the witness answers 403: the checkpoint carries no valid
// signature by the key the witness has for its origin. Check with
// errors.Is.
var ErrLogSignature = errors.New("witness: the checkpoint has no valid signature by the log key the witness knows")

// maxResponseSize caps the response body AddCheckpoint reads: a few
// signature lines, or a size.
const maxResponseSize = 64 << 10

// A ResponseError is returned by AddCheckpoint when the witness refuses the
// checkpoint with a status other than a 409 that carries its size (that is
// a *ConflictError). It wraps, for errors.Is:
//
//	403  ErrLogSignature: the witness does not accept the log's signature
//	404  ErrUnknownLog: the witness has no key for the origin (or the URL
//	     is not a witness's submission prefix)
//	409  verify.ErrEquivocation: the witness cosigned a checkpoint of this
//	     size with another root; the log key has signed two trees, or the
//	     witness is wrong. The witness's word only: it sends no proof.
//	422  ErrBadProof: the consistency proof does not verify
//
// and nothing for other statuses (400 malformed request, 413 too large,
// 5xx the witness failed).
type ResponseError struct {
	URL        string // the add-checkpoint URL
	StatusCode int
	// Msg is the start of the response body (at most 256 bytes, one
	// line), as the witness wrote it: for people, not to be parsed.
	Msg string
}

func (e *ResponseError) Error() string {
	s := fmt.Sprintf("witness %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns the sentinel error of the status, or nil.
func (e *ResponseError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusForbidden:
		return ErrLogSignature
	case http.StatusNotFound:
		return ErrUnknownLog
	case http.StatusConflict:
		return verify.ErrEquivocation
	case http.StatusUnprocessableEntity:
		return ErrBadProof
	}
	return nil
}

// AddCheckpoint asks the C2SP tlog-witness at baseURL (its submission
// prefix; AddCheckpointPath is appended) to cosign signedCheckpoint, given
// the RFC 6962 consistency proof from oldSize, the size of the checkpoint
// the witness cosigned last for the log (0 the first time, with an empty
// proof). It returns the witness's cosignature lines, each "— <name>
// <base64>\n": append them to the checkpoint's signature lines and verify
// them with the witness keys of the trust policy (a witness may send lines
// of keys the caller does not know; ignore those).
//
// Errors:
//
//   - *ConflictError (409): oldSize is not the witness's size. StateSize
//     is the size the witness reports; call again with a proof from
//     StateSize (if StateSize is larger than the checkpoint's size, the
//     witness has cosigned a larger tree of this log than the caller
//     holds: the caller is behind, or the log was rolled back).
//   - *ResponseError: the witness refused the request (see its doc for
//     the sentinels it wraps).
//   - *ledger.ParseError: the witness answered 200 with a body that is not
//     signature lines.
//   - anything else is a transport error (a *url.Error, the context's
//     error): the witness may or may not have cosigned. Calling again is
//     safe: it answers 409 with the new size if it did, and cosigns the
//     same checkpoint again given the empty proof from that size.
//
// A ledger server calls AddCheckpoint for each witness of its trust policy
// after it signs a checkpoint, keeps per witness the size of the last
// checkpoint the witness cosigned (starting from 0, or learning it from a
// *ConflictError), and stops once the policy's quorum of valid
// cosignatures is met. c may be nil (http.DefaultClient); give it a
// timeout, or give ctx a deadline.
func AddCheckpoint(ctx context.Context, c *http.Client, baseURL string, oldSize int64, proof []ledger.Hash, signedCheckpoint []byte) (cosignedLines []byte, err error) {
	if c == nil {
		c = http.DefaultClient
	}
	if oldSize < 0 {
		return nil, fmt.Errorf("witness: add-checkpoint with a negative old size %d", oldSize)
	}
	if len(proof) > ledger.MaxProofHashes {
		return nil, fmt.Errorf("witness: add-checkpoint with %d proof hashes; tlog-witness allows at most %d", len(proof), ledger.MaxProofHashes)
	}
	body := (&ledger.ConsistencyProof{Old: oldSize, Path: proof, Checkpoint: signedCheckpoint}).Marshal()
	if len(body) > MaxRequestSize {
		return nil, fmt.Errorf("witness: add-checkpoint request of %d bytes exceeds the %d-byte cap", len(body), MaxRequestSize)
	}
	u, err := url.JoinPath(baseURL, AddCheckpointPath)
	if err != nil {
		return nil, fmt.Errorf("witness: base URL %q: %w", baseURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness add-checkpoint: %w", err)
	}
	defer resp.Body.Close()
	// A redirect answered with 301, 302 or 303 turns the POST into a GET;
	// its answer is not the witness's.
	if resp.Request.Method != http.MethodPost {
		return nil, fmt.Errorf("witness add-checkpoint: POST %s was redirected to %s %s", u, resp.Request.Method, resp.Request.URL)
	}
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("witness add-checkpoint %s: reading the response: %w", u, err)
	}
	if len(respBody) > maxResponseSize {
		return nil, &ledger.ParseError{What: "witness response", Msg: fmt.Sprintf("more than %d bytes", maxResponseSize)}
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := checkSignatureLines(respBody); err != nil {
			return nil, err
		}
		return respBody, nil
	case resp.StatusCode == http.StatusConflict && mediaType == SizeContentType:
		n, err := parseSize(respBody)
		if err != nil {
			return nil, err
		}
		origin, _, _ := strings.Cut(string(signedCheckpoint), "\n")
		return nil, &ConflictError{Origin: origin, Old: oldSize, StateSize: n}
	}
	msg, _, _ := strings.Cut(string(respBody[:min(len(respBody), 256)]), "\n")
	return nil, &ResponseError{URL: u, StatusCode: resp.StatusCode, Msg: printable(msg)}
}

// checkSignatureLines requires b to be one or more note signature lines
// (https://c2sp.org/signed-note): "— ", a name, a space, base64, newline.
func checkSignatureLines(b []byte) error {
	bad := func(format string, args ...any) error {
		return &ledger.ParseError{What: "witness response", Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return bad("want signature lines, each ending in a newline")
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		rest, ok := strings.CutPrefix(line, "— ")
		name, sig, ok2 := strings.Cut(strings.TrimSuffix(rest, "\n"), " ")
		if !ok || !ok2 || name == "" || strings.ContainsAny(name, " +\t") || sig == "" || strings.Contains(sig, " ") {
			return bad("line %d is not a note signature line", n)
		}
	}
	return nil
}

// parseSize parses a text/x.tlog.size body: a decimal size and a newline.
func parseSize(b []byte) (int64, error) {
	s, ok := strings.CutSuffix(string(b), "\n")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, &ledger.ParseError{What: "witness response", Field: "size", Msg: fmt.Sprintf("409 body %q is not a size and a newline", b[:min(len(b), 32)])}
	}
	return n, nil
}

// printable returns s with invalid UTF-8 and control characters replaced,
// so that a witness's message cannot drive a terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
