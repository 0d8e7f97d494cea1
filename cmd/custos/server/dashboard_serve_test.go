package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestServedDashboard: custos serve's GET / is the dashboard, filled from
// the ledger: its checkpoint size and counts for everyone, the exhibits only
// for an authenticated party.
func TestServedDashboard(t *testing.T) {
	f := newFixture(t, Config{})
	const secret = "EXH-SECRET-7731"
	f.appendOK(f.acquireEnv("cert", secret))
	_, size := f.log.Checkpoint()

	resp, body := f.do(http.MethodGet, "/", "", nil)
	mustStatus(t, "anonymous GET /", resp.StatusCode, http.StatusOK, body)
	page := string(body)
	for _, want := range []string{
		fmt.Sprintf(`id="checkpoint-size" data-value="%d"`, size),
		"test.custos.example/log",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("anonymous dashboard lacks %q", want)
		}
	}
	if !strings.Contains(page, `data-value="1"`) {
		t.Errorf("anonymous dashboard shows no count of 1 (one exhibit)")
	}
	for _, leak := range []string{secret, "cert", "disk"} {
		if strings.Contains(page, leak) {
			t.Errorf("anonymous dashboard shows %q", leak)
		}
	}

	resp, body = f.do(http.MethodGet, "/", "cert", nil)
	mustStatus(t, "a party's GET /", resp.StatusCode, http.StatusOK, body)
	if !strings.Contains(string(body), secret) {
		t.Errorf("a party's dashboard does not list exhibit %s", secret)
	}
}
