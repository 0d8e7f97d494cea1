package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// submitters is the number of concurrent clients of BenchmarkServeAppend.
const submitters = 64

// BenchmarkServeAppend compares, in one run, the same workload (b.N
// acquisitions, each a distinct exhibit, pre-signed) appended by 64
// concurrent submitters in process (ledger.Log.Append, as the CLI does)
// and over loopback HTTP (POST /custos/v1/entries, each request signed by
// the party and verified by the server). It reports appends/s, p50 and
// p99 latency of each, and their ratio (http/inproc). Run with a fixed
// count, e.g. -benchtime=4000x.
func BenchmarkServeAppend(b *testing.B) {
	f := newFixture(b, Config{Rate: 1e9, Burst: 1 << 30})
	n := max(b.N/2*2, 2)
	mk := func(prefix string) [][]byte {
		envs := make([][]byte, n)
		for i := range envs {
			envs[i] = f.acquireEnv("cert", fmt.Sprintf("%s-%d", prefix, i))
		}
		return envs
	}
	inproc, remote := mk("INPROC"), mk("HTTP")
	tr := &http.Transport{MaxIdleConnsPerHost: submitters, MaxConnsPerHost: submitters}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	// run appends envs with submitters concurrent workers and returns
	// the time it took and each append's latency.
	run := func(envs [][]byte, appendOne func(worker int, env []byte) error) (time.Duration, []time.Duration) {
		lat := make([]time.Duration, len(envs))
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(len(envs)) {
						return
					}
					t0 := time.Now()
					if err := appendOne(w, envs[i]); err != nil {
						b.Error(err)
						return
					}
					lat[i] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		return time.Since(start), lat
	}
	inprocOne := func(_ int, env []byte) error {
		_, _, err := f.log.Append(context.Background(), env)
		return err
	}
	// Each submitter is its own client, as on its own machine, with its
	// own RequestSigner.
	signers := make([]*RequestSigner, submitters)
	for i := range signers {
		signers[i] = &RequestSigner{Party: "cert", Key: f.parties["cert"]}
	}
	httpOne := func(w int, env []byte) error {
		req, err := http.NewRequest(http.MethodPost, f.http.URL+"/custos/v1/entries", bytes.NewReader(env))
		if err != nil {
			return err
		}
		if err := signers[w].Sign(req); err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST = %d %s", resp.StatusCode, buf.Bytes())
		}
		return nil
	}

	// The two modes alternate by halves of their workloads, in-process,
	// HTTP, HTTP, in-process, so that a drift in the machine's load (or the tree's
	// growth) weighs on both alike.
	b.ResetTimer()
	var inTime, httpTime time.Duration
	var inLat, httpLat []time.Duration
	h := n / 2
	for k, mode := range []string{"in", "http", "http", "in"} {
		chunk := func(envs [][]byte, i int) [][]byte { return envs[i*h : (i+1)*h] }
		if mode == "in" {
			d, l := run(chunk(inproc, k/3), inprocOne) // its first half, then its second
			inTime, inLat = inTime+d, append(inLat, l...)
		} else {
			d, l := run(chunk(remote, k-1), httpOne)
			httpTime, httpLat = httpTime+d, append(httpLat, l...)
		}
	}
	b.StopTimer()
	if want := int64(4 + 2*n); f.log.Size() != want {
		b.Fatalf("size %d, want %d", f.log.Size(), want)
	}
	pct := func(l []time.Duration, p int) time.Duration { slices.Sort(l); return l[len(l)*p/100] }
	inRate, httpRate := float64(len(inLat))/inTime.Seconds(), float64(len(httpLat))/httpTime.Seconds()
	in50, in99, h50, h99 := pct(inLat, 50), pct(inLat, 99), pct(httpLat, 50), pct(httpLat, 99)
	b.ReportMetric(inRate, "inproc-appends/s")
	b.ReportMetric(float64(in50.Microseconds())/1000, "inproc-p50-ms")
	b.ReportMetric(float64(in99.Microseconds())/1000, "inproc-p99-ms")
	b.ReportMetric(httpRate, "http-appends/s")
	b.ReportMetric(float64(h50.Microseconds())/1000, "http-p50-ms")
	b.ReportMetric(float64(h99.Microseconds())/1000, "http-p99-ms")
	b.ReportMetric(httpRate/inRate, "http/inproc")
}
