package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/domain"
)

// Order statuses (domain's).
const (
	OrderStatusPending   = domain.OrderStatusPending
	OrderStatusCompleted = domain.OrderStatusCompleted
	OrderStatusCancelled = domain.OrderStatusCancelled
	OrderStatusExpired   = domain.OrderStatusExpired
)

// Order is a placed order, as it is now (domain.Order).
type Order = domain.Order

// NewOrder is an order to place (domain.NewOrder).
type NewOrder = domain.NewOrder

// checkOrder reports ErrInvalidInput for an order PostgreSQL would refuse,
// so that it fails alone instead of failing the batch it would have joined.
func checkOrder(o NewOrder) error {
	switch {
	case o.Quantity <= 0:
		return fmt.Errorf("%w: quantity %d is not positive", ErrInvalidInput, o.Quantity)
	case !storableText(o.BuyerID):
		return fmt.Errorf("%w: buyer_id is not storable text", ErrInvalidInput)
	}
	return nil
}

// storableText reports whether PostgreSQL can store s in a text column of a
// UTF-8 database: valid UTF-8 without NUL characters.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// heldPastExpiry is true for a pending order whose hold has ended: it reads
// as expired, and the sweep expires it.
const heldPastExpiry = `(status = 'pending' AND expires_at <= localtimestamp)`

// orderColumns reads an order as it is now (see Order).
const orderColumns = `id, product_id, quantity, buyer_id, total_amount_cents, created_at, expires_at,
	CASE WHEN ` + heldPastExpiry + ` THEN 'expired' ELSE status END AS status,
	CASE WHEN ` + heldPastExpiry + ` THEN expires_at ELSE updated_at END AS updated_at`

// GetOrder returns the order with id, or ErrOrderNotFound. A buyerID other
// than "" finds only that buyer's orders: another buyer's order is
// ErrOrderNotFound too.
func (s *Store) GetOrder(ctx context.Context, id uuid.UUID, buyerID string) (Order, error) {
	var o Order
	err := s.db.GetContext(ctx, &o, `SELECT `+orderColumns+` FROM orders
		WHERE id = $1 AND ($2 = '' OR buyer_id = $2)`, id, buyerID)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrOrderNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order %s: %w", id, translate(err))
	}
	return o, nil
}

// transitionAttempts bounds how often a transition reads an order that
// changed under it before it gives up.
const transitionAttempts = 3

// ConfirmOrder completes a pending order before its expires_at and returns
// it, changed true; a completed order is returned as it is, changed false. Errors: ErrOrderExpired once
// expires_at has passed (expired by a sweep or not), ErrOrderNotPending for
// a cancelled order, ErrOrderNotFound (see GetOrder for buyerID).
//
// The change is one guarded statement: it applies only to a pending order
// whose hold is still on, so a confirm racing a cancel, a sweep or another
// confirm either wins whole or sees the order the other left.
func (s *Store) ConfirmOrder(ctx context.Context, id uuid.UUID, buyerID string) (o Order, changed bool, err error) {
	for range transitionAttempts {
		err = s.db.GetContext(ctx, &o, `
			UPDATE orders SET status = 'completed', updated_at = localtimestamp
			WHERE id = $1 AND ($2 = '' OR buyer_id = $2)
			  AND status = 'pending' AND expires_at > localtimestamp
			RETURNING `+orderColumns, id, buyerID)
		if err == nil {
			return o, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Order{}, false, fmt.Errorf("confirm order %s: %w", id, translate(err))
		}
		if o, err = s.GetOrder(ctx, id, buyerID); err != nil {
			return Order{}, false, err
		}
		switch o.Status {
		case OrderStatusCompleted:
			return o, false, nil
		case OrderStatusExpired:
			return o, false, ErrOrderExpired
		case OrderStatusCancelled:
			return o, false, ErrOrderNotPending
		}
		// Pending after all: it changed between the two statements; again.
	}
	return Order{}, false, fmt.Errorf("confirm order %s: it kept changing", id)
}

// CancelOrder cancels a pending or completed order and gives its units back
// to the stock, and returns it, changed true; a cancelled order is returned
// as it is, changed false.
// Errors: ErrOrderExpired for an expired hold (its units are given back by
// the sweep), ErrOrderNotFound (see GetOrder for buyerID).
//
// The status change, the stock's return and the buyer's units (for a
// product with max_per_buyer) are one statement, guarded by the order's
// status, so the units come back exactly once however many cancels,
// confirms and sweeps race.
func (s *Store) CancelOrder(ctx context.Context, id uuid.UUID, buyerID string) (o Order, changed bool, err error) {
	for range transitionAttempts {
		err = s.db.GetContext(ctx, &o, `
			WITH cancelled AS (
				UPDATE orders SET status = 'cancelled', updated_at = localtimestamp
				WHERE id = $1 AND ($2 = '' OR buyer_id = $2)
				  AND (status = 'completed' OR (status = 'pending' AND expires_at > localtimestamp))
				RETURNING `+orderColumns+`
			), returned AS (
				UPDATE products p SET stock = p.stock + c.quantity
				FROM cancelled c WHERE p.id = c.product_id
				RETURNING p.id
			), uncounted AS (
				-- After the product's row lock (it reads returned), like
				-- every change of buyer_units.
				UPDATE buyer_units b SET units = b.units - c.quantity
				FROM cancelled c, returned r
				WHERE r.id = c.product_id AND b.product_id = c.product_id AND b.buyer_id = c.buyer_id
			)
			SELECT * FROM cancelled`, id, buyerID)
		if err == nil {
			return o, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Order{}, false, fmt.Errorf("cancel order %s: %w", id, translate(err))
		}
		if o, err = s.GetOrder(ctx, id, buyerID); err != nil {
			return Order{}, false, err
		}
		switch o.Status {
		case OrderStatusCancelled:
			return o, false, nil
		case OrderStatusExpired:
			return o, false, ErrOrderExpired
		}
		// Pending or completed after all: it changed meanwhile; again.
	}
	return Order{}, false, fmt.Errorf("cancel order %s: it kept changing", id)
}
