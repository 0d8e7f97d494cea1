package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custos-ledger/custos/cmd/custos/server"
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
	"github.com/custos-ledger/custos/verify/witness"
)

// startServe runs `custos serve` in process until the returned stop is
// called (as SIGTERM does: its context ends) and returns its base URL.
func startServe(t *testing.T, args ...string) (base string, stop func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	app, _ := newApp(strings.NewReader(""), pw, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, append([]string{"custos", "serve", "--listen", "127.0.0.1:0"}, args...))
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed nothing: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	_, base, ok := strings.Cut(strings.TrimSpace(line), " at ")
	if !ok {
		t.Fatalf("serve printed %q", line)
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(40 * time.Second):
				stopErr = fmt.Errorf("serve did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return base, stop
}

// TestServeShutdown: submissions are in flight when serve is told to stop.
// Every submission it acknowledged is in the reopened ledger, at the index
// and with the leaf hash it answered, and fsck finds the ledger whole.
func TestServeShutdown(t *testing.T) {
	t.Setenv("CUSTOS_PASSWORD", "pw")
	dir := t.TempDir()
	L := filepath.Join(dir, "L")
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/shutdown")
	mustCustos(t, "key", "generate", "--out", filepath.Join(dir, "cert"))
	mustCustos(t, "party", "enroll", "--ledger", L, "--name", "cert", "--org", "CERT", "--role", "collector",
		"--pubkey", filepath.Join(dir, "cert.pub"), "--key", filepath.Join(dir, "cert"))
	pemBytes, _ := os.ReadFile(filepath.Join(dir, "cert.key"))
	key, err := custody.ParsePrivateKey(pemBytes, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	envs := make([][]byte, n)
	for i := range envs {
		id := fmt.Sprintf("S-%d", i)
		stmt, err := custody.NewStatement(custody.PredicateAcquire, custody.Subject{Name: id, Digest: map[string]string{"sha256": fmt.Sprintf("%064x", i+1)}},
			custody.Acquire{Exhibit: id, Size: 1, Source: "s", Method: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if envs[i], err = custody.SignStatement(stmt, key); err != nil {
			t.Fatal(err)
		}
	}

	base, stop := startServe(t, "--ledger", L)
	var mu sync.Mutex
	acked := map[int64]string{}
	var next, refused int
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				resp, err := client.Post(base+"/custos/v1/entries", "application/json", bytes.NewReader(envs[i]))
				if err != nil {
					mu.Lock()
					refused++
					mu.Unlock()
					continue // the listener is closed: not acknowledged
				}
				var a server.Appended
				json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == http.StatusOK {
					acked[a.Index] = a.LeafHash
				} else {
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	// Stop once some submissions were acknowledged and others are in flight.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		k, sent := len(acked), next
		mu.Unlock()
		if k >= 50 || sent >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d submissions acknowledged after 60 s", k)
		}
		time.Sleep(time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve after SIGTERM = %v", err)
	}
	wg.Wait()
	t.Logf("%d acknowledged, %d not", len(acked), refused)

	mustCustos(t, "fsck", "--ledger", L)
	l, err := ledgerDir(L).openRead()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if size := l.Size(); size < int64(len(acked))+2 {
		t.Errorf("size %d after shutdown, want at least the %d acknowledged + 2", size, len(acked))
	}
	for idx, h := range acked {
		leaf, err := l.Leaf(idx)
		if err != nil || ledger.LeafHash(leaf).String() != h {
			t.Errorf("acknowledged leaf %d (%s) is not in the reopened ledger: %v", idx, h, err)
		}
	}
}

// TestServeTLS: with --tls-cert and --tls-key, serve speaks HTTPS only.
func TestServeTLS(t *testing.T) {
	t.Setenv("CUSTOS_PASSWORD", "pw")
	dir := t.TempDir()
	L := filepath.Join(dir, "L")
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/tls")
	certPEM, keyPEM := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "c.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "k.pem"), keyPEM, 0o600)
	code, _, errOut := custos(t, "serve", "--ledger", L, "--tls-cert", filepath.Join(dir, "c.pem"))
	if code != exitUsage || !strings.Contains(errOut, "go together") {
		t.Errorf("serve --tls-cert alone = %d %q, want 2", code, errOut)
	}
	base, stop := startServe(t, "--ledger", L, "--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem"))
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serve with TLS printed %q", base)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/checkpoint")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/checkpoint over TLS = %v %v", base, resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + strings.TrimPrefix(base, "https://") + "/checkpoint")
	if err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP to the TLS listener = 200, want a refusal")
		}
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// TestServeCommand: anonymous reads of a served ledger get public data
// only, and a stopped server leaves the ledger usable.
func TestServeCommand(t *testing.T) {
	t.Setenv("CUSTOS_PASSWORD", "pw")
	L := filepath.Join(t.TempDir(), "L")
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/serve")
	base, stop := startServe(t, "--ledger", L)
	resp, err := http.Get(base + "/checkpoint")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /checkpoint = %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/custos/v1/status")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous GET status = %v %v, want 401", resp, err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("serve after shutdown = %v", err)
	}
	if out := mustCustos(t, "checkpoint", "--ledger", L); !strings.Contains(out, "example.org/serve") {
		t.Errorf("checkpoint after serve = %q", out)
	}
}

// TestServeWitnesses: `custos serve --witness-policy P --witness-url
// NAME=URL` collects the cosignatures of the policy's witnesses (real
// witness states behind verify/witness's handler) and serves the
// checkpoint with them, meeting the policy.
func TestServeWitnesses(t *testing.T) {
	t.Setenv("CUSTOS_PASSWORD", "pw")
	dir := t.TempDir()
	L := filepath.Join(dir, "L")
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/witnessed")
	vkey := mustCustos(t, "checkpoint", "--ledger", L, "--vkey")
	os.WriteFile(filepath.Join(dir, "log.vkey"), []byte(vkey), 0o644)
	args := []string{"trust", "init", "--log-key", filepath.Join(dir, "log.vkey"), "--quorum", "2"}
	var urls []string
	for _, name := range []string{"w1.example", "w2.example"} {
		wdir := filepath.Join(dir, name)
		wkey, err := witness.Init(wdir, name, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := witness.Open(wdir, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		if err := w.AddLog(vkey); err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(witness.NewHandler(w, nil))
		t.Cleanup(hs.Close)
		os.WriteFile(filepath.Join(dir, name+".vkey"), []byte(wkey), 0o644)
		args = append(args, "--witness", filepath.Join(dir, name+".vkey"))
		urls = append(urls, "--witness-url", name+"="+hs.URL)
	}
	policyText := mustCustos(t, args...)
	os.WriteFile(filepath.Join(dir, "trust.policy"), []byte(policyText), 0o644)
	policy, err := verify.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}

	code, _, errOut := custos(t, "serve", "--ledger", L, "--witness-url", "w1.example=http://127.0.0.1:1")
	if code != exitUsage || !strings.Contains(errOut, "needs --witness-policy") {
		t.Errorf("serve --witness-url without a policy = %d %q, want 2", code, errOut)
	}
	base, stop := startServe(t, append([]string{"--ledger", L, "--witness-policy", filepath.Join(dir, "trust.policy")}, urls...)...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, cos, err := policy.CheckCheckpoint(body)
		if err == nil && len(cos) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s the checkpoint does not meet the policy: %v\n%s", err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// What serve stored is what `custos checkpoint attach` stores.
	if sizes, err := cosignedSizes(ledgerDir(L)); err != nil || len(sizes) != 1 || sizes[0] != 1 {
		t.Errorf("cosigned sizes after serve = %v, %v; want [1]", sizes, err)
	}
}
