package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custos-ledger/custos/cmd/custos/server"
	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// loadClients is the number of concurrent submitters of TestServeLoad.
const loadClients = 64

// loadAck is one acknowledged append, as the client was told it.
type loadAck struct {
	env       []byte // the envelope submitted
	index     int64
	leafHash  string
	duplicate bool          // answered as a resubmission of an earlier append
	latency   time.Duration // of the request that was answered 200
	toAck     time.Duration // from the first attempt, retries included
	at        time.Time
}

// TestServeLoad is issue 7's server under load and faults, on loopback
// with every piece a process: 64 clients submit signed acquisitions of
// distinct exhibits, as four enrolled parties, to `custos serve` with two
// `custos witness serve` processes and a quorum of 2, for
// CUSTOS_LOAD_SECONDS (default 20, at most 60). During the run one witness
// is stopped and restarted on its port (appends go on; only the quorum
// waits), and the server is sent SIGTERM and restarted on its port
// (clients see connection errors or 503 and submit the same envelope
// again; a resubmission is answered with the first index). Afterwards:
// every acknowledged append is in the ledger at its index with its leaf
// hash and envelope, no index was acknowledged for two envelopes, every
// leaf appended was acknowledged, every request got an answer or a clean
// error, fsck passes, and the final checkpoint meets the quorum.
//
// The figures (appends/s, p50/p99 latency, errors by class) are logged,
// never asserted: they depend on the machine.
func TestServeLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped under -short (it runs for 20 s or more)")
	}
	if raceBuild() {
		t.Skip("load test: skipped under -race (the race detector slows every process several times over, so throughput and latency would measure it)")
	}
	seconds := 20
	if s := os.Getenv("CUSTOS_LOAD_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 5 || n > 60 {
			t.Fatalf("CUSTOS_LOAD_SECONDS=%q: want 5 to 60", s)
		}
		seconds = n
	}
	run := time.Duration(seconds) * time.Second
	bin, err := exec.LookPath("custos")
	if err != nil || !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(bin))), "testscript-main") {
		t.Fatalf("custos in PATH = %q, %v; want the test binary installed by testscript.Main", bin, err)
	}
	for k, v := range map[string]string{"CUSTOS_PASSWORD": "pw", "CUSTOS_SERVER": "", "CUSTOS_LEDGER": "", "CUSTOS_KEY": "", "SOURCE_DATE_EPOCH": ""} {
		t.Setenv(k, v)
	}
	for _, k := range []string{"CUSTOS_LOG_PASSWORD", "CUSTOS_ADMIN_PASSWORD", "CUSTOS_WITNESS_PASSWORD"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	L := path("L")

	// The ledger and four collectors, each with its key.
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/load")
	parties := []string{"p0", "p1", "p2", "p3"}
	keys := map[string]*custody.PrivateKey{}
	for _, p := range parties {
		mustCustos(t, "key", "generate", "--out", path(p))
		mustCustos(t, "party", "enroll", "--ledger", L, "--name", p, "--org", "ORG-"+p, "--role", "collector",
			"--pubkey", path(p+".pub"), "--key", path(p))
		b, err := os.ReadFile(path(p + ".key"))
		if err != nil {
			t.Fatal(err)
		}
		if keys[p], err = custody.ParsePrivateKey(b, []byte("pw")); err != nil {
			t.Fatal(err)
		}
	}
	logKey := path("log.vkey")
	os.WriteFile(logKey, []byte(mustCustos(t, "checkpoint", "--ledger", L, "--vkey")), 0o644)
	initial := int64(1 + len(parties))

	// Two witness processes and the policy naming both, quorum 2.
	trust := []string{"trust", "init", "--log-key", logKey, "--quorum", "2"}
	serveArgs := []string{"serve", "--ledger", L, "--witness-policy", path("trust.policy"),
		// The limiter is not what is measured: 16 clients per party
		// would spend most of the run waiting for it.
		"--rate", "1000000", "--burst", "1000000"}
	witnessRe := regexp.MustCompile(`msg="witness serving".* url=(\S+)`)
	startWitness := func(name, listen string) (string, func() error) {
		return startCustos(t, bin, witnessRe, "witness", "serve", "--state", path(name), "--listen", listen, "--log-key", logKey)
	}
	var w2URL string
	var stopW2 func() error
	for _, name := range []string{"w1.example", "w2.example"} {
		os.WriteFile(path(name+".vkey"), []byte(mustCustos(t, "witness", "init", "--name", name, "--out", path(name))), 0o644)
		trust = append(trust, "--witness", path(name+".vkey"))
		u, stop := startWitness(name, "127.0.0.1:0")
		serveArgs = append(serveArgs, "--witness-url", name+"="+u)
		w2URL, stopW2 = u, stop
	}
	policyText := mustCustos(t, trust...)
	os.WriteFile(path("trust.policy"), []byte(policyText), 0o644)
	policy, err := verify.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}
	serveRe := regexp.MustCompile(`^serving example\.org/load at (\S+)$`)
	base, stopServe := startCustos(t, bin, serveRe, append(serveArgs, "--listen", "127.0.0.1:0")...)
	serveAddr := strings.TrimPrefix(base, "http://")
	var serveMu sync.Mutex // guards stopServe across the restart
	w2Addr := strings.TrimPrefix(w2URL, "http://")

	// The clients. Each submits one envelope until it is acknowledged
	// (or the hard deadline passes), then the next, until the run ends.
	tr := &http.Transport{MaxIdleConnsPerHost: loadClients, MaxConnsPerHost: loadClients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 45 * time.Second}
	start := time.Now()
	end, hard := start.Add(run), start.Add(run+90*time.Second)
	var mu sync.Mutex
	var acks []loadAck
	classes := map[string]int{}
	var unclean []string // requests that got neither an answer nor a clean error
	var unacked []string // envelopes given up at the hard deadline
	count := func(class string) {
		mu.Lock()
		classes[class]++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for c := range loadClients {
		party := parties[c%len(parties)]
		signer := &server.RequestSigner{Party: party, Key: keys[party]}
		wg.Go(func() {
			for seq := 0; time.Now().Before(end); seq++ {
				id := fmt.Sprintf("LOAD-%02d-%06d", c, seq)
				env := loadAcquireEnv(t, keys[party], id)
				if env == nil {
					return
				}
				first := time.Now()
				backoff := 10 * time.Millisecond
				for {
					if time.Now().After(hard) {
						mu.Lock()
						unacked = append(unacked, id)
						mu.Unlock()
						return
					}
					t0 := time.Now()
					a, class, detail := submitOnce(client, signer, base, env)
					count(class)
					switch class {
					case "200", "200 duplicate":
						mu.Lock()
						acks = append(acks, loadAck{env: env, index: a.Index, leafHash: a.LeafHash, duplicate: a.Duplicate,
							latency: time.Since(t0), toAck: time.Since(first), at: time.Now()})
						mu.Unlock()
					case "503", "429", "conn refused", "conn reset", "conn closed":
						// Clean: the server is stopping or starting, or
						// limits us. The same envelope goes again.
						time.Sleep(backoff)
						backoff = min(2*backoff, 500*time.Millisecond)
						continue
					default:
						mu.Lock()
						unclean = append(unclean, fmt.Sprintf("%s (%s): %s", id, class, detail))
						mu.Unlock()
						return
					}
					break
				}
			}
		})
	}

	// A monitor reads the witness lag from /metrics: the tree size of the
	// latest checkpoint minus that of the latest one meeting the quorum.
	type sample struct {
		at  time.Time
		lag int64 // -1: no answer (the server is restarting)
	}
	var samples []sample
	lagRe := regexp.MustCompile(`(?m)^custos_witness_lag (\d+)$`)
	monitored := make(chan struct{})
	go func() {
		defer close(monitored)
		for time.Now().Before(end) {
			b, err := loadGet(client, base+"/metrics")
			lag := int64(-1)
			if m := lagRe.FindSubmatch(b); err == nil && m != nil {
				lag, _ = strconv.ParseInt(string(m[1]), 10, 64)
			}
			samples = append(samples, sample{time.Now(), lag})
			time.Sleep(200 * time.Millisecond)
		}
	}()

	// The faults, at fixed fractions of the run.
	at := func(f float64) { time.Sleep(time.Until(start.Add(time.Duration(f * float64(run))))) }
	at(0.2)
	wDown := time.Now()
	if err := stopW2(); err != nil {
		t.Errorf("stopping witness w2: %v", err)
	}
	at(0.4)
	wUp := time.Now()
	startWitness("w2.example", w2Addr) // stopped by its cleanup
	at(0.6)
	sDown := time.Now()
	serveMu.Lock()
	if err := stopServe(); err != nil {
		t.Errorf("SIGTERM to custos serve: %v", err)
	}
	stopped := time.Now()
	_, stopServe = startCustos(t, bin, serveRe, append(serveArgs, "--listen", serveAddr)...)
	serveMu.Unlock()
	sUp := time.Now()
	wg.Wait()
	elapsed := time.Since(start)
	<-monitored

	if len(unclean) > 0 {
		t.Errorf("%d requests got neither an answer nor a clean error, e.g. %s", len(unclean), unclean[0])
	}
	if len(unacked) > 0 {
		t.Errorf("%d envelopes were never acknowledged before the hard deadline, e.g. %s", len(unacked), unacked[0])
	}

	// No index acknowledged for two envelopes, no envelope at two indexes.
	byIndex := map[int64]loadAck{}
	byEnv := map[string]int64{}
	for _, a := range acks {
		if b, ok := byIndex[a.index]; ok && (!bytes.Equal(a.env, b.env) || a.leafHash != b.leafHash) {
			t.Errorf("index %d acknowledged twice: leaf hash %s and %s, envelopes equal %v", a.index, b.leafHash, a.leafHash, bytes.Equal(a.env, b.env))
		}
		byIndex[a.index] = a
		if i, ok := byEnv[string(a.env)]; ok && i != a.index {
			t.Errorf("one envelope acknowledged at indexes %d and %d", i, a.index)
		}
		byEnv[string(a.env)] = a.index
	}
	final := initial + int64(len(byIndex))
	for i := initial; i < final; i++ {
		if _, ok := byIndex[i]; !ok {
			t.Errorf("leaf %d was not acknowledged to anyone (acknowledged %d leaves above %d)", i, len(byIndex), initial)
			break
		}
	}

	// Both witnesses are up: the checkpoint of the final size meets the
	// quorum (the collector retries a failed witness every 5 s).
	loadDone := time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; {
		served, err := loadGet(client, base+"/checkpoint")
		var c ledger.Checkpoint
		if err == nil {
			c, _, err = policy.CheckCheckpoint(served)
		}
		if err == nil && c.Size == final {
			break
		}
		if err == nil {
			err = fmt.Errorf("size %d, want %d", c.Size, final)
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the load the checkpoint does not meet the quorum: %v\n%s", err, served)
		}
		time.Sleep(100 * time.Millisecond)
	}
	quorumWait := time.Since(loadDone).Round(time.Millisecond)

	// Resubmission is idempotent: a sample of acknowledged envelopes,
	// sent again, is answered with the index and leaf hash of the first
	// time, and appends nothing.
	signer := &server.RequestSigner{Party: parties[0], Key: keys[parties[0]]}
	resent := 0
	for i := initial; i < final; i += max(1, (final-initial)/64) {
		want := byIndex[i]
		a, class, detail := submitOnce(client, signer, base, want.env)
		if class != "200 duplicate" || a.Index != i || a.LeafHash != want.leafHash {
			t.Errorf("resubmitting the envelope of leaf %d = %s %+v %s, want a duplicate at %d with hash %s", i, class, a, detail, i, want.leafHash)
		}
		resent++
	}

	serveMu.Lock()
	if err := stopServe(); err != nil {
		t.Errorf("final SIGTERM to custos serve: %v", err)
	}
	serveMu.Unlock()
	var fres fsckView
	mustJSON(t, &fres, "fsck", "--ledger", L, "--json")
	if !fres.Ok || fres.Size != final || fres.LeavesChecked != final || fres.EntriesReplayed != final || !fres.IndexCompared {
		t.Errorf("fsck after the load = %+v, want ok, %d leaves checked and replayed, the index compared", fres, final)
	}

	// Every acknowledged append is in the ledger as acknowledged.
	l, err := ledgerDir(L).openRead()
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != final {
		t.Errorf("the ledger has %d leaves, want %d (%d before the load, %d acknowledged)", l.Size(), final, initial, len(byIndex))
	}
	lost := 0
	for i, a := range byIndex {
		b, err := l.Leaf(i)
		var leaf *ledger.Leaf
		if err == nil {
			leaf, err = ledger.ParseLeaf(b)
		}
		if err != nil || ledger.LeafHash(b).String() != a.leafHash || !bytes.Equal(leaf.Entry, a.env) {
			if lost++; lost <= 5 {
				t.Errorf("acknowledged leaf %d (hash %s) is not in the ledger as acknowledged: %v", i, a.leafHash, err)
			}
		}
	}
	l.Close()

	// The figures.
	var lat, toAck []time.Duration
	var dups, duringWitness, duringServe int
	for _, a := range acks {
		lat, toAck = append(lat, a.latency), append(toAck, a.toAck)
		if a.duplicate {
			dups++
		}
		if a.at.After(wDown) && a.at.Before(wUp) {
			duringWitness++
		}
		if a.at.After(stopped) && a.at.Before(sUp) {
			duringServe++
		}
	}
	// maxLag is the largest witness lag sampled in [from, to).
	maxLag := func(from, to time.Time) int64 {
		m := int64(-1)
		for _, s := range samples {
			if !s.at.Before(from) && s.at.Before(to) {
				m = max(m, s.lag)
			}
		}
		return m
	}
	lagBefore, lagDown := maxLag(start, wDown), maxLag(wDown, wUp)
	recovered := "not before the SIGTERM"
	for _, s := range samples {
		if s.at.After(wUp) && s.at.Before(sDown) && s.lag >= 0 && s.lag <= max(lagBefore, 500) {
			recovered = s.at.Sub(wUp).Round(time.Millisecond).String() + " after w2 restarted"
			break
		}
	}
	if duringWitness == 0 {
		t.Errorf("no append was acknowledged while witness w2 was down (%v)", wUp.Sub(wDown).Round(time.Millisecond))
	}
	slices.Sort(lat)
	slices.Sort(toAck)
	pct := func(d []time.Duration, p int) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[min(len(d)-1, len(d)*p/100)].Round(100 * time.Microsecond)
	}
	var names []string
	for k := range classes {
		names = append(names, k)
	}
	slices.Sort(names)
	var byClass []string
	for _, k := range names {
		byClass = append(byClass, fmt.Sprintf("%s: %d", k, classes[k]))
	}
	t.Logf("%d clients (4 parties) for %v: %d appends acknowledged, %.0f appends/s; %d acknowledged as resubmissions", loadClients, elapsed.Round(time.Millisecond),
		len(byIndex), float64(len(byIndex))/elapsed.Seconds(), dups)
	t.Logf("latency of acknowledged appends: p50 %v, p99 %v, max %v; from first attempt (retries included): p50 %v, p99 %v, max %v",
		pct(lat, 50), pct(lat, 99), pct(lat, 100), pct(toAck, 50), pct(toAck, 99), pct(toAck, 100))
	t.Logf("requests by class: %s", strings.Join(byClass, ", "))
	t.Logf("witness w2 down %v: %d appends acknowledged meanwhile; serve stopped in %v after SIGTERM, back %v later (%d acknowledged in the gap); final checkpoint (size %d) met the quorum %v after the load",
		wUp.Sub(wDown).Round(time.Millisecond), duringWitness, stopped.Sub(sDown).Round(time.Millisecond), sUp.Sub(stopped).Round(time.Millisecond), duringServe, final, quorumWait)
	t.Logf("witness lag (leaves not under a quorum checkpoint), largest sampled: %d before the outage, %d during it; back to the level before %s; %d acknowledged envelopes resubmitted after the load, each answered as a duplicate at its index",
		lagBefore, lagDown, recovered, resent)
	t.Logf("lost acknowledged appends: %d; indexes acknowledged for two envelopes: 0 unless reported above; fsck ok %v", lost, fres.Ok)
}

// submitOnce POSTs env once, signed as signer, and classes the outcome:
// "200" or "200 duplicate" (with the answer), a status code, or a clean
// connection error ("conn refused", "conn reset", "conn closed"); anything
// else ("timeout", "other", "bad answer") is returned with its detail.
func submitOnce(client *http.Client, signer *server.RequestSigner, base string, env []byte) (server.Appended, string, string) {
	var a server.Appended
	req, err := http.NewRequest(http.MethodPost, base+"/custos/v1/entries", bytes.NewReader(env))
	if err != nil {
		return a, "other", err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	if err := signer.Sign(req); err != nil {
		return a, "other", err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return a, connClass(err), err.Error()
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return a, connClass(err), err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		var r server.Refusal
		if json.Unmarshal(body, &r) != nil || r.Error == "" {
			return a, "bad answer", fmt.Sprintf("%d %q", resp.StatusCode, body)
		}
		return a, strconv.Itoa(resp.StatusCode), r.Error
	}
	if err := json.Unmarshal(body, &a); err != nil || a.LeafHash == "" || a.Size != a.Index+1 {
		return a, "bad answer", fmt.Sprintf("200 %q", body)
	}
	if a.Duplicate {
		return a, "200 duplicate", ""
	}
	return a, "200", ""
}

// connClass names a transport error: refused (nobody listens), reset or
// closed (the server closed the connection: a SIGTERM'd server closes its
// idle keep-alive connections, and a POST on one is not retried by
// net/http), or timeout and other, which are not clean.
func connClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "conn reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "server closed idle connection"):
		return "conn closed"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}

// loadAcquireEnv is key's acquisition of exhibit id, whose bytes are id.
func loadAcquireEnv(t *testing.T, key *custody.PrivateKey, id string) []byte {
	sum := sha256.Sum256([]byte(id))
	stmt, err := custody.NewStatement(custody.PredicateAcquire, custody.Subject{Name: id, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}},
		custody.Acquire{Exhibit: id, Size: int64(len(id)), Source: "load test", Method: "dd"})
	if err == nil {
		var env []byte
		if env, err = custody.SignStatement(stmt, key); err == nil {
			return env
		}
	}
	t.Errorf("signing the acquisition of %s: %v", id, err)
	return nil
}

func loadGet(client *http.Client, u string) ([]byte, error) {
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s = %d %q", u, resp.StatusCode, b)
	}
	return b, err
}

// raceBuild reports whether this test binary was built with -race.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
