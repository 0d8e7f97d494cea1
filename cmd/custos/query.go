package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/custody"
)

func (e *env) historyCommand() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "the custody chain of an exhibit: each step with its leaf index, party and keys",
		UsageText: "custos history EXHIBIT --ledger DIR [--json | --format text|dot|mermaid]",
		Flags: []cli.Flag{ledgerFlag(), jsonFlag(),
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, dot (Graphviz) or mermaid"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			id, err := oneArg(c, "EXHIBIT")
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "text" && format != "dot" && format != "mermaid" {
				return usagef("history: --format %q: want text, dot or mermaid", format)
			}
			l, err := d.openRead()
			if err != nil {
				return err
			}
			defer l.Close()
			x, steps, err := custody.History(l.Index(), id)
			if err != nil {
				return err
			}
			if x == nil {
				return usagef("history: no exhibit %q in this ledger", id)
			}
			if c.Bool("json") {
				return e.emit(c, map[string]any{"exhibit": x, "steps": steps}, nil)
			}
			g := graphOf(x, steps)
			switch format {
			case "dot":
				g.writeDot(e.stdout)
			case "mermaid":
				g.writeMermaid(e.stdout)
			default:
				writeHistory(e.stdout, x, steps)
			}
			return nil
		},
	}
}

func writeHistory(w io.Writer, x *custody.ExhibitRecord, steps []custody.HistoryStep) {
	fmt.Fprintf(w, "exhibit %s: %s, held by %s\n", x.ID, x.Status, x.Holder)
	for _, alg := range digestOrder(x.Digests) {
		fmt.Fprintf(w, "  %-7s %s\n", alg, x.Digests[alg])
	}
	fmt.Fprintf(w, "  size    %d bytes\n", x.Size)
	if len(x.Parents) > 0 {
		fmt.Fprintf(w, "  derived from %s\n", strings.Join(x.Parents, ", "))
	}
	if len(x.Derived) > 0 {
		fmt.Fprintf(w, "  derived items %s\n", strings.Join(x.Derived, ", "))
	}
	if len(x.Mismatches) > 0 {
		fmt.Fprintf(w, "  DIGEST MISMATCH observed on receipt at leaf %v\n", x.Mismatches)
	}
	fmt.Fprintf(w, "\n  %-6s %-20s %-12s %-16s %s\n", "leaf", "time (claimed)", "event", "party", "details")
	for _, s := range steps {
		fmt.Fprintf(w, "  %-6d %-20s %-12s %-16s %s\n", s.Index, s.Time.UTC().Format(time.DateTime), s.Event, s.Party, stepDetail(s))
	}
}

func stepDetail(s custody.HistoryStep) string {
	var parts []string
	if s.To != "" {
		parts = append(parts, "to "+s.To)
	}
	if s.From != "" {
		parts = append(parts, "from "+s.From)
	}
	if s.Reason != "" {
		parts = append(parts, fmt.Sprintf("reason %q", s.Reason))
	}
	if s.Mismatch {
		parts = append(parts, "DIGEST MISMATCH")
	}
	if len(s.KeyIDs) > 0 {
		k := s.KeyIDs[0]
		if len(k) > 19 {
			k = k[:19] + "…"
		}
		parts = append(parts, "key "+k)
	}
	return strings.Join(parts, ", ")
}

func (e *env) statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "who holds what: every exhibit with its holder, open releases, sealed and disposed items",
		UsageText: "custos status --ledger DIR [--party P] [--json]",
		Flags:     []cli.Flag{ledgerFlag(), jsonFlag(), &cli.StringFlag{Name: "party", Usage: "only exhibits this party holds or is offered"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			l, err := d.openRead()
			if err != nil {
				return err
			}
			defer l.Close()
			xs, err := custody.Status(l.Index(), c.String("party"))
			if err != nil {
				return err
			}
			parties, err := custody.Parties(l.Index())
			if err != nil {
				return err
			}
			return e.emit(c, map[string]any{"exhibits": xs, "parties": parties, "size": l.Size()}, func(w io.Writer) {
				fmt.Fprintf(w, "%-28s %-9s %-16s %s\n", "exhibit", "status", "holder", "open release / notes")
				for _, x := range xs {
					note := ""
					if x.OpenRelease != nil {
						note = fmt.Sprintf("offered to %s (leaf %d)", x.OpenRelease.To, x.OpenRelease.Ref.Index)
					}
					if len(x.Mismatches) > 0 {
						note = strings.TrimSpace(note + " digest mismatch seen")
					}
					fmt.Fprintf(w, "%-28s %-9s %-16s %s\n", x.ID, x.Status, x.Holder, note)
				}
				fmt.Fprintf(w, "\n%d exhibits; %d parties; log size %d\n", len(xs), len(parties), l.Size())
			})
		},
	}
}

// custodyGraph is an exhibit's custody drawn as a graph: the exhibit, its
// parents and derived items, and the parties it passed between.
type custodyGraph struct {
	exhibit string
	nodes   []graphNode
	edges   []graphEdge
}

type graphNode struct{ id, label, kind string }
type graphEdge struct{ from, to, label string }

func graphOf(x *custody.ExhibitRecord, steps []custody.HistoryStep) *custodyGraph {
	g := &custodyGraph{exhibit: x.ID}
	seen := map[string]bool{}
	node := func(id, label, kind string) string {
		if !seen[id] {
			seen[id] = true
			g.nodes = append(g.nodes, graphNode{id, label, kind})
		}
		return id
	}
	ex := node("x:"+x.ID, x.ID, "exhibit")
	for _, p := range x.Parents {
		g.edges = append(g.edges, graphEdge{node("x:"+p, p, "exhibit"), ex, "derived"})
	}
	for _, dv := range x.Derived {
		g.edges = append(g.edges, graphEdge{ex, node("x:"+dv, dv, "exhibit"), "derived"})
	}
	for _, s := range steps {
		label := fmt.Sprintf("%s #%d", s.Event, s.Index)
		switch s.Event {
		case "acquire":
			g.edges = append(g.edges, graphEdge{node("p:"+s.Party, s.Party, "party"), ex, label})
		case "derive":
			// A parent's derive step is drawn by its "derived" edge; the
			// derived exhibit's own step shows who made it.
			if len(x.Parents) > 0 {
				g.edges = append(g.edges, graphEdge{node("p:"+s.Party, s.Party, "party"), ex, label})
			}
		case "release":
			g.edges = append(g.edges, graphEdge{node("p:"+s.Party, s.Party, "party"), node("p:"+s.To, s.To, "party"), label})
		case "accept", "reject":
			from := s.From
			if from == "" {
				from = x.Holder
			}
			g.edges = append(g.edges, graphEdge{node("p:"+from, from, "party"), node("p:"+s.Party, s.Party, "party"), label})
		}
	}
	return g
}

func (g *custodyGraph) writeDot(w io.Writer) {
	fmt.Fprintf(w, "digraph custody {\n  rankdir=LR;\n  label=%q;\n", "custody of "+g.exhibit)
	for _, n := range g.nodes {
		shape := "ellipse"
		if n.kind == "exhibit" {
			shape = "box"
		}
		fmt.Fprintf(w, "  %q [label=%q, shape=%s];\n", n.id, n.label, shape)
	}
	for _, e := range g.edges {
		fmt.Fprintf(w, "  %q -> %q [label=%q];\n", e.from, e.to, e.label)
	}
	fmt.Fprintln(w, "}")
}

func (g *custodyGraph) writeMermaid(w io.Writer) {
	fmt.Fprintln(w, "flowchart LR")
	ids := map[string]string{}
	for i, n := range g.nodes {
		ids[n.id] = fmt.Sprintf("n%d", i)
		label := strings.ReplaceAll(n.label, `"`, "'")
		if n.kind == "exhibit" {
			fmt.Fprintf(w, "  %s[\"%s\"]\n", ids[n.id], label)
		} else {
			fmt.Fprintf(w, "  %s([\"%s\"])\n", ids[n.id], label)
		}
	}
	for _, e := range g.edges {
		fmt.Fprintf(w, "  %s -- \"%s\" --> %s\n", ids[e.from], strings.ReplaceAll(e.label, `"`, "'"), ids[e.to])
	}
}
