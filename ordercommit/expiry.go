package ordercommit

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/ordersettle/ordersettle/domain"
)

// Expiry sweep tuning. Every instance sweeps; SKIP LOCKED lets sweeps share
// the due holds instead of waiting for each other.
const (
	// expiryBatch is the most holds one sweep transaction expires.
	expiryBatch = 1000
	// expiryBatchesPerRound bounds the transactions of one round, so the
	// hold count and the next expiry are read again now and then even
	// while a backlog drains.
	expiryBatchesPerRound = 50
	// expiryMaxSleep is the longest the sweep sleeps between rounds: it
	// wakes at the next expiry or after this, whichever comes first, so a
	// hold placed meanwhile (by any instance) expires at most this late,
	// plus the time the round takes.
	expiryMaxSleep = time.Second
	// expiryBusySleep is the pause when holds are due but another
	// instance's sweep holds them (or a round hit its bound).
	expiryBusySleep = 20 * time.Millisecond
	// expiryErrorSleep is the pause after a failed round.
	expiryErrorSleep = time.Second
)

// RunExpiry sweeps expired holds until ctx ends: pending orders whose
// expires_at has passed become expired and their units go back to the
// stock, each in one transaction with its status change (store.ExpireHolds),
// in bounded batches. It sleeps until the next expiry or for a second,
// whichever comes first, so a hold is swept within about a second of its
// expires_at while the database is reachable. It also keeps the
// ordersettle_order_holds gauge and counts expiries in
// ordersettle_order_transitions_total. It returns nil when ctx ends.
//
// Run it beside Run on every instance; it needs no coordination.
func (c *Committer) RunExpiry(ctx context.Context) error {
	for ctx.Err() == nil {
		sleep := c.sweepRound(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(sleep):
		}
	}
	return nil
}

// sweepRound expires what is due, refreshes the holds gauge and returns how
// long to sleep before the next round.
func (c *Committer) sweepRound(ctx context.Context) (sleep time.Duration) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("expiring holds panicked; trying again shortly", "panic", v, "stack", string(debug.Stack()))
			sleep = expiryErrorSleep
		}
	}()
	expired := c.metrics.transitions.WithLabelValues(domain.OrderStatusExpired)
	full := false
	for range expiryBatchesPerRound {
		n, err := c.store.ExpireHolds(ctx, expiryBatch)
		if n > 0 {
			expired.Add(float64(n))
		}
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("expiring holds failed; trying again shortly", "err", err)
			}
			return expiryErrorSleep
		}
		if full = n == expiryBatch; !full {
			break
		}
	}
	st, err := c.store.Holds(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("reading the holds failed; trying again shortly", "err", err)
		}
		return expiryErrorSleep
	}
	c.metrics.holds.Set(float64(st.Pending))
	switch {
	case full:
		return 0 // a backlog: keep going
	case st.Pending == 0:
		return expiryMaxSleep
	case st.NextExpiry <= 0:
		return expiryBusySleep // due, but claimed by another sweep right now
	}
	return min(st.NextExpiry, expiryMaxSleep)
}
