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

// OrderStatusCompleted is the status of every order placed through the API.
const OrderStatusCompleted = domain.OrderStatusCompleted

// Order is a placed order (domain.Order).
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

const orderColumns = `id, product_id, quantity, buyer_id, total_amount_cents, status, created_at`

// GetOrder returns the order with id, or ErrOrderNotFound.
func (s *Store) GetOrder(ctx context.Context, id uuid.UUID) (Order, error) {
	var o Order
	err := s.db.GetContext(ctx, &o, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrOrderNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order %s: %w", id, translate(err))
	}
	return o, nil
}
