package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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

const orderColumns = `id, product_id, quantity, buyer_id, total_amount_cents, status, created_at`

// placeOrderCTE takes the stock and inserts the order in one statement, so the
// product row is locked for one round trip only. The guarded UPDATE (stock >=
// quantity) is what makes overselling impossible: concurrent statements on the
// same product serialise on its row lock and re-check the guard against the
// committed stock. Parameters: $1 product_id, $2 quantity, $3 buyer_id.
const placeOrderCTE = `
	taken AS (
		UPDATE products SET stock = stock - $2::int
		WHERE id = $1::int AND stock >= $2::int
		RETURNING id, price_cents
	), placed AS (
		INSERT INTO orders (product_id, buyer_id, quantity, total_amount_cents, status)
		SELECT id, $3::text, $2::int, $2::int::bigint * price_cents, 'completed' FROM taken
		RETURNING ` + orderColumns + `
	), product AS (
		SELECT EXISTS (SELECT 1 FROM products WHERE id = $1::int) AS product_exists
	)`

// placedRow is the row the order statements return: the order when it was
// placed (all columns NULL otherwise) and whether the product exists.
type placedRow struct {
	ID               *uuid.UUID `db:"id"`
	ProductID        *int32     `db:"product_id"`
	Quantity         *int32     `db:"quantity"`
	BuyerID          *string    `db:"buyer_id"`
	TotalAmountCents *int64     `db:"total_amount_cents"`
	Status           *string    `db:"status"`
	CreatedAt        *time.Time `db:"created_at"`
	ProductExists    bool       `db:"product_exists"`
}

// outcome turns the row into the order, ErrOutOfStock or ErrProductNotFound.
func (r placedRow) outcome() (Order, error) {
	switch {
	case r.ID != nil:
		return Order{
			ID: *r.ID, ProductID: *r.ProductID, Quantity: *r.Quantity, BuyerID: *r.BuyerID,
			TotalAmountCents: *r.TotalAmountCents, Status: *r.Status, CreatedAt: *r.CreatedAt,
		}, nil
	case r.ProductExists:
		return Order{}, ErrOutOfStock
	default:
		return Order{}, ErrProductNotFound
	}
}

// CreateOrder takes in.Quantity units of the product's stock and records a
// completed order, atomically, in one round trip. It returns ErrOutOfStock
// when the product has fewer units, ErrProductNotFound when it does not
// exist; in both cases nothing changes.
func (s *Store) CreateOrder(ctx context.Context, in NewOrder) (Order, error) {
	leave, err := s.gate.enter(ctx, in.ProductID)
	if err != nil {
		return Order{}, fmt.Errorf("create order: %w", err)
	}
	defer leave()
	var row placedRow
	err = s.db.GetContext(ctx, &row, `WITH `+placeOrderCTE+`
		SELECT placed.*, product.product_exists FROM product LEFT JOIN placed ON true`,
		in.ProductID, in.Quantity, in.BuyerID)
	if err != nil {
		return Order{}, fmt.Errorf("create order: %w", translate(err))
	}
	return row.outcome()
}

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
