package server

// The public dashboard (issue 6): one read-only page that shows anyone the
// ledger is alive and consistent — the co-signed checkpoint, which
// witnesses signed it, how the ledger grew, how many custody and
// attribution records it holds — without showing the evidence. Exhibit
// ids, holders and statuses appear only for an authenticated party.
//
// The page is self-contained: html/template, inline CSS, and an SVG chart
// drawn here, so it needs no JavaScript and loads nothing from elsewhere
// (the Content-Security-Policy forbids it).

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/custos-ledger/custos/custody"
)

// DashboardData is what the dashboard shows. The server fills it for each
// request; RenderDashboard only formats it.
type DashboardData struct {
	// The latest co-signed checkpoint: its origin line, tree size and
	// root hash (base64, as in the checkpoint's note), and when it was
	// co-signed.
	Origin string
	Size   int64
	Root   string
	Time   time.Time

	// Quorum is how many cosignatures the witness policy requires (0 when
	// the server runs without one). Cosigners signed this checkpoint;
	// Pending are the policy's other witnesses.
	Quorum    int
	Cosigners []DashboardCosigner
	Pending   []DashboardPendingWitness

	Counts custody.Counts // custody.PublicCounts of the index
	Growth []GrowthPoint  // the size of past checkpoints, in any order

	// Viewer is the authenticated party, "" for an anonymous viewer.
	// Exhibits is shown only when Viewer is set: RenderDashboard drops it
	// otherwise, so a caller that fills it by mistake leaks nothing.
	Viewer   string
	Exhibits []DashboardExhibit

	Generated time.Time // when the data was read; zero omits it
}

// DashboardCosigner is a witness whose cosignature the checkpoint carries,
// with the cosignature's timestamp.
type DashboardCosigner struct {
	Name string
	Time time.Time
}

// DashboardPendingWitness is a witness of the policy that has not cosigned
// the checkpoint: the last checkpoint it did cosign (LastSize 0 if none)
// and the last error the server got from it.
type DashboardPendingWitness struct {
	Name      string
	LastSize  int64
	LastTime  time.Time
	LastError string
}

// GrowthPoint is the ledger's size at a time (a checkpoint).
type GrowthPoint struct {
	Time time.Time
	Size int64
}

// DashboardExhibit is one exhibit as an authenticated party sees it.
type DashboardExhibit struct {
	ID     string
	Holder string
	Status string // a custody.Status* value
}

//go:embed dashboard.html.tmpl
var dashboardHTML string

var dashboardTmpl = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"num":  dashNum,
	"when": dashWhen,
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":  dashAgo,
	"add":  func(a, b int) int { return a + b },
	"sub":  func(a, b int) int { return a - b },
	"last": func(s []dashTick) int { return len(s) - 1 },
	// behind is how many entries a checkpoint of size last lacks.
	"behind": func(size, last int64) int64 { return max(size-last, 0) },
}).Parse(dashboardHTML))

// RenderDashboard writes the dashboard page for d to w. It writes nothing
// about exhibits unless d.Viewer names an authenticated party.
func RenderDashboard(w io.Writer, d DashboardData) error {
	if d.Viewer == "" {
		d.Exhibits = nil
	}
	v := dashView{DashboardData: d, Chart: dashChartOf(d.Growth)}
	v.QuorumMet = len(d.Cosigners) >= d.Quorum
	// Cosigners first, then the witnesses still missing, each by name.
	for _, c := range d.Cosigners {
		v.Rows = append(v.Rows, dashWitnessRow{Name: c.Name, Time: c.Time})
	}
	byName := func(a, b dashWitnessRow) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(v.Rows, byName)
	n := len(v.Rows)
	for _, p := range d.Pending {
		v.Rows = append(v.Rows, dashWitnessRow{Name: p.Name, Pending: &p})
	}
	slices.SortFunc(v.Rows[n:], byName)
	if !d.Generated.IsZero() && !d.Time.IsZero() {
		v.Age = max(d.Generated.Sub(d.Time), 0)
	}
	return dashboardTmpl.Execute(w, v)
}

// DashboardHandler serves the dashboard built from get's data, for GET and
// HEAD. Mount it on the root only, e.g. mux.Handle("GET /{$}", ...). get
// decides who the viewer is (it authenticates the request) and fills
// Exhibits only for a party. An error from get is logged and answered 503
// without its text, which may name records.
func DashboardHandler(get func(r *http.Request) (DashboardData, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		d, err := get(r)
		if err != nil {
			slog.ErrorContext(r.Context(), "dashboard: reading data", "err", err)
			http.Error(w, "dashboard unavailable", http.StatusServiceUnavailable)
			return
		}
		var buf bytes.Buffer
		if err := RenderDashboard(&buf, d); err != nil {
			slog.ErrorContext(r.Context(), "dashboard: rendering", "err", err)
			http.Error(w, "dashboard unavailable", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if d.Viewer != "" {
			// A party's page names exhibits: no cache may keep it.
			h.Set("Cache-Control", "private, no-store")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if r.Method == http.MethodHead {
			return
		}
		w.Write(buf.Bytes())
	})
}

// dashView is the template's data: DashboardData and what is derived from it.
type dashView struct {
	DashboardData
	QuorumMet bool
	Rows      []dashWitnessRow
	Age       time.Duration // from the checkpoint's time to Generated; 0 if either is unknown
	Chart     dashChart
}

type dashWitnessRow struct {
	Name    string
	Time    time.Time                // cosigned at
	Pending *DashboardPendingWitness // nil for a cosigner
}

// Chart geometry, in SVG user units: the plot sits inside margins that
// hold the axis labels, with chartGrid horizontal grid lines above the
// baseline and chartTicksX time labels below it.
const (
	chartW, chartH        = 720, 220
	chartLeft, chartRight = 64, 16
	chartTop, chartBottom = 12, 28
	chartPlotW            = chartW - chartLeft - chartRight
	chartPlotH            = chartH - chartTop - chartBottom
	chartBaseline         = chartTop + chartPlotH
	chartGrid             = 4
	chartTicksX           = 3
)

// dashChart is the growth chart, computed here so the page needs no script.
type dashChart struct {
	W, H, Left, Right, Base, Top int
	Line, Area                   string // SVG path data
	YTicks, XTicks               []dashTick
	Points                       int
	First, Last                  GrowthPoint
}

type dashTick struct {
	Pos   float64
	Label string
}

// dashChartOf draws the ledger's size as a step line over time: the size
// only changes when a checkpoint is published. With fewer than two points
// there is no line (Points says how many there are).
func dashChartOf(pts []GrowthPoint) dashChart {
	c := dashChart{W: chartW, H: chartH, Left: chartLeft, Right: chartW - chartRight, Base: chartBaseline, Top: chartTop, Points: len(pts)}
	if len(pts) < 2 {
		return c
	}
	pts = slices.Clone(pts)
	slices.SortFunc(pts, func(a, b GrowthPoint) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Size, b.Size))
	})
	c.First, c.Last = pts[0], pts[len(pts)-1]
	var maxSize int64
	for _, p := range pts {
		maxSize = max(maxSize, p.Size)
	}
	top := dashNiceCeil(maxSize)
	t0, span := pts[0].Time, pts[len(pts)-1].Time.Sub(pts[0].Time)
	x := func(i int) float64 {
		if span <= 0 { // all at one instant: spread by position
			return chartLeft + float64(chartPlotW)*float64(i)/float64(len(pts)-1)
		}
		return chartLeft + float64(chartPlotW)*float64(pts[i].Time.Sub(t0))/float64(span)
	}
	y := func(size int64) float64 {
		return chartBaseline - float64(chartPlotH)*float64(size)/float64(top)
	}
	var line strings.Builder
	fmt.Fprintf(&line, "M%.1f %.1f", x(0), y(pts[0].Size))
	for i := 1; i < len(pts); i++ {
		fmt.Fprintf(&line, "H%.1f V%.1f", x(i), y(pts[i].Size))
	}
	c.Line = line.String()
	c.Area = fmt.Sprintf("%s V%d H%.1f Z", c.Line, chartBaseline, x(0))
	for i := range chartGrid + 1 {
		v := top * int64(i) / chartGrid
		c.YTicks = append(c.YTicks, dashTick{Pos: y(v), Label: dashNum(v)})
	}
	layout := "2006-01-02"
	if span < 48*time.Hour {
		layout = "02 Jan 15:04"
	}
	for i := range chartTicksX {
		f := float64(i) / float64(chartTicksX-1)
		t := t0.Add(time.Duration(f * float64(span)))
		c.XTicks = append(c.XTicks, dashTick{Pos: chartLeft + f*chartPlotW, Label: t.UTC().Format(layout)})
	}
	return c
}

// dashNiceCeil is the top of a chart's size axis for a largest value n:
// chartGrid steps of 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten, whole
// numbers, the least that reach n.
func dashNiceCeil(n int64) int64 {
	step := max((n+chartGrid-1)/chartGrid, 1)
	p := int64(1)
	for p*10 <= step {
		p *= 10
	}
	for _, m := range []int64{10, 15, 20, 25, 30, 40, 50, 60, 80, 100} {
		if s := p * m / 10; p*m%10 == 0 && s >= step {
			return chartGrid * s
		}
	}
	return chartGrid * 10 * p // not reached: m = 100 always fits
}

// dashNum writes n with its thousands grouped by narrow no-break spaces
// (ISO 80000-1: readable in every locale, and never split across lines).
func dashNum(n any) string {
	var s string
	switch n := n.(type) {
	case int:
		s = strconv.Itoa(n)
	case int64:
		s = strconv.FormatInt(n, 10)
	default:
		return fmt.Sprint(n)
	}
	var b strings.Builder
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		b.WriteByte('-')
		s = rest
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	return b.String()
}

// dashWhen is a time as the page shows it: UTC, to the second.
func dashWhen(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// dashAgo is a duration in the largest whole unit that fits.
func dashAgo(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d < time.Minute:
		return plural(int64(d/time.Second), "second")
	case d < time.Hour:
		return plural(int64(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(int64(d/(24*time.Hour)), "day")
	}
}
