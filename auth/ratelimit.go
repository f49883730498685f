package auth

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter keeps a token bucket per principal: Principal.RateLimit
// requests per second when set, else the default; the burst equals the rate
// (at least 1). Buckets idle for a while are dropped by Evict.
type RateLimiter struct {
	def     float64 // requests per second; 0 = unlimited
	buckets sync.Map
}

// bucket is a principal's token bucket.
type bucket struct {
	limiter  *rate.Limiter
	perSec   float64
	lastSeen atomic.Int64 // unix nanoseconds
}

// NewRateLimiter returns a limiter whose default is perSecond requests per
// second per principal; 0 means unlimited unless a principal sets its own.
func NewRateLimiter(perSecond float64) *RateLimiter {
	return &RateLimiter{def: perSecond}
}

// Allow takes a token from p's bucket. When none is left it returns false and
// how long to wait before the next request can pass (at least a second,
// whole seconds).
func (l *RateLimiter) Allow(p *Principal, now time.Time) (ok bool, retryAfter time.Duration) {
	perSec := l.def
	if p.RateLimit > 0 {
		perSec = p.RateLimit
	}
	if perSec <= 0 {
		return true, 0
	}
	v, found := l.buckets.Load(p.ID)
	if !found || v.(*bucket).perSec != perSec {
		b := &bucket{limiter: rate.NewLimiter(rate.Limit(perSec), max(1, int(perSec))), perSec: perSec}
		if found {
			l.buckets.Store(p.ID, b)
			v = b
		} else {
			v, _ = l.buckets.LoadOrStore(p.ID, b)
		}
	}
	b := v.(*bucket)
	b.lastSeen.Store(now.UnixNano())
	r := b.limiter.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	delay := r.DelayFrom(now)
	if delay == 0 {
		return true, 0
	}
	r.CancelAt(now)
	return false, time.Duration(math.Ceil(delay.Seconds())) * time.Second
}

// Evict drops the buckets not used since before.
func (l *RateLimiter) Evict(before time.Time) {
	l.buckets.Range(func(k, v any) bool {
		if v.(*bucket).lastSeen.Load() < before.UnixNano() {
			l.buckets.CompareAndDelete(k, v)
		}
		return true
	})
}
