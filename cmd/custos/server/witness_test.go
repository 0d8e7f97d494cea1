package server

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-ledger/custos/verify"
	"github.com/custos-ledger/custos/verify/witness"
)

// witnessServer serves a real witness state with verify/witness's C2SP
// tlog-witness handler, counting its 409 answers.
func witnessServer(t *testing.T, w *witness.Witness, conflicts *atomic.Int32) *httptest.Server {
	h := witness.NewHandler(w, nil)
	s := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusConflict {
			conflicts.Add(1)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func newWitness(t *testing.T, name string) (*witness.Witness, string) {
	dir := filepath.Join(t.TempDir(), name)
	vkey, err := witness.Init(dir, name, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(dir, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, vkey
}

// TestWitnessCollection: three witnesses in the policy, a quorum of two,
// one of them unreachable. Appends go on; the two reachable witnesses
// cosign (one after a 409 that names the size it holds); the checkpoint
// served carries their cosignatures and meets the policy; the cosigned
// note is stored as `custos checkpoint attach` stores it; the dashboard's
// witness status names the unreachable one.
func TestWitnessCollection(t *testing.T) {
	w1, k1 := newWitness(t, "w1.example")
	w2, k2 := newWitness(t, "w2.example")
	_, k3 := newWitness(t, "w3.example")
	var conflicts atomic.Int32
	s1, s2 := witnessServer(t, w1, &conflicts), witnessServer(t, w2, &conflicts)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connection refused from now on
	var policy *verify.Policy
	f := newFixture(t, Config{}, func(f *fixture, cfg *Config) {
		var err error
		policy, err = verify.NewPolicy(f.vkey, []string{k1, k2, k3}, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Policy = policy
		cfg.Witnesses = []WitnessEndpoint{{policy.Witnesses[0].Name, s1.URL}, {policy.Witnesses[1].Name, s2.URL}, {policy.Witnesses[2].Name, down.URL}}
		// w1 has already cosigned size 4 (the enrolments): the server's
		// first request, from 0, gets a 409 naming 4.
		for _, w := range []*witness.Witness{w1} {
			if err := w.AddLog(f.vkey); err != nil {
				t.Fatal(err)
			}
			p, _ := f.log.ProveConsistency(0)
			if _, err := w.Cosign(p.Marshal(), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if err := w2.AddLog(f.vkey); err != nil {
			t.Fatal(err)
		}
	})
	for i := range 10 {
		code, _, r := f.submit("cert", f.acquireEnv("cert", fmt.Sprintf("W-%d", i)))
		if code != http.StatusOK {
			t.Fatalf("submission %d with a witness down = %d %+v", i, code, r)
		}
	}
	size := f.log.Size()
	deadline := time.Now().Add(20 * time.Second)
	for f.srv.QuorumSize() < size {
		if time.Now().After(deadline) {
			t.Fatalf("quorum size %d after 20 s, want %d; witnesses %+v", f.srv.QuorumSize(), size, f.srv.WitnessStatus())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, body := f.do(http.MethodGet, "/checkpoint", "", nil)
	mustStatus(t, "GET /checkpoint", resp.StatusCode, http.StatusOK, body)
	c, cos, err := policy.CheckCheckpoint(body)
	if err != nil || c.Size != size || len(cos) != 2 {
		t.Fatalf("policy.CheckCheckpoint(/checkpoint) = size %d, %+v, %v; want size %d cosigned by two", c.Size, cos, err, size)
	}
	if q := f.srv.QuorumCheckpoint(); !bytes.Equal(q, body) {
		t.Errorf("QuorumCheckpoint() = %q, want the served checkpoint", q)
	}
	stored, err := os.ReadFile(filepath.Join(f.dir, "cosigned", fmt.Sprintf("%020d.checkpoint", size)))
	if err != nil || !bytes.Equal(stored, body) {
		t.Errorf("cosigned/%020d.checkpoint = %q, %v; want the served checkpoint", size, stored, err)
	}
	if conflicts.Load() == 0 {
		t.Error("no witness answered 409: the retry from the size it names was not exercised")
	}
	st := f.srv.WitnessStatus()
	if len(st) != 3 || st[0].CosignedSize != size || st[1].CosignedSize != size || st[2].CosignedSize != -1 || st[2].LastError == "" {
		t.Errorf("WitnessStatus = %+v, want w1 and w2 at %d, w3 with an error", st, size)
	}
	_, body = f.do(http.MethodGet, "/metrics", "", nil)
	if !strings.Contains(string(body), "custos_witness_lag 0\n") {
		t.Errorf("/metrics lacks custos_witness_lag 0:\n%s", body)
	}
}
