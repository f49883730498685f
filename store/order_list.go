package store

import (
	"context"
	"fmt"

	"github.com/ordersettle/ordersettle/domain"
)

// OrderKey is an order's place in the order ListOrders returns
// (domain.OrderKey).
type OrderKey = domain.OrderKey

// OrderQuery asks ListOrders for one page of orders. Every filter is
// optional.
type OrderQuery struct {
	// BuyerID keeps only this buyer's orders; "" means any buyer. A
	// credential bound to a buyer passes its buyer here.
	BuyerID string
	// ProductID keeps only this product's orders; 0 means any.
	ProductID int32
	// Status keeps only the orders with this status as they read now (a
	// pending order past its expires_at is expired); "" means any.
	Status string
	// After starts the page after this key (exclusive); nil starts at the
	// newest order.
	After *OrderKey
	// Limit is the most orders on the page (at least 1).
	Limit int
}

// ListOrders returns one page of orders, newest first, and whether more
// orders follow it. Paging is by key (never OFFSET), served by the orders
// indexes on (created_at, id), (buyer_id, created_at, id) and (product_id,
// created_at, id).
func (s *Store) ListOrders(ctx context.Context, q OrderQuery) (orders []Order, more bool, err error) {
	if q.Limit < 1 {
		return nil, false, fmt.Errorf("list orders: limit %d is below 1", q.Limit)
	}
	var w where
	if q.BuyerID != "" {
		w.add("buyer_id = ?", q.BuyerID)
	}
	if q.ProductID != 0 {
		w.add("product_id = ?", q.ProductID)
	}
	switch q.Status {
	case "":
	case OrderStatusPending:
		w.add("status = 'pending' AND expires_at > localtimestamp")
	case OrderStatusExpired:
		w.add("(status = 'expired' OR " + heldPastExpiry + ")")
	default:
		w.add("status = ?", q.Status)
	}
	if q.After != nil {
		w.add("(created_at, id) < (?::timestamp, ?::uuid)", sqlTimestamp(q.After.CreatedAt), q.After.ID)
	}
	limit := w.param(q.Limit + 1)
	orders = []Order{}
	err = s.db.SelectContext(ctx, &orders, `SELECT `+orderColumns+` FROM orders `+w.String()+`
		ORDER BY created_at DESC, id DESC LIMIT `+limit, w.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list orders: %w", translate(err))
	}
	if len(orders) > q.Limit {
		return orders[:q.Limit], true, nil
	}
	return orders, false, nil
}
