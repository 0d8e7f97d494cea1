package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/custos-ledger/custos/custody"
)

// TestAbuse: every bad submission gets a clear HTTP error and appends
// nothing.
func TestAbuse(t *testing.T) {
	f := newFixture(t, Config{})
	good := f.acquireEnv("cert", "EX-1")
	f.appendOK(f.revokeEnv("outsider"))
	noncanonical := bytes.Replace(good, []byte(`{"payloadType"`), []byte(`{ "payloadType"`), 1)
	for _, tc := range []struct {
		name string
		body []byte
		code int
		rule string
	}{
		{"oversize", bytes.Repeat([]byte("a"), custody.MaxEnvelopeSize+1), http.StatusRequestEntityTooLarge, ""},
		{"empty", nil, http.StatusBadRequest, ""},
		{"not JSON", []byte("hello"), http.StatusBadRequest, ""},
		{"not canonical", noncanonical, http.StatusBadRequest, ""},
		{"truncated", good[:len(good)-2], http.StatusBadRequest, ""},
		{"unenrolled key", f.sign(mustStatement(t, "EX-2"), f.stranger), http.StatusUnprocessableEntity, "not-enrolled"},
		{"revoked key", f.sign(mustStatement(t, "EX-3"), f.parties["outsider"]), http.StatusUnprocessableEntity, "key-revoked"},
		{"forged signature", forge(good), http.StatusUnprocessableEntity, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := f.log.Size()
			code, _, r := f.submit("", tc.body)
			if code != tc.code || r.Rule != tc.rule || r.Error == "" {
				t.Errorf("POST %s = %d %+v, want %d rule %q with an error message", tc.name, code, r, tc.code, tc.rule)
			}
			if f.log.Size() != size {
				t.Errorf("size after POST %s = %d, want %d", tc.name, f.log.Size(), size)
			}
		})
	}

	// An oversize body sent chunked (no Content-Length) is cut at the cap.
	size := f.log.Size()
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/custos/v1/entries", io.MultiReader(strings.NewReader(`{"payloadType":"`), &endless{}))
	req.ContentLength = -1
	// The server answers 413 and closes the connection while the client
	// is still writing; the client may see the answer or the reset.
	if resp, err := f.http.Client().Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked endless body = %d, want 413", resp.StatusCode)
		}
	}
	if f.log.Size() != size {
		t.Errorf("size after a chunked endless body = %d, want %d", f.log.Size(), size)
	}

	// The revoked party cannot authenticate either.
	resp, body := f.do(http.MethodGet, "/custos/v1/status", "outsider", nil)
	mustStatus(t, "GET status with a revoked key", resp.StatusCode, http.StatusUnauthorized, body)
}

func mustStatement(t *testing.T, id string) []byte {
	t.Helper()
	stmt, err := custody.NewStatement(custody.PredicateAcquire, custody.Subject{Name: id, Digest: digestOf(id)}, custody.Acquire{
		Exhibit: id, Size: int64(len(id)), Source: "s", Method: "dd"})
	if err != nil {
		t.Fatal(err)
	}
	return stmt
}

// forge flips a bit of the envelope's signature, keeping it canonical.
func forge(env []byte) []byte {
	e, err := custody.ParseEnvelope(env)
	if err != nil {
		panic(err)
	}
	e.Signatures[0].Sig[5] ^= 1
	return e.Marshal()
}

type endless struct{}

func (*endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// TestSlowloris: a client that sends its headers slowly is cut off at
// ReadHeaderTimeout, on a real listener with the server's http.Server.
func TestSlowloris(t *testing.T) {
	f := newFixture(t, Config{})
	hs := f.srv.HTTPServer("127.0.0.1:0")
	hs.ReadHeaderTimeout = 300 * time.Millisecond // the test's; the default is ReadHeaderTimeout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte("GET /checkpoint HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// Trickle a header byte every 100 ms, never finishing.
	closed := make(chan time.Duration, 1)
	go func() {
		for i := 0; ; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte("X")); err != nil {
				closed <- time.Since(start)
				return
			}
			if i > 50 {
				closed <- 0
				return
			}
		}
	}()
	// The server answers 408 or just closes; either way the read ends.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, rerr := bufio.NewReader(conn).ReadString(0)
	var ne net.Error
	if errors.As(rerr, &ne) && ne.Timeout() {
		t.Fatalf("the server kept a slow-header connection open for 5 s")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow-header connection ended after %v, want about %v", d, hs.ReadHeaderTimeout)
	}
	// A normal request on another connection is served meanwhile.
	resp, err := http.Get("http://" + ln.Addr().String() + "/checkpoint")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /checkpoint next to the slow client = %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestRateLimit: a flood from one party is limited; another party, and
// an anonymous client, still get through.
func TestRateLimit(t *testing.T) {
	// Half a token a second: even a slow machine (-race, loaded CI) sends
	// the flood faster than that.
	f := newFixture(t, Config{Rate: 0.5, Burst: 5})
	limited := 0
	for range 30 {
		resp, _ := f.do(http.MethodGet, "/custos/v1/status", "lab", nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited < 15 {
		t.Errorf("flood of 30 requests: %d limited, want at least 15 at 0.5/s burst 5", limited)
	}
	resp, body := f.do(http.MethodGet, "/custos/v1/status", "cert", nil)
	mustStatus(t, "GET status as cert during lab's flood", resp.StatusCode, http.StatusOK, body)
	code, _, r := f.submit("cert", f.acquireEnv("cert", "EX-during-flood"))
	if code != http.StatusOK {
		t.Errorf("cert's submission during lab's flood = %d %+v, want 200", code, r)
	}
	resp, body = f.do(http.MethodGet, "/checkpoint", "", nil)
	mustStatus(t, "GET /checkpoint anonymously during lab's flood", resp.StatusCode, http.StatusOK, body)
	_, body = f.do(http.MethodGet, "/metrics", "", nil)
	if !strings.Contains(string(body), "custos_rate_limited_total ") {
		t.Errorf("/metrics = %.300s, want custos_rate_limited_total", body)
	}

	// A forger: signatures that fail are answered 401, then 429 without
	// being checked; anonymous reads from the same address still pass.
	var codes []int
	for range 12 {
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/custos/v1/status", nil)
		SignRequest(req, "lab", f.stranger)
		resp, err := f.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != http.StatusUnauthorized || codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("forged requests answered %v, want 401 first and 429 last", codes)
	}
	resp, body = f.do(http.MethodGet, "/checkpoint", "", nil)
	mustStatus(t, "GET /checkpoint anonymously next to a forger", resp.StatusCode, http.StatusOK, body)
}
