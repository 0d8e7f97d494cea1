package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// benchEntries is the size of the benchmark bundle: 100,000, or
// $CUSTOS_BENCH_ENTRIES (to measure memory at other sizes).
var benchEntries = func() int {
	if n, err := strconv.Atoi(os.Getenv("CUSTOS_BENCH_ENTRIES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}()

// chainEntries is the size of BenchmarkVerifyBundleChains's bundle:
// 30,000 entries, or $CUSTOS_BENCH_ENTRIES, rounded down to groups of 300.
var chainEntries = func() int {
	n := 30_000
	if m, err := strconv.Atoi(os.Getenv("CUSTOS_BENCH_ENTRIES")); err == nil && m > 0 {
		n = m
	}
	return max(300, n/300*300)
}()

// BenchmarkVerifyBundle verifies a bundle of 100,000 entries (an admin, one
// collector, and 100,000 acquisitions of distinct exhibits, each an Ed25519
// DSSE signature and the custody records of a new exhibit), and, in the
// same run, verifies 100,000 Ed25519 signatures on GOMAXPROCS goroutines:
// the physical limit. It reports entries/s, the limit's signatures/s, their
// ratio, the peak heap in use while verifying, and the heap the report
// alone keeps once VerifyBundle returns. The bundle is built once and kept
// in os.TempDir.
//
//	go test ./verify -run '^$' -bench VerifyBundle -benchtime 1x
func BenchmarkVerifyBundle(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 100,000-entry bundle")
	}
	runVerifyBench(b, false)
}

// BenchmarkVerifyBundleChains is BenchmarkVerifyBundle on custody chains:
// exhibits acquired, sealed and unsealed by one collector, a hundred
// exhibits at a time (a hundred acquisitions, their hundred seals, their
// hundred unseals), so that two of every three entries follow an earlier
// event of their exhibit in the same window, and the verifier's
// speculation against the state before the window is stale for them. It
// has $CUSTOS_BENCH_ENTRIES entries or 30,000: the bundle's entries must be
// signed one after the other (each names the leaf hash of its exhibit's
// previous event).
//
//	go test ./verify -run '^$' -bench VerifyBundleChains -benchtime 1x
func BenchmarkVerifyBundleChains(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 30,000-entry bundle")
	}
	runVerifyBench(b, true)
}

func runVerifyBench(b *testing.B, chains bool) {
	path, policy, msgs, entries := benchBundle(b, chains)

	// The physical limit: the same signatures, verified as fast as the
	// cores allow.
	start := time.Now()
	var bad atomic.Int64
	parallel(len(msgs), func(i int) {
		if !ed25519.Verify(msgs[i].pub, msgs[i].msg, msgs[i].sig) {
			bad.Add(1)
		}
	})
	limit := float64(len(msgs)) / time.Since(start).Seconds()
	if bad.Load() != 0 {
		b.Fatalf("%d raw signatures do not verify", bad.Load())
	}

	var peak, kept, baseInuse uint64
	var elapsed time.Duration
	var cpu cpuClasses
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		baseInuse = ms.HeapInuse // the benchmark's own data: the signatures above
		stop := sampleHeap(&peak)
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		restore := tuneGC(f)
		c0 := readCPUClasses()
		t0 := time.Now()
		r, err := verify.VerifyBundle(f, verify.BundleOptions{Policy: policy})
		elapsed += time.Since(t0)
		restore()
		f.Close()
		stop()
		if err != nil {
			b.Fatalf("VerifyBundle = %v", err)
		}
		if r.Entries != int64(entries) {
			b.Fatalf("verified %d entries, want %d", r.Entries, entries)
		}
		runtime.GC() // which also brings the cores' accounting up to date
		cpu = cpu.add(readCPUClasses().sub(c0))
		runtime.ReadMemStats(&ms)
		kept = ms.HeapAlloc - min(base, ms.HeapAlloc)
		runtime.KeepAlive(r)
	}
	rate := float64(entries) * float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "entries/s")
	b.ReportMetric(limit, "ed25519/s")
	b.ReportMetric(rate/limit, "ratio")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	own := peak - min(baseInuse, peak)
	b.ReportMetric(float64(own)/(1<<20), "verify-peak-MiB")
	b.ReportMetric(float64(kept)/(1<<20), "report-MiB")
	b.ReportMetric(cpu.idle/cpu.total, "idle-share")
	b.ReportMetric(cpu.gc/cpu.total, "gc-share")
	b.Logf("GOMAXPROCS %d, %d entries, %s: %.0f entries/s, raw Ed25519 %.0f/s, ratio %.2f, peak heap in use %.1f MiB, of which VerifyBundle's %.1f MiB (%.0f bytes/entry), report kept %.1f MiB; of the cores' time (Go's runtime/metrics), idle %.1f%%, collector %.1f%%, %.1f µs per entry in all",
		runtime.GOMAXPROCS(0), entries, gcSetting, rate, limit, rate/limit, float64(peak)/(1<<20), float64(own)/(1<<20), float64(own)/float64(entries), float64(kept)/(1<<20),
		100*cpu.idle/cpu.total, 100*cpu.gc/cpu.total, cpu.total*1e6/float64(b.N*entries))
}

// cpuClasses are Go's accounting of the cores' time (runtime/metrics),
// in seconds: in all (wall time × GOMAXPROCS), idle, and the collector's.
// The runtime updates them at each collection: read them after one.
type cpuClasses struct{ total, idle, gc float64 }

func readCPUClasses() cpuClasses {
	ss := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(ss)
	return cpuClasses{ss[0].Value.Float64(), ss[1].Value.Float64(), ss[2].Value.Float64()}
}

func (c cpuClasses) sub(d cpuClasses) cpuClasses {
	return cpuClasses{c.total - d.total, c.idle - d.idle, c.gc - d.gc}
}

func (c cpuClasses) add(d cpuClasses) cpuClasses {
	return cpuClasses{c.total + d.total, c.idle + d.idle, c.gc + d.gc}
}

// gcSetting says which collector settings the benchmark ran under.
var gcSetting string

// tuneGC sets the collector as custos verify does for the bundle file f
// (see VerifyBundle's Memory doc), unless GOGC or GOMEMLIMIT is set, and
// returns the function that restores it.
func tuneGC(f *os.File) (restore func()) {
	fi, err := f.Stat()
	if err != nil || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		gcSetting = fmt.Sprintf("GOGC=%q GOMEMLIMIT=%q from the environment", os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"))
		return func() {}
	}
	lim := max(fi.Size(), verify.GCMinLimit)
	gcSetting = fmt.Sprintf("collector as custos verify sets it: GOGC=%d, memory limit %d MiB", verify.GCPercent, lim>>20)
	percent := debug.SetGCPercent(verify.GCPercent)
	old := debug.SetMemoryLimit(lim)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(old)
	}
}

// sampleHeap records the largest HeapInuse seen every 20ms until stop.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// signedMsg is one signature to check raw: the DSSE PAE and its signature.
type signedMsg struct {
	pub      ed25519.PublicKey
	msg, sig []byte
}

// benchBundle returns the path of the benchmark bundle (building it if it
// is not in os.TempDir yet), its policy, its leaves' signatures and its
// number of leaves.
func benchBundle(b *testing.B, chains bool) (string, *verify.Policy, []signedMsg, int) {
	dir := filepath.Join(os.TempDir(), "custos-bench")
	n := benchEntries
	path := filepath.Join(dir, fmt.Sprintf("verify-%d-v1.custos", n))
	if chains {
		n = chainEntries
		path = filepath.Join(dir, fmt.Sprintf("verify-chains-%d-v1.custos", n))
	}
	policyPath := path + ".policy"
	if _, err := os.Stat(path); err != nil {
		b.Logf("building %s", path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		bundle, policy := buildBenchBundle(b, n, chains)
		if err := os.WriteFile(policyPath, policy.Marshal(), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, bundle, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	pb, err := os.ReadFile(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	policy, err := verify.ParsePolicy(pb)
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// The signatures, for the raw limit: every signature of every leaf.
	var msgs []signedMsg
	leaves := 0
	keys := map[string]ed25519.PublicKey{}
	br := verify.NewBundleReader(bytes.NewReader(data))
	for {
		m, err := br.Next()
		if err != nil {
			break
		}
		if m.Kind != verify.KindLeaf {
			continue
		}
		leaves++
		l, err := ledger.ParseLeaf(m.Data)
		if err != nil {
			b.Fatal(err)
		}
		env, err := custody.ParseEnvelope(l.Entry)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := env.Statement()
		if st.PredicateType == custody.PredicateEnroll {
			var p custody.Enroll
			if err := jsonUnmarshal(st.Predicate, &p); err != nil {
				b.Fatal(err)
			}
			pub, err := custody.ParsePublicKey([]byte(p.Key.PEM))
			if err != nil {
				b.Fatal(err)
			}
			keys[p.Key.ID] = pub.Crypto().(ed25519.PublicKey)
		}
		pae := fmt.Appendf(nil, "DSSEv1 %d %s %d ", len(custody.PayloadType), custody.PayloadType, len(env.Payload))
		pae = append(pae, env.Payload...)
		for _, s := range env.Signatures {
			msgs = append(msgs, signedMsg{pub: keys[s.KeyID], msg: pae, sig: s.Sig})
		}
	}
	return path, policy, msgs, leaves
}

// buildBenchBundle builds a bundle of that many acquisitions in memory: leaves, the RFC 6962 tree
// (sumdb/tlog stored hashes), proofs and a checkpoint cosigned by one
// witness, as an export of a real ledger would hold them.
func buildBenchBundle(b testing.TB, entries int, chains bool) (bundle []byte, policy *verify.Policy) {
	const origin = "bench.example/custos"
	newKey := func() *custody.PrivateKey {
		priv, pub, err := custody.GenerateKey(custody.KeyEd25519, []byte("pw"))
		if err != nil {
			b.Fatal(err)
		}
		_ = pub
		k, err := custody.ParsePrivateKey(priv, []byte("pw"))
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	logKey, admin, collector, witness := newKey(), newKey(), newKey(), newKey()
	sign := func(ptype string, sub custody.Subject, pred any, keys ...*custody.PrivateKey) []byte {
		stmt, err := custody.NewStatement(ptype, sub, pred)
		if err != nil {
			b.Fatal(err)
		}
		env, err := custody.SignStatementMulti(stmt, keys...)
		if err != nil {
			b.Fatal(err)
		}
		return env
	}
	enroll := func(name, role string, k *custody.PrivateKey, signers ...*custody.PrivateKey) []byte {
		pub := k.Public()
		return sign(custody.PredicateEnroll, custody.PartySubject(name, pub), custody.Enroll{Party: name, Org: name, Roles: []string{role},
			Key: custody.KeyRef{ID: pub.KeyID(), PEM: string(pub.MarshalPEM())}}, append([]*custody.PrivateKey{k}, signers...)...)
	}
	acquire := func(i int) []byte {
		sum := sha256.Sum256(fmt.Appendf(nil, "bench artifact %d", i))
		id := fmt.Sprintf("BENCH-%06d", i)
		return sign(custody.PredicateAcquire, custody.Subject{Name: id, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}},
			custody.Acquire{Exhibit: id, Size: 4096, Source: "bench", Method: "dd"}, collector)
	}
	envs := make([][]byte, entries+2)
	envs[0] = enroll("admin", custody.RoleAdmin, admin)
	envs[1] = enroll("collector", custody.RoleCollector, collector, admin)
	// next gives the envelope of leaf i, which may name the hash of an
	// earlier leaf (hashOf); nil when the envelopes were made before.
	var next func(i int, hashOf func(int) ledger.Hash) []byte
	if !chains {
		parallel(entries, func(i int) { envs[i+2] = acquire(i) })
	} else {
		// Groups of a hundred exhibits: their acquisitions, their seals,
		// their unseals.
		const group = 100
		next = func(i int, hashOf func(int) ledger.Hash) []byte {
			j := i - 2
			g, k := j/(3*group), j%(3*group)
			x := g*group + k%group
			id := fmt.Sprintf("BENCH-%06d", x)
			sum := sha256.Sum256(fmt.Appendf(nil, "bench artifact %d", x))
			sub := custody.Subject{Name: id, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}
			if k < group {
				return acquire(x)
			}
			// The exhibit's previous event is a group of leaves back.
			h := hashOf(i - group)
			prev := custody.LeafRef{Index: int64(i - group), LeafHash: base64.StdEncoding.EncodeToString(h[:])}
			switch k / group {
			case 1:
				return sign(custody.PredicateSeal, sub, custody.Seal{Exhibit: id, SealID: fmt.Sprintf("S-%d", x), Prev: prev}, collector)
			default:
				return sign(custody.PredicateUnseal, sub, custody.Unseal{Exhibit: id, SealID: fmt.Sprintf("S-%d", x), Reason: "examination", Prev: prev}, collector)
			}
		}
	}

	// Leaves and the tree.
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	leaves := make([][]byte, len(envs))
	var prev ledger.Hash
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hashOf := func(i int) ledger.Hash { return ledger.LeafHash(leaves[i]) }
	for i, env := range envs {
		if env == nil {
			env = next(i, hashOf)
		}
		l := ledger.Leaf{Index: int64(i), Prev: prev, Time: t0.Add(time.Duration(i) * time.Second), Entry: env}
		leaves[i] = l.Marshal()
		prev = ledger.LeafHash(leaves[i])
		hs, err := tlog.StoredHashes(int64(i), leaves[i], hr)
		if err != nil {
			b.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	n := int64(len(leaves))
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		b.Fatal(err)
	}
	logSigner, err := logKey.NoteSigner(origin)
	if err != nil {
		b.Fatal(err)
	}
	cosigner, err := witness.CosignatureSigner("witness.bench.example")
	if err != nil {
		b.Fatal(err)
	}
	cp, err := note.Sign(&note.Note{Text: string(ledger.Checkpoint{Origin: origin, Size: n, Root: root}.Marshal())}, logSigner, cosigner)
	if err != nil {
		b.Fatal(err)
	}
	logVKey, err := logKey.Public().NoteVerifierKey(origin)
	if err != nil {
		b.Fatal(err)
	}
	wVKey, err := witness.Public().NoteVerifierKey("witness.bench.example")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tnote.NewVerifierForCosignatureV1(wVKey); err != nil {
		b.Fatal(err)
	}
	policy, err = verify.NewPolicy(logVKey, []string{wVKey}, 1)
	if err != nil {
		b.Fatal(err)
	}

	var buf bytes.Buffer
	w := verify.NewBundleWriter(&buf)
	man := verify.Manifest{Format: verify.BundleFormat, Origin: origin, TreeSize: n, Created: "2026-01-02T00:00:00Z",
		Exhibits: []string{"BENCH-000000"}, Entries: n, Generator: "custos bench"}
	add := func(name string, data []byte) {
		if err := w.Add(name, data); err != nil {
			b.Fatal(err)
		}
	}
	add(verify.ManifestName, man.Marshal())
	add(verify.CheckpointName, cp)
	add(verify.PolicyName, policy.Marshal())
	for i, leaf := range leaves {
		path, err := tlog.ProveRecord(n, int64(i), hr)
		if err != nil {
			b.Fatal(err)
		}
		p := ledger.InclusionProof{Index: int64(i), Path: path, Checkpoint: cp}
		add(verify.LeafName(int64(i)), leaf)
		add(verify.ProofName(int64(i)), p.Marshal())
	}
	add(verify.ReportName, []byte("<!doctype html><title>bench</title>\n"))
	add(verify.VerifyDocName, []byte("bench\n"))
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), policy
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
