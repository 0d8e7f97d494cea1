package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/cmd/custos/server"
	"github.com/custos-ledger/custos/verify"
)

// serveLedger serves the ledger directory L over loopback until cleanup.
func serveLedger(t *testing.T, L string) string {
	t.Helper()
	l, err := ledgerDir(L).openWrite(staticPassword([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Log: l, Dir: L})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		if err := l.Close(); err != nil {
			t.Errorf("closing %s: %v", L, err)
		}
	})
	return hs.URL
}

// flipProxy forwards to target and flips the last byte of every answer
// to a path starting with prefix.
func flipProxy(t *testing.T, target, prefix string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasPrefix(resp.Request.URL.Path, prefix) || resp.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if len(b) > 0 {
			b[len(b)-1] ^= 0x01
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return nil
	}
	hs := httptest.NewServer(p)
	t.Cleanup(hs.Close)
	return hs.URL
}

// cosignProxy forwards to target and adds a witness's cosignature line
// to the checkpoint it serves.
func cosignProxy(t *testing.T, target string) string {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	w, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/checkpoint" {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		text, _ := splitSigned(b)
		cosig, err := note.Sign(&note.Note{Text: text}, w)
		if err != nil {
			return err
		}
		_, lines := splitSigned(cosig)
		b = append(b, lines[0]...)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	}
	hs := httptest.NewServer(p)
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestMirror is the facilitator's case: a server with parties submitting,
// a mirror of it that fsck accepts and from which a bundle is exported
// and verified, a second run that brings the mirror up to date, tampered
// tiles and entry bundles refused naming what failed, and a server whose
// history forks from the mirror's refused as equivocation.
func TestMirror(t *testing.T) {
	t.Setenv("CUSTOS_PASSWORD", "pw")
	t.Setenv("CUSTOS_SERVER", "")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := t.TempDir()
	L, F, M := filepath.Join(dir, "L"), filepath.Join(dir, "F"), filepath.Join(dir, "M")
	key := func(name string) string { return filepath.Join(dir, name) }
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/mirrored")
	for _, k := range []string{"cert", "lab"} {
		mustCustos(t, "key", "generate", "--out", key(k))
	}
	mustCustos(t, "party", "enroll", "--ledger", L, "--name", "cert", "--org", "CERT", "--role", "collector", "--role", "analyst", "--pubkey", key("cert.pub"), "--key", key("cert"))
	mustCustos(t, "party", "enroll", "--ledger", L, "--name", "lab", "--org", "LAB", "--role", "analyst", "--pubkey", key("lab.pub"), "--key", key("lab"))
	// F is L's twin up to here: the same log key, a history that forks
	// after leaf 2.
	if err := os.CopyFS(F, os.DirFS(L)); err != nil {
		t.Fatal(err)
	}
	disk := func(name string) string {
		p := key(name)
		os.WriteFile(p, []byte("bytes of "+name), 0o644)
		return p
	}
	logKey := filepath.Join(L, logVKeyName)

	url := serveLedger(t, L)
	as := func(party string) []string { return []string{"--as", party, "--key", key(party), "--server", url} }
	mustCustos(t, append([]string{"acquire", disk("disk1.img"), "--exhibit", "E-1", "--source", "s", "--method", "dd"}, as("cert")...)...)
	mustCustos(t, append([]string{"release", "E-1", "--to", "lab"}, as("cert")...)...)
	mustCustos(t, append([]string{"accept", "E-1", "--file", key("disk1.img")}, as("lab")...)...)

	mirrorArgs := func(server, out string) []string {
		return []string{"mirror", "--server", server, "--out", out, "--as", "lab", "--key", key("lab"), "--log-key", logKey}
	}
	out := mustCustos(t, mirrorArgs(url, M)...)
	if !strings.Contains(out, "6 leaves (6 new)") {
		t.Errorf("first mirror printed %q, want 6 leaves (6 new)", out)
	}
	if _, err := os.Stat(filepath.Join(M, logKeyName)); err == nil {
		t.Errorf("the mirror holds %s; it must not be able to sign", logKeyName)
	}
	for _, f := range []string{logPubName, logVKeyName, checkpointName} {
		if _, err := os.Stat(filepath.Join(M, f)); err != nil {
			t.Errorf("the mirror lacks %s: %v", f, err)
		}
	}
	checkMirror := func(size int64) {
		t.Helper()
		rep, err := fsck(ledgerDir(M))
		if err != nil {
			t.Fatalf("fsck(mirror) = %v", err)
		}
		if rep.Size != size || !rep.IndexCompared || rep.EntriesAdmitted != size {
			t.Errorf("fsck(mirror) = %+v, want %d leaves replayed and the index compared", rep, size)
		}
		mustCustos(t, "fsck", "--ledger", M)
	}
	checkMirror(6)

	// A bundle exported from the mirror verifies under the log key.
	bundle := key("E-1.custos")
	mustCustos(t, "export", "--ledger", M, "--exhibit", "E-1", "--out", bundle)
	verifyBundle := func() *verify.BundleReport {
		t.Helper()
		vkey, _ := os.ReadFile(logKey)
		policy, err := verify.ParsePolicy([]byte("log " + strings.TrimSpace(string(vkey)) + "\nquorum none\n"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(bundle)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := verify.VerifyBundle(f, verify.BundleOptions{Policy: policy})
		if err != nil || !rep.Valid {
			t.Fatalf("VerifyBundle(export of the mirror) = %v, %+v", err, rep)
		}
		return rep
	}
	if rep := verifyBundle(); rep.TreeSize != 6 {
		t.Errorf("bundle tree size = %d, want 6", rep.TreeSize)
	}

	// More appends; the second run fetches only the new leaves, after the
	// server proves its tree extends the mirror's.
	mustCustos(t, append([]string{"acquire", disk("disk2.img"), "--exhibit", "E-2", "--source", "s", "--method", "dd"}, as("cert")...)...)
	mustCustos(t, append([]string{"release", "E-1", "--to", "cert"}, as("lab")...)...)
	out = mustCustos(t, "mirror", "--server", url, "--out", M, "--as", "lab", "--key", key("lab")) // log.vkey pinned in M
	if !strings.Contains(out, "8 leaves (2 new)") {
		t.Errorf("second mirror printed %q, want 8 leaves (2 new)", out)
	}
	checkMirror(8)
	if out := mustCustos(t, mirrorArgs(url, M)...); !strings.Contains(out, "8 leaves (0 new)") {
		t.Errorf("mirror with nothing new printed %q, want 8 leaves (0 new)", out)
	}
	// A server whose checkpoint carries a witness's cosignature: the
	// mirror files it under cosigned/ and export proves to it.
	out = mustCustos(t, append(mirrorArgs(cosignProxy(t, url), M), "--json")...)
	if !strings.Contains(out, `"cosigned": true`) {
		t.Errorf("mirror of a cosigned checkpoint printed %s, want cosigned true", out)
	}
	if sizes, err := cosignedSizes(ledgerDir(M)); err != nil || len(sizes) != 1 || sizes[0] != 8 {
		t.Errorf("mirror's cosigned checkpoints = %v, %v, want [8]", sizes, err)
	}
	out = mustCustos(t, "history", "E-1", "--ledger", M)
	if !strings.Contains(out, "to cert") {
		t.Errorf("history of E-1 in the mirror lacks the release back to cert:\n%s", out)
	}
	mustCustos(t, "export", "--ledger", M, "--exhibit", "E-2", "--out", bundle)
	if rep := verifyBundle(); rep.TreeSize != 8 {
		t.Errorf("bundle tree size = %d, want 8", rep.TreeSize)
	}

	// Tampering between server and mirror is refused, naming what failed,
	// and leaves nothing a ledger command accepts. Commits of one leaf
	// each, so that the refusal of leaf 7 interrupts a run that has
	// committed leaves 0..6 beyond any checkpoint.
	mirrorBatch = 1
	defer func() { mirrorBatch = 0 }()
	for _, tc := range []struct {
		prefix string
		code   int
		want   []string
		added  string // leaves the resumed run adds: the refused run committed the rest
	}{
		{"/tile/0/", exitVerifyFailed, []string{"hash tiles for leaves 0..7", "tile/0/000.p/8"}, "8"},
		{"/tile/entries/", exitVerifyFailed, []string{"leaf 7 in entry bundle tile/entries/000.p/8"}, "1"},
		{"/checkpoint", exitMalformed, []string{"the server's checkpoint"}, "8"},
	} {
		t.Run("tampered"+strings.ReplaceAll(tc.prefix, "/", "-"), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "M")
			code, _, errOut := custos(t, mirrorArgs(flipProxy(t, url, tc.prefix), out)...)
			t.Logf("flipping %s: %s", tc.prefix, errOut)
			if code != tc.code {
				t.Fatalf("mirror through a proxy flipping %s = exit %d (%s), want %d", tc.prefix, code, errOut, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("mirror through a proxy flipping %s said %q, want it to name %q", tc.prefix, errOut, w)
				}
			}
			if code, _, _ := custos(t, "fsck", "--ledger", out); code == exitOK {
				t.Errorf("fsck accepts the refused mirror")
			}
			// The next run, through the genuine server, finishes the
			// mirror from where the refused one stopped.
			res := mustCustos(t, mirrorArgs(url, out)...)
			if !strings.Contains(res, "8 leaves ("+tc.added+" new)") {
				t.Errorf("mirror after the refused run printed %q, want 8 leaves (%s new)", res, tc.added)
			}
			if rep, err := fsck(ledgerDir(out)); err != nil || rep.Size != 8 {
				t.Errorf("fsck after the resumed run = %+v, %v", rep, err)
			}
		})
	}

	// F signs a different history after leaf 2 with the same key: the
	// mirror, at size 8, refuses it whether F is ahead of it or behind.
	furl := serveLedger(t, F)
	fas := func(party string) []string { return []string{"--as", party, "--key", key(party), "--server", furl} }
	mustCustos(t, append([]string{"acquire", disk("other.img"), "--exhibit", "X-1", "--source", "s", "--method", "dd"}, fas("cert")...)...)
	code, _, errOut := custos(t, mirrorArgs(furl, M)...)
	t.Logf("forked server behind: %s", errOut)
	if code != exitEquivocation || !strings.Contains(errOut, "equivocation") {
		t.Errorf("mirror of a forked server behind the mirror = exit %d (%s), want %d", code, errOut, exitEquivocation)
	}
	for i := range 6 {
		mustCustos(t, append([]string{"acquire", disk("other" + string(rune('a'+i)) + ".img"), "--exhibit", "X-" + string(rune('2'+i)), "--source", "s", "--method", "dd"}, fas("cert")...)...)
	}
	code, _, errOut = custos(t, mirrorArgs(furl, M)...)
	t.Logf("forked server ahead: %s", errOut)
	if code != exitEquivocation || !strings.Contains(errOut, "does not extend the mirror's checkpoint of size 8") {
		t.Errorf("mirror of a forked server ahead of the mirror = exit %d (%s), want %d", code, errOut, exitEquivocation)
	}
	checkMirror(8)

	// Without a pinned key there is nothing to trust.
	code, _, errOut = custos(t, "mirror", "--server", url, "--out", filepath.Join(dir, "M2"), "--as", "lab", "--key", key("lab"))
	if code != exitUsage || !strings.Contains(errOut, "--log-key") {
		t.Errorf("new mirror without --log-key = exit %d (%s), want %d", code, errOut, exitUsage)
	}
}

// FuzzParseBundle: parseBundle never panics, and what it accepts encodes
// back to the same bytes (no two encodings of one bundle).
func FuzzParseBundle(f *testing.F) {
	f.Add([]byte{0, 1, 'a', 0, 2, 'b', 'c'}, 2)
	f.Add([]byte{0, 3, 'a'}, 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, w int) {
		leaves, err := parseBundle(b, w)
		if err != nil {
			return
		}
		var again []byte
		for _, l := range leaves {
			again = binary.BigEndian.AppendUint16(again, uint16(len(l)))
			again = append(again, l...)
		}
		if !bytes.Equal(again, b) || len(leaves) != w {
			t.Errorf("parseBundle(%x, %d) = %d leaves re-encoding to %x", b, w, len(leaves), again)
		}
	})
}
