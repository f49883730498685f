package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// OrderStatusCompleted is the status of every order placed through the API.
const OrderStatusCompleted = "completed"

// Order is a placed order.
type Order struct {
	ID               uuid.UUID `db:"id"`
	ProductID        int32     `db:"product_id"`
	Quantity         int32     `db:"quantity"`
	BuyerID          string    `db:"buyer_id"`
	TotalAmountCents int64     `db:"total_amount_cents"`
	Status           string    `db:"status"`
	CreatedAt        time.Time `db:"created_at"`
}

// NewOrder is an order to place.
type NewOrder struct {
	ProductID int32
	Quantity  int32
	BuyerID   string
}

// check reports ErrInvalidInput for an order PostgreSQL would refuse, so that
// it fails alone instead of failing the batch it would have joined.
func (o NewOrder) check() error {
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

// GetOrder returns the order with id, or ErrOrderNotFound. A non-empty buyer
// is part of the query: another buyer's order is ErrOrderNotFound too, as if
// it did not exist ("" means any buyer).
func (s *Store) GetOrder(ctx context.Context, id uuid.UUID, buyer string) (Order, error) {
	var o Order
	err := s.db.GetContext(ctx, &o, `SELECT `+orderColumns+` FROM orders
		WHERE id = $1 AND ($2 = '' OR buyer_id = $2)`, id, buyer)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrOrderNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order %s: %w", id, translate(err))
	}
	return o, nil
}
