package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/cmd/custos/internal/custodyindex"
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

func (e *env) initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a ledger, the log's Ed25519 checkpoint key and the admin party that authorises enrolments",
		UsageText: "custos init --ledger DIR --origin ORIGIN [--admin-name admin] [--admin-org ORG] [--admin-key PATH]",
		Flags: []cli.Flag{ledgerFlag(), jsonFlag(),
			&cli.StringFlag{Name: "origin", Usage: "the log's origin, first line of every checkpoint (e.g. example.org/cert-ledger)"},
			&cli.StringFlag{Name: "admin-name", Value: "admin", Usage: "the admin party's name"},
			&cli.StringFlag{Name: "admin-org", Usage: "the admin party's organisation (default: the origin)"},
			&cli.StringFlag{Name: "admin-key", Usage: "write the admin key to PATH.key/PATH.pub instead of into the ledger directory"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			o := initOptions{origin: c.String("origin"), adminName: c.String("admin-name"), adminOrg: c.String("admin-org"), adminKey: c.String("admin-key")}
			if o.origin == "" {
				return usagef("init: --origin is required")
			}
			if o.logPassword, err = e.pw.get(logPasswordEnv, "the new log key", true); err != nil {
				return err
			}
			if o.adminPassword, err = e.pw.get(adminPasswordEnv, "the new admin key", true); err != nil {
				return err
			}
			res, err := initLedger(d, o)
			if err != nil {
				return err
			}
			return e.emit(c, res, func(w io.Writer) {
				fmt.Fprintf(w, "initialised ledger %s\norigin: %s\nadmin party %s enrolled at leaf 0 (key %s)\nlog verifier key (give it to witnesses and tribunals; `custos checkpoint --vkey` prints it again):\n%s\n",
					d, res.Origin, res.Admin, res.AdminKeyID, res.VKey)
			})
		},
	}
}

type initOptions struct {
	origin, adminName, adminOrg, adminKey string
	logPassword, adminPassword            []byte
}

type initResult struct {
	Ledger     string `json:"ledger"`
	Origin     string `json:"origin"`
	VKey       string `json:"vkey"`
	Admin      string `json:"admin"`
	AdminKeyID string `json:"admin_key_id"`
}

// initLedger creates the ledger directory d: the log key files, the store
// and its first checkpoint, the admin key, and leaf 0, the admin party's
// self-signed enrolment. It refuses a directory that is not empty.
func initLedger(d ledgerDir, o initOptions) (*initResult, error) {
	if strings.ContainsAny(o.origin, " \t\n+") || len(o.origin) > 256 {
		return nil, usagef("init: origin %q must be at most 256 characters with no spaces or '+'", o.origin)
	}
	if o.adminOrg == "" {
		o.adminOrg = o.origin
	}
	if entries, err := os.ReadDir(string(d)); err == nil && len(entries) > 0 {
		return nil, usagef("init: %s exists and is not empty; choose a new directory", d)
	}
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return nil, err
	}
	priv, pub, err := custody.GenerateKey(custody.KeyEd25519, o.logPassword)
	if err != nil {
		return nil, err
	}
	pk, err := custody.ParsePublicKey(pub)
	if err != nil {
		return nil, err
	}
	vkey, err := pk.NoteVerifierKey(o.origin)
	if err != nil {
		return nil, usagef("init: origin %q cannot name a note key: %v", o.origin, err)
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{logKeyName, priv, 0o600}, {logPubName, pub, 0o644}, {logVKeyName, []byte(vkey + "\n"), 0o644}} {
		if err := ledger.WriteFileAtomic(d.path(f.name), f.data, f.perm); err != nil {
			return nil, err
		}
	}
	adminBase := strings.TrimSuffix(d.path(adminKeyName), ".key")
	if o.adminKey != "" {
		adminBase = strings.TrimSuffix(o.adminKey, ".key")
	}
	adminPub, err := generateKeyFiles(adminBase, custody.KeyEd25519, o.adminPassword)
	if err != nil {
		return nil, err
	}
	if o.adminKey != "" {
		// The ledger keeps the admin's public key beside it either way.
		if err := ledger.WriteFileAtomic(d.path(adminPubName), adminPub.MarshalPEM(), 0o644); err != nil {
			return nil, err
		}
	}
	adminKey, err := decryptKeyFile(staticPassword(o.adminPassword), adminBase+".key", adminPasswordEnv, "admin key")
	if err != nil {
		return nil, err
	}
	stmt, err := custody.NewStatement(custody.PredicateEnroll, custody.PartySubject(o.adminName, adminPub), custody.Enroll{
		Party: o.adminName, Org: o.adminOrg, Roles: []string{custody.RoleAdmin},
		Key: custody.KeyRef{ID: adminPub.KeyID(), PEM: string(adminPub.MarshalPEM())}})
	if err != nil {
		return nil, err
	}
	env, err := custody.SignStatementMulti(stmt, adminKey)
	if err != nil {
		return nil, err
	}
	l, err := d.openWrite(staticPassword(o.logPassword))
	if err != nil {
		return nil, err
	}
	if _, _, err := l.Append(context.Background(), env); err != nil {
		l.Close()
		return nil, fmt.Errorf("enrolling the admin party: %w", err)
	}
	if err := l.Close(); err != nil {
		return nil, err
	}
	return &initResult{Ledger: string(d), Origin: o.origin, VKey: vkey, Admin: o.adminName, AdminKeyID: adminPub.KeyID()}, nil
}

func (e *env) keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage actor keys",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "write a password-encrypted private key (OUT.key) and its public key (OUT.pub)",
			UsageText: "custos key generate --out PATH [--type ed25519|ecdsa-p256]",
			Flags: []cli.Flag{jsonFlag(),
				&cli.StringFlag{Name: "out", Usage: "path without extension; .key and .pub are added"},
				&cli.StringFlag{Name: "type", Value: string(custody.KeyEd25519), Usage: "ed25519 or ecdsa-p256"}},
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				out := c.String("out")
				if out == "" {
					return usagef("key generate: --out PATH is required")
				}
				t := custody.KeyType(c.String("type"))
				if t != custody.KeyEd25519 && t != custody.KeyECDSAP256 {
					return usagef("key generate: --type %q: want ed25519 or ecdsa-p256", t)
				}
				password, err := e.pw.get(passwordEnv, "the new key "+out+".key", true)
				if err != nil {
					return err
				}
				pub, err := generateKeyFiles(out, t, password)
				if err != nil {
					return err
				}
				return e.emit(c, map[string]string{"private_key": out + ".key", "public_key": out + ".pub", "key_id": pub.KeyID(), "type": string(t)}, func(w io.Writer) {
					fmt.Fprintf(w, "wrote %s.key (encrypted) and %s.pub\nkey id: %s\n", out, out, pub.KeyID())
				})
			},
		}, e.keyRotateCommand(), e.keyRevokeCommand()},
	}
}

// generateKeyFiles writes out.key and out.pub, refusing to overwrite.
func generateKeyFiles(out string, t custody.KeyType, password []byte) (*custody.PublicKey, error) {
	for _, ext := range []string{".key", ".pub"} {
		if _, err := os.Lstat(out + ext); err == nil {
			return nil, usagef("key generate: %s%s exists; not overwriting a key", out, ext)
		}
	}
	priv, pub, err := custody.GenerateKey(t, password)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	if err := ledger.WriteFileAtomic(out+".key", priv, 0o600); err != nil {
		return nil, err
	}
	if err := ledger.WriteFileAtomic(out+".pub", pub, 0o644); err != nil {
		return nil, err
	}
	return custody.ParsePublicKey(pub)
}

// loadPrivateKey reads PATH or PATH.key and decrypts it.
func (e *env) loadPrivateKey(path string) (*custody.PrivateKey, error) {
	if !strings.HasSuffix(path, ".key") {
		if _, err := os.Stat(path + ".key"); err == nil {
			path += ".key"
		}
	}
	return decryptKeyFile(e.pw, path, passwordEnv, "key")
}

// decryptKeyFile reads an encrypted key file (capped) and decrypts it with
// the password from envVar (or CUSTOS_PASSWORD, or a prompt naming what).
func decryptKeyFile(pw *passwords, path, envVar, what string) (*custody.PrivateKey, error) {
	b, err := readFileCapped(path, custody.MaxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	password, err := pw.get(envVar, what+" "+path, false)
	if err != nil {
		return nil, err
	}
	k, err := custody.ParsePrivateKey(b, password)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return k, nil
}

func (e *env) submitCommand() *cli.Command {
	return &cli.Command{
		Name:      "submit",
		Usage:     "sign any in-toto Statement (tool output, lab notes) as a DSSE envelope for an enrolled party and append it",
		UsageText: "custos submit --ledger DIR --as PARTY --key KEY STATEMENT.json|-",
		Flags:     signingFlags(),
		Action: func(c *cli.Context) error {
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			path, err := oneArg(c, "statement file (or - for stdin)")
			if err != nil {
				return err
			}
			stmt, err := readFileCapped(path, custody.MaxStatementSize)
			if err != nil {
				return err
			}
			if _, err := custody.ParseStatement(stmt); err != nil {
				return err
			}
			a, err := e.loadActor(c)
			if err != nil {
				return err
			}
			res, err := e.appendSigned(d, a, func(ledger.IndexReader) ([]byte, error) { return stmt, nil })
			if err != nil {
				return err
			}
			return e.emit(c, res, func(w io.Writer) {
				fmt.Fprintf(w, "appended leaf %d\nleaf hash: %s\nsigned by: %s (%s)\nlog size:  %d\n", res.Index, res.LeafHash, res.Party, res.KeyID, res.Size)
			})
		},
	}
}

func (e *env) checkpointCommand() *cli.Command {
	return &cli.Command{
		Name:        "checkpoint",
		Usage:       "print the latest signed C2SP checkpoint (or, with --vkey, the log's verifier key)",
		UsageText:   "custos checkpoint --ledger DIR [--vkey] [--json]",
		Flags:       []cli.Flag{ledgerFlag(), jsonFlag(), &cli.BoolFlag{Name: "vkey", Usage: "print the log's sumdb/note verifier key instead"}},
		Subcommands: []*cli.Command{e.checkpointAttachCommand()},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			if c.Bool("vkey") {
				v, vkey, err := d.readVerifier()
				if err != nil {
					return err
				}
				return e.emit(c, map[string]string{"origin": v.Name(), "vkey": vkey}, func(w io.Writer) { fmt.Fprintln(w, vkey) })
			}
			v, _, err := d.readVerifier()
			if err != nil {
				return err
			}
			l, err := d.openRead()
			if err != nil {
				return err
			}
			defer l.Close()
			cp, _ := l.Checkpoint()
			body, _, err := ledger.OpenCheckpoint(cp, v)
			if err != nil {
				return err
			}
			return e.emit(c, map[string]any{"origin": body.Origin, "size": body.Size, "root": body.Root.String(), "checkpoint": string(cp)},
				func(w io.Writer) { w.Write(cp) })
		},
	}
}

func (e *env) proveCommand() *cli.Command {
	return &cli.Command{
		Name:      "prove",
		Usage:     "print a C2SP tlog-proof for a leaf (--index) or a consistency proof from an earlier size (--from)",
		UsageText: "custos prove --ledger DIR --index N | --from N",
		Flags: []cli.Flag{ledgerFlag(), jsonFlag(),
			&cli.Int64Flag{Name: "index", Value: -1, Usage: "leaf index: inclusion proof in the latest checkpoint"},
			&cli.Int64Flag{Name: "from", Value: -1, Usage: "earlier tree size: consistency proof to the latest checkpoint"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			index, from := c.Int64("index"), c.Int64("from")
			if (index < 0) == (from < 0) {
				return usagef("prove: give exactly one of --index N or --from N (N >= 0)")
			}
			l, err := d.openRead()
			if err != nil {
				return err
			}
			defer l.Close()
			var text []byte
			out := map[string]any{}
			if index >= 0 {
				p, err := l.ProveInclusion(index)
				if err != nil {
					return usagef("prove: %v", err)
				}
				text = p.Marshal()
				out["index"] = index
			} else {
				p, err := l.ProveConsistency(from)
				if err != nil {
					return usagef("prove: %v", err)
				}
				text = p.Marshal()
				out["old"] = from
			}
			out["size"] = l.Size()
			out["proof"] = string(text)
			return e.emit(c, out, func(w io.Writer) { w.Write(text) })
		},
	}
}

func (e *env) showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a leaf, decoded; --raw writes its exact bytes",
		UsageText: "custos show --ledger DIR --index N [--json | --raw]",
		Flags: []cli.Flag{ledgerFlag(), jsonFlag(),
			&cli.Int64Flag{Name: "index", Value: -1, Usage: "leaf index"},
			&cli.BoolFlag{Name: "raw", Usage: "write the leaf's exact bytes (hash them with: (printf '\\0'; cat leaf) | sha256sum)"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			index := c.Int64("index")
			if index < 0 {
				return usagef("show: --index N is required")
			}
			if c.Bool("raw") && c.Bool("json") {
				return usagef("show: --raw and --json exclude each other")
			}
			l, err := d.openRead()
			if err != nil {
				return err
			}
			defer l.Close()
			b, err := l.Leaf(index)
			if err != nil {
				return usagef("show: %v", err)
			}
			if c.Bool("raw") {
				_, err := e.stdout.Write(b)
				return err
			}
			v, err := describeLeaf(b)
			if err != nil {
				return err
			}
			return e.emit(c, v, func(w io.Writer) { v.writeText(w) })
		},
	}
}

// leafView is a leaf as show prints it.
type leafView struct {
	Index       int64           `json:"index"`
	Time        time.Time       `json:"time"`
	Prev        string          `json:"prev"`
	LeafHash    string          `json:"leaf_hash"`
	PayloadType string          `json:"payload_type"`
	KeyIDs      []string        `json:"key_ids"`
	Statement   json.RawMessage `json:"statement"`
}

func describeLeaf(b []byte) (*leafView, error) {
	leaf, err := ledger.ParseLeaf(b)
	if err != nil {
		return nil, err
	}
	v := &leafView{Index: leaf.Index, Time: leaf.Time, Prev: leaf.Prev.String(), LeafHash: ledger.LeafHash(b).String()}
	envl, err := custody.ParseEnvelope(leaf.Entry)
	if err != nil {
		return nil, err
	}
	v.PayloadType = envl.PayloadType
	for _, s := range envl.Signatures {
		v.KeyIDs = append(v.KeyIDs, s.KeyID)
	}
	if _, err := custody.ParseStatement(envl.Payload); err != nil {
		return nil, err
	}
	v.Statement = envl.Payload
	return v, nil
}

func (v *leafView) writeText(w io.Writer) {
	fmt.Fprintf(w, "leaf %d\n", v.Index)
	fmt.Fprintf(w, "  time       %s (the sequencer's claim, not evidence)\n", v.Time.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  leaf hash  %s\n", v.LeafHash)
	fmt.Fprintf(w, "  prev       %s\n", v.Prev)
	fmt.Fprintf(w, "  signed by  %s\n", strings.Join(v.KeyIDs, ", "))
	st, err := custody.ParseStatement(v.Statement)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "  predicate  %s\n", st.PredicateType)
	for _, s := range st.Subject {
		fmt.Fprintf(w, "  subject    %s sha256:%s\n", s.Name, s.Digest["sha256"])
	}
}

func (e *env) fsckCommand() *cli.Command {
	return &cli.Command{
		Name:      "fsck",
		Usage:     "check the whole ledger: every leaf, prev link, tree hash and the root, and replay every entry through the custody rules and signature checks",
		UsageText: "custos fsck --ledger DIR [--json]",
		Flags:     []cli.Flag{ledgerFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			rep, err := fsck(d)
			if rep == nil {
				return err
			}
			out := fsckView{Ok: err == nil, Size: rep.Size, Root: rep.Root.String(), LeavesChecked: rep.LeavesChecked,
				HashesChecked: rep.HashesChecked, EntriesReplayed: rep.EntriesAdmitted, IndexRecords: rep.IndexRecords,
				IndexCompared: rep.IndexCompared, CheckpointFileSize: rep.CheckpointSize}
			var integ *ledger.IntegrityError
			if errors.As(err, &integ) {
				out.FirstBadIndex = &integ.Index
				out.Error = err.Error()
			}
			if perr := e.emit(c, out, func(w io.Writer) { out.writeText(w) }); perr != nil {
				return perr
			}
			if err != nil {
				return &verifyFailed{err}
			}
			return nil
		},
	}
}

type fsckView struct {
	Ok                 bool   `json:"ok"`
	Size               int64  `json:"size"`
	Root               string `json:"root"`
	LeavesChecked      int64  `json:"leaves_checked"`
	HashesChecked      int64  `json:"tree_hashes_checked"`
	EntriesReplayed    int64  `json:"entries_replayed"`
	IndexRecords       int64  `json:"index_records"`
	IndexCompared      bool   `json:"index_compared"`
	CheckpointFileSize int64  `json:"checkpoint_file_size"`
	FirstBadIndex      *int64 `json:"first_bad_index,omitempty"`
	Error              string `json:"error,omitempty"`
}

func (v *fsckView) writeText(w io.Writer) {
	status := "ok"
	if !v.Ok {
		status = "FAILED"
	}
	fmt.Fprintf(w, "fsck: %s\n  leaves checked        %d of %d\n  tree hashes checked   %d\n  entries replayed      %d (signatures and custody rules)\n  index records         %d (compared with the store: %v)\n  root                  %s\n  checkpoint file size  %d\n",
		status, v.LeavesChecked, v.Size, v.HashesChecked, v.EntriesReplayed, v.IndexRecords, v.IndexCompared, v.Root, v.CheckpointFileSize)
}

// fsck runs ledger.Fsck with the custody rules replayed from genesis.
func fsck(d ledgerDir) (*ledger.FsckReport, error) {
	v, _, err := d.readVerifier()
	if err != nil {
		return nil, err
	}
	st, err := d.openStore(true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return ledger.Fsck(st, ledger.FsckOptions{
		Verifier:       v,
		CheckpointFile: d.path(checkpointName),
		Indexer:        custodyindex.Indexer{},
	})
}
