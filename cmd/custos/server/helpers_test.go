package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/cmd/custos/internal/custodyindex"
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
)

const testPassword = "correct horse battery staple"

// keys are made once per test binary: scrypt makes each cost ~50 ms.
var testKeys = sync.OnceValue(func() []*custody.PrivateKey {
	var out []*custody.PrivateKey
	for i := range 6 {
		typ := custody.KeyEd25519
		if i%2 == 1 {
			typ = custody.KeyECDSAP256
		}
		priv, _, err := custody.GenerateKey(typ, []byte(testPassword))
		if err != nil {
			panic(err)
		}
		k, err := custody.ParsePrivateKey(priv, []byte(testPassword))
		if err != nil {
			panic(err)
		}
		out = append(out, k)
	}
	return out
})

// fixture is a real badger ledger with an admin and three parties:
// cert (collector), lab (analyst and collector), outsider (analyst, later revoked in
// some tests); keys[4] and keys[5] are enrolled nowhere.
type fixture struct {
	t        testing.TB
	log      *ledger.Log
	dir      string
	verifier note.Verifier
	vkey     string
	admin    *custody.PrivateKey
	parties  map[string]*custody.PrivateKey
	stranger *custody.PrivateKey
	srv      *Server
	http     *httptest.Server
}

// newFixture opens the ledger, enrols the parties, calls setup (which may
// complete cfg, e.g. with a policy naming the log's key) and starts the
// server on httptest.
func newFixture(t testing.TB, cfg Config, setup ...func(*fixture, *Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, "test.custos.example/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	st, err := badgerstore.Open(dir+"/store", badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(st, ledger.Options{Verifier: verifier, Signer: signer, CheckpointFile: dir + "/checkpoint", Indexer: custodyindex.Indexer{}})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	keys := testKeys()
	f := &fixture{t: t, log: l, dir: dir, verifier: verifier, vkey: vkey, admin: keys[0], stranger: keys[4],
		parties: map[string]*custody.PrivateKey{"cert": keys[1], "lab": keys[2], "outsider": keys[3]}}
	f.appendOK(f.enrollEnv("admin", custody.RoleAdmin, f.admin))
	f.appendOK(f.enrollEnv("cert", custody.RoleCollector, keys[1], f.admin))
	f.appendOK(f.enrollEnv("lab", custody.RoleAnalyst+","+custody.RoleCollector, keys[2], f.admin))
	f.appendOK(f.enrollEnv("outsider", custody.RoleAnalyst, keys[3], f.admin))
	cfg.Log = l
	for _, fn := range setup {
		fn(f, &cfg)
	}
	if cfg.Dir == "" {
		cfg.Dir = dir
	}
	f.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.http = httptest.NewServer(f.srv.Handler())
	t.Cleanup(func() {
		f.http.Close()
		f.srv.Close()
		if err := l.Close(); err != nil {
			t.Errorf("closing the ledger: %v", err)
		}
	})
	return f
}

func (f *fixture) sign(stmt []byte, keys ...*custody.PrivateKey) []byte {
	f.t.Helper()
	env, err := custody.SignStatementMulti(stmt, keys...)
	if err != nil {
		f.t.Fatal(err)
	}
	return env
}

func (f *fixture) enrollEnv(name, roles string, key *custody.PrivateKey, cosign ...*custody.PrivateKey) []byte {
	f.t.Helper()
	pub := key.Public()
	stmt, err := custody.NewStatement(custody.PredicateEnroll, custody.PartySubject(name, pub), custody.Enroll{
		Party: name, Org: name + " org", Roles: strings.Split(roles, ","), Key: custody.KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.sign(stmt, append([]*custody.PrivateKey{key}, cosign...)...)
}

func digestOf(s string) map[string]string {
	sum := sha256.Sum256([]byte(s))
	return map[string]string{"sha256": hex.EncodeToString(sum[:])}
}

// acquireEnv is party's acquisition of exhibit id, whose bytes are id.
func (f *fixture) acquireEnv(party, id string) []byte {
	f.t.Helper()
	stmt, err := custody.NewStatement(custody.PredicateAcquire, custody.Subject{Name: id, Digest: digestOf(id)}, custody.Acquire{
		Exhibit: id, Size: int64(len(id)), Source: "laptop of the suspect", Method: "dd"})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.sign(stmt, f.parties[party])
}

func (f *fixture) releaseEnv(party, id, to string, key *custody.PrivateKey) []byte {
	f.t.Helper()
	x, err := custody.Exhibit(f.log.Index(), id)
	if err != nil || x == nil {
		f.t.Fatalf("exhibit %s: %v %v", id, x, err)
	}
	stmt, err := custody.NewStatement(custody.PredicateRelease, custody.Subject{Name: id, Digest: x.Digests},
		custody.Release{Exhibit: id, To: to, Prev: x.Last})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.sign(stmt, key)
}

func (f *fixture) acceptEnv(id string, key *custody.PrivateKey) []byte {
	f.t.Helper()
	x, err := custody.Exhibit(f.log.Index(), id)
	if err != nil || x == nil || x.OpenRelease == nil {
		f.t.Fatalf("exhibit %s has no open release: %+v %v", id, x, err)
	}
	stmt, err := custody.NewStatement(custody.PredicateAccept, custody.Subject{Name: id, Digest: x.Digests},
		custody.Accept{Exhibit: id, Prev: x.OpenRelease.Ref})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.sign(stmt, key)
}

func (f *fixture) revokeEnv(party string) []byte {
	f.t.Helper()
	k := f.parties[party].Public()
	stmt, err := custody.NewStatement(custody.PredicateKeyRevoke, custody.PartySubject(party, k),
		custody.KeyRevoke{Party: party, KeyID: k.KeyID(), Reason: "laptop stolen"})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.sign(stmt, f.admin)
}

// appendOK appends in process, as the CLI does.
func (f *fixture) appendOK(env []byte) int64 {
	f.t.Helper()
	i, _, err := f.log.Append(context.Background(), env)
	if err != nil {
		f.t.Fatalf("Append = %v", err)
	}
	return i
}

// do sends a request, signed as party when party is not "".
func (f *fixture) do(method, path, party string, body []byte) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if party != "" {
		if err := SignRequest(req, party, f.parties[party]); err != nil {
			f.t.Fatal(err)
		}
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, b
}

func (f *fixture) submit(party string, env []byte) (int, Appended, Refusal) {
	f.t.Helper()
	resp, body := f.do(http.MethodPost, "/custos/v1/entries", party, env)
	var a Appended
	var r Refusal
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &a); err != nil {
			f.t.Fatalf("POST entries: %v in %s", err, body)
		}
	} else if err := json.Unmarshal(body, &r); err != nil {
		f.t.Fatalf("POST entries = %d, body %q is not a JSON refusal", resp.StatusCode, body)
	}
	return resp.StatusCode, a, r
}

func mustStatus(t *testing.T, what string, got, want int, body []byte) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %d (%s), want %d", what, got, fmt.Sprintf("%.300s", body), want)
	}
}
