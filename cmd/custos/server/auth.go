package server

// Request authentication for private reads (and, for rate limiting, for
// submissions). A party signs each request with its current key:
//
//	Custos-Party:     cert-ua
//	Custos-Date:      2026-11-26T10:00:00Z
//	Custos-Signature: sha256:5d4e... MEUCIQ...
//
// The signature (custody.PrivateKey.SignMessage, base64) is over
//
//	"custos-http-auth/v1\n" + METHOD + "\n" + path?query + "\n" + date + "\n" + party + "\n"
//
// where path?query is the request target as sent on the request line. The
// server checks it with the party's current key, as the custody index has
// it now (a revoked or rotated-out key fails), and a date within MaxSkew
// of its clock. The context string keeps these signatures apart from DSSE
// envelope signatures by the same key (custody.MessageContextPrefix).
//
// A captured header can be replayed for MaxSkew against the same URL; the
// reads it unlocks are what that party could read, and TLS keeps headers
// from being captured.

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/custos-ledger/custos/custody"
)

// Header names and the signed context string.
const (
	HeaderParty     = "Custos-Party"
	HeaderDate      = "Custos-Date"
	HeaderSignature = "Custos-Signature"
	authContext     = "custos-http-auth/v1\n"
	authScheme      = "Custos-Signature"
)

// MaxSkew is how far a request's date may be from the server's clock.
const MaxSkew = 5 * time.Minute

// AuthMessage returns the bytes a party signs for a request.
func AuthMessage(method, target, date, party string) []byte {
	return []byte(authContext + method + "\n" + target + "\n" + date + "\n" + party + "\n")
}

// SignRequest signs req as party with key, dated now, setting the three
// Custos-* headers. Sign after the URL is final.
func SignRequest(req *http.Request, party string, key *custody.PrivateKey) error {
	return signRequestAt(req, party, key, time.Now())
}

func signRequestAt(req *http.Request, party string, key *custody.PrivateKey, now time.Time) error {
	return (&RequestSigner{Party: party, Key: key}).signAt(req, now)
}

// A RequestSigner signs requests as SignRequest does, but reuses its last
// signature for a request with the same method, target and date (dates
// have whole seconds): a client submitting many entries signs about once
// a second, and the server, which remembers signatures it verified, checks
// each once. A reused signature is no more than the replay that MaxSkew
// already allows. It is safe for concurrent use.
type RequestSigner struct {
	Party string
	Key   *custody.PrivateKey

	mu   sync.Mutex
	last string // the message signed last
	hdr  string // its Custos-Signature value
}

// Sign signs req, dated now.
func (s *RequestSigner) Sign(req *http.Request) error { return s.signAt(req, time.Now()) }

func (s *RequestSigner) signAt(req *http.Request, now time.Time) error {
	date := now.UTC().Format(time.RFC3339)
	msg := AuthMessage(req.Method, req.URL.RequestURI(), date, s.Party)
	s.mu.Lock()
	hdr := ""
	if s.last == string(msg) {
		hdr = s.hdr
	}
	s.mu.Unlock()
	if hdr == "" {
		sig, err := s.Key.SignMessage(msg)
		if err != nil {
			return err
		}
		hdr = s.Key.Public().KeyID() + " " + base64.StdEncoding.EncodeToString(sig)
		s.mu.Lock()
		s.last, s.hdr = string(msg), hdr
		s.mu.Unlock()
	}
	req.Header.Set(HeaderParty, s.Party)
	req.Header.Set(HeaderDate, date)
	req.Header.Set(HeaderSignature, hdr)
	return nil
}

// authenticate checks r's Custos-* headers. It returns "" and no error for
// a request without them, the party for one that verifies, and an error
// saying why otherwise (the error is shown to the client: it names no key
// material).
func (s *Server) authenticate(r *http.Request) (string, error) {
	party, date, sigHdr := r.Header.Get(HeaderParty), r.Header.Get(HeaderDate), r.Header.Get(HeaderSignature)
	if party == "" && date == "" && sigHdr == "" {
		return "", nil
	}
	fail := func(format string, args ...any) (string, error) {
		s.metrics.authFailures.Add(1)
		return "", fmt.Errorf("authentication failed: "+format, args...)
	}
	if party == "" || date == "" || sigHdr == "" || len(party) > 256 || len(sigHdr) > 1024 {
		return fail("want all three of %s, %s and %s", HeaderParty, HeaderDate, HeaderSignature)
	}
	t, err := time.Parse(time.RFC3339, date)
	if err != nil || !strings.HasSuffix(date, "Z") {
		return fail("%s must be RFC 3339 in UTC, e.g. 2026-11-26T10:00:00Z", HeaderDate)
	}
	if d := s.now().Sub(t); d > MaxSkew || d < -MaxSkew {
		return fail("%s is %s from the server's clock (at most %s)", HeaderDate, d.Round(time.Second), MaxSkew)
	}
	keyID, b64, ok := strings.Cut(sigHdr, " ")
	if !ok {
		return fail("%s must be \"<key id> <base64 signature>\"", HeaderSignature)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return fail("signature is not base64")
	}
	p, err := custody.Party(s.log.Index(), party)
	if err != nil {
		return "", errors.New("authentication unavailable: reading the custody index")
	}
	if p == nil {
		return fail("party %q is not enrolled", party)
	}
	if p.Current != keyID {
		return fail("key %s is not the current key of party %q", keyID, party)
	}
	var rec *custody.KeyRecord
	for i := range p.Keys {
		if p.Keys[i].ID == keyID {
			rec = &p.Keys[i]
		}
	}
	// Judged as of the next index, as the ledger judges the next entry.
	if rec == nil || !rec.ActiveAt(s.log.Size()) {
		return fail("key %s of party %q is revoked", keyID, party)
	}
	msg := AuthMessage(r.Method, r.RequestURI, date, party)
	if s.seen.has(keyID, msg, sig) {
		return party, nil
	}
	pub, err := s.keys.get(rec)
	if err != nil {
		return fail("key %s of party %q does not parse", keyID, party)
	}
	if err := pub.VerifyMessage(msg, sig); err != nil {
		return fail("signature by key %s does not verify for %s %s", keyID, r.Method, r.URL.Path)
	}
	s.seen.add(keyID, msg, sig, t.Add(MaxSkew))
	return party, nil
}

// seenSigs remembers request signatures that verified, until their date
// leaves MaxSkew: verifying the same (key, message, signature) again would
// give the same answer. The key's state (current, not revoked) is checked
// on every request all the same.
type seenSigs struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time // until
}

const seenMax = 1 << 16

func seenKey(keyID string, msg, sig []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write(msg)
	h.Write(sig)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *seenSigs) has(keyID string, msg, sig []byte) bool {
	k := seenKey(keyID, msg, sig)
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.m[k]
	return ok && time.Now().Before(until)
}

func (c *seenSigs) add(keyID string, msg, sig []byte, until time.Time) {
	k := seenKey(keyID, msg, sig)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= seenMax {
		now := time.Now()
		for k, u := range c.m {
			if now.After(u) {
				delete(c.m, k)
			}
		}
		if c.m == nil || len(c.m) >= seenMax {
			c.m = map[[32]byte]time.Time{}
		}
	}
	c.m[k] = until
}

// keyCache holds parsed party keys by key id (the hash of the key, so an
// id names one key forever).
type keyCache struct {
	mu sync.Mutex
	m  map[string]*custody.PublicKey
}

func (c *keyCache) get(rec *custody.KeyRecord) (*custody.PublicKey, error) {
	c.mu.Lock()
	k, ok := c.m[rec.ID]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := custody.ParsePublicKey([]byte(rec.PEM))
	if err != nil {
		return nil, err
	}
	if k.KeyID() != rec.ID {
		return nil, fmt.Errorf("key record %s holds key %s", rec.ID, k.KeyID())
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[string]*custody.PublicKey{}
	}
	c.m[rec.ID] = k
	c.mu.Unlock()
	return k, nil
}

// remoteHost is the client's address without its port.
func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
