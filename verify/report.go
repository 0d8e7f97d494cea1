package verify

import (
	"bytes"
	_ "embed"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var reportTemplate string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"digests": func(d map[string]string) []string {
		var out []string
		for _, alg := range slices.Sorted(maps.Keys(d)) {
			out = append(out, alg+":"+d[alg])
		}
		return out
	},
	"details": func(d map[string]string) string {
		var out []string
		for _, k := range slices.Sorted(maps.Keys(d)) {
			out = append(out, k+": "+d[k])
		}
		return strings.Join(out, "; ")
	},
	"join": strings.Join,
	"ints": func(is []int64) string {
		out := make([]string, len(is))
		for i, n := range is {
			out[i] = strconv.FormatInt(n, 10)
		}
		return strings.Join(out, ", ")
	},
}).Parse(reportTemplate))

// RenderReport renders r as report.html: one self-contained HTML page (its
// CSS inline; no scripts, images, fonts or links to anything outside it)
// that a clerk can open offline. At the top it gives the overall verdict,
// the checkpoint (origin, size, root, the signed note verbatim), the witness
// cosignatures that counted and the earlier checkpoints checked; then, per
// exhibit, its verdict, digests and custody timeline (leaf index, time the
// ledger claims, event, acting party, to/from, reason, observed digests,
// signing key ids); then every problem. Every value is escaped by
// html/template.
func RenderReport(r *BundleReport) []byte {
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, r); err != nil {
		// The template and the report's types are ours; an error here is a
		// bug, and the page says so rather than being half written.
		return []byte("<!doctype html><meta charset=utf-8><title>custos report</title><p>report could not be rendered: " +
			template.HTMLEscapeString(err.Error()) + "</p>\n")
	}
	return b.Bytes()
}
