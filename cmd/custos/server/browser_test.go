package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless chromium for t, or skips t when there is
// none and CUSTOS_REQUIRE_BROWSER is unset (CI sets it, so CI never skips).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CUSTOS_REQUIRE_BROWSER") != "" {
			t.Fatalf("CUSTOS_REQUIRE_BROWSER is set but %s is missing (%v): apt-get install chromium", chromiumPath, err)
		}
		t.Skipf("no browser: %s is missing (apt-get install chromium; set CUSTOS_REQUIRE_BROWSER=1 to make this a failure)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,  // CI runs as root, where chromium's sandbox refuses to start
		chromedp.DisableGPU, // no GPU in a container
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Start the browser on a context without a timeout (a timeout on the
	// first Run would stop the browser with it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// TestBrowserDashboard loads the dashboard in a real headless chromium and
// reads what a person would see: the DOM as laid out, with the page's
// Content-Security-Policy in force (so no script of the page runs; the
// test's own expressions run through the DevTools protocol).
func TestBrowserDashboard(t *testing.T) {
	start := time.Now()
	ctx := newBrowser(t)
	started := time.Since(start)

	srv := httptest.NewServer(DashboardHandler(func(r *http.Request) (DashboardData, error) {
		// Exhibits are filled for every viewer; ?as= stands for the
		// server's authentication.
		d := dashboardFixture()
		d.Viewer = r.URL.Query().Get("as")
		return d, nil
	}))
	t.Cleanup(srv.Close)

	run := func(name string, f func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := f(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	attr := func(ctx context.Context, id, name string) string {
		t.Helper()
		a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID(id), name))
		if err != nil || !a.Exists {
			t.Fatalf("#%s[%s]: %v (exists %v)", id, name, err, a.Exists)
		}
		return a.Value
	}
	eval := func(ctx context.Context, expr string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return s
	}

	run("anonymous page", func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(srv.URL+"/"))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("GET / = %d, want 200", resp.Status)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("checkpoint-size"))); err != nil {
			return err
		}

		size, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("checkpoint-size")))
		if err != nil {
			return err
		}
		if v := attr(ctx, "checkpoint-size", "data-value"); v != "1234567" || size != "1\u202f234\u202f567" {
			t.Errorf("checkpoint size shown %q (data-value %q), want 1 234 567", size, v)
		}
		if root, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("checkpoint-root"))); root != dashboardFixture().Root {
			t.Errorf("root shown %q, want %q", root, dashboardFixture().Root)
		}
		if q := attr(ctx, "quorum", "data-met"); q != "true" {
			t.Errorf("quorum data-met = %q, want true", q)
		}
		for id, want := range map[string]string{
			"count-parties": "14", "count-exhibits": "2318", "count-hand-overs": "5120", "count-open-releases": "37",
			"count-rejected": "9", "count-rejected-mismatch": "3", "count-findings": "412", "count-hypotheses": "27", "count-verdicts": "19",
		} {
			if got := attr(ctx, id, "data-value"); got != want {
				t.Errorf("#%s data-value = %q, want %q", id, got, want)
			}
		}
		witnesses := eval(ctx, `Array.from(document.querySelectorAll("#witnesses tr[data-witness]"), r => r.dataset.witness + ":" + r.dataset.state).join(" ")`)
		if want := "witness-geneva:cosigned witness-tallinn:cosigned witness-ottawa:pending"; witnesses != want {
			t.Errorf("witness rows = %q, want %q", witnesses, want)
		}

		// The page is laid out as designed: the inline stylesheet applied
		// under the CSP, and the server-drawn chart has a visible line.
		if bg := eval(ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(247, 247, 244)" {
			t.Errorf("body background = %q, want the stylesheet's rgb(247, 247, 244): the inline CSS did not apply", bg)
		}
		chart := eval(ctx, `(() => { const p = document.querySelector("#growth svg path.line"), b = p.getBoundingClientRect(); return Math.round(p.getTotalLength()) > 600 && b.width > 500 && b.height > 100 ? "drawn" : "too small: " + JSON.stringify(b) })()`)
		if chart != "drawn" {
			t.Errorf("growth chart: %s", chart)
		}

		// Nothing about evidence, in the text or anywhere in the DOM.
		text := eval(ctx, `document.body.innerText`)
		dom := eval(ctx, `document.documentElement.outerHTML`)
		for _, s := range dashboardSecrets {
			if strings.Contains(text, s) || strings.Contains(dom, s) {
				t.Errorf("the anonymous page names %q", s)
			}
		}
		if n := eval(ctx, `String(document.querySelectorAll("#exhibits, [data-exhibit]").length)`); n != "0" {
			t.Errorf("the anonymous page has %s exhibit elements", n)
		}
		if !strings.Contains(text, "Quorum met: 2 cosigned, 2 needed") || !strings.Contains(text, "i/o timeout") {
			t.Errorf("page text lacks the quorum or the pending witness's error:\n%s", text)
		}

		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		saveScreenshot(t, "dashboard-anonymous.png", png)
		return nil
	})

	// The same page for a party lists the exhibits: the check above can
	// see them when they are there.
	run("party page", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/?as=cert-pangolin"), chromedp.WaitVisible(chromedp.ID("exhibits"))); err != nil {
			return err
		}
		rows := eval(ctx, `Array.from(document.querySelectorAll("#exhibits tr[data-exhibit]"), r => r.innerText.replace(/\s+/g, " ").trim()).join(" | ")`)
		if want := "EXH-ZEBRA-7731 lab-quokka held | EXH-NARWHAL-0042 cert-pangolin released"; rows != want {
			t.Errorf("exhibit rows = %q, want %q", rows, want)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		saveScreenshot(t, "dashboard-party.png", png)
		return nil
	})
	t.Logf("browser: started in %v, test took %v", started.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// saveScreenshot writes png under t's temporary directory, and also under
// $CUSTOS_SCREENSHOT_DIR when set (t's directory goes when the test ends).
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(png))
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("CUSTOS_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}
}
