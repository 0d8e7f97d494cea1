package server

// Witness collection: after each new checkpoint the server asks every
// witness of its trust policy to cosign it (C2SP tlog-witness
// add-checkpoint through witness.AddCheckpoint, with a consistency proof
// from the size the witness cosigned last, retried once from the size a
// 409 names), merges the cosignatures into one note per tree size, and
// stops asking once the policy's quorum is met. Rounds run in their own
// goroutine: a slow or unreachable witness delays the quorum, never an
// append. All witnesses of a round are asked to cosign the same
// checkpoint, so that their cosignatures can add up to a quorum while
// appends go on.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
	"github.com/custos-ledger/custos/verify/witness"
)

// A WitnessEndpoint is where a witness of the policy listens. Name is the
// policy's name for it.
type WitnessEndpoint struct {
	Name string
	URL  string // base URL; add-checkpoint is URL + "/add-checkpoint"
}

// WitnessStatus is what the dashboard and status show of one witness.
type WitnessStatus struct {
	Name         string    `json:"name"`
	URL          string    `json:"url"`
	CosignedSize int64     `json:"cosigned_size"` // the largest size it cosigned for us; -1 none yet
	LastCosigned time.Time `json:"last_cosigned,omitzero"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
}

type witnessState struct {
	WitnessStatus
	stateSize int64 // the size the witness's state holds, as we last learned it
}

type collector struct {
	s      *Server
	policy *verify.Policy
	client *http.Client

	poked chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	ws       []*witnessState
	quorum   int64  // size of the latest checkpoint meeting the quorum; 0 none
	noteSize int64  // size of note
	note     []byte // the latest cosigned note collected
	quorumCP []byte // the note of size quorum
}

// retryInterval is how often a round runs without a new checkpoint, to
// retry witnesses that failed.
const retryInterval = 5 * time.Second

// witnessTimeout bounds one add-checkpoint call.
const witnessTimeout = 10 * time.Second

func newCollector(s *Server, cfg Config) (*collector, error) {
	if cfg.Policy == nil {
		return nil, errors.New("server: witness URLs need a trust policy")
	}
	if cfg.Policy.Origin != s.log.Origin() {
		return nil, fmt.Errorf("server: the trust policy is for log %q, this ledger is %q", cfg.Policy.Origin, s.log.Origin())
	}
	c := &collector{s: s, policy: cfg.Policy, client: cfg.HTTPClient,
		poked: make(chan struct{}, 1), done: make(chan struct{})}
	if c.client == nil {
		c.client = &http.Client{Timeout: witnessTimeout}
	}
	for _, e := range cfg.Witnesses {
		if !slices.ContainsFunc(cfg.Policy.Witnesses, func(w verify.PolicyWitness) bool { return w.Name == e.Name }) {
			return nil, fmt.Errorf("server: witness %q is not in the trust policy", e.Name)
		}
		c.ws = append(c.ws, &witnessState{WitnessStatus: WitnessStatus{Name: e.Name, URL: e.URL, CosignedSize: -1}})
	}
	c.wg.Add(1)
	go c.run()
	c.poke()
	return c, nil
}

func (c *collector) poke() {
	select {
	case c.poked <- struct{}{}:
	default:
	}
}

func (c *collector) close() {
	close(c.done)
	c.wg.Wait()
}

func (c *collector) run() {
	defer c.wg.Done()
	t := time.NewTicker(retryInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.poked:
		case <-t.C:
		}
		c.round()
	}
}

func (c *collector) quorumSize() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.quorum
}

// cosignedAt returns the latest cosigned note collected and its size.
func (c *collector) cosignedAt() ([]byte, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.note, c.noteSize
}

func (c *collector) status() []WitnessStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]WitnessStatus, len(c.ws))
	for i, w := range c.ws {
		out[i] = w.WitnessStatus
	}
	return out
}

// WitnessStatus returns each configured witness's status, in flag order.
func (s *Server) WitnessStatus() []WitnessStatus {
	if s.wit == nil {
		return nil
	}
	return s.wit.status()
}

// QuorumCheckpoint returns the latest checkpoint whose cosignatures meet
// the trust policy's quorum, with them, or nil if there is none yet.
func (s *Server) QuorumCheckpoint() []byte {
	if s.wit == nil {
		return nil
	}
	s.wit.mu.Lock()
	defer s.wit.mu.Unlock()
	return s.wit.quorumCP
}

// QuorumSize is the size of the latest checkpoint whose cosignatures meet
// the trust policy's quorum (0 if none, -1 without witness collection).
func (s *Server) QuorumSize() int64 {
	if s.wit == nil {
		return -1
	}
	return s.wit.quorumSize()
}

// round asks every witness that has not cosigned the latest checkpoint.
func (c *collector) round() {
	signed, size := c.s.log.Checkpoint()
	if size == 0 || c.quorumSize() >= size {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	lines := make([][]byte, len(c.ws))
	for i, w := range c.ws {
		c.mu.Lock()
		skip := w.CosignedSize >= size
		c.mu.Unlock()
		if skip {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines[i] = c.ask(ctx, w, signed, size)
		}()
	}
	wg.Wait()
	var all []byte
	for _, l := range lines {
		all = append(all, l...)
	}
	if err := c.merge(signed, size, all); err != nil {
		c.s.logger.Error("storing cosignatures", slog.Int64("size", size), slog.String("error", err.Error()))
	}
}

// ask gets w's cosignature of signed (of size), retrying once from the
// size a 409 names.
func (c *collector) ask(ctx context.Context, w *witnessState, signed []byte, size int64) []byte {
	c.mu.Lock()
	old := w.stateSize
	c.mu.Unlock()
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if old > size {
			err = fmt.Errorf("the witness has cosigned size %d, newer than this checkpoint", old)
			break
		}
		var proof []ledger.Hash
		if old > 0 && old < size {
			if proof, err = c.s.log.ProveConsistencyBetween(old, size); err != nil {
				break
			}
		}
		actx, cancel := context.WithTimeout(ctx, witnessTimeout)
		var out []byte
		out, err = witness.AddCheckpoint(actx, c.client, w.URL, old, proof, signed)
		cancel()
		var conflict *witness.ConflictError
		if errors.As(err, &conflict) {
			old = conflict.StateSize
			c.mu.Lock()
			w.stateSize = old
			c.mu.Unlock()
			continue
		}
		if err == nil {
			c.mu.Lock()
			w.stateSize, w.CosignedSize, w.LastCosigned, w.LastAttempt, w.LastError = size, size, time.Now().UTC(), time.Now().UTC(), ""
			c.mu.Unlock()
			return out
		}
		break
	}
	c.mu.Lock()
	w.LastAttempt, w.LastError = time.Now().UTC(), err.Error()
	c.mu.Unlock()
	c.s.logger.Warn("witness did not cosign", slog.String("witness", w.Name), slog.Int64("size", size), slog.String("error", err.Error()))
	return nil
}

// merge adds the cosignature lines that verify under the policy to the
// note collected for size (and to Dir/cosigned/<size>.checkpoint, merged
// with what is there), and moves the quorum size when it is met.
func (c *collector) merge(signed []byte, size int64, incoming []byte) error {
	text, logLines := splitNote(signed)
	if len(logLines) == 0 {
		return errors.New("checkpoint without a signature line")
	}
	have := map[string]bool{}
	var lines []string
	add := func(line string) {
		if have[line] || line == logLines[0] {
			return
		}
		// Keep a line only if it is a valid cosignature by a witness of
		// the policy: the policy counts it alone.
		if _, cos, _ := c.policy.CheckCheckpoint([]byte(text + "\n" + logLines[0] + line)); len(cos) != 1 {
			return
		}
		have[line] = true
		lines = append(lines, line)
	}
	c.mu.Lock()
	if c.noteSize == size {
		_, old := splitNote(c.note)
		for _, l := range old {
			add(l)
		}
	}
	c.mu.Unlock()
	var path string
	if c.s.dir != "" {
		path = filepath.Join(c.s.dir, "cosigned", fmt.Sprintf("%020d.checkpoint", size))
		if old, err := ledger.ReadFileCapped(path, ledger.MaxCheckpointSize); err == nil {
			if oldText, oldLines := splitNote(old); oldText == text {
				for _, l := range oldLines {
					add(l)
				}
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	before := len(lines)
	for _, l := range strings.SplitAfter(string(incoming), "\n") {
		if l != "" && strings.HasSuffix(l, "\n") {
			add(l)
		}
	}
	merged := []byte(text + "\n" + logLines[0] + strings.Join(lines, ""))
	_, _, qerr := c.policy.CheckCheckpoint(merged)
	// Stored before it is served: a checkpoint published as co-signed is
	// on disk, where export and a restarted server find it.
	if path != "" && len(lines) > before {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := ledger.WriteFileAtomic(path, merged, 0o644); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.note, c.noteSize = merged, size
	if qerr == nil && size > c.quorum {
		c.quorum, c.quorumCP = size, merged
	}
	c.mu.Unlock()
	return nil
}

// splitNote splits a signed note into its text (with its final newline)
// and its signature lines (each with its newline).
func splitNote(signed []byte) (string, []string) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return "", nil
	}
	var lines []string
	for _, l := range strings.SplitAfter(string(signed[i+2:]), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return string(signed[:i+1]), lines
}
