// Command custos is the evidence chain-of-custody ledger's command line.
//
// It is a thin layer over packages ledger, custody and verify: it parses
// flags, opens the ledger directory, prints results (text, or JSON with
// --json, always on stdout; progress and warnings on stderr), and turns
// errors into the exit codes below. It holds no domain logic.
//
// Exit codes:
//
//	0  ok
//	1  verification failed: a signature, proof, hash chain or stored root
//	   does not check out (fsck names the first bad leaf)
//	2  usage: unknown command or flag, missing argument
//	3  malformed input: a file or argument that does not parse
//	4  I/O error: a file or the store cannot be read or written
//	5  ledger in use: another process holds the ledger open
//	6  equivocation: two validly signed checkpoints that cannot both be true
//	   (witness cosign, verify)
//	7  rollback: the store (or a bundle) is behind a checkpoint already
//	   published or known; a witness refuses to go back
//	8  refused: the entry breaks a custody rule (the message names the rule,
//	   the exhibit and its holder)
//	9  quorum not met: the checkpoint lacks the trust policy's witness
//	   cosignatures
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/custody/attribution"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
	"github.com/custos-ledger/custos/verify/witness"
)

// Exit codes; see the package documentation.
const (
	exitOK           = 0
	exitVerifyFailed = 1
	exitUsage        = 2
	exitMalformed    = 3
	exitIO           = 4
	exitInUse        = 5
	exitEquivocation = 6
	exitRollback     = 7
	exitRefused      = 8
	exitQuorum       = 9
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app, e := newApp(stdin, stdout, stderr)
	err := app.Run(reorderArgs(app, args))
	if e.unknownCommand {
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "custos: %v\n", err)
	return code
}

// usageError marks a mistake in how custos was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// verifyFailed marks a check that ran and failed (fsck, proof checks).
type verifyFailed struct{ err error }

func (e *verifyFailed) Error() string { return e.err.Error() }
func (e *verifyFailed) Unwrap() error { return e.err }

// exitCode maps an error to the documented table. This is the only place
// errors become exit codes.
func exitCode(err error) int {
	var (
		usage    *usageError
		failed   *verifyFailed
		integ    *ledger.IntegrityError
		verr     *verify.Error
		sigErr   *custody.SignatureError
		lparse   *ledger.ParseError
		cparse   *custody.ParseError
		aparse   *attribution.ParseError
		exitCode cli.ExitCoder
		rule     *custody.RuleError
	)
	switch {
	case errors.Is(err, ledger.ErrInUse), errors.Is(err, witness.ErrInUse):
		return exitInUse
	case errors.Is(err, verify.ErrEquivocation):
		return exitEquivocation
	case errors.Is(err, ledger.ErrRollback), errors.Is(err, verify.ErrRollback):
		return exitRollback
	case errors.Is(err, verify.ErrInvalid):
		return exitVerifyFailed
	case errors.Is(err, verify.ErrQuorum):
		return exitQuorum
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &failed), errors.As(err, &integ), errors.As(err, &verr), errors.As(err, &sigErr):
		return exitVerifyFailed
	case errors.As(err, &rule):
		return exitRefused
	case errors.As(err, &lparse), errors.As(err, &cparse), errors.As(err, &aparse), errors.Is(err, errMalformed):
		return exitMalformed
	case errors.Is(err, custody.ErrWrongPassword):
		return exitUsage
	case errors.As(err, &exitCode):
		return exitCode.ExitCode()
	}
	return exitIO
}

// errMalformed marks malformed input found by the command line itself.
var errMalformed = errors.New("malformed input")
