package ordercommit

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/ordersettle/ordersettle/domain"
)

// claimLoop is one claimer goroutine: it claims the Idempotency-Keys of
// everything queued for claims (up to MaxBatch) in one statement, as soon as
// its previous statement has returned, and queues the claimed orders for a
// batch, until the claims queue is closed and empty. A claim statement never
// waits for a product's row lock, so that a request whose key is in flight
// is refused at once even while batches wait.
func (c *Committer) claimLoop() {
	batch := make([]*request, 0, c.cfg.MaxBatch)
	for r := range c.claims {
		batch = c.take(c.claims, r, batch)
		c.claim(batch)
		clear(batch)
	}
}

// claim claims the keys of batch and passes each request on: to the batch
// queue when its key was claimed, back to its requester otherwise.
func (c *Committer) claim(batch []*request) {
	live := live(batch)
	if len(live) == 0 {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("idempotency key claims panicked", "orders", len(live), "panic", v, "stack", string(debug.Stack()))
			for _, r := range live {
				r.answer(answer{err: fmt.Errorf("idempotency key claims panicked: %v", v)})
			}
		}
	}()

	orders := make([]domain.KeyedOrder, len(live))
	for i, r := range live {
		orders[i] = domain.KeyedOrder{Key: r.key, NewOrder: r.order.NewOrder}
	}
	ctx, cancel := batchContext(live)
	claims, err := retry(ctx, c, "idempotency key claims", len(orders), func() ([]*domain.Claim, error) {
		return c.store.ClaimIdempotencyKeys(ctx, orders)
	})
	cancel()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			c.log.Warn("claiming idempotency keys failed", "orders", len(live), "err", err)
		}
		for _, r := range live {
			r.answer(answer{err: err})
		}
		return
	}

	for i, r := range live {
		claim := claims[i]
		if claim == nil {
			r.answer(answer{resolve: true})
			continue
		}
		r.setClaim(claim)
		if err := r.ctx.Err(); err != nil { // its requester left meanwhile
			c.release(claim)
			r.answer(answer{err: err})
			continue
		}
		select {
		case c.queue <- r: // not closed before every claimer has returned
		default:
			c.release(claim)
			r.answer(answer{err: ErrQueueFull})
		}
	}
}
