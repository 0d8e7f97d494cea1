package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/cmd/custos/server"
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

// serverFlag() makes a signing command remote: the statement is built from
// the server's custody state and signed here (the key never leaves this
// machine), and the envelope is submitted to the server, which appends it
// through the same custody checks as a local append.
var serverFlag = func() cli.Flag {
	return &cli.StringFlag{Name: "server", Usage: "submit to a custos server (https://HOST:PORT) instead of a local --ledger; the key stays here " +
		"(a server certificate from a private CA: SSL_CERT_FILE=ca.pem)", EnvVars: []string{"CUSTOS_SERVER"}}
}

// remoteTimeout bounds one request to the server.
const remoteTimeout = 2 * time.Minute

// maxRemoteAnswer caps what the CLI reads of one answer (a custody state
// listing of at most 10 000 records).
const maxRemoteAnswer = 64 << 20

// remote is a custos server as a party sees it: every request is signed
// with the party's key (server.SignRequest). It is a ledger.IndexReader
// over the server's custody state, so the commands build their statements
// from it exactly as from a local ledger.
type remote struct {
	base   string
	party  string
	key    *custody.PrivateKey
	client *http.Client
}

func newRemote(a *actor) (*remote, error) {
	u, err := url.Parse(a.server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, usagef("--server %q: want https://HOST[:PORT]", a.server)
	}
	return &remote{base: strings.TrimSuffix(a.server, "/"), party: a.party, key: a.key,
		client: &http.Client{Timeout: remoteTimeout}}, nil
}

// do sends a signed request and returns the status and the body.
func (r *remote) do(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, r.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.party != "" {
		if err := server.SignRequest(req, r.party, r.key); err != nil {
			return 0, nil, err
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("custos server: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteAnswer+1))
	if err != nil {
		return 0, nil, fmt.Errorf("custos server: reading the answer: %w", err)
	}
	if len(b) > maxRemoteAnswer {
		return 0, nil, fmt.Errorf("custos server: answer exceeds %d bytes", maxRemoteAnswer)
	}
	return resp.StatusCode, b, nil
}

// Get reads one custody record.
func (r *remote) Get(key string) ([]byte, bool, error) {
	code, b, err := r.do(http.MethodGet, "/custos/v1/state?key="+url.QueryEscape(key), nil)
	switch {
	case err != nil:
		return nil, false, err
	case code == http.StatusNotFound:
		return nil, false, nil
	case code != http.StatusOK:
		return nil, false, answerError(code, b)
	}
	return b, true, nil
}

// Scan lists the custody records under prefix.
func (r *remote) Scan(prefix string, fn func(key string, value []byte) error) error {
	code, b, err := r.do(http.MethodGet, "/custos/v1/state?prefix="+url.QueryEscape(prefix), nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return answerError(code, b)
	}
	var recs []server.StateRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return fmt.Errorf("custos server: custody state listing: %w", err)
	}
	for _, rec := range recs {
		if !strings.HasPrefix(rec.Key, prefix) {
			return fmt.Errorf("custos server: record %q listed under prefix %q", rec.Key, prefix)
		}
		if err := fn(rec.Key, rec.Value); err != nil {
			return err
		}
	}
	return nil
}

// submit posts an envelope. A resubmission of an envelope already in the
// log answers with its index, as the first submission did.
func (r *remote) submit(env []byte) (*server.Appended, error) {
	code, b, err := r.do(http.MethodPost, "/custos/v1/entries", env)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, answerError(code, b)
	}
	var a server.Appended
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("custos server: answer to a submission: %w", err)
	}
	return &a, nil
}

// A remoteError is the server's refusal. It unwraps to what the same
// refusal is locally (a *custody.RuleError, a *custody.ParseError), so the
// exit code is the same as for a local append.
type remoteError struct {
	status int
	ref    server.Refusal
	cause  error
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("custos server refused (%d %s): %s", e.status, http.StatusText(e.status), e.ref.Error)
}

func (e *remoteError) Unwrap() error { return e.cause }

func answerError(code int, body []byte) error {
	e := &remoteError{status: code}
	if err := json.Unmarshal(body, &e.ref); err != nil || e.ref.Error == "" {
		e.ref.Error = fmt.Sprintf("%.200q", body)
	}
	switch {
	case code == http.StatusUnprocessableEntity && e.ref.Rule == "signature":
		e.cause = &custody.SignatureError{KeyID: e.ref.KeyID, Err: errors.New(e.ref.Error)}
	case code == http.StatusUnprocessableEntity && e.ref.Rule == "duplicate-artifact":
		idx := int64(-1)
		if e.ref.Index != nil {
			idx = *e.ref.Index
		}
		e.cause = &custody.DuplicateError{Exhibit: e.ref.Exhibit, Index: idx}
	case code == http.StatusUnprocessableEntity:
		e.cause = &custody.RuleError{Rule: e.ref.Rule, Exhibit: e.ref.Exhibit, Holder: e.ref.Holder, Party: e.ref.Party, Msg: e.ref.Error}
	case code == http.StatusBadRequest, code == http.StatusRequestEntityTooLarge:
		e.cause = &custody.ParseError{What: "submission", Field: e.ref.Field, Err: errors.New(e.ref.Error)}
	case code == http.StatusUnauthorized:
		e.cause = &usageError{"the server did not accept your key for --as " + strconv.Quote(e.ref.Party) + ": " + e.ref.Error}
	}
	return e
}

// appendRemote is appendSigned against a server: it checks that a's key
// is its party's current key, builds the statement from the server's
// custody state, signs here, and submits.
func (e *env) appendRemote(a *actor, build func(v ledger.IndexReader) ([]byte, error), extra ...*custody.PrivateKey) (*appended, error) {
	r, err := newRemote(a)
	if err != nil {
		return nil, err
	}
	if err := checkCurrentKey(r, a); err != nil {
		return nil, err
	}
	stmt, err := build(r)
	if err != nil {
		return nil, err
	}
	env, err := custody.SignStatementMulti(stmt, append([]*custody.PrivateKey{a.key}, extra...)...)
	if err != nil {
		return nil, err
	}
	res, err := r.submit(env)
	if err != nil {
		return nil, err
	}
	return &appended{Index: res.Index, LeafHash: res.LeafHash, Party: a.party, KeyID: a.key.Public().KeyID(), Size: res.Size}, nil
}

func checkCurrentKey(v ledger.IndexReader, a *actor) error {
	if a.party == "" {
		return nil
	}
	p, err := partyOf(v, a.party)
	if err != nil {
		return err
	}
	if id := a.key.Public().KeyID(); p.Current != id {
		return usagef("key %s is not the current key of party %s (current: %s)", id, a.party, p.Current)
	}
	return nil
}

// indexFor returns the custody state a command reads before it signs:
// the server's with --server, else the local ledger's (opened for reading;
// call done when finished).
func (e *env) indexFor(d ledgerDir, a *actor) (v ledger.IndexReader, done func(), err error) {
	if a.server != "" {
		r, err := newRemote(a)
		if err != nil {
			return nil, nil, err
		}
		return r, func() {}, nil
	}
	l, err := d.openRead()
	if err != nil {
		return nil, nil, err
	}
	return l.Index(), func() { l.Close() }, nil
}
