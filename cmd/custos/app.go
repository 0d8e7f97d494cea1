package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// env carries what commands need from the process, so tests can run the
// app in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	pw     *passwords

	unknownCommand bool // set when the command line names no command custos has
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) (*cli.App, *env) {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr,
		pw: &passwords{getenv: os.Getenv, stderr: stderr}}
	app := &cli.App{
		Name:  "custos",
		Usage: "evidence chain-of-custody ledger: signed, hash-chained, witnessed",
		Description: "Exit codes: 0 ok, 1 verification failed, 2 usage (or wrong password), 3 malformed input,\n" +
			"4 I/O error, 5 ledger in use, 6 equivocation, 7 rollback (store behind a published checkpoint),\n" +
			"8 refused by a custody rule, 9 witness quorum not met.\n" +
			"Passwords come from CUSTOS_PASSWORD (actor keys), CUSTOS_LOG_PASSWORD (the log key),\n" +
			"CUSTOS_ADMIN_PASSWORD (the admin key) and CUSTOS_WITNESS_PASSWORD (a witness key), the last\n" +
			"three falling back to CUSTOS_PASSWORD, or a terminal prompt; never from a flag.",
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &usageError{err.Error()}
		},
		CommandNotFound: func(c *cli.Context, name string) {
			e.unknownCommand = true
			fmt.Fprintf(stderr, "custos: unknown command %q; see custos --help\n", name)
		},
		Commands: []*cli.Command{
			e.initCommand(),
			e.keyCommand(),
			e.partyCommand(),
			e.acquireCommand(),
			e.releaseCommand(),
			e.acceptCommand(),
			e.rejectCommand(),
			e.deriveCommand(),
			e.findingCommand(),
			e.hypothesisCommand(),
			e.policyCommand(),
			e.evaluateCommand(),
			e.stateCommand("seal", "seal an exhibit you hold: it moves only after an unseal"),
			e.stateCommand("unseal", "unseal an exhibit you hold"),
			e.stateCommand("dispose", "dispose of an exhibit you hold (returned, destroyed): it takes no further event"),
			e.historyCommand(),
			e.statusCommand(),
			e.submitCommand(),
			e.checkpointCommand(),
			e.proveCommand(),
			e.showCommand(),
			e.fsckCommand(),
			e.reindexCommand(),
			e.exportCommand(),
			e.verifyCommand(),
			e.witnessCommand(),
			e.trustCommand(),
			e.demoCommand(),
			e.serveCommand(),
			e.mirrorCommand(),
		},
	}
	for _, c := range app.Commands {
		setUsageError(c)
	}
	return app, e
}

func setUsageError(c *cli.Command) {
	c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return &usageError{fmt.Sprintf("%s: %v", c.Name, err)}
	}
	for _, sub := range c.Subcommands {
		setUsageError(sub)
	}
}

var (
	ledgerFlag = func() cli.Flag {
		return &cli.StringFlag{Name: "ledger", Usage: "ledger directory", EnvVars: []string{"CUSTOS_LEDGER"}}
	}
	jsonFlag = func() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print results as JSON on stdout"} }
)

// ledgerOf returns the --ledger directory, or a usage error.
func ledgerOf(c *cli.Context) (ledgerDir, error) {
	d := c.String("ledger")
	if d == "" && c.String("server") != "" {
		return "", nil // a signing command against a server (remote.go)
	}
	if d == "" {
		return "", usagef("%s: --ledger DIR (or CUSTOS_LEDGER) is required", c.Command.Name)
	}
	return ledgerDir(d), nil
}

// ledgerNoArgs is the prologue of commands that take the ledger and no
// positional argument.
func ledgerNoArgs(c *cli.Context) (ledgerDir, error) {
	if err := noArgs(c); err != nil {
		return "", err
	}
	return ledgerOf(c)
}

// emit prints v as JSON with --json, else calls text.
func (e *env) emit(c *cli.Context, v any, text func(w io.Writer)) error {
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(e.stdout)
	return nil
}

// noArgs refuses stray positional arguments.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.Name, c.Args().First())
	}
	return nil
}
