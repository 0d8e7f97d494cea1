package main

// custos mirror: a facilitator's independent full copy of a remote ledger,
// fetched through the C2SP tlog-tiles read API (https://c2sp.org/tlog-tiles)
// and checked as it comes:
//
//  1. The server's checkpoint must verify with the log key pinned by
//     --log-key (or the mirror's own log.vkey); a key fetched from the
//     server would let the server vouch for itself.
//  2. A mirror that already holds a checkpoint asks for a consistency
//     proof from its size; a server whose tree does not extend the
//     mirror's is refused as equivocation (exit 6), and one behind the
//     mirror as a rollback (exit 7).
//  3. Hash tiles are authenticated against the checkpoint's root
//     (tlog.TileHashReader), every leaf of every entry bundle must hash to
//     the authenticated tile hash, and ledger.Import re-checks each leaf's
//     index, prev link and the custody rules, then adopts the checkpoint
//     only if the recomputed root is its root.
//
// The mirror is a ledger directory without log.key (it cannot sign):
// fsck, export, history and verify use it like the original. Leaves are
// committed in batches; an interrupted mirror keeps the checkpoint it is
// going to (mirror.pending) and leaves a store that other commands refuse
// until `custos mirror` is run again and finishes it.

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/cmd/custos/internal/custodyindex"
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// pendingName is the checkpoint an unfinished mirror is fetching up to.
const pendingName = "mirror.pending"

// tileHeight is C2SP tlog-tiles' tile height.
const tileHeight = 8

// mirrorBatch is how many leaves one store commit takes (0: the ledger's
// default). Tests lower it to interrupt a run between commits.
var mirrorBatch = 0

func (e *env) mirrorCommand() *cli.Command {
	return &cli.Command{
		Name:  "mirror",
		Usage: "copy a remote ledger through its read API into a local ledger directory, verifying every tile, leaf and the chain",
		UsageText: "custos mirror --server URL --out DIR --as PARTY --key KEY [--log-key log.vkey] [--json]\n\n" +
			"--log-key is the log's verifier key (the ledger's log.vkey), obtained out of band: it is what the mirror\n" +
			"trusts, so it is required for a new mirror; later runs use DIR/log.vkey (a --log-key given must match it).\n" +
			"Entry bundles are served to enrolled parties only: --as and --key sign the requests. Run again to bring\n" +
			"the mirror up to date (or to finish an interrupted run): the server must prove its tree extends the\n" +
			"mirror's, or the run stops with exit 6 (equivocation). DIR gets no log.key: the mirror cannot sign.",
		Flags: []cli.Flag{jsonFlag(), asFlag(), keyFlag(),
			&cli.StringFlag{Name: "server", Usage: "the custos server to mirror (https://HOST[:PORT])"},
			&cli.StringFlag{Name: "out", Usage: "the mirror's ledger directory (created, or brought up to date)"},
			&cli.StringFlag{Name: "log-key", Usage: "the log's verifier key file (log.vkey), obtained out of band"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if c.String("server") == "" || c.String("out") == "" {
				return usagef("mirror: --server URL and --out DIR are required")
			}
			a, err := e.loadActor(c)
			if err != nil {
				return err
			}
			r, err := newRemote(a)
			if err != nil {
				return err
			}
			var pinned string
			if p := c.String("log-key"); p != "" {
				b, err := readFileCapped(p, 1<<10)
				if err != nil {
					return err
				}
				pinned = strings.TrimSpace(string(b))
			}
			res, err := mirror(r, ledgerDir(c.String("out")), pinned)
			if err != nil {
				return err
			}
			return e.emit(c, res, func(w io.Writer) {
				fmt.Fprintf(w, "mirrored %s into %s: %d leaves (%d new), root %s\n", res.Origin, res.Dir, res.Size, res.Added, res.Root)
				if res.Cosigned {
					fmt.Fprintf(w, "  the server's cosigned checkpoint of size %d is in %s\n", res.CosignedSize, cosignedDirName)
				}
			})
		},
	}
}

// mirrorResult is what mirror prints with --json.
type mirrorResult struct {
	Dir          string `json:"dir"`
	Origin       string `json:"origin"`
	Size         int64  `json:"size"`
	Added        int64  `json:"added"`
	Root         string `json:"root"`
	Cosigned     bool   `json:"cosigned"` // the server's checkpoint carried cosignatures, now attached
	CosignedSize int64  `json:"cosigned_size,omitempty"`
}

// mirror brings the mirror in d up to date with the server r: see the
// comment at the top of this file. pinned is --log-key's content, or "".
func mirror(r *remote, d ledgerDir, pinned string) (*mirrorResult, error) {
	v, err := prepareMirrorDir(d, pinned)
	if err != nil {
		return nil, err
	}
	served, err := r.get("/checkpoint")
	if err != nil {
		return nil, err
	}
	sc, err := verify.Checkpoint(served, v)
	if err != nil {
		return nil, fmt.Errorf("mirror: the server's checkpoint: %w", err)
	}
	res, err := mirrorLeaves(r, d, v, served, sc)
	if err != nil {
		return nil, err
	}
	// The server's cosignatures, stored as `custos checkpoint attach` does
	// (it checks the checkpoint against the mirror's tree again), so that
	// export proves bundles to the cosigned checkpoint.
	if n, err := note.Open(served, note.VerifierList(v)); err == nil && len(n.UnverifiedSigs) > 0 && sc.Size <= res.Size {
		if _, err := attachCosigned(d, served); err != nil {
			return nil, fmt.Errorf("mirror: storing the server's cosigned checkpoint: %w", err)
		}
		res.Cosigned, res.CosignedSize = true, sc.Size
	}
	return res, nil
}

// prepareMirrorDir creates d (or checks it is a mirror) and returns the
// pinned log key, writing log.vkey and log.pub for a new mirror.
func prepareMirrorDir(d ledgerDir, pinned string) (note.Verifier, error) {
	if _, err := os.Stat(d.path(logKeyName)); err == nil {
		return nil, usagef("mirror: %s holds %s: it is a ledger, not a mirror", d, logKeyName)
	}
	var have string
	if _, err := os.Stat(d.path(logVKeyName)); err == nil {
		if _, have, err = d.readVerifier(); err != nil {
			return nil, err
		}
	}
	switch {
	case have != "" && pinned != "" && pinned != have:
		return nil, usagef("mirror: --log-key is %q but %s mirrors the log with key %q", pinned, d, have)
	case have != "":
		pinned = have
	case pinned == "":
		return nil, usagef("mirror: --log-key FILE (the log's log.vkey, obtained out of band) is required for a new mirror")
	default:
		if entries, err := os.ReadDir(string(d)); err == nil && len(entries) > 0 {
			return nil, usagef("mirror: %s exists, is not empty and is not a mirror; choose a new directory", d)
		}
	}
	v, err := note.NewVerifier(pinned)
	if err != nil {
		return nil, fmt.Errorf("%w: --log-key: %v", errMalformed, err)
	}
	if have == "" {
		if err := os.MkdirAll(string(d), 0o755); err != nil {
			return nil, err
		}
		if pem := logPubFromVKey(pinned); pem != nil {
			if err := ledger.WriteFileAtomic(d.path(logPubName), pem, 0o644); err != nil {
				return nil, err
			}
		}
		// log.vkey last: it is what makes the directory a mirror.
		if err := ledger.WriteFileAtomic(d.path(logVKeyName), []byte(pinned+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// logPubFromVKey returns log.pub (PEM) for an Ed25519 note verifier key
// (name+hash+base64(0x01 || key)), or nil for another kind of key.
func logPubFromVKey(vkey string) []byte {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil
	}
	k, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(k) != 1+ed25519.PublicKeySize || k[0] != 1 {
		return nil
	}
	pk, err := custody.NewPublicKey(ed25519.PublicKey(k[1:]))
	if err != nil {
		return nil
	}
	return pk.MarshalPEM()
}

// mirrorLeaves fetches, checks and imports the leaves the mirror lacks,
// up to a checkpoint that extends the mirror's, and adopts it.
func mirrorLeaves(r *remote, d ledgerDir, v note.Verifier, served []byte, sc ledger.Checkpoint) (*mirrorResult, error) {
	st, err := d.openStore(false)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	im, err := ledger.Import(st, ledger.ImportOptions{Verifier: v, CheckpointFile: d.path(checkpointName), Indexer: custodyindex.Indexer{}, BatchSize: mirrorBatch})
	if err != nil {
		return nil, err
	}
	from := im.Size()
	// old is the newest checkpoint the mirror has accepted: its own, or
	// the one an interrupted run was fetching towards (mirror.pending).
	old, _ := im.Checkpoint()
	if pending, err := readFileCapped(d.path(pendingName), ledger.MaxCheckpointSize); err == nil {
		pc, err := verify.Checkpoint(pending, v)
		if err != nil {
			return nil, fmt.Errorf("mirror: %s: %w", d.path(pendingName), err)
		}
		if pc.Size >= from {
			old = pending
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if _, cpSize := im.Checkpoint(); from > cpSize && len(old) > 0 {
		if oc, _ := verify.Checkpoint(old, v); oc.Size < from {
			return nil, &ledger.IntegrityError{Index: -1, Msg: fmt.Sprintf("the mirror's store holds %d leaves beyond its checkpoint of size %d and no %s names a checkpoint covering them", from-cpSize, cpSize, pendingName)}
		}
	}

	target, tc := served, sc
	if len(old) > 0 {
		if target, tc, err = extendMirror(r, im, v, old, served, sc); err != nil {
			return nil, err
		}
	}
	if tc.Size > from {
		// Kept until Finish: it is what the leaves after the mirror's
		// checkpoint were verified against.
		if err := ledger.WriteFileAtomic(d.path(pendingName), target, 0o644); err != nil {
			return nil, err
		}
		if err := fetchLeaves(r, tc, from, im.Add); err != nil {
			return nil, err
		}
	}
	if err := im.Finish(target); err != nil {
		return nil, fmt.Errorf("mirror: adopting the server's checkpoint of size %d: %w", tc.Size, err)
	}
	if err := os.Remove(d.path(pendingName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &mirrorResult{Dir: string(d), Origin: v.Name(), Size: tc.Size, Added: tc.Size - from, Root: tc.Root.String()}, nil
}

// extendMirror checks that the server's tree extends old (the mirror's
// newest accepted checkpoint) and returns the checkpoint to fetch up to:
// the one the consistency proof leads to.
func extendMirror(r *remote, im *ledger.Importer, v note.Verifier, old, served []byte, sc ledger.Checkpoint) ([]byte, ledger.Checkpoint, error) {
	oc, err := verify.Checkpoint(old, v)
	if err != nil {
		return nil, ledger.Checkpoint{}, err
	}
	if sc.Size < oc.Size {
		// The mirror has the leaves of the server's size (committed and
		// checked against old): compare the roots.
		if root, err := im.TreeHash(sc.Size); err == nil && root != sc.Root {
			return nil, ledger.Checkpoint{}, fmt.Errorf("mirror: the server's checkpoint of size %d has root %s, the mirror's tree of that size (under the log's checkpoint of size %d) has root %s: %w",
				sc.Size, sc.Root, oc.Size, root, verify.ErrEquivocation)
		}
		return nil, ledger.Checkpoint{}, fmt.Errorf("mirror: the server is at size %d, behind the mirror's %d: %w", sc.Size, oc.Size, verify.ErrRollback)
	}
	proof, err := r.get("/custos/v1/proof/consistency?from=" + strconv.FormatInt(oc.Size, 10))
	if err != nil {
		return nil, ledger.Checkpoint{}, err
	}
	_, nc, err := verify.Consistency(proof, old, v)
	if err == nil {
		p, _ := ledger.ParseConsistencyProof(proof)
		return p.Checkpoint, nc, nil
	}
	if errors.Is(err, verify.ErrEquivocation) || verify.IsMalformed(err) {
		return nil, ledger.Checkpoint{}, fmt.Errorf("mirror: consistency with the mirror's checkpoint of size %d: %w", oc.Size, err)
	}
	// The proof's hashes are not signed: before calling the log forked,
	// read the tree of the mirror's size from the server's tiles, which
	// are authenticated by its signed checkpoint.
	tf := &tileFetcher{r: r}
	thr := tlog.TileHashReader(tlog.Tree{N: sc.Size, Hash: sc.Root}, tf)
	var theirs tlog.Hash
	if oc.Size > 0 {
		if theirs, err = tlog.TreeHash(oc.Size, thr); err != nil {
			return nil, ledger.Checkpoint{}, &verifyFailed{fmt.Errorf("mirror: the server's consistency proof from size %d does not verify, and its hash tiles do not match its checkpoint of size %d: %v (%s)", oc.Size, sc.Size, err, tf.suspects())}
		}
	}
	if oc.Size > 0 && theirs != oc.Root {
		return nil, ledger.Checkpoint{}, fmt.Errorf("mirror: the log's checkpoint of size %d (root %s, the server's now) does not extend the mirror's checkpoint of size %d (root %s): its tree of size %d has root %s: %w",
			sc.Size, sc.Root, oc.Size, oc.Root, oc.Size, theirs, verify.ErrEquivocation)
	}
	return nil, ledger.Checkpoint{}, &verifyFailed{fmt.Errorf("mirror: the server's consistency proof from size %d does not verify (its tiles agree with the mirror; ask again): %w", oc.Size, err)}
}

// fetchLeaves fetches the entry bundles holding leaves from..tc.Size-1,
// checks each leaf's hash against the hash tiles authenticated by tc, and
// passes the leaves in order to add.
func fetchLeaves(r *remote, tc ledger.Checkpoint, from int64, add func([]byte) error) error {
	tf := &tileFetcher{r: r}
	thr := tlog.TileHashReader(tlog.Tree{N: tc.Size, Hash: tc.Root}, tf)
	for k := from >> tileHeight; k<<tileHeight < tc.Size; k++ {
		first := k << tileHeight
		w := min(1<<tileHeight, tc.Size-first)
		bundle := tlog.Tile{H: tileHeight, L: -1, N: k, W: int(w)}
		path := c2spPath(bundle)
		b, err := r.get("/" + path)
		if err != nil {
			return err
		}
		leaves, err := parseBundle(b, int(w))
		if err != nil {
			return &verifyFailed{fmt.Errorf("mirror: entry bundle %s: %w", path, err)}
		}
		start := max(from, first)
		idx := make([]int64, 0, w)
		for i := start; i < first+w; i++ {
			idx = append(idx, tlog.StoredHashIndex(0, i))
		}
		hashes, err := thr.ReadHashes(idx)
		if err != nil {
			return &verifyFailed{fmt.Errorf("mirror: hash tiles for leaves %d..%d against the checkpoint of size %d (root %s): %w (%s)", start, first+w-1, tc.Size, tc.Root, err, tf.suspects())}
		}
		for j, h := range hashes {
			n := start + int64(j)
			leaf := leaves[n-first]
			if got := ledger.LeafHash(leaf); got != h {
				return &verifyFailed{fmt.Errorf("mirror: leaf %d in entry bundle %s hashes to %s, the verified hash tile has %s", n, path, got, h)}
			}
			if err := add(leaf); err != nil {
				return fmt.Errorf("mirror: leaf %d: %w", n, err)
			}
		}
	}
	return nil
}

// parseBundle splits a C2SP entry bundle (each entry a big-endian uint16
// length and that many bytes) of exactly w entries.
func parseBundle(b []byte, w int) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: truncated length after entry %d", errMalformed, len(out))
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("%w: entry %d truncated: %d bytes, length says %d", errMalformed, len(out), len(b)-2, n)
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	if len(out) != w {
		return nil, fmt.Errorf("%w: %d entries, want %d", errMalformed, len(out), w)
	}
	return out, nil
}

// c2spPath is a tile's C2SP tlog-tiles path: tlog's with the height
// element removed, and "entries" for tlog's "data".
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/"+strconv.Itoa(tileHeight)+"/")
	if rest, ok := strings.CutPrefix(p, "data/"); ok {
		return "tile/entries/" + rest
	}
	return "tile/" + p
}

// tileFetcher is a tlog.TileReader over the server's hash tiles. Tiles
// tlog has authenticated (SaveTiles) above level 0, and the partial tile
// at the tree's edge, are kept for the rest of the run; a failure names
// the tiles fetched and not yet authenticated.
type tileFetcher struct {
	r          *remote
	cache      map[tlog.Tile][]byte
	unverified []string // paths fetched by the last ReadTiles and not yet saved
}

// suspects names the tiles a failed authentication may blame.
func (f *tileFetcher) suspects() string {
	if len(f.unverified) == 0 {
		return "no tile fetched"
	}
	return "fetched " + strings.Join(f.unverified, ", ")
}

func (f *tileFetcher) Height() int { return tileHeight }

func (f *tileFetcher) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	var fetched []string
	for i, t := range tiles {
		if b, ok := f.cache[t]; ok {
			out[i] = b
			continue
		}
		path := c2spPath(t)
		b, err := f.r.get("/" + path)
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("hash tile %s is %d bytes, want %d", path, len(b), t.W*tlog.HashSize)
		}
		out[i] = b
		fetched = append(fetched, path)
	}
	f.unverified = fetched
	return out, nil
}

func (f *tileFetcher) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	f.unverified = nil
	if f.cache == nil {
		f.cache = map[tlog.Tile][]byte{}
	}
	for i, t := range tiles {
		if t.L >= 1 || t.W < 1<<tileHeight {
			f.cache[t] = data[i]
		}
	}
}

// get fetches path and requires 200 OK.
func (r *remote) get(path string) ([]byte, error) {
	code, b, err := r.do(http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		u, _ := url.Parse(path)
		return nil, fmt.Errorf("GET %s: %w", u.Path, answerError(code, b))
	}
	return b, nil
}
