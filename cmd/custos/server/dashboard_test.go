package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/custos-ledger/custos/custody"
)

// dashboardSecrets are the fixture's names that only a party may see:
// exhibit ids and the parties that hold them.
var dashboardSecrets = []string{"EXH-ZEBRA-7731", "EXH-NARWHAL-0042", "lab-quokka", "cert-pangolin"}

// dashboardFixture is a month-old ledger of 1 234 567 entries whose latest
// checkpoint two of three witnesses cosigned. Exhibits is filled, as a
// careless caller might for an anonymous viewer too; Viewer is "".
func dashboardFixture() DashboardData {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var growth []GrowthPoint
	for i := range 30 {
		growth = append(growth, GrowthPoint{Time: t0.Add(time.Duration(i) * 24 * time.Hour), Size: 1 + 1234566*int64(i*i)/(29*29)})
	}
	cp := growth[len(growth)-1].Time
	return DashboardData{
		Origin: "ledger.tribunal.example/custos",
		Size:   1234567,
		Root:   "6W1r6Ccc1V3e3mB2fWq1OZJtQ9l3L2iYv8z0kqz2Dk8=",
		Time:   cp,
		Quorum: 2,
		Cosigners: []DashboardCosigner{
			{Name: "witness-tallinn", Time: cp.Add(-2 * time.Second)},
			{Name: "witness-geneva", Time: cp.Add(-1 * time.Second)},
		},
		Pending: []DashboardPendingWitness{
			{Name: "witness-ottawa", LastSize: 1230001, LastTime: cp.Add(-3 * time.Hour), LastError: "dial tcp 192.0.2.7:9443: i/o timeout"},
		},
		Counts: custody.Counts{Parties: 14, Exhibits: 2318, HandOvers: 5120, OpenReleases: 37, Rejected: 9, RejectedMismatch: 3,
			Findings: 412, Hypotheses: 27, Verdicts: 19,
			VerdictLevels: []custody.LevelCount{{Level: "reasonable basis", Verdicts: 11}, {Level: "", Verdicts: 5}, {Level: "clear and convincing", Verdicts: 3}}},
		Growth: growth,
		Exhibits: []DashboardExhibit{
			{ID: "EXH-ZEBRA-7731", Holder: "lab-quokka", Status: custody.StatusHeld},
			{ID: "EXH-NARWHAL-0042", Holder: "cert-pangolin", Status: custody.StatusReleased},
		},
		Generated: cp.Add(90 * time.Second),
	}
}

func renderDashboard(t *testing.T, d DashboardData) string {
	t.Helper()
	var b strings.Builder
	if err := RenderDashboard(&b, d); err != nil {
		t.Fatalf("RenderDashboard = %v", err)
	}
	return b.String()
}

func TestDashboardShowsCheckpointWitnessesCounts(t *testing.T) {
	page := renderDashboard(t, dashboardFixture())
	for _, want := range []string{
		`<title>Ledger status · ledger.tribunal.example/custos</title>`,
		`id="checkpoint-size" data-value="1234567">1` + "\u202f" + `234` + "\u202f" + `567<`,
		`id="checkpoint-root">6W1r6Ccc1V3e3mB2fWq1OZJtQ9l3L2iYv8z0kqz2Dk8=<`,
		`datetime="2026-03-30T09:00:00Z">2026-03-30 09:00:00 UTC<`,
		`(1 minute before this page)`,
		`Quorum met: 2 cosigned, 2 needed`,
		`<tr data-witness="witness-geneva" data-state="cosigned">`,
		`<tr data-witness="witness-tallinn" data-state="cosigned">`,
		`<tr data-witness="witness-ottawa" data-state="pending">`,
		`dial tcp 192.0.2.7:9443: i/o timeout`,
		"4\u202f566</span> entries behind",
		`id="count-parties" data-value="14"`,
		`id="count-exhibits" data-value="2318">2` + "\u202f" + `318<`,
		`id="count-hand-overs" data-value="5120"`,
		`id="count-open-releases" data-value="37"`,
		`id="count-rejected" data-value="9"`,
		`id="count-rejected-mismatch" data-value="3"`,
		`id="count-findings" data-value="412"`,
		`id="count-hypotheses" data-value="27"`,
		`id="count-verdicts" data-value="19"`,
		`<li data-level="reasonable basis" data-value="11">reasonable basis: `,
		`<li data-level="" data-value="5">no level reached: `,
		`<svg viewBox="0 0 720 220"`,
		`over 30 checkpoints.`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Cosigners come first, by name, then the witnesses still missing.
	g, ta, o := strings.Index(page, `"witness-geneva"`), strings.Index(page, `"witness-tallinn"`), strings.Index(page, `"witness-ottawa"`)
	if !(g < ta && ta < o) {
		t.Errorf("witness rows at %d (geneva), %d (tallinn), %d (ottawa), want cosigners by name, then the pending one", g, ta, o)
	}
	// Nothing is fetched from elsewhere and nothing runs.
	for _, bad := range []string{"<script", "<link", "<img", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q: it must be self-contained", bad)
		}
	}
}

func TestDashboardAnonymousSeesNoEvidence(t *testing.T) {
	d := dashboardFixture() // Exhibits filled, Viewer ""
	page := renderDashboard(t, d)
	for _, s := range dashboardSecrets {
		if strings.Contains(page, s) {
			t.Errorf("the anonymous page names %q", s)
		}
	}
	if !strings.Contains(page, `data-viewer="anonymous"`) || strings.Contains(page, `id="exhibits"`) {
		t.Errorf("the anonymous page is not marked anonymous, or has an exhibits section")
	}
	if len(d.Exhibits) != 2 {
		t.Errorf("RenderDashboard changed its caller's Exhibits: %v", d.Exhibits)
	}
}

func TestDashboardPartySeesExhibits(t *testing.T) {
	d := dashboardFixture()
	d.Viewer = "cert-pangolin"
	page := renderDashboard(t, d)
	for _, want := range []string{
		`data-viewer="party"`,
		`<strong>cert-pangolin</strong>`,
		`<tr data-exhibit="EXH-ZEBRA-7731"><td class="hash">EXH-ZEBRA-7731</td><td>lab-quokka</td><td class="status-held">held</td></tr>`,
		`<tr data-exhibit="EXH-NARWHAL-0042"><td class="hash">EXH-NARWHAL-0042</td><td>cert-pangolin</td><td class="status-released">released</td></tr>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the party's page lacks %q", want)
		}
	}
}

func TestDashboardStates(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*DashboardData)
		want   []string
		reject []string
	}{
		{"quorum not met", func(d *DashboardData) { d.Quorum = 3 },
			[]string{`Quorum not met: 2 cosigned, 3 needed`, `class="quorum unmet"`}, nil},
		{"no witness policy", func(d *DashboardData) { d.Quorum, d.Cosigners, d.Pending = 0, nil, nil },
			[]string{`No witness policy: signed by the log alone`, `No witness has cosigned`}, []string{`<table id="witnesses"`}},
		{"witness that never cosigned", func(d *DashboardData) { d.Pending[0].LastSize, d.Pending[0].LastError = 0, "" },
			[]string{`Has not cosigned any checkpoint.`}, []string{`class="err"`, "entries behind"}},
		{"one checkpoint", func(d *DashboardData) { d.Growth = d.Growth[:1] },
			[]string{`Not enough checkpoints yet`, `data-points="1"`}, []string{`<svg`}},
		{"no verdicts", func(d *DashboardData) { d.Counts.Verdicts, d.Counts.VerdictLevels = 0, nil },
			[]string{`id="count-verdicts" data-value="0"`}, []string{`id="verdict-levels"`}},
		{"no mismatch", func(d *DashboardData) { d.Counts.RejectedMismatch = 0 },
			[]string{`<div class="sub"><span class="num" id="count-rejected-mismatch" data-value="0">`}, nil},
		{"unknown times", func(d *DashboardData) { d.Time, d.Generated = time.Time{}, time.Time{} },
			[]string{`>unknown</time>`}, []string{"before this page", "Page built"}},
		{"markup in names is text", func(d *DashboardData) { d.Cosigners[0].Name = `<b onmouseover="x">w</b>` },
			[]string{`&lt;b onmouseover=&#34;x&#34;&gt;w&lt;/b&gt;`}, []string{`<b onmouseover`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dashboardFixture()
			tt.edit(&d)
			page := renderDashboard(t, d)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, r := range tt.reject {
				if strings.Contains(page, r) {
					t.Errorf("page holds %q", r)
				}
			}
		})
	}
}

func TestDashboardHandler(t *testing.T) {
	var fail error
	h := DashboardHandler(func(r *http.Request) (DashboardData, error) {
		d := dashboardFixture()
		d.Viewer = r.Header.Get("X-Test-Party") // the server authenticates; here the test says who
		return d, fail
	})
	do := func(method string, party string) (*http.Response, string) {
		t.Helper()
		req := httptest.NewRequest(method, "/", nil)
		if party != "" {
			req.Header.Set("X-Test-Party", party)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Result().Body)
		return rec.Result(), string(body)
	}

	resp, body := do(http.MethodGet, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-value="1234567"`) {
		t.Fatalf("GET / = %d, %.200q, want 200 and the page", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Content-Length":         fmt.Sprint(len(body)),
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-cache",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("GET / (anonymous): %s = %q, want %q", k, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none'", csp)
	}

	resp, body = do(http.MethodGet, "cert-pangolin")
	if cc := resp.Header.Get("Cache-Control"); cc != "private, no-store" || !strings.Contains(body, "EXH-ZEBRA-7731") {
		t.Errorf("GET / (party): Cache-Control %q, exhibits shown %v, want private, no-store and the exhibits", cc, strings.Contains(body, "EXH-ZEBRA-7731"))
	}

	resp, body = do(http.MethodHead, "")
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD / = %d with %d bytes, want 200 and no body", resp.StatusCode, len(body))
	}
	resp, _ = do(http.MethodPost, "")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d, Allow %q, want 405, GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}

	fail = errors.New("custody: record e/EXH-ZEBRA-7731 does not decode")
	resp, body = do(http.MethodGet, "")
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "EXH-ZEBRA") {
		t.Errorf("GET / with a failing source = %d, %q, want 503 without the error's text", resp.StatusCode, body)
	}
}

func TestDashboardChart(t *testing.T) {
	for _, tt := range []struct{ n, want int64 }{
		{0, 4}, {1, 4}, {4, 4}, {5, 8}, {9, 12}, {37, 40}, {41, 60}, {100, 100}, {101, 120},
		{1000, 1000}, {1001, 1200}, {1234567, 1600000}, {2400000, 2400000}, {2400001, 3200000},
	} {
		if got := dashNiceCeil(tt.n); got != tt.want || got < tt.n || got%chartGrid != 0 {
			t.Errorf("dashNiceCeil(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}

	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := dashChartOf([]GrowthPoint{ // out of order, as a caller may give them
		{Time: t0.Add(2 * time.Hour), Size: 8},
		{Time: t0, Size: 0},
		{Time: t0.Add(time.Hour), Size: 2},
	})
	if want := "M64.0 192.0H384.0 V147.0H704.0 V12.0"; c.Line != want {
		t.Errorf("line = %q, want %q", c.Line, want)
	}
	if c.First.Size != 0 || c.Last.Size != 8 || len(c.YTicks) != chartGrid+1 || c.YTicks[chartGrid].Label != "8" {
		t.Errorf("chart = %+v, want 0 to 8 with ticks 0..8", c)
	}
	if got := []string{c.XTicks[0].Label, c.XTicks[2].Label}; got[0] != "01 Mar 00:00" || got[1] != "01 Mar 02:00" {
		t.Errorf("time labels = %q, want 01 Mar 00:00 .. 01 Mar 02:00", got)
	}
	same := dashChartOf([]GrowthPoint{{Time: t0, Size: 1}, {Time: t0, Size: 3}})
	if want := "M64.0 147.0H704.0 V57.0"; same.Line != want {
		t.Errorf("two points at one instant: line = %q, want %q", same.Line, want)
	}
}

func TestDashNum(t *testing.T) {
	for _, tt := range []struct {
		n    any
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1\u202f000"}, {int64(1234567), "1\u202f234\u202f567"}, {-12345, "-12\u202f345"},
	} {
		if got := dashNum(tt.n); got != tt.want {
			t.Errorf("dashNum(%v) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
