package server

// Prometheus metrics, written by hand in the text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/): five
// metrics do not warrant client_golang and the dozen modules it brings
// into a forensic tool's dependency graph.

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

type metrics struct {
	appends      atomic.Int64
	refused      atomic.Int64
	rateLimited  atomic.Int64
	authFailures atomic.Int64

	// appendLatency is the time an accepted submission waits in Append:
	// queueing for the sequencer, the custody check, the group commit and
	// its fsync (badger SyncWrites), and the checkpoint signature.
	appendLatency *histogram
	proofLatency  *histogram
	// batchSize observes how much the tree grew between two successive
	// observations after appends: the group-commit batch size, exactly
	// when observations keep up with commits, else the sum of the batches
	// between them.
	batchSize *histogram

	mu       sync.Mutex
	lastSize int64
}

func newMetrics() *metrics {
	lat := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	return &metrics{
		appendLatency: newHistogram(lat),
		proofLatency:  newHistogram(lat),
		batchSize:     newHistogram([]float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}),
		lastSize:      -1,
	}
}

func (m *metrics) observeSize(size int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastSize >= 0 && size > m.lastSize {
		m.batchSize.observe(float64(size - m.lastSize))
	}
	if size > m.lastSize {
		m.lastSize = size
	}
}

type histogram struct {
	mu     sync.Mutex
	bounds []float64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

func (h *histogram) observe(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
			break
		}
	}
	h.sum += v
	h.n++
}

func (h *histogram) write(b *bytes.Buffer, name, help string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, bound := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket{le=%q} %d\n", name, formatFloat(bound), cum)
	}
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, h.n, name, formatFloat(h.sum), name, h.n)
}

func formatFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func counter(b *bytes.Buffer, name, help string, v int64) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
}

func gauge(b *bytes.Buffer, name, help string, v int64) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	m := s.metrics
	size := s.log.Size()
	counter(&b, "custos_appends_total", "Entries appended through this server.", m.appends.Load())
	counter(&b, "custos_append_refused_total", "Submissions refused (malformed, custody rule, signature, ledger error).", m.refused.Load())
	counter(&b, "custos_rate_limited_total", "Requests refused by a client's rate limit.", m.rateLimited.Load())
	counter(&b, "custos_auth_failures_total", "Requests whose Custos-Signature did not verify.", m.authFailures.Load())
	gauge(&b, "custos_tree_size", "Leaves covered by the latest checkpoint.", size)
	m.batchSize.write(&b, "custos_batch_size", "Leaves per group commit, observed after appends.")
	m.appendLatency.write(&b, "custos_append_commit_seconds", "Time an accepted append waits: sequencing, custody check, commit with fsync, checkpoint signature.")
	m.proofLatency.write(&b, "custos_proof_seconds", "Time to build an inclusion or consistency proof.")
	if s.wit != nil {
		gauge(&b, "custos_witness_lag", "Tree size of the latest checkpoint minus that of the latest checkpoint whose cosignatures meet the quorum.", size-s.wit.quorumSize())
		b.WriteString("# HELP custos_witness_cosigned_size The largest tree size each witness cosigned for this log (-1: none yet).\n# TYPE custos_witness_cosigned_size gauge\n")
		for _, ws := range s.wit.status() {
			fmt.Fprintf(&b, "custos_witness_cosigned_size{witness=%q} %d\n", ws.Name, ws.CosignedSize)
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}
