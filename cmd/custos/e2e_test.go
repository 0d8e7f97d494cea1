package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custos-ledger/custos/verify"
)

// TestE2EMultiParty is issue 6's case end to end on loopback, every piece
// real and every party its own process: a facilitator creates the ledger
// and enrols two parties; two `custos witness serve` processes with their
// own state directories; `custos serve` with a trust policy of quorum 2
// naming them; the two parties acquire, release and accept concurrently
// over HTTP with --server, keys on their side; a hand-over is rejected on
// a digest mismatch and redone; the server collects a checkpoint cosigned
// by both witnesses; `custos mirror` copies the ledger; `custos fsck`
// accepts the mirror; `custos export` makes a bundle from it; and `custos
// verify` with the trust policy finds it valid, both witnesses counted,
// the rejection in the history and the evidence files matched.
//
// The parties are processes (this test binary, installed as custos by
// testscript.Main) rather than calls of run in goroutines: urfave/cli
// writes to the shared flag values as it parses, so two commands at once
// in one process race.
func TestE2EMultiParty(t *testing.T) {
	bin, err := exec.LookPath("custos")
	if err != nil || !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(bin))), "testscript-main") {
		t.Fatalf("custos in PATH = %q, %v; want the test binary installed by testscript.Main", bin, err)
	}
	for k, v := range map[string]string{"CUSTOS_PASSWORD": "pw", "CUSTOS_SERVER": "", "CUSTOS_LEDGER": "", "CUSTOS_KEY": "", "SOURCE_DATE_EPOCH": ""} {
		t.Setenv(k, v)
	}
	// A binary built with -race sleeps a second before it exits, for
	// reports from other goroutines; the parties run a dozen commands.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=50"))
	for _, k := range []string{"CUSTOS_LOG_PASSWORD", "CUSTOS_ADMIN_PASSWORD", "CUSTOS_WITNESS_PASSWORD"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // an empty one is not unset
	}
	start := time.Now()
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	L, M := path("L"), path("M")

	// The facilitator: ledger, the parties' keys and their enrolment.
	mustCustos(t, "init", "--ledger", L, "--origin", "example.org/e2e")
	for _, p := range []string{"cert", "lab"} {
		mustCustos(t, "key", "generate", "--out", path(p))
	}
	mustCustos(t, "party", "enroll", "--ledger", L, "--name", "cert", "--org", "CERT", "--role", "collector", "--pubkey", path("cert.pub"), "--key", path("cert"))
	mustCustos(t, "party", "enroll", "--ledger", L, "--name", "lab", "--org", "LAB", "--role", "collector", "--role", "analyst", "--pubkey", path("lab.pub"), "--key", path("lab"))
	logKey := path("log.vkey")
	os.WriteFile(logKey, []byte(mustCustos(t, "checkpoint", "--ledger", L, "--vkey")), 0o644)

	// Two witnesses, each a process with its own state, and the trust
	// policy the tribunal and the server share: both must cosign.
	trust := []string{"trust", "init", "--log-key", logKey, "--quorum", "2"}
	serveArgs := []string{"serve", "--ledger", L, "--listen", "127.0.0.1:0", "--witness-policy", path("trust.policy")}
	witnesses := []string{"w1.example", "w2.example"}
	var stops []func() error
	for _, name := range witnesses {
		state := path(name)
		os.WriteFile(path(name+".vkey"), []byte(mustCustos(t, "witness", "init", "--name", name, "--out", state)), 0o644)
		trust = append(trust, "--witness", path(name+".vkey"))
		url, stop := startCustos(t, bin, regexp.MustCompile(`msg="witness serving".* url=(\S+)`),
			"witness", "serve", "--state", state, "--listen", "127.0.0.1:0", "--log-key", logKey)
		serveArgs = append(serveArgs, "--witness-url", name+"="+url)
		stops = append(stops, stop)
	}
	policyText := mustCustos(t, trust...)
	os.WriteFile(path("trust.policy"), []byte(policyText), 0o644)
	policy, err := verify.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}
	base, stopServe := startCustos(t, bin, regexp.MustCompile(`^serving example\.org/e2e at (\S+)$`), serveArgs...)
	stops = append([]func() error{stopServe}, stops...)

	// The evidence: what each party images, and a copy of disk2 damaged
	// in transit.
	evidence := path("evidence")
	os.Mkdir(evidence, 0o755)
	file := func(name, content string) string {
		p := filepath.Join(evidence, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	disk1, disk2, mem1 := file("disk1.img", "HMI disk image"), file("disk2.img", "historian disk image"), file("mem1.raw", "lab workstation memory")
	damaged := path("disk2-received.img")
	os.WriteFile(damaged, []byte("historian disk imagf"), 0o644)

	// The parties, each in its own goroutine, each command a process.
	var mu sync.Mutex
	var leaves []int64
	party := func(as string, want int, args ...string) *appended {
		cmd := exec.Command(bin, append(args, "--as", as, "--key", path(as), "--server", base, "--json")...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Errorf("custos %s: %v", strings.Join(args, " "), err)
			return nil
		}
		// acquire prints {"appended": {...}, "digests": ...}; the others
		// the appended entry itself.
		var a appended
		var acquired struct{ Appended *appended }
		json.Unmarshal(out.Bytes(), &acquired)
		if acquired.Appended != nil {
			a = *acquired.Appended
		} else {
			json.Unmarshal(out.Bytes(), &a)
		}
		if code != want || a.Party != as || a.LeafHash == "" {
			t.Errorf("custos %s as %s = exit %d, want %d\n%s%s", strings.Join(args, " "), as, code, want, out.Bytes(), errOut.Bytes())
			return nil
		}
		if want != 0 && !strings.Contains(errOut.String(), "digest mismatch on receipt") {
			t.Errorf("custos %s as %s: stderr %q does not name the digest mismatch", strings.Join(args, " "), as, errOut.Bytes())
		}
		mu.Lock()
		leaves = append(leaves, a.Index)
		mu.Unlock()
		return &a
	}
	concurrently := func(cert, lab func()) {
		var wg sync.WaitGroup
		wg.Go(cert)
		wg.Go(lab)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	acq := func(file, id string) []string {
		return []string{"acquire", file, "--exhibit", id, "--source", "site " + id, "--method", "dd via write blocker"}
	}
	submitting := time.Now()
	concurrently(func() {
		party("cert", 0, acq(disk1, "E-1")...)
		party("cert", 0, acq(disk2, "E-2")...)
		party("cert", 0, "release", "E-1", "--to", "lab", "--reason", "analysis")
		party("cert", 0, "release", "E-2", "--to", "lab", "--reason", "analysis")
	}, func() {
		party("lab", 0, acq(mem1, "L-1")...)
		party("lab", 0, "release", "L-1", "--to", "cert", "--reason", "copy for CERT")
	})
	var rejected *appended
	concurrently(func() {
		party("cert", 0, "accept", "L-1", "--file", mem1)
	}, func() {
		party("lab", 0, "accept", "E-1", "--file", disk1)
		rejected = party("lab", exitVerifyFailed, "accept", "E-2", "--file", damaged)
	})
	// The holder sends it again; this time the bytes arrive whole.
	party("cert", 0, "release", "E-2", "--to", "lab", "--reason", "resend")
	party("lab", 0, "accept", "E-2", "--file", disk2)
	const size = 3 + 11 // init and two enrolments, then the parties' entries
	slices.Sort(leaves)
	var want []int64
	for i := int64(3); i < size; i++ {
		want = append(want, i)
	}
	if !slices.Equal(leaves, want) {
		t.Fatalf("the parties' entries are at leaves %v, want 3..%d once each", leaves, size-1)
	}
	t.Logf("%d leaves appended over HTTP by two parties in %v", len(leaves), time.Since(submitting).Round(time.Millisecond))

	// The server collects both cosignatures, whenever the witnesses answer.
	var served []byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		served = httpGet(t, base+"/checkpoint", http.StatusOK)
		c, cos, err := policy.CheckCheckpoint(served)
		if err == nil && c.Size == size {
			names := []string{cos[0].Witness, cos[1].Witness}
			slices.Sort(names)
			if !slices.Equal(names, witnesses) {
				t.Fatalf("the checkpoint of size %d is cosigned by %v, want %v", size, names, witnesses)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s /checkpoint does not meet the quorum at size %d: %v\n%s", size, err, served)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// An anonymous client reads the checkpoint, not the custody record.
	httpGet(t, base+"/custos/v1/exhibits/E-2/history", http.StatusUnauthorized)
	httpGet(t, base+"/tile/entries/000.p/14", http.StatusUnauthorized)

	// The mirror, kept by the lab: every tile and leaf checked against
	// the log key it pinned, the cosigned checkpoint filed.
	var mres mirrorResult
	mustJSON(t, &mres, "mirror", "--server", base, "--out", M, "--as", "lab", "--key", path("lab"), "--log-key", logKey, "--json")
	if mres.Size != size || mres.Added != size || !mres.Cosigned || mres.CosignedSize != size {
		t.Errorf("mirror = %+v, want %d leaves, all new, the cosigned checkpoint of size %d filed", mres, size, size)
	}
	var fres fsckView
	mustJSON(t, &fres, "fsck", "--ledger", M, "--json")
	if !fres.Ok || fres.Size != size || fres.LeavesChecked != size || fres.EntriesReplayed != size || !fres.IndexCompared || fres.Root != mres.Root {
		t.Errorf("fsck of the mirror = %+v, want ok, %d leaves checked and replayed, the index compared, root %s", fres, size, mres.Root)
	}

	// The bundle for the tribunal, from the mirror, and its verification
	// with the tribunal's trust policy and the files it received.
	bundle := path("case.custos")
	mustCustos(t, "export", "--ledger", M, "--exhibit", "E-1", "--exhibit", "E-2", "--exhibit", "L-1", "--out", bundle, "--trust", path("trust.policy"))
	var rep verify.BundleReport
	mustJSON(t, &rep, "verify", bundle, "--trust", path("trust.policy"), "--evidence", evidence, "--json")
	if !rep.Valid || rep.Verdict != "valid" || rep.TreeSize != size || rep.Checkpoint != string(served) || len(rep.Problems) != 0 {
		t.Errorf("verify = valid %v %q, size %d, problems %v; want valid at size %d on the served checkpoint", rep.Valid, rep.Verdict, rep.TreeSize, rep.Problems, size)
	}
	var counted []string
	for _, c := range rep.Witnesses {
		counted = append(counted, c.Witness)
	}
	if slices.Sort(counted); !slices.Equal(counted, witnesses) {
		t.Errorf("verify counted witnesses %v, want %v", counted, witnesses)
	}
	holders := map[string]string{}
	for _, x := range rep.Exhibits {
		holders[x.ID] = x.Holder
		if !x.Ok || !x.InManifest {
			t.Errorf("exhibit %s: ok %v, in manifest %v, problems %v", x.ID, x.Ok, x.InManifest, x.Problems)
		}
		var events []string
		for _, s := range x.Steps {
			events = append(events, s.Event)
		}
		want := map[string]string{"E-1": "acquire release accept", "E-2": "acquire release reject release accept", "L-1": "acquire release accept"}[x.ID]
		if got := strings.Join(events, " "); got != want {
			t.Errorf("history of %s in the bundle = %s, want %s", x.ID, got, want)
		}
		if x.ID == "E-2" && rejected != nil {
			r := x.Steps[2]
			if r.Index != rejected.Index || !r.Mismatch || r.Party != "lab" || !strings.Contains(r.Reason, "digest mismatch on receipt") {
				t.Errorf("E-2's rejection in the bundle = %+v, want leaf %d by lab, a digest mismatch", r, rejected.Index)
			}
		}
	}
	if want := map[string]string{"E-1": "lab", "E-2": "lab", "L-1": "cert"}; !maps.Equal(holders, want) {
		t.Errorf("holders in the bundle = %v, want %v", holders, want)
	}
	matched := 0
	for _, f := range rep.Evidence {
		if f.Status == verify.EvidenceMatched {
			matched++
		}
	}
	if matched != 3 || len(rep.Evidence) != 3 {
		t.Errorf("evidence = %+v, want the three files matched", rep.Evidence)
	}

	// SIGTERM: the server and the witnesses stop cleanly, and the
	// facilitator's ledger is whole.
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}
	if rep, err := fsck(ledgerDir(L)); err != nil || rep.Size != size || rep.Root.String() != mres.Root {
		t.Errorf("fsck of the served ledger after SIGTERM = %+v, %v; want %d leaves, the mirror's root", rep, err, size)
	}
	t.Logf("end to end in %v", time.Since(start).Round(time.Millisecond))
}

// startCustos runs bin (custos) with args as a process until stop or the
// test's cleanup, and returns the first submatch of re in a line of its
// output (its URL). stop sends SIGTERM and wants exit 0; the output is in
// the error otherwise.
func startCustos(t *testing.T, bin string, re *regexp.Regexp, args ...string) (string, func() error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var mu sync.Mutex
	var log bytes.Buffer
	found := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		s := bufio.NewScanner(pr)
		for s.Scan() {
			mu.Lock()
			log.Write(s.Bytes())
			log.WriteByte('\n')
			mu.Unlock()
			if m := re.FindStringSubmatch(s.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case stopErr = <-waited:
			case <-time.After(40 * time.Second):
				cmd.Process.Kill()
				stopErr = <-waited
				if stopErr == nil {
					stopErr = errors.New("killed after 40 s")
				}
			}
			<-drained
			if stopErr != nil {
				stopErr = fmt.Errorf("custos %s after SIGTERM: %v\n%s", strings.Join(args, " "), stopErr, output())
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	select {
	case url := <-found:
		return url, stop
	case <-time.After(30 * time.Second):
	case <-drained:
	}
	err = stop()
	t.Fatalf("custos %s printed no line matching %s: %v\n%s", strings.Join(args, " "), re, err, output())
	return "", nil
}

// mustJSON runs a command in process and decodes its --json output into v.
func mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := mustCustos(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("custos %s printed %q: %v", strings.Join(args, " "), out, err)
	}
}

// httpGet gets url anonymously, wants status and returns the body.
func httpGet(t *testing.T, url string, status int) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != status {
		t.Fatalf("anonymous GET %s = %d %q, %v; want %d", url, resp.StatusCode, body, err, status)
	}
	return body
}
