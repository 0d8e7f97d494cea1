package server

// The C2SP tlog-tiles read API (https://c2sp.org/tlog-tiles): hash tiles of
// height 8 and entry bundles, at the paths the spec gives, with N in
// three-digit groups (x001/x234/067) and partial tiles as .p/<W>.
//
// custos's tree is golang.org/x/mod/sumdb/tlog's, so a tile's bytes are
// tlog.ReadTileData's, and a tlog tile path with its height element
// removed is the C2SP path ("tile/8/1/x001/234" is "tile/1/x001/234").
//
// ledger.Log keeps its stored hashes to itself and exposes proofs, so a
// tile hash at level h, index k (the root of leaves k·2^h .. (k+1)·2^h-1)
// is computed from leaf k·2^h's hash and its inclusion path in the tree of
// size (k+1)·2^h: that tree holds the subtree as a node, and the first h
// hashes of the path are the subtree's right siblings from the leaf up.
// Full tiles never change and are cached.

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
)

// tileHeight is C2SP tlog-tiles' fixed height.
const tileHeight = 8

// maxBundleEntry is the largest leaf an entry bundle can carry: its length
// is a big-endian uint16.
const maxBundleEntry = 1<<16 - 1

func (s *Server) handleTile(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/tile/")
	entries := strings.HasPrefix(rest, "entries/")
	var tlogPath string
	if entries {
		tlogPath = "tile/8/data/" + strings.TrimPrefix(rest, "entries/")
	} else {
		tlogPath = "tile/8/" + rest
	}
	t, err := tlog.ParseTilePath(tlogPath)
	if err != nil || (!entries && t.L < 0) {
		writeError(w, http.StatusNotFound, "not a tile path: want /tile/<L>/<N>[.p/<W>] or /tile/entries/<N>[.p/<W>]", nil)
		return
	}
	if entries {
		if PartyOf(r) == "" {
			w.Header().Set("WWW-Authenticate", authScheme)
			writeError(w, http.StatusUnauthorized, "entry bundles are served to enrolled parties only: sign the request", nil)
			return
		}
		s.serveEntries(w, t)
		return
	}
	size := s.log.Size()
	// Hashes at stored level L·8 that the tree of size holds.
	if avail := size >> (tileHeight * t.L); t.N<<tileHeight+int64(t.W) > avail {
		writeError(w, http.StatusNotFound, fmt.Sprintf("tile not available at tree size %d", size), nil)
		return
	}
	full := t.W == 1<<tileHeight
	if full {
		if b, ok := s.tiles.get(t); ok {
			writeTile(w, b, true)
			return
		}
	}
	b, err := tlog.ReadTileData(t, s.tileHashes())
	if err != nil {
		s.logger.Error("reading tile", "tile", t.Path(), "error", err.Error())
		writeError(w, http.StatusInternalServerError, "reading the tile", nil)
		return
	}
	if full {
		s.tiles.put(t, b)
	}
	writeTile(w, b, full)
}

func writeTile(w http.ResponseWriter, b []byte, full bool) {
	cache := "no-cache"
	if full {
		cache = "public, max-age=31536000, immutable"
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", cache)
	w.Write(b)
}

// tileHashes reads stored hashes by index, each computed from the log's
// leaves and proofs (see the package comment of this file).
func (s *Server) tileHashes() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			level, n := tlog.SplitStoredHashIndex(x)
			h, err := s.subtreeHash(level, n)
			if err != nil {
				return nil, err
			}
			out[i] = h
		}
		return out, nil
	})
}

// subtreeHash returns the RFC 6962 hash of leaves n·2^level .. (n+1)·2^level-1.
func (s *Server) subtreeHash(level int, n int64) (tlog.Hash, error) {
	first := n << level
	leaf, err := s.log.Leaf(first)
	if err != nil {
		return tlog.Hash{}, err
	}
	h := ledger.LeafHash(leaf)
	if level == 0 {
		return h, nil
	}
	path, err := s.log.ProveInclusionAt(first, first+1<<level)
	if err != nil {
		return tlog.Hash{}, err
	}
	if len(path) < level {
		return tlog.Hash{}, fmt.Errorf("inclusion path of leaf %d has %d hashes, want at least %d", first, len(path), level)
	}
	for _, sib := range path[:level] {
		h = tlog.NodeHash(h, sib)
	}
	return h, nil
}

// serveEntries writes an entry bundle: each leaf of the tile as a
// big-endian uint16 length and the leaf's exact bytes.
func (s *Server) serveEntries(w http.ResponseWriter, t tlog.Tile) {
	size := s.log.Size()
	first := t.N << tileHeight
	if first+int64(t.W) > size {
		writeError(w, http.StatusNotFound, fmt.Sprintf("entry bundle not available at tree size %d", size), nil)
		return
	}
	var out []byte
	for i := range int64(t.W) {
		leaf, err := s.log.Leaf(first + i)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "reading a leaf", nil)
			return
		}
		if len(leaf) > maxBundleEntry {
			writeError(w, http.StatusNotImplemented, fmt.Sprintf("leaf %d is %d bytes, more than an entry bundle's 16-bit length can carry; fetch it as a bundle of the CLI's export", first+i, len(leaf)), nil)
			return
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(leaf)))
		out = append(out, leaf...)
	}
	cache := "private, no-cache"
	if t.W == 1<<tileHeight {
		cache = "private, max-age=31536000, immutable"
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", cache)
	w.Write(out)
}

// tileCache keeps full hash tiles (8 KiB each), at most tileCacheMax.
type tileCache struct {
	mu sync.Mutex
	m  map[tlog.Tile][]byte
}

const tileCacheMax = 4096

func (c *tileCache) get(t tlog.Tile) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[t]
	return b, ok
}

func (c *tileCache) put(t tlog.Tile, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tileCacheMax {
		c.m = map[tlog.Tile][]byte{}
	}
	c.m[t] = b
}
