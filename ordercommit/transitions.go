package ordercommit

import (
	"context"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/domain"
)

// Confirm completes the pending order id before its expires_at (see
// store.ConfirmOrder; buyerID "" means any buyer) and counts the change in
// ordersettle_order_transitions_total. Confirming a completed order
// changes nothing and is no error.
func (c *Committer) Confirm(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, error) {
	o, changed, err := c.store.ConfirmOrder(ctx, id, buyerID)
	if changed {
		c.metrics.transitions.WithLabelValues(domain.OrderStatusCompleted).Inc()
	}
	return o, err
}

// Cancel cancels the order id and gives its units back to the stock,
// exactly once (see store.CancelOrder; buyerID "" means any buyer), and
// counts the change in ordersettle_order_transitions_total. Cancelling a
// cancelled order changes nothing and is no error.
func (c *Committer) Cancel(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, error) {
	o, changed, err := c.store.CancelOrder(ctx, id, buyerID)
	if changed {
		c.metrics.transitions.WithLabelValues(domain.OrderStatusCancelled).Inc()
	}
	return o, err
}
