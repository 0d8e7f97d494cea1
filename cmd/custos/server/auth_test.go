package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAnonymousGetsOnlyPublicData: every private endpoint answers an
// anonymous client 401 with an error and nothing of the ledger's content;
// the public ones answer.
func TestAnonymousGetsOnlyPublicData(t *testing.T) {
	f := newFixture(t, Config{})
	f.appendOK(f.acquireEnv("cert", "SECRET-EXHIBIT-42"))
	for _, path := range []string{
		"/tile/entries/000.p/5",
		"/custos/v1/exhibits/SECRET-EXHIBIT-42/history",
		"/custos/v1/status",
		"/custos/v1/state?key=e/SECRET-EXHIBIT-42",
		"/custos/v1/state?prefix=e/",
	} {
		resp, body := f.do(http.MethodGet, path, "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s = %d, want 401", path, resp.StatusCode)
		}
		var r Refusal
		if err := json.Unmarshal(body, &r); err != nil || r.Error == "" || r.Rule != "" || r.Exhibit != "" {
			t.Errorf("anonymous GET %s body = %q, want only an error", path, body)
		}
		if strings.Contains(string(body), "SECRET") || strings.Contains(string(body), "laptop") {
			t.Errorf("anonymous GET %s leaks content: %q", path, body)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("anonymous GET %s: no WWW-Authenticate", path)
		}
		// The same, signed by a party, is served.
		resp, body = f.do(http.MethodGet, path, "lab", nil)
		mustStatus(t, "GET "+path+" as lab", resp.StatusCode, http.StatusOK, body)
	}
	for _, path := range []string{"/checkpoint", "/tile/0/000.p/5", "/custos/v1/proof/inclusion?index=4", "/custos/v1/proof/consistency?from=2", "/metrics", "/"} {
		resp, body := f.do(http.MethodGet, path, "", nil)
		mustStatus(t, "anonymous GET "+path, resp.StatusCode, http.StatusOK, body)
		if strings.Contains(string(body), "SECRET-EXHIBIT") {
			t.Errorf("public GET %s shows an exhibit name", path)
		}
	}
}

// TestAuthenticationFailures: a signature that does not match the request,
// the party, the key or the clock gets 401.
func TestAuthenticationFailures(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	f := newFixture(t, Config{Now: func() time.Time { return now }})
	get := func(name string, mutate func(*http.Request), want int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/custos/v1/status", nil)
		if err := signRequestAt(req, "lab", f.parties["lab"], now); err != nil {
			t.Fatal(err)
		}
		mutate(req)
		resp, err := f.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: GET status = %d, want %d", name, resp.StatusCode, want)
		}
	}
	get("as signed", func(*http.Request) {}, http.StatusOK)
	get("another path", func(r *http.Request) { r.URL.RawQuery = "x=1" }, http.StatusUnauthorized)
	get("another party", func(r *http.Request) { r.Header.Set(HeaderParty, "cert") }, http.StatusUnauthorized)
	get("unknown party", func(r *http.Request) { r.Header.Set(HeaderParty, "nobody") }, http.StatusUnauthorized)
	get("another date", func(r *http.Request) { r.Header.Set(HeaderDate, now.Add(time.Second).Format(time.RFC3339)) }, http.StatusUnauthorized)
	get("missing signature", func(r *http.Request) { r.Header.Del(HeaderSignature) }, http.StatusUnauthorized)
	get("garbage signature", func(r *http.Request) { r.Header.Set(HeaderSignature, "sha256:00 !!!") }, http.StatusUnauthorized)
	get("another method", func(r *http.Request) { r.Method = http.MethodHead }, http.StatusUnauthorized)
	for _, skew := range []time.Duration{-6 * time.Minute, 6 * time.Minute} {
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/custos/v1/status", nil)
		signRequestAt(req, "lab", f.parties["lab"], now.Add(skew))
		resp, _ := f.http.Client().Do(req)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET status dated %v from the server's clock = %d, want 401", skew, resp.StatusCode)
		}
	}
	// A stranger's key signing as lab.
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/custos/v1/status", nil)
	signRequestAt(req, "lab", f.stranger, now)
	resp, _ := f.http.Client().Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET status signed by a stranger's key as lab = %d, want 401", resp.StatusCode)
	}
}

// TestRequestSignerReuse: a RequestSigner signs once per second for the
// same request; the server remembers the verified signature, yet a key
// revoked since is refused even with a signature it verified before.
func TestRequestSignerReuse(t *testing.T) {
	f := newFixture(t, Config{})
	s := &RequestSigner{Party: "outsider", Key: f.parties["outsider"]}
	now := time.Now()
	get := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/custos/v1/status", nil)
		if err := s.signAt(req, now); err != nil {
			t.Fatal(err)
		}
		resp, err := f.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, req.Header.Get(HeaderSignature)
	}
	code1, sig1 := get()
	code2, sig2 := get()
	if code1 != http.StatusOK || code2 != http.StatusOK || sig1 != sig2 {
		t.Fatalf("two requests in one second = %d, %d, same signature %v; want 200, 200, true", code1, code2, sig1 == sig2)
	}
	f.appendOK(f.revokeEnv("outsider"))
	if code, sig := get(); code != http.StatusUnauthorized || sig != sig1 {
		t.Errorf("the remembered signature after its key was revoked = %d (same signature %v), want 401", code, sig == sig1)
	}
}

// TestLogsHoldNoSecrets: the request log names neither exhibits nor
// signatures, whatever the requests carried.
func TestLogsHoldNoSecrets(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	f := newFixture(t, Config{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))})
	f.appendOK(f.acquireEnv("cert", "SECRET-EXHIBIT-7"))
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/custos/v1/exhibits/SECRET-EXHIBIT-7/history", nil)
	SignRequest(req, "lab", f.parties["lab"])
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.do(http.MethodGet, "/custos/v1/state?key=e/SECRET-EXHIBIT-7", "lab", nil)
	f.submit("cert", f.acquireEnv("cert", "SECRET-EXHIBIT-8"))
	mu.Lock()
	defer mu.Unlock()
	sig := req.Header.Get(HeaderSignature)
	_, b64, _ := strings.Cut(sig, " ")
	for _, secret := range []string{"SECRET-EXHIBIT", b64, "laptop of the suspect"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"client":"party:lab"`) {
		t.Errorf("the log does not say who asked:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
