package verify_test

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"strings"
	"testing"

	"github.com/custos-ledger/custos/verify"
)

// TestRenderReport renders report.html for the golden case and checks it
// holds the verdict, the checkpoint, the witnesses and each exhibit's
// custody timeline, and nothing that reaches outside the page.
func TestRenderReport(t *testing.T) {
	r, err := verifyGolden(t, "valid.custos", verify.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page := string(verify.RenderReport(r))
	want := []string{
		`id="verdict">Verdict: VALID`,
		"ledger.golden.example/case-0042",
		strings.ReplaceAll(html.EscapeString(r.Root), "+", "&#43;"), // html/template escapes + too
		"witness1.example.org", "witness2.example.org", "witness3.example.org",
	}
	for _, x := range r.Exhibits {
		want = append(want, "Exhibit "+x.ID, "custody record verified")
		if len(x.Steps) == 0 {
			t.Errorf("exhibit %s has no history steps", x.ID)
		}
		for _, s := range x.Steps {
			// One timeline row per step: leaf index, event, party, keys.
			row := fmt.Sprintf("<tr><td>%d</td><td>%s</td><td>%s", s.Index, s.Time.UTC().Format("2006-01-02 15:04:05Z"), s.Event)
			want = append(want, row, s.Party)
			want = append(want, s.KeyIDs...)
		}
	}
	want = append(want, "from cert-ua", "to neutral-lab", "DIGEST MISMATCH", "seal_id: NFL-S-0192")
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("report.html does not contain %q", w)
		}
	}
	lower := strings.ToLower(page)
	for _, bad := range []string{"src=", "href=", "action=", "<script", "<link", "<img", "<iframe", "<object", "url(", "@import"} {
		if strings.Contains(lower, bad) {
			t.Errorf("report.html contains %q: it must be self-contained", bad)
		}
	}
	// URLs appear only as text: the predicate types of attestations.
	for i := strings.Index(lower, "http"); i >= 0; i = next(lower, i) {
		if !strings.HasSuffix(page[:i], "predicate_type: ") {
			t.Errorf("report.html refers to %q outside a predicate type", page[max(0, i-40):min(len(page), i+40)])
		}
	}
}

func next(s string, i int) int {
	j := strings.Index(s[i+1:], "http")
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// TestRenderReportInvalid: a failed bundle's report says so, per exhibit
// and at the top, and lists the problems, escaped.
func TestRenderReportInvalid(t *testing.T) {
	r, err := verifyGolden(t, "dropped-history-entry.custos", verify.BundleOptions{})
	if !errors.Is(err, verify.ErrInvalid) {
		t.Fatalf("VerifyBundle = %v, want ErrInvalid", err)
	}
	page := verify.RenderReport(r)
	for _, w := range []string{"Verdict: NOT VALID", "custody record NOT verified", "gap: leaf 12: exhibit CERT-UA-2026-0043", "leaf 11 is not in the bundle"} {
		if !bytes.Contains(page, []byte(w)) {
			t.Errorf("report.html does not contain %q", w)
		}
	}
	r.Exhibits[0].ID = `<script>alert(1)</script>`
	if bytes.Contains(verify.RenderReport(r), []byte("<script>")) {
		t.Error("an exhibit id is rendered unescaped")
	}
}
