package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/term"

	"github.com/custos-ledger/custos/cmd/custos/internal/custodyindex"
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
)

// A ledger directory holds:
//
//	store/       the badger store (leaves, tree hashes, latest checkpoint)
//	checkpoint   the latest signed checkpoint, kept outside the store so a
//	             store restored from an older copy is caught on open
//	log.key      the log's Ed25519 checkpoint key, password-encrypted
//	log.pub      its public key (PEM)
//	log.vkey     its sumdb/note verifier key, name+hash+base64
//	admin.key    the ledger admin's key, password-encrypted (unless init
//	             was told to keep it elsewhere); it authorises enrolments
//	admin.pub    its public key
const (
	storeDirName   = "store"
	checkpointName = "checkpoint"
	logKeyName     = "log.key"
	logPubName     = "log.pub"
	logVKeyName    = "log.vkey"
	adminKeyName   = "admin.key"
	adminPubName   = "admin.pub"
)

// maxInputFile caps any file custos reads whole (statements, keys, proofs).
const maxInputFile = 2 << 20

type ledgerDir string

func (d ledgerDir) path(name string) string { return filepath.Join(string(d), name) }

// readVerifier reads the log's verifier key.
func (d ledgerDir) readVerifier() (note.Verifier, string, error) {
	b, err := readFileCapped(d.path(logVKeyName), 1<<10)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("%s is not a custos ledger (no %s); create one with custos init", d, logVKeyName)
	}
	if err != nil {
		return nil, "", err
	}
	vkey := strings.TrimSpace(string(b))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", errMalformed, d.path(logVKeyName), err)
	}
	return v, vkey, nil
}

// openStore opens the ledger's badger store. What badger warns of, and any
// table the store's preflight set aside, goes to stderr.
func (d ledgerDir) openStore(readOnly bool) (*badgerstore.Store, error) {
	return badgerstore.Open(d.path(storeDirName), badgerstore.Options{
		ReadOnly: readOnly,
		Logger:   log.New(os.Stderr, "custos: ", 0),
	})
}

// openRead opens the ledger for reading, with badger's shared lock.
func (d ledgerDir) openRead() (*ledger.Log, error) {
	v, _, err := d.readVerifier()
	if err != nil {
		return nil, err
	}
	st, err := d.openStore(true)
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(st, ledger.Options{Verifier: v, CheckpointFile: d.path(checkpointName), Indexer: custodyindex.Indexer{}})
	if err != nil {
		st.Close()
		return nil, err
	}
	return l, nil
}

// resetIndex drops the custody index; the next writing open rebuilds it.
func (d ledgerDir) resetIndex() error {
	if _, _, err := d.readVerifier(); err != nil {
		return err
	}
	st, err := d.openStore(false)
	if err != nil {
		return err
	}
	if err := st.ResetIndex(); err != nil {
		st.Close()
		return err
	}
	return st.Close()
}

// openWrite opens the ledger for appending; it decrypts the log key.
func (d ledgerDir) openWrite(pw *passwords) (*ledger.Log, error) {
	v, _, err := d.readVerifier()
	if err != nil {
		return nil, err
	}
	signer, err := d.logSigner(pw, v.Name())
	if err != nil {
		return nil, err
	}
	st, err := d.openStore(false)
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(st, ledger.Options{Verifier: v, Signer: signer, CheckpointFile: d.path(checkpointName), Indexer: custodyindex.Indexer{}})
	if err != nil {
		st.Close()
		return nil, err
	}
	return l, nil
}

func (d ledgerDir) logSigner(pw *passwords, origin string) (note.Signer, error) {
	k, err := decryptKeyFile(pw, d.path(logKeyName), logPasswordEnv, "log key")
	if err != nil {
		return nil, err
	}
	return k.NoteSigner(origin)
}

func readPublicKey(path string) (*custody.PublicKey, error) {
	b, err := readFileCapped(path, custody.MaxKeyFileSize)
	if err != nil {
		return nil, err
	}
	pub, err := custody.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// readFileCapped reads a whole file, refusing one larger than limit
// (ledger.ReadFileCapped); "-" reads standard input, capped the same way.
func readFileCapped(path string, limit int64) ([]byte, error) {
	if path != "-" {
		return ledger.ReadFileCapped(path, limit)
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &ledger.ParseError{What: "standard input", Msg: fmt.Sprintf("more than the %d-byte cap", limit)}
	}
	return b, nil
}

// Passwords come from the environment or a terminal prompt, never from a
// flag (flags land in shell history and process listings).
const (
	passwordEnv      = "CUSTOS_PASSWORD"       // actor keys
	logPasswordEnv   = "CUSTOS_LOG_PASSWORD"   // the log key; falls back to CUSTOS_PASSWORD
	adminPasswordEnv = "CUSTOS_ADMIN_PASSWORD" // the admin key; falls back to CUSTOS_PASSWORD
)

type passwords struct {
	getenv func(string) string
	stderr io.Writer
}

// staticPassword answers every password request with p (init, which has
// just asked for them; the demo).
func staticPassword(p []byte) *passwords {
	return &passwords{getenv: func(string) string { return string(p) }, stderr: io.Discard}
}

// get returns the password for what: from env (or CUSTOS_PASSWORD as a
// fallback), else from a prompt on the terminal. confirm asks twice.
func (p *passwords) get(env, what string, confirm bool) ([]byte, error) {
	if v := p.getenv(env); v != "" {
		return []byte(v), nil
	}
	if v := p.getenv(passwordEnv); v != "" {
		return []byte(v), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, usagef("a password is needed for %s: set %s or run on a terminal", what, env)
	}
	fmt.Fprintf(p.stderr, "Password for %s: ", what)
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(p.stderr)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprintf(p.stderr, "Again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(p.stderr)
		if err != nil {
			return nil, err
		}
		if string(again) != string(pw) {
			return nil, usagef("passwords do not match")
		}
	}
	if len(pw) == 0 {
		return nil, usagef("empty password for %s", what)
	}
	return pw, nil
}
