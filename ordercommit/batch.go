package ordercommit

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/ordersettle/ordersettle/domain"
)

// Retries of a statement or transaction, of a batch of orders or of key
// claims, that failed before it could commit.
const (
	maxAttempts  = 3
	retryBackoff = 20 * time.Millisecond // times the attempt number
)

// commitLoop is one committer goroutine: it takes everything queued (up to
// MaxBatch) as soon as its previous batch is committed, until the queue is
// closed and empty.
func (c *Committer) commitLoop() {
	batch := make([]*request, 0, c.cfg.MaxBatch)
	for r := range c.queue {
		batch = c.take(c.queue, r, batch)
		c.commit(batch)
		clear(batch) // drop the requests for the garbage collector
	}
}

// commit places batch in one transaction and answers every request in it.
func (c *Committer) commit(batch []*request) {
	live := live(batch)
	if len(live) == 0 {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("order batch panicked", "orders", len(live), "panic", v, "stack", string(debug.Stack()))
			for _, r := range live {
				r.answer(answer{err: fmt.Errorf("order batch panicked: %v", v)})
			}
		}
	}()

	orders := make([]domain.BatchOrder, len(live))
	for i, r := range live {
		orders[i] = r.order
	}
	ctx, cancel := batchContext(live)
	placements, err := retry(ctx, c, "order batch", len(orders), func() ([]domain.Placement, error) {
		return c.store.PlaceOrders(ctx, orders)
	})
	cancel()

	switch {
	case err == nil:
		c.metrics.batchSize.Observe(float64(len(live)))
		for i, r := range live {
			r.answer(answer{order: placements[i].Order, err: placements[i].Err})
		}
	case len(live) > 1 && refused(err):
		// One bad order must not fail the others: place them one at a
		// time, in arrival order, so that only the bad one fails.
		c.log.Warn("the database refused an order batch; placing its orders one at a time",
			"orders", len(live), "err", err)
		for _, r := range live {
			c.commit([]*request{r})
		}
	case errors.Is(err, domain.ErrCommitUnknown):
		// COMMIT was sent but its answer was lost: the orders may all be
		// placed, or none. Their keys (if any) tell on retry.
		c.log.Error("order batch outcome AMBIGUOUS: the connection failed after COMMIT was sent; "+
			"its orders may all have been placed, or none", "orders", len(live), "outcome", "ambiguous", "err", err)
		for _, r := range live {
			r.answer(answer{err: err})
		}
	default:
		if !errors.Is(err, context.Canceled) {
			c.log.Warn("order batch failed before its commit; none of its orders was placed", "orders", len(live), "err", err)
		}
		for _, r := range live {
			r.answer(answer{err: err})
		}
	}
}

// retry runs do, and again after a failure before COMMIT was sent, up to
// maxAttempts times in all.
func retry[T any](ctx context.Context, c *Committer, what string, n int, do func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := do()
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return v, err
		}
		c.metrics.retries.Inc()
		c.log.Warn(what+" failed before its commit; running it again", "attempt", attempt, "orders", n, "err", err)
		select {
		case <-time.After(time.Duration(attempt) * retryBackoff):
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("%w (after: %w)", ctx.Err(), err)
		}
	}
}

// retryable reports whether a batch that failed with err is sure not to have
// committed, and may succeed if run again.
func retryable(err error) bool {
	if errors.Is(err, domain.ErrCommitUnknown) {
		return false
	}
	return errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrUnavailable)
}

// refused reports whether err is the database refusing the batch itself
// (rather than being unreachable, or the batch being cancelled): then one of
// its orders may be to blame.
func refused(err error) bool {
	return !errors.Is(err, domain.ErrUnavailable) && !errors.Is(err, domain.ErrConflict) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// batchContext returns the context a batch runs under: it outlives any one
// request (a requester that leaves must not fail the others), and ends when
// every requester of the batch has left, since nobody waits for it then.
// Call cancel when the batch is done.
func batchContext(live []*request) (ctx context.Context, cancel func()) {
	ctx, cancelCtx := context.WithCancel(context.Background())
	var waiting atomic.Int64
	waiting.Store(int64(len(live)))
	stops := make([]func() bool, len(live))
	for i, r := range live {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancelCtx()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancelCtx()
	}
}
