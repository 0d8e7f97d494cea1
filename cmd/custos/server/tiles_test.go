package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

// tileClient is golang.org/x/mod/sumdb/tlog's TileReader over our HTTP
// tiles: tlog's path without its height element is the C2SP path.
type tileClient struct {
	f     *fixture
	party string
	reads int
}

func (c *tileClient) Height() int { return 8 }

func (c *tileClient) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		path := "/tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		resp, body := c.f.do(http.MethodGet, path, c.party, nil)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		c.reads++
		out = append(out, body)
	}
	return out, nil
}

func (c *tileClient) SaveTiles([]tlog.Tile, [][]byte) {}

// appendMany appends n acquisitions by cert in process, concurrently (so
// in group commits).
func (f *fixture) appendMany(n int) {
	f.t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		env := f.acquireEnv("cert", fmt.Sprintf("BULK-%d", i))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, _, err := f.log.Append(context.Background(), env); err != nil {
				f.t.Errorf("Append = %v", err)
			}
		}()
	}
	wg.Wait()
}

// TestTilesWithTlogClient reads our checkpoint and tiles with sumdb/tlog's
// tile reader, which checks every tile against the checkpoint's root, and
// verifies record proofs built from them.
func TestTilesWithTlogClient(t *testing.T) {
	f := newFixture(t, Config{})
	start := time.Now()
	f.appendMany(600)
	t.Logf("600 appends: %v", time.Since(start)) // 604 leaves: full and partial tiles at level 0, a partial one at level 1
	resp, body := f.do(http.MethodGet, "/checkpoint", "", nil)
	mustStatus(t, "GET /checkpoint", resp.StatusCode, http.StatusOK, body)
	n, err := note.Open(body, note.VerifierList(f.verifier))
	if err != nil {
		t.Fatalf("note.Open(/checkpoint) = %v", err)
	}
	c, err := ledger.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 604 {
		t.Fatalf("checkpoint size %d, want 604", c.Size)
	}
	client := &tileClient{f: f}
	thr := tlog.TileHashReader(tlog.Tree{N: c.Size, Hash: c.Root}, client)
	if root, err := tlog.TreeHash(c.Size, thr); err != nil || root != c.Root {
		t.Fatalf("tlog.TreeHash over our tiles = %v, %v, want the checkpoint's root", root, err)
	}
	for _, i := range []int64{0, 1, 255, 256, 300, 511, 512, 603} {
		p, err := tlog.ProveRecord(c.Size, i, thr)
		if err != nil {
			t.Fatalf("tlog.ProveRecord(%d) over our tiles = %v", i, err)
		}
		leaf, _ := f.log.Leaf(i)
		if err := tlog.CheckRecord(p, c.Size, c.Root, i, ledger.LeafHash(leaf)); err != nil {
			t.Errorf("tlog.CheckRecord(%d) = %v", i, err)
		}
	}
	if client.reads == 0 {
		t.Fatal("the tile client read no tiles")
	}

	// Entry bundles: private. As a party, each entry is the leaf whose
	// hash the level-0 tile holds.
	resp, body = f.do(http.MethodGet, "/tile/entries/000", "", nil)
	mustStatus(t, "GET /tile/entries/000 anonymously", resp.StatusCode, http.StatusUnauthorized, body)
	for _, tc := range []struct {
		path  string
		first int64
		n     int
	}{{"/tile/entries/000", 0, 256}, {"/tile/entries/002.p/92", 512, 92}} {
		resp, body = f.do(http.MethodGet, tc.path, "lab", nil)
		mustStatus(t, "GET "+tc.path+" as lab", resp.StatusCode, http.StatusOK, body)
		idx := make([]int64, tc.n)
		for k := range idx {
			idx[k] = tlog.StoredHashIndex(0, tc.first+int64(k))
		}
		want, err := thr.ReadHashes(idx)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < tc.n; k++ {
			if len(body) < 2 {
				t.Fatalf("%s: bundle ends at entry %d", tc.path, k)
			}
			l := int(binary.BigEndian.Uint16(body))
			leaf := body[2 : 2+l]
			body = body[2+l:]
			if ledger.LeafHash(leaf) != want[k] {
				t.Fatalf("%s: entry %d's leaf hash is not the tile's", tc.path, k)
			}
		}
		if len(body) != 0 {
			t.Errorf("%s: %d bytes after the last entry", tc.path, len(body))
		}
	}

	for _, path := range []string{
		"/tile/0/003",          // beyond the tree
		"/tile/0/002.p/93",     // wider than the tree
		"/tile/1/000",          // level 1 is not full
		"/tile/0/2",            // not three digits
		"/tile/0/000.p/256",    // a full width as partial
		"/tile/0/000.p/0",      // zero width
		"/tile/-1/000",         // negative level
		"/tile/entries/x000/0", // not canonical
	} {
		resp, body := f.do(http.MethodGet, path, "lab", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d %.100s, want 404", path, resp.StatusCode, body)
		}
	}
	resp, _ = f.do(http.MethodGet, "/tile/0/000", "", nil)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("full tile Cache-Control = %q, want immutable", cc)
	}
}

// TestBundleEntryTooLarge: a leaf longer than an entry bundle's 16-bit
// length can carry (a statement with a 70 KB note) is in the hash tiles
// like any other, but its bundle is refused with 501, never truncated.
func TestBundleEntryTooLarge(t *testing.T) {
	f := newFixture(t, Config{})
	stmt, err := custody.NewStatement(custody.PredicateAcquire, custody.Subject{Name: "BIG-1", Digest: digestOf("BIG-1")}, custody.Acquire{
		Exhibit: "BIG-1", Size: 5, Source: "s", Method: "m", Note: strings.Repeat("n", 70000)})
	if err != nil {
		t.Fatal(err)
	}
	code, a, r := f.submit("cert", f.sign(stmt, f.parties["cert"]))
	if code != http.StatusOK {
		t.Fatalf("POST a 70 KB statement = %d %+v", code, r)
	}
	resp, body := f.do(http.MethodGet, fmt.Sprintf("/tile/entries/000.p/%d", a.Size), "lab", nil)
	mustStatus(t, "GET a bundle holding a 70 KB leaf", resp.StatusCode, http.StatusNotImplemented, body)
	resp, body = f.do(http.MethodGet, fmt.Sprintf("/tile/0/000.p/%d", a.Size), "", nil)
	mustStatus(t, "GET its hash tile", resp.StatusCode, http.StatusOK, body)
}
