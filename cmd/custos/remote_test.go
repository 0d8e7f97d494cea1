package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-ledger/custos/cmd/custos/server"
	"github.com/custos-ledger/custos/custody"
)

// custos runs the command line in process and returns its exit code and
// output.
func custos(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"custos"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustCustos(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := custos(t, args...)
	if code != 0 {
		t.Fatalf("custos %s = exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestRemoteSigning: acquire, release, accept, reject, finding add and
// submit against a server, with keys that stay with the CLI; a refusal
// exits 8 as locally, and a signature by a key that is not the party's
// current one is refused before anything is sent.
func TestRemoteSigning(t *testing.T) {
	t.Setenv("CUSTOS_PASSWORD", "pw")
	t.Setenv("CUSTOS_SERVER", "")
	dir := t.TempDir()
	L := filepath.Join(dir, "L")
	key := func(name string) string { return filepath.Join(dir, name) }
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/remote")
	for _, k := range []string{"cert", "lab"} {
		mustCustos(t, "key", "generate", "--out", key(k))
	}
	mustCustos(t, "party", "enroll", "--ledger", L, "--name", "cert", "--org", "CERT", "--role", "collector", "--role", "analyst", "--pubkey", key("cert.pub"), "--key", key("cert"))
	mustCustos(t, "party", "enroll", "--ledger", L, "--name", "lab", "--org", "LAB", "--role", "analyst", "--pubkey", key("lab.pub"), "--key", key("lab"))
	disk := filepath.Join(dir, "disk.img")
	os.WriteFile(disk, []byte("disk image bytes"), 0o644)

	l, err := ledgerDir(L).openWrite(staticPassword([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Log: l, Dir: L})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	url := hs.URL

	out := mustCustos(t, "acquire", disk, "--exhibit", "E-1", "--source", "s", "--method", "dd", "--as", "cert", "--key", key("cert"), "--server", url)
	if !strings.Contains(out, "acquired E-1: leaf 3, held by cert") {
		t.Errorf("remote acquire printed %q", out)
	}
	// The same bytes again: found through the server's state, nothing sent.
	out = mustCustos(t, "acquire", disk, "--exhibit", "E-9", "--source", "s", "--method", "dd", "--as", "cert", "--key", key("cert"), "--server", url)
	if !strings.Contains(out, "already registered: these bytes are exhibit E-1") {
		t.Errorf("remote acquire of the same bytes printed %q", out)
	}
	// lab is not the holder: exit 8 naming the rule, as locally.
	code, _, errOut := custos(t, "release", "E-1", "--to", "cert", "--as", "lab", "--key", key("lab"), "--server", url)
	if code != exitRefused || !strings.Contains(errOut, "holder-only") {
		t.Errorf("remote release by a non-holder = exit %d %q, want %d naming holder-only", code, errOut, exitRefused)
	}
	// A key that is not the party's: refused before signing.
	code, _, errOut = custos(t, "release", "E-1", "--to", "lab", "--as", "cert", "--key", key("lab"), "--server", url)
	if code != exitUsage || !strings.Contains(errOut, "not the current key of party") {
		t.Errorf("remote release with lab's key as cert = exit %d %q, want 2", code, errOut)
	}
	mustCustos(t, "release", "E-1", "--to", "lab", "--as", "cert", "--key", key("cert"), "--server", url)
	out = mustCustos(t, "accept", "E-1", "--file", disk, "--as", "lab", "--key", key("lab"), "--server", url)
	if !strings.Contains(out, "accepted E-1; you hold it now") {
		t.Errorf("remote accept printed %q", out)
	}
	mustCustos(t, "release", "E-1", "--to", "cert", "--as", "lab", "--key", key("lab"), "--server", url)
	mustCustos(t, "reject", "E-1", "--reason", "not needed", "--as", "cert", "--key", key("cert"), "--server", url)
	mustCustos(t, "finding", "add", "--id", "F-1", "--claim", "beacon", "--category", "infrastructure", "--method", "M-1", "--input", "E-1",
		"--source-reliability", "B", "--credibility", "2", "--confidence", "80", "--as", "lab", "--key", key("lab"), "--server", url)
	stmt, err := custody.NewStatement("https://example.org/note/v1", custody.Subject{Name: "E-1", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}}, map[string]string{"text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key("stmt.json"), stmt, 0o644)
	mustCustos(t, "submit", key("stmt.json"), "--as", "cert", "--key", key("cert"), "--server", url, "--json")
	if got := l.Size(); got != 10 {
		t.Errorf("ledger size after the remote session = %d, want 10", got)
	}

	// An unreachable server is an I/O error; a wrong password a usage one.
	code, _, _ = custos(t, "release", "E-1", "--to", "lab", "--as", "cert", "--key", key("cert"), "--server", "http://127.0.0.1:1")
	if code != exitIO {
		t.Errorf("release against an unreachable server = exit %d, want %d", code, exitIO)
	}

	hs.Close()
	srv.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out = mustCustos(t, "history", "E-1", "--ledger", L)
	for _, want := range []string{"acquire", "release", "accept", "reject"} {
		if !strings.Contains(out, want) {
			t.Errorf("local history after remote commands lacks %s:\n%s", want, out)
		}
	}
}
