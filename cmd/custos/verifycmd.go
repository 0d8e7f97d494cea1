package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/verify"
)

// exitQuorum is custos verify's exit code for a checkpoint whose witness
// cosignatures do not meet the trust policy's quorum.
func (e *env) verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "verify a tribunal bundle offline, trusting only the trust policy",
		UsageText: "custos verify BUNDLE --trust trust.policy [--evidence DIR] [--known-checkpoint FILE ...] [--json]\n\n" +
			"Exit codes: 0 valid; 1 invalid or tampered; 3 malformed bundle or policy; 4 I/O error;\n" +
			"6 equivocation; 7 rollback (the bundle is older than a known checkpoint); 9 witness quorum not met.",
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.StringFlag{Name: "trust", Usage: "the trust policy: log key, witness keys, quorum (required)"},
			&cli.StringFlag{Name: "evidence", Usage: "a directory of evidence files to re-hash and match to the exhibits"},
			&cli.StringSliceFlag{Name: "known-checkpoint", Usage: "a signed checkpoint kept from before; the bundle must be consistent with it (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("verify: want one BUNDLE argument, got %d", c.NArg())
			}
			if c.String("trust") == "" {
				return usagef("verify: --trust FILE is required")
			}
			pb, err := readFileCapped(c.String("trust"), verify.MaxPolicySize)
			if err != nil {
				return err
			}
			policy, err := verify.ParsePolicy(pb)
			if err != nil {
				return fmt.Errorf("%s: %w", c.String("trust"), err)
			}
			var known [][]byte
			for _, f := range c.StringSlice("known-checkpoint") {
				b, err := readFileCapped(f, maxInputFile)
				if err != nil {
					return err
				}
				known = append(known, b)
			}
			if d := c.String("evidence"); d != "" {
				if fi, err := os.Stat(d); err != nil {
					return err
				} else if !fi.IsDir() {
					return usagef("verify: --evidence %s is not a directory", d)
				}
			}
			f, err := os.Open(c.Args().First())
			if err != nil {
				return err
			}
			defer f.Close()
			defer tuneGC(f)()
			report, verr := verify.VerifyBundle(bufio.NewReaderSize(f, 1<<20), verify.BundleOptions{
				Policy: policy, Evidence: c.String("evidence"), KnownCheckpoints: known,
			})
			if report == nil {
				return verr
			}
			if err := e.emit(c, report, func(w io.Writer) { printBundleReport(w, report) }); err != nil {
				return err
			}
			return verr
		},
	}
}

// tuneGC sets the collector for VerifyBundle over the bundle file f, as
// its Memory doc says, unless GOGC or GOMEMLIMIT is set in the
// environment; it returns the function that restores the settings.
func tuneGC(f *os.File) (restore func()) {
	fi, err := f.Stat()
	if err != nil || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	percent := debug.SetGCPercent(verify.GCPercent)
	limit := debug.SetMemoryLimit(max(fi.Size(), verify.GCMinLimit))
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// printBundleReport prints the verdict, the checkpoint and witnesses, one
// line per exhibit, then every problem.
func printBundleReport(w io.Writer, r *verify.BundleReport) {
	verdict := "VALID"
	if !r.Valid {
		verdict = "NOT VALID"
	}
	fmt.Fprintf(w, "bundle: %s (%s)\n", verdict, r.Verdict)
	if r.Origin != "" {
		fmt.Fprintf(w, "checkpoint: %s size %d root %s\n", r.Origin, r.TreeSize, r.Root)
	}
	var ws []string
	for _, c := range r.Witnesses {
		ws = append(ws, fmt.Sprintf("%s (%s)", c.Witness, c.Time.UTC().Format("2006-01-02T15:04:05Z")))
	}
	if len(ws) == 0 {
		ws = []string{"none"}
	}
	fmt.Fprintf(w, "witnesses: %s\n", strings.Join(ws, ", "))
	for _, k := range r.Known {
		ok := "consistent"
		if !k.Ok {
			ok = "NOT consistent"
		}
		fmt.Fprintf(w, "known checkpoint (%s) size %d: %s\n", k.Source, k.Size, ok)
	}
	fmt.Fprintf(w, "entries: %d\n", r.Entries)
	for _, x := range r.Exhibits {
		ok := "ok"
		if !x.Ok {
			ok = "FAILED"
		}
		line := fmt.Sprintf("exhibit %s: %s: %s, held by %s, %d events", x.ID, ok, x.Status, x.Holder, len(x.Steps))
		if x.Evidence != "" {
			line += ", evidence " + x.Evidence + " matches"
		}
		fmt.Fprintln(w, line)
	}
	for _, h := range r.Hypotheses {
		fmt.Fprintf(w, "hypothesis %s (%s): %s\n", h.ID, h.Likelihood, h.Statement)
		for _, v := range h.Verdicts {
			ok := "re-evaluated: identical"
			if !v.Ok {
				ok = "NOT reproduced"
			}
			level := v.Level
			if level == "" {
				level = "no level"
			}
			fmt.Fprintf(w, "  verdict leaf %d under %s by %s: %s; %s\n", v.Index, v.Policy, v.Party, level, ok)
		}
	}
	for _, f := range r.Evidence {
		if f.Status != verify.EvidenceMatched {
			fmt.Fprintf(w, "evidence %s: %s\n", f.Path, f.Status)
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
}
