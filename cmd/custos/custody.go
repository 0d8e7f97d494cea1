package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

var (
	asFlag  = func() cli.Flag { return &cli.StringFlag{Name: "as", Usage: "the enrolled party you act for"} }
	keyFlag = func() cli.Flag {
		return &cli.StringFlag{Name: "key", Usage: "your encrypted private key: PATH or PATH.key", EnvVars: []string{"CUSTOS_KEY"}}
	}
)

// signingFlags are the flags of every command that signs for a party.
func signingFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{ledgerFlag(), jsonFlag(), asFlag(), keyFlag(), serverFlag()}, extra...)
}

// actor is who signs: a party and its key; with server set, against
// that custos server rather than a local ledger (remote.go).
type actor struct {
	party  string
	key    *custody.PrivateKey
	server string
}

func (e *env) loadActor(c *cli.Context) (*actor, error) {
	party := c.String("as")
	if party == "" {
		return nil, usagef("%s: --as PARTY is required", c.Command.Name)
	}
	if c.String("key") == "" {
		return nil, usagef("%s: --key KEY (or CUSTOS_KEY) is required", c.Command.Name)
	}
	k, err := e.loadPrivateKey(c.String("key"))
	if err != nil {
		return nil, err
	}
	return &actor{party: party, key: k, server: c.String("server")}, nil
}

// precheck refuses, before an artifact is hashed (which can take an hour
// for a disk image), what would be refused after: a bad or taken exhibit
// id, an unknown party, a key that is not the party's current one. The
// ledger checks all of it again, authoritatively, on append.
func (e *env) precheck(d ledgerDir, a *actor, exhibit string) error {
	if exhibit != "" {
		if err := custody.CheckExhibitID(exhibit); err != nil {
			return usagef("%v", err)
		}
	}
	v, done, err := e.indexFor(d, a)
	if err != nil {
		return err
	}
	defer done()
	if err := checkCurrentKey(v, a); err != nil {
		return err
	}
	if exhibit != "" {
		if x, err := custody.Exhibit(v, exhibit); err != nil {
			return err
		} else if x != nil {
			return usagef("exhibit %s is already registered (leaf %d); choose another id", exhibit, x.Acquired)
		}
	}
	return nil
}

// appended is what a signing command reports.
type appended struct {
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"`
	Party    string `json:"party,omitempty"`
	KeyID    string `json:"key_id"`
	Exhibit  string `json:"exhibit,omitempty"`
	Size     int64  `json:"size"`
}

// appendSigned opens the ledger for writing, checks that a's key is its
// party's current key, lets build make the statement from the current
// custody state, signs it with a's key (and extra keys), and appends it.
// The custody rules are checked again, authoritatively, by the ledger's
// indexer before the leaf is written.
func (e *env) appendSigned(d ledgerDir, a *actor, build func(v ledger.IndexReader) ([]byte, error), extra ...*custody.PrivateKey) (*appended, error) {
	if a.server != "" {
		return e.appendRemote(a, build, extra...)
	}
	l, err := d.openWrite(e.pw)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if err := checkCurrentKey(l.Index(), a); err != nil {
		return nil, err
	}
	stmt, err := build(l.Index())
	if err != nil {
		return nil, err
	}
	keys := append([]*custody.PrivateKey{a.key}, extra...)
	env, err := custody.SignStatementMulti(stmt, keys...)
	if err != nil {
		return nil, err
	}
	idx, h, err := l.Append(context.Background(), env)
	if err != nil {
		return nil, err
	}
	if err := l.Close(); err != nil {
		return nil, err
	}
	return &appended{Index: idx, LeafHash: h.String(), Party: a.party, KeyID: a.key.Public().KeyID(), Size: idx + 1}, nil
}

func (e *env) printAppended(c *cli.Context, what string, res *appended) error {
	return e.emit(c, res, func(w io.Writer) {
		fmt.Fprintf(w, "%s: leaf %d\nleaf hash: %s\nsigned by: %s (%s)\n", what, res.Index, res.LeafHash, res.Party, res.KeyID)
	})
}

// partyOf returns an enrolled party, or a usage error naming it.
func partyOf(v ledger.IndexReader, name string) (*custody.PartyRecord, error) {
	p, err := custody.Party(v, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, usagef("party %q is not enrolled in this ledger", name)
	}
	return p, nil
}

// exhibitOf returns an exhibit, or a usage error naming it.
func exhibitOf(v ledger.IndexReader, id string) (*custody.ExhibitRecord, error) {
	x, err := custody.Exhibit(v, id)
	if err != nil {
		return nil, err
	}
	if x == nil {
		return nil, usagef("no exhibit %q in this ledger", id)
	}
	return x, nil
}

func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s: want one %s, got %d arguments", c.Command.Name, what, c.NArg())
	}
	return c.Args().First(), nil
}

func (e *env) partyCommand() *cli.Command {
	return &cli.Command{
		Name:  "party",
		Usage: "manage the parties of a ledger",
		Subcommands: []*cli.Command{{
			Name:      "enroll",
			Usage:     "enrol a party: signed by its own key (proof of possession) and the ledger's admin key",
			UsageText: "custos party enroll --ledger DIR --name NAME --org ORG --role ROLE [--role ROLE] --pubkey FILE.pub --key FILE",
			Flags: []cli.Flag{ledgerFlag(), jsonFlag(), keyFlag(),
				&cli.StringFlag{Name: "name", Usage: "party name: lowercase letters, digits, . _ -"},
				&cli.StringFlag{Name: "org", Usage: "the party's organisation"},
				&cli.StringSliceFlag{Name: "role", Usage: "collector, custodian, analyst, facilitator, witness, tribunal (repeatable)"},
				&cli.StringFlag{Name: "pubkey", Usage: "the party's public key (PEM)"},
				&cli.StringFlag{Name: "admin-key", Usage: "the ledger's admin key (default: admin.key in the ledger)"}},
			Action: func(c *cli.Context) error {
				d, err := ledgerNoArgs(c)
				if err != nil {
					return err
				}
				name, org, roles := c.String("name"), c.String("org"), c.StringSlice("role")
				if name == "" || org == "" || len(roles) == 0 || c.String("pubkey") == "" || c.String("key") == "" {
					return usagef("party enroll: --name, --org, --role, --pubkey and --key are all required")
				}
				pub, err := readPublicKey(c.String("pubkey"))
				if err != nil {
					return err
				}
				k, err := e.loadPrivateKey(c.String("key"))
				if err != nil {
					return err
				}
				if k.Public().KeyID() != pub.KeyID() {
					return usagef("party enroll: --key is not the private key of --pubkey")
				}
				admin, err := e.loadAdminKey(d, c.String("admin-key"))
				if err != nil {
					return err
				}
				res, err := e.appendSigned(d, &actor{key: k}, func(ledger.IndexReader) ([]byte, error) {
					return custody.NewStatement(custody.PredicateEnroll, custody.PartySubject(name, pub), custody.Enroll{
						Party: name, Org: org, Roles: roles, Key: custody.KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}})
				}, admin)
				if err != nil {
					return err
				}
				res.Party = name
				return e.printAppended(c, "enrolled "+name, res)
			},
		}},
	}
}

// loadAdminKey decrypts the ledger's admin key.
func (e *env) loadAdminKey(d ledgerDir, path string) (*custody.PrivateKey, error) {
	if path == "" {
		path = d.path(adminKeyName)
	}
	return decryptKeyFile(e.pw, path, adminPasswordEnv, "admin key")
}

func (e *env) keyRotateCommand() *cli.Command {
	return &cli.Command{
		Name:      "rotate",
		Usage:     "replace a party's current key; signed by the current key (or, with --admin, by the admin key)",
		UsageText: "custos key rotate --ledger DIR --party P --new FILE.pub --key CURRENT [--reason R] | --admin",
		Flags: []cli.Flag{ledgerFlag(), jsonFlag(), keyFlag(),
			&cli.StringFlag{Name: "party", Usage: "the party"},
			&cli.StringFlag{Name: "new", Usage: "the new public key (PEM)"},
			&cli.StringFlag{Name: "reason", Usage: "why"},
			&cli.BoolFlag{Name: "admin", Usage: "sign with the ledger's admin key (after the current key was revoked)"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			party := c.String("party")
			if party == "" || c.String("new") == "" {
				return usagef("key rotate: --party and --new are required")
			}
			pub, err := readPublicKey(c.String("new"))
			if err != nil {
				return err
			}
			a, err := e.signerFor(c, d, party)
			if err != nil {
				return err
			}
			res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
				p, err := partyOf(v, party)
				if err != nil {
					return nil, err
				}
				return custody.NewStatement(custody.PredicateKeyRotate, custody.PartySubject(party, pub), custody.KeyRotate{
					Party: party, OldKey: p.Current, NewKey: custody.KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}, Reason: c.String("reason")})
			})
			if err != nil {
				return err
			}
			res.Party = party
			return e.printAppended(c, "rotated the key of "+party+" to "+pub.KeyID(), res)
		},
	}
}

// signerFor returns the actor for a party's key event: the party's own
// key, or with --admin the admin key (whose party check is skipped: the
// state machine checks the admin role).
func (e *env) signerFor(c *cli.Context, d ledgerDir, party string) (*actor, error) {
	if c.Bool("admin") {
		k, err := e.loadAdminKey(d, "")
		if err != nil {
			return nil, err
		}
		return &actor{key: k}, nil
	}
	if c.String("key") == "" {
		return nil, usagef("%s: --key KEY (or CUSTOS_KEY) is required, or --admin", c.Command.Name)
	}
	k, err := e.loadPrivateKey(c.String("key"))
	if err != nil {
		return nil, err
	}
	return &actor{party: party, key: k}, nil
}

func (e *env) keyRevokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke one of a party's keys from this leaf on; signed by the party or, with --admin, the admin",
		UsageText: "custos key revoke --ledger DIR --party P --key-id ID --reason R (--key KEY | --admin)",
		Flags: []cli.Flag{ledgerFlag(), jsonFlag(), keyFlag(),
			&cli.StringFlag{Name: "party", Usage: "the party"},
			&cli.StringFlag{Name: "key-id", Usage: "the key to revoke: its id (sha256:...) or its public key file"},
			&cli.StringFlag{Name: "reason", Usage: "why, e.g. compromise"},
			&cli.BoolFlag{Name: "admin", Usage: "sign with the ledger's admin key"}},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			party, id, reason := c.String("party"), c.String("key-id"), c.String("reason")
			if party == "" || id == "" || reason == "" {
				return usagef("key revoke: --party, --key-id and --reason are required")
			}
			if !strings.HasPrefix(id, "sha256:") {
				// --key-id may name the public key file instead of its id.
				pub, err := readPublicKey(id)
				if err != nil {
					return usagef("key revoke: --key-id %q is neither sha256:<hex> nor a readable public key: %v", id, err)
				}
				id = pub.KeyID()
			}
			a, err := e.signerFor(c, d, party)
			if err != nil {
				return err
			}
			a.party = "" // a revocation may be signed by any of the party's keys, not only the current one
			res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
				if _, err := partyOf(v, party); err != nil {
					return nil, err
				}
				hexID, ok := strings.CutPrefix(id, "sha256:")
				if !ok {
					return nil, fmt.Errorf("%w: key id %q: want sha256:<hex> or a public key file", errMalformed, id)
				}
				return custody.NewStatement(custody.PredicateKeyRevoke,
					custody.Subject{Name: "party:" + party, Digest: map[string]string{"sha256": hexID}},
					custody.KeyRevoke{Party: party, KeyID: id, Reason: reason})
			})
			if err != nil {
				return err
			}
			res.Party = party
			return e.printAppended(c, "revoked "+id+" of "+party, res)
		},
	}
}

// hashFile digests a file with a progress bar on stderr when it is a
// terminal.
func (e *env) hashFile(path string, algs []string) (custody.DigestSet, int64, error) {
	progress, done := e.progress(path)
	defer done()
	return custody.DigestFile(path, algs, progress)
}

func (e *env) acquireCommand() *cli.Command {
	return &cli.Command{
		Name:      "acquire",
		Usage:     "register an artifact: hash it in one pass (sha256, sha1, md5 by default) and log who acquired it, where and how",
		UsageText: "custos acquire FILE --exhibit ID --source S --method M --as PARTY [--hash sha256,sha512,...]\n   custos acquire --digest sha256:HEX --size N --exhibit ID --source S --method M --as PARTY",
		Flags: signingFlags(
			&cli.StringFlag{Name: "exhibit", Usage: "exhibit number, e.g. CERT-UA-2026-0042"},
			&cli.StringFlag{Name: "source", Usage: "what it was taken from"},
			&cli.StringFlag{Name: "method", Usage: "how it was acquired"},
			&cli.StringFlag{Name: "tool", Usage: "the acquisition tool and version"},
			&cli.StringFlag{Name: "location", Usage: "where"},
			&cli.StringFlag{Name: "acquired-at", Usage: "when (RFC 3339), if not now"},
			&cli.StringFlag{Name: "note", Usage: "free text"},
			&cli.StringFlag{Name: "hash", Value: strings.Join(custody.DefaultHashes, ","), Usage: "hashes to compute (sha256 always): sha256, sha512, sha1, md5"},
			&cli.StringSliceFlag{Name: "digest", Usage: "ALG:HEX of an artifact hashed elsewhere (repeatable; sha256 required)"},
			&cli.Int64Flag{Name: "size", Value: -1, Usage: "size in bytes, with --digest"},
			&cli.StringFlag{Name: "hashed-by", Usage: "with --digest: where and with what it was hashed"},
		),
		Action: func(c *cli.Context) error {
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			exhibit, source, method := c.String("exhibit"), c.String("source"), c.String("method")
			if exhibit == "" || source == "" || method == "" {
				return usagef("acquire: --exhibit, --source and --method are required")
			}
			acquiredAt := c.String("acquired-at")
			if acquiredAt != "" {
				if _, err := time.Parse(time.RFC3339, acquiredAt); err != nil {
					return usagef("acquire: --acquired-at %q: want RFC 3339, e.g. 2026-11-26T08:00:00Z", acquiredAt)
				}
			}
			a, err := e.loadActor(c)
			if err != nil {
				return err
			}
			if err := e.precheck(d, a, exhibit); err != nil {
				return err
			}
			digests, size, hashedBy, err := e.artifactDigests(c)
			if err != nil {
				return err
			}
			var dup *custody.DuplicateError
			res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
				if id, ok, err := custody.ExhibitByDigest(v, digests["sha256"]); err != nil {
					return nil, err
				} else if ok {
					x, err := custody.Exhibit(v, id)
					if err != nil {
						return nil, err
					}
					return nil, &custody.DuplicateError{Exhibit: id, Index: x.Acquired}
				}
				return custody.NewStatement(custody.PredicateAcquire, custody.Subject{Name: exhibit, Digest: digests}, custody.Acquire{
					Exhibit: exhibit, Size: size, Source: source, Method: method, Tool: c.String("tool"),
					Location: c.String("location"), AcquiredAt: acquiredAt, HashedBy: hashedBy, Note: c.String("note")})
			})
			if errors.As(err, &dup) {
				// A second acquisition of the same bytes is the same artifact.
				return e.emit(c, map[string]any{"exhibit": dup.Exhibit, "index": dup.Index, "duplicate": true}, func(w io.Writer) {
					fmt.Fprintf(w, "already registered: these bytes are exhibit %s (leaf %d); nothing appended\n", dup.Exhibit, dup.Index)
				})
			}
			if err != nil {
				return err
			}
			res.Exhibit = exhibit
			return e.emit(c, map[string]any{"appended": res, "digests": digests, "size": size}, func(w io.Writer) {
				fmt.Fprintf(w, "acquired %s: leaf %d, held by %s\n", exhibit, res.Index, a.party)
				for _, alg := range digestOrder(digests) {
					fmt.Fprintf(w, "  %-7s %s\n", alg, digests[alg])
				}
				fmt.Fprintf(w, "  size    %d bytes\n", size)
			})
		},
	}
}

// artifactDigests hashes the FILE argument, or takes --digest/--size.
func (e *env) artifactDigests(c *cli.Context) (custody.DigestSet, int64, string, error) {
	given := c.StringSlice("digest")
	if len(given) > 0 {
		if c.NArg() != 0 {
			return nil, 0, "", usagef("%s: give a FILE or --digest, not both", c.Command.Name)
		}
		if c.Int64("size") < 0 {
			return nil, 0, "", usagef("%s: --digest needs --size N", c.Command.Name)
		}
		ds := custody.DigestSet{}
		for _, g := range given {
			alg, hex, err := custody.ParseDigestFlag(g)
			if err != nil {
				return nil, 0, "", err
			}
			ds[alg] = hex
		}
		if ds["sha256"] == "" {
			return nil, 0, "", usagef("%s: --digest must include sha256:HEX (custos's identity digest)", c.Command.Name)
		}
		hb := c.String("hashed-by")
		if hb == "" {
			hb = "elsewhere (given with --digest)"
		}
		return ds, c.Int64("size"), hb, nil
	}
	path, err := oneArg(c, "FILE (or --digest sha256:HEX --size N)")
	if err != nil {
		return nil, 0, "", err
	}
	algs, err := custody.ParseHashList(c.String("hash"))
	if err != nil {
		return nil, 0, "", usagef("%s: --hash: %v", c.Command.Name, err)
	}
	ds, size, err := e.hashFile(path, algs)
	if err != nil {
		return nil, 0, "", err
	}
	return ds, size, "custos", nil
}

func (e *env) releaseCommand() *cli.Command {
	return &cli.Command{
		Name:      "release",
		Usage:     "offer an exhibit you hold to a named receiver; you stay responsible until it accepts",
		UsageText: "custos release EXHIBIT --to PARTY --as HOLDER [--reason R]",
		Flags: signingFlags(&cli.StringFlag{Name: "to", Usage: "the receiving party"},
			&cli.StringFlag{Name: "reason", Usage: "why, e.g. analysis"}),
		Action: func(c *cli.Context) error {
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			id, err := oneArg(c, "EXHIBIT")
			if err != nil {
				return err
			}
			if c.String("to") == "" {
				return usagef("release: --to PARTY is required")
			}
			a, err := e.loadActor(c)
			if err != nil {
				return err
			}
			res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
				x, err := exhibitOf(v, id)
				if err != nil {
					return nil, err
				}
				return custody.NewStatement(custody.PredicateRelease, custody.Subject{Name: id, Digest: x.Digests},
					custody.Release{Exhibit: id, To: c.String("to"), Reason: c.String("reason"), Prev: x.Last})
			})
			if err != nil {
				return err
			}
			res.Exhibit = id
			return e.printAppended(c, fmt.Sprintf("released %s to %s (open until it accepts or rejects)", id, c.String("to")), res)
		},
	}
}

func (e *env) acceptCommand() *cli.Command {
	return &cli.Command{
		Name:      "accept",
		Usage:     "take an exhibit released to you, after re-hashing it; a digest mismatch is logged as a rejection and exits 1",
		UsageText: "custos accept EXHIBIT --file F --as RECEIVER  |  --digest sha256:HEX --size N",
		Flags: signingFlags(&cli.StringFlag{Name: "file", Usage: "the artifact as received"},
			&cli.StringSliceFlag{Name: "digest", Usage: "ALG:HEX observed elsewhere (repeatable)"},
			&cli.Int64Flag{Name: "size", Value: -1, Usage: "with --digest"},
			&cli.StringFlag{Name: "note", Usage: "free text"}),
		Action: func(c *cli.Context) error { return e.receive(c, true) },
	}
}

func (e *env) rejectCommand() *cli.Command {
	return &cli.Command{
		Name:      "reject",
		Usage:     "refuse an exhibit released to you; the holder keeps it",
		UsageText: "custos reject EXHIBIT --reason R --as RECEIVER [--file F]",
		Flags: signingFlags(&cli.StringFlag{Name: "file", Usage: "the artifact as received, to record what you observed"},
			&cli.StringFlag{Name: "reason", Usage: "why"}),
		Action: func(c *cli.Context) error { return e.receive(c, false) },
	}
}

// receive is accept and reject: both re-hash what arrived (when given) and
// bind the open release.
func (e *env) receive(c *cli.Context, accept bool) error {
	d, err := ledgerOf(c)
	if err != nil {
		return err
	}
	id, err := oneArg(c, "EXHIBIT")
	if err != nil {
		return err
	}
	if !accept && c.String("reason") == "" {
		return usagef("reject: --reason is required")
	}
	a, err := e.loadActor(c)
	if err != nil {
		return err
	}
	// What the receiver observed: the file re-hashed with the exhibit's own
	// algorithms, or digests given.
	v, done, err := e.indexFor(d, a)
	if err != nil {
		return err
	}
	x, err := exhibitOf(v, id)
	done()
	if err != nil {
		return err
	}
	observed := custody.DigestSet{}
	switch {
	case c.String("file") != "":
		algs := digestOrder(x.Digests)
		ds, _, err := e.hashFile(c.String("file"), algs)
		if err != nil {
			return err
		}
		observed = ds
	case len(c.StringSlice("digest")) > 0:
		for _, g := range c.StringSlice("digest") {
			alg, hex, err := custody.ParseDigestFlag(g)
			if err != nil {
				return err
			}
			observed[alg] = hex
		}
	case accept:
		return usagef("accept: --file F (re-hashed now) or --digest ALG:HEX is required: custody is taken only after checking the bytes")
	default:
		observed = custody.DigestSet(x.Digests)
	}
	mismatch := !observed.Matches(custody.DigestSet(x.Digests))
	reason := c.String("reason")
	if accept && mismatch {
		accept = false
		reason = "digest mismatch on receipt: " + describeMismatch(x.Digests, observed)
	}
	res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
		x, err := exhibitOf(v, id)
		if err != nil {
			return nil, err
		}
		if x.OpenRelease == nil {
			return nil, usagef("%s has no open release to receive", id)
		}
		subject := custody.Subject{Name: id, Digest: observed}
		if accept {
			return custody.NewStatement(custody.PredicateAccept, subject, custody.Accept{Exhibit: id, Prev: x.OpenRelease.Ref, Note: c.String("note")})
		}
		return custody.NewStatement(custody.PredicateReject, subject, custody.Reject{Exhibit: id, Prev: x.OpenRelease.Ref, Reason: reason})
	})
	if err != nil {
		return err
	}
	res.Exhibit = id
	if mismatch {
		e.emit(c, res, func(w io.Writer) {
			fmt.Fprintf(w, "REJECTED %s: %s\nthe rejection is logged at leaf %d; %s still holds the exhibit\n", id, reason, res.Index, x.Holder)
		})
		return &verifyFailed{fmt.Errorf("%s: %s (logged as rejection at leaf %d)", id, reason, res.Index)}
	}
	if accept {
		return e.printAppended(c, "accepted "+id+"; you hold it now", res)
	}
	return e.printAppended(c, "rejected "+id, res)
}

// describeMismatch names what differs: the identity digest in full, the
// others by name (every observed digest is logged with the rejection).
func describeMismatch(want map[string]string, got custody.DigestSet) string {
	if got["sha256"] == "" {
		return "no sha256 digest observed"
	}
	var others []string
	for _, alg := range digestOrder(want) {
		if g, ok := got[alg]; ok && g != want[alg] && alg != "sha256" {
			others = append(others, alg)
		}
	}
	s := fmt.Sprintf("sha256 expected %s, observed %s", want["sha256"], got["sha256"])
	if want["sha256"] == got["sha256"] {
		s = "sha256 matches but " + strings.Join(others, ", ") + " differ"
	} else if len(others) > 0 {
		s += "; " + strings.Join(others, ", ") + " differ too"
	}
	return s
}

// digestOrder lists a digest set's algorithms with custos's identity
// digest first, then the others as custody.ParseHashList orders them.
func digestOrder[V any](m map[string]V) []string {
	var out []string
	for _, alg := range []string{custody.HashSHA256, custody.HashSHA512, custody.HashSHA1, custody.HashMD5} {
		if _, ok := m[alg]; ok {
			out = append(out, alg)
		}
	}
	for _, alg := range sortedKeys(m) {
		if !slices.Contains(out, alg) {
			out = append(out, alg)
		}
	}
	return out
}

func (e *env) deriveCommand() *cli.Command {
	return &cli.Command{
		Name:      "derive",
		Usage:     "register an artifact made from exhibits you hold: a working copy, an extract, an analysis output",
		UsageText: "custos derive PARENT [PARENT...] --file F --kind copy|image|extract|analysis-output|report --as HOLDER [--exhibit ID] [--note N]",
		Flags: signingFlags(&cli.StringFlag{Name: "file", Usage: "the derived artifact"},
			&cli.StringFlag{Name: "kind", Usage: strings.Join(custody.DeriveKinds, ", ")},
			&cli.StringFlag{Name: "exhibit", Usage: "its exhibit id (default: first parent + /D<n>)"},
			&cli.StringFlag{Name: "tool", Usage: "the tool and version that made it"},
			&cli.StringFlag{Name: "note", Usage: "free text"},
			&cli.StringFlag{Name: "hash", Value: strings.Join(custody.DefaultHashes, ","), Usage: "hashes to compute"}),
		Action: func(c *cli.Context) error {
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			parents := c.Args().Slice()
			if len(parents) == 0 || c.String("file") == "" || c.String("kind") == "" {
				return usagef("derive: PARENT, --file and --kind are required")
			}
			a, err := e.loadActor(c)
			if err != nil {
				return err
			}
			algs, err := custody.ParseHashList(c.String("hash"))
			if err != nil {
				return usagef("derive: --hash: %v", err)
			}
			if err := e.precheck(d, a, c.String("exhibit")); err != nil {
				return err
			}
			digests, size, err := e.hashFile(c.String("file"), algs)
			if err != nil {
				return err
			}
			id := c.String("exhibit")
			res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
				p, err := exhibitOf(v, parents[0])
				if err != nil {
					return nil, err
				}
				if id == "" {
					id = fmt.Sprintf("%s/D%d", parents[0], len(p.Derived)+1)
				}
				return custody.NewStatement(custody.PredicateDerive, custody.Subject{Name: id, Digest: digests}, custody.Derive{
					Exhibit: id, Parents: parents, Kind: c.String("kind"), Size: size, Tool: c.String("tool"), Note: c.String("note")})
			})
			if err != nil {
				return err
			}
			res.Exhibit = id
			return e.printAppended(c, fmt.Sprintf("derived %s (%s of %s), held by %s", id, c.String("kind"), strings.Join(parents, ", "), a.party), res)
		},
	}
}

// stateCommand is seal, unseal and dispose: holder-only state changes.
func (e *env) stateCommand(name, usage string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		UsageText: "custos " + name + " EXHIBIT --as HOLDER [--reason R] [--seal-id S] [--method M]",
		Flags: signingFlags(&cli.StringFlag{Name: "reason", Usage: "why"},
			&cli.StringFlag{Name: "seal-id", Usage: "seal number (seal, unseal)"},
			&cli.StringFlag{Name: "method", Usage: "how it was disposed of (dispose), e.g. returned to owner"}),
		Action: func(c *cli.Context) error {
			d, err := ledgerOf(c)
			if err != nil {
				return err
			}
			id, err := oneArg(c, "EXHIBIT")
			if err != nil {
				return err
			}
			reason := c.String("reason")
			if (name == "unseal" || name == "dispose") && reason == "" {
				return usagef("%s: --reason is required", name)
			}
			if name == "dispose" && c.String("method") == "" {
				return usagef("dispose: --method is required (e.g. \"returned to owner\", \"destroyed\")")
			}
			a, err := e.loadActor(c)
			if err != nil {
				return err
			}
			res, err := e.appendSigned(d, a, func(v ledger.IndexReader) ([]byte, error) {
				x, err := exhibitOf(v, id)
				if err != nil {
					return nil, err
				}
				subject := custody.Subject{Name: id, Digest: x.Digests}
				switch name {
				case "seal":
					return custody.NewStatement(custody.PredicateSeal, subject, custody.Seal{Exhibit: id, SealID: c.String("seal-id"), Reason: reason, Prev: x.Last})
				case "unseal":
					return custody.NewStatement(custody.PredicateUnseal, subject, custody.Unseal{Exhibit: id, SealID: c.String("seal-id"), Reason: reason, Prev: x.Last})
				default:
					return custody.NewStatement(custody.PredicateDispose, subject, custody.Dispose{Exhibit: id, Method: c.String("method"), Reason: reason, Prev: x.Last})
				}
			})
			if err != nil {
				return err
			}
			res.Exhibit = id
			return e.printAppended(c, name+"ed "+id, res)
		},
	}
}

func (e *env) reindexCommand() *cli.Command {
	return &cli.Command{
		Name:      "reindex",
		Usage:     "drop the custody index and rebuild it from the leaves",
		UsageText: "custos reindex --ledger DIR",
		Flags:     []cli.Flag{ledgerFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			d, err := ledgerNoArgs(c)
			if err != nil {
				return err
			}
			if err := d.resetIndex(); err != nil {
				return err
			}
			l, err := d.openWrite(e.pw) // rebuilds the index
			if err != nil {
				return err
			}
			size := l.Size()
			if err := l.Close(); err != nil {
				return err
			}
			return e.emit(c, map[string]any{"reindexed": size}, func(w io.Writer) {
				fmt.Fprintf(w, "rebuilt the custody index from %d leaves\n", size)
			})
		},
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
