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
	n := b.N
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

	run := func(envs [][]byte, appendOne func([]byte) error) (rate float64, p50, p99 time.Duration) {
		lat := make([]time.Duration, len(envs))
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(len(envs)) {
						return
					}
					t0 := time.Now()
					if err := appendOne(envs[i]); err != nil {
						b.Error(err)
						return
					}
					lat[i] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		slices.Sort(lat)
		return float64(len(envs)) / el.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100]
	}

	b.ResetTimer()
	inRate, in50, in99 := run(inproc, func(env []byte) error {
		_, _, err := f.log.Append(context.Background(), env)
		return err
	})
	httpRate, h50, h99 := run(remote, func(env []byte) error {
		req, err := http.NewRequest(http.MethodPost, f.http.URL+"/custos/v1/entries", bytes.NewReader(env))
		if err != nil {
			return err
		}
		if err := SignRequest(req, "cert", f.parties["cert"]); err != nil {
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
	})
	b.StopTimer()
	if want := int64(4 + 2*n); f.log.Size() != want {
		b.Fatalf("size %d, want %d", f.log.Size(), want)
	}
	b.ReportMetric(inRate, "inproc-appends/s")
	b.ReportMetric(float64(in50.Microseconds())/1000, "inproc-p50-ms")
	b.ReportMetric(float64(in99.Microseconds())/1000, "inproc-p99-ms")
	b.ReportMetric(httpRate, "http-appends/s")
	b.ReportMetric(float64(h50.Microseconds())/1000, "http-p50-ms")
	b.ReportMetric(float64(h99.Microseconds())/1000, "http-p99-ms")
	b.ReportMetric(httpRate/inRate, "http/inproc")
}
