package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps one token bucket per client. Buckets idle for longer than
// limiterIdle are dropped; the map never holds more than limiterMax.
type limiter struct {
	r     rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	limiterIdle = 10 * time.Minute
	limiterMax  = 100000
)

func newLimiter(r rate.Limit, burst int) *limiter {
	return &limiter{r: r, burst: burst, buckets: map[string]*bucket{}, swept: time.Now()}
}

// blocked reports whether client's bucket is empty, taking nothing.
func (l *limiter) blocked(client string) bool {
	l.mu.Lock()
	b, ok := l.buckets[client]
	l.mu.Unlock()
	return ok && b.lim.Tokens() < 1
}

// allow takes a token from client's bucket.
func (l *limiter) allow(client string) bool {
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= limiterMax {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > limiterIdle || len(l.buckets) >= limiterMax {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[client]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.r, l.burst)}
		l.buckets[client] = b
	}
	b.seen = now
	l.mu.Unlock()
	return b.lim.AllowN(now, 1)
}
