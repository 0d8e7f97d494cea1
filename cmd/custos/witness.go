package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
	"github.com/custos-ledger/custos/verify/witness"
)

// witnessPasswordEnv holds the witness key's password; it falls back to
// CUSTOS_PASSWORD.
const witnessPasswordEnv = "CUSTOS_WITNESS_PASSWORD"

// cosignedDirName is the ledger directory's folder of cosigned checkpoints,
// one file per tree size, <size as %020d>.checkpoint: the log's signed
// note with every witness cosignature attached to it.
const cosignedDirName = "cosigned"

// maxKeyLine caps a file holding one note verifier key.
const maxKeyLine = 4 << 10

func (e *env) witnessCommand() *cli.Command {
	return &cli.Command{
		Name:  "witness",
		Usage: "be a witness: cosign a log's checkpoints only if they extend what you cosigned before",
		Subcommands: []*cli.Command{{
			Name:      "init",
			Usage:     "create a witness key and state directory; prints its verifier key (for trust init --witness)",
			UsageText: "custos witness init --name NAME --out DIR [--json]",
			Flags: []cli.Flag{jsonFlag(),
				&cli.StringFlag{Name: "name", Usage: "the witness's name, e.g. witness.example.org"},
				&cli.StringFlag{Name: "out", Usage: "the new state directory"}},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				name, out := c.String("name"), c.String("out")
				if name == "" || out == "" {
					return usagef("witness init: --name NAME and --out DIR are required")
				}
				if strings.ContainsAny(name, " \t\n+") || len(name) > 256 {
					return usagef("witness init: name %q must be at most 256 characters with no spaces or '+'", name)
				}
				if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
					return usagef("witness init: %s exists and is not empty; choose a new directory", out)
				}
				pw, err := e.pw.get(witnessPasswordEnv, "the new witness key", true)
				if err != nil {
					return err
				}
				vkey, err := witness.Init(out, name, pw)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "initialised witness state %s; its verifier key (also in %s) is:\n",
					out, filepath.Join(out, "witness.vkey"))
				return e.emit(c, map[string]string{"name": name, "state": out, "vkey": vkey},
					func(w io.Writer) { fmt.Fprintln(w, vkey) })
			},
		}, {
			Name:  "cosign",
			Usage: "cosign the checkpoint in a consistency proof (custos prove --from N) if it extends the last one cosigned",
			UsageText: "custos witness cosign --state DIR --proof FILE [--log-key FILE] [--json] > cosigned.txt\n\n" +
				"FILE is `custos prove --from N` output: N is the size this witness cosigned last for the log, 0 the\n" +
				"first time. --log-key (the log's key, as `custos checkpoint --vkey` prints it) is needed the first\n" +
				"time the witness sees the log; it is remembered. Exit 7 if N is not the witness's last size or\n" +
				"the checkpoint is older, 6 if the log signed two checkpoints of one size (both are kept in\n" +
				"DIR/equivocation), 1 if the proof does not verify.",
			Flags: []cli.Flag{jsonFlag(),
				&cli.StringFlag{Name: "state", Usage: "the witness's state directory (witness init --out)"},
				&cli.StringFlag{Name: "proof", Usage: "consistency proof file (custos prove --from N), or - for stdin"},
				&cli.StringFlag{Name: "log-key", Usage: "file holding the log's verifier key (first time only)"}},
			Action: e.witnessCosign,
		}, e.witnessServeCommand()},
	}
}

func (e *env) witnessCosign(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	state, proofFile := c.String("state"), c.String("proof")
	if state == "" || proofFile == "" {
		return usagef("witness cosign: --state DIR and --proof FILE are required")
	}
	proof, err := readFileCapped(proofFile, ledger.MaxProofSize)
	if err != nil {
		return err
	}
	var logKey string
	if f := c.String("log-key"); f != "" {
		b, err := readFileCapped(f, maxKeyLine)
		if err != nil {
			return err
		}
		logKey = string(b)
	}
	w, err := e.openWitness(state)
	if err != nil {
		return err
	}
	defer w.Close()
	if logKey != "" {
		if err := w.AddLog(logKey); errors.Is(err, witness.ErrLogKeyChanged) {
			return usagef("witness cosign: %v", err)
		} else if err != nil {
			return err
		}
	}
	out, err := w.Cosign(proof, time.Now())
	var conflict *witness.ConflictError
	switch {
	case err == nil:
	case errors.Is(err, witness.ErrUnknownLog):
		return usagef("witness cosign: %v; pass --log-key FILE with the log's verifier key (custos checkpoint --vkey prints it) the first time", err)
	case errors.As(err, &conflict), errors.Is(err, witness.ErrRollback):
		return cli.Exit(err.Error(), exitRollback)
	case errors.Is(err, witness.ErrBadProof):
		return &verifyFailed{err}
	default:
		return err // equivocation (6), a bad log signature (1), malformed input (3)
	}
	body, err := checkpointBody(out)
	if err != nil {
		return err
	}
	return e.emit(c, map[string]any{"origin": body.Origin, "size": body.Size, "root": body.Root.String(), "cosigned": string(out)},
		func(wr io.Writer) { wr.Write(out) })
}

func (e *env) trustCommand() *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "write trust policies: the log key, the witness keys and the quorum a verifier requires",
		Subcommands: []*cli.Command{{
			Name:      "init",
			Usage:     "print a trust policy requiring K of the given witnesses' cosignatures",
			UsageText: "custos trust init --log-key FILE [--witness FILE ...] --quorum K [--json] > trust.policy",
			Flags: []cli.Flag{jsonFlag(),
				&cli.StringFlag{Name: "log-key", Usage: "file holding the log's verifier key (custos checkpoint --vkey)"},
				&cli.StringSliceFlag{Name: "witness", Usage: "file holding a witness's verifier key (witness init's output; repeatable)"},
				&cli.IntFlag{Name: "quorum", Value: -1, Usage: "how many of the witnesses must cosign (0 with no witnesses)"}},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				logFile, witnessFiles, quorum := c.String("log-key"), c.StringSlice("witness"), c.Int("quorum")
				if logFile == "" {
					return usagef("trust init: --log-key FILE is required")
				}
				if quorum < 0 {
					if len(witnessFiles) > 0 {
						return usagef("trust init: --quorum K is required with --witness")
					}
					quorum = 0
				}
				logKey, err := readFileCapped(logFile, maxKeyLine)
				if err != nil {
					return err
				}
				var keys []string
				for _, f := range witnessFiles {
					b, err := readFileCapped(f, maxKeyLine)
					if err != nil {
						return err
					}
					keys = append(keys, string(b))
				}
				p, err := verify.NewPolicy(string(logKey), keys, quorum)
				if err != nil {
					if verify.IsMalformed(err) {
						return err
					}
					return usagef("trust init: %v", err)
				}
				text := p.Marshal()
				var names []string
				for _, w := range p.Witnesses {
					names = append(names, w.Name)
				}
				return e.emit(c, map[string]any{"origin": p.Origin, "witnesses": names, "quorum": quorum, "policy": string(text)},
					func(w io.Writer) { w.Write(text) })
			},
		}},
	}
}

func (e *env) checkpointAttachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "store a witness's cosigned checkpoint with the ledger, merging it with cosignatures already there",
		UsageText: "custos checkpoint attach --ledger DIR [--json] COSIGNED",
		Flags:     []cli.Flag{ledgerFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("attach: want one cosigned checkpoint file (witness cosign's output), got %d arguments", c.NArg())
			}
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			signed, err := readFileCapped(c.Args().First(), ledger.MaxCheckpointSize)
			if err != nil {
				return err
			}
			res, err := attachCosigned(d, signed)
			if err != nil {
				return err
			}
			return e.emit(c, res, func(w io.Writer) {
				fmt.Fprintf(w, "attached to %s: size %d, %d signatures (%d new)\n", res.Path, res.Size, res.Signatures, res.Added)
			})
		},
	}
}

type attachResult struct {
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	Signatures int    `json:"signatures"` // signature lines stored, the log's included
	Added      int    `json:"added"`      // of them new
}

// attachCosigned stores signed, a checkpoint of d's log with cosignatures,
// in d/cosigned, merged with the note already stored for its size. The
// checkpoint must carry the log's signature and be the ledger's tree of
// its size; a note of the same size with another body would be the log
// key signing two trees, and is reported as equivocation. The stored note
// keeps the log's signature line first, then the lines it had, then the new
// ones; identical lines are kept once. Cosignatures are not checked here
// (the ledger does not know which witnesses a verifier trusts); the trust
// policy does that.
func attachCosigned(d ledgerDir, signed []byte) (*attachResult, error) {
	v, _, err := d.readVerifier()
	if err != nil {
		return nil, err
	}
	c, err := verify.Checkpoint(signed, v)
	if err != nil {
		return nil, err
	}
	l, err := d.openRead()
	if err != nil {
		return nil, err
	}
	size := l.Size()
	root, rootErr := l.TreeHash(min(c.Size, size))
	l.Close()
	switch {
	case c.Size > size:
		return nil, &verifyFailed{fmt.Errorf("attach: the checkpoint is of size %d, but the ledger has %d leaves: it is not this ledger's", c.Size, size)}
	case rootErr != nil:
		return nil, rootErr
	case root != c.Root:
		return nil, fmt.Errorf("attach: the log key signed a checkpoint of size %d with root %s, but the ledger's tree of that size has root %s: %w",
			c.Size, c.Root, root, verify.ErrEquivocation)
	}

	path := d.path(filepath.Join(cosignedDirName, fmt.Sprintf("%020d.checkpoint", c.Size)))
	text, incoming := splitSigned(signed)
	logLine, lines := "", []string(nil)
	have := map[string]bool{}
	add := func(line string) bool {
		if have[line] {
			return false
		}
		_, err := note.Open([]byte(text+"\n"+line), note.VerifierList(v))
		var invalid *note.InvalidSignatureError
		switch {
		case err == nil: // the log's signature
			if logLine == "" {
				logLine = line
				have[line] = true
			}
			return false
		case errors.As(err, &invalid):
			return false // claims the log's key and fails: not worth keeping
		}
		have[line] = true
		lines = append(lines, line)
		return true
	}
	old, err := readFileCapped(path, ledger.MaxCheckpointSize)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if _, err := verify.Checkpoint(old, v); err != nil {
			return nil, fmt.Errorf("attach: stored %s: %w", path, err)
		}
		oldText, oldLines := splitSigned(old)
		if oldText != text {
			_, _, err := verify.Consistency((&ledger.ConsistencyProof{Old: c.Size, Checkpoint: signed}).Marshal(), old, v)
			if err == nil {
				err = fmt.Errorf("%w: stored %s has another body", errMalformed, path)
			}
			return nil, fmt.Errorf("attach: %w", err)
		}
		for _, line := range oldLines {
			add(line)
		}
	}
	added := 0
	for _, line := range incoming {
		if add(line) {
			added++
		}
	}
	merged := text + "\n" + logLine + strings.Join(lines, "")
	if n := 1 + len(lines); n > 100 || len(merged) > ledger.MaxCheckpointSize {
		return nil, fmt.Errorf("%w: attach: %d signature lines, %d bytes: more than a checkpoint may hold (100 lines, %d bytes)",
			errMalformed, n, len(merged), ledger.MaxCheckpointSize)
	}
	if _, err := verify.Checkpoint([]byte(merged), v); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(d.path(cosignedDirName), 0o755); err != nil {
		return nil, err
	}
	if err := ledger.WriteFileAtomic(path, []byte(merged), 0o644); err != nil {
		return nil, err
	}
	return &attachResult{Path: path, Size: c.Size, Signatures: 1 + len(lines), Added: added}, nil
}

// splitSigned splits a signed note (already opened) into its text and its
// signature lines, each with its newline.
func splitSigned(signed []byte) (text string, lines []string) {
	i := strings.LastIndex(string(signed), "\n\n")
	text = string(signed[:i+1])
	for _, l := range strings.SplitAfter(string(signed[i+2:]), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return text, lines
}

// checkpointBody parses the body of a signed checkpoint without checking
// its signatures.
func checkpointBody(signed []byte) (ledger.Checkpoint, error) {
	i := strings.LastIndex(string(signed), "\n\n")
	if i < 0 {
		return ledger.Checkpoint{}, &ledger.ParseError{What: "checkpoint", Msg: "not a signed note"}
	}
	return ledger.ParseCheckpoint(signed[:i+1])
}

// cosignedSizes returns the sizes of d/cosigned's checkpoints, ascending.
// Files not named <20 digits>.checkpoint (temporary files) are skipped.
func cosignedSizes(d ledgerDir) ([]int64, error) {
	entries, err := os.ReadDir(d.path(cosignedDirName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sizes []int64
	for _, e := range entries {
		digits, ok := strings.CutSuffix(e.Name(), ".checkpoint")
		if !ok || len(digits) != 20 || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	return sizes, nil
}

// latestCosigned returns the cosigned checkpoint of the largest size in
// d/cosigned and that size; with none, the log's latest checkpoint file
// (d/checkpoint) and its size; with neither, nil. The size is what the
// file name or body says: the caller verifies the note.
func latestCosigned(d ledgerDir) (signed []byte, size int64, err error) {
	sizes, err := cosignedSizes(d)
	if err != nil {
		return nil, 0, err
	}
	if len(sizes) > 0 {
		size = sizes[len(sizes)-1]
		signed, err = readFileCapped(d.path(filepath.Join(cosignedDirName, fmt.Sprintf("%020d.checkpoint", size))), ledger.MaxCheckpointSize)
		return signed, size, err
	}
	signed, err = readFileCapped(d.path(checkpointName), ledger.MaxCheckpointSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	c, err := checkpointBody(signed)
	if err != nil {
		return nil, 0, err
	}
	return signed, c.Size, nil
}

// knownCosigned returns every checkpoint in d/cosigned, ascending by size.
// The caller verifies them.
func knownCosigned(d ledgerDir) ([][]byte, error) {
	sizes, err := cosignedSizes(d)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, size := range sizes {
		b, err := readFileCapped(d.path(filepath.Join(cosignedDirName, fmt.Sprintf("%020d.checkpoint", size))), ledger.MaxCheckpointSize)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// openWitness opens a witness's state directory with the password from
// CUSTOS_WITNESS_PASSWORD (or a prompt). A state another process holds
// gives witness.ErrInUse (exit 5).
func (e *env) openWitness(state string) (*witness.Witness, error) {
	pw, err := e.pw.get(witnessPasswordEnv, "the witness key "+filepath.Join(state, "witness.key"), false)
	if err != nil {
		return nil, err
	}
	return witness.Open(state, pw)
}
