package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/ordersettle/ordersettle/domain"
)

// Product is a product with its current stock (domain.Product).
type Product = domain.Product

// NewProduct is a product to create (domain.NewProduct).
type NewProduct = domain.NewProduct

// ProductPatch changes some of a product's fields: nil fields are kept.
// A limit is changed only when its Set flag is true, to its value, or
// removed when the value is nil.
type ProductPatch struct {
	Name           *string
	PriceCents     *int32
	SetMaxPerBuyer bool
	MaxPerBuyer    *int32
	SetHoldSeconds bool
	HoldSeconds    *int32
}

const productColumns = `id, name, stock, price_cents, max_per_buyer, hold_seconds, created_at`

// CreateProduct inserts a product.
func (s *Store) CreateProduct(ctx context.Context, in NewProduct) (Product, error) {
	var p Product
	err := s.db.GetContext(ctx, &p,
		`INSERT INTO products (name, stock, initial_stock, price_cents, max_per_buyer, hold_seconds)
		VALUES ($1, $2::int, $2::int, $3, $4, $5) RETURNING `+productColumns,
		in.Name, in.Stock, in.PriceCents, in.MaxPerBuyer, in.HoldSeconds)
	if err != nil {
		return Product{}, fmt.Errorf("create product: %w", translate(err))
	}
	return p, nil
}

// GetProduct returns the product with id, or ErrProductNotFound.
func (s *Store) GetProduct(ctx context.Context, id int32) (Product, error) {
	var p Product
	err := s.db.GetContext(ctx, &p, `SELECT `+productColumns+` FROM products WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, ErrProductNotFound
	}
	if err != nil {
		return Product{}, fmt.Errorf("get product %d: %w", id, translate(err))
	}
	return p, nil
}

// ListProducts returns up to limit products with id > afterID, ids ascending,
// and whether more products follow the page.
func (s *Store) ListProducts(ctx context.Context, afterID int32, limit int) (page []Product, more bool, err error) {
	page = []Product{}
	err = s.db.SelectContext(ctx, &page,
		`SELECT `+productColumns+` FROM products WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list products: %w", translate(err))
	}
	if len(page) > limit {
		return page[:limit], true, nil
	}
	return page, false, nil
}

// PatchProduct changes the product's fields that patch sets and returns
// the product, or ErrProductNotFound. Orders decided after it commits see
// the new price and limits (a batch reads them under the product's row
// lock); orders already placed keep theirs.
//
// Setting max_per_buyer on a product without one counts every buyer's
// pending and completed units of it (its buyer_units rows), and removing
// it drops them, in the same transaction, under the product's row lock.
func (s *Store) PatchProduct(ctx context.Context, id int32, patch ProductPatch) (Product, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Product{}, fmt.Errorf("patch product %d: %w", id, translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var limited bool
	err = tx.GetContext(ctx, &limited, `SELECT max_per_buyer IS NOT NULL FROM products WHERE id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, ErrProductNotFound
	}
	if err != nil {
		return Product{}, fmt.Errorf("patch product %d: %w", id, translate(err))
	}
	var p Product
	err = tx.GetContext(ctx, &p, `
		UPDATE products SET
			name = coalesce($2, name),
			price_cents = coalesce($3, price_cents),
			max_per_buyer = CASE WHEN $4 THEN $5 ELSE max_per_buyer END,
			hold_seconds = CASE WHEN $6 THEN $7 ELSE hold_seconds END
		WHERE id = $1
		RETURNING `+productColumns,
		id, patch.Name, patch.PriceCents, patch.SetMaxPerBuyer, patch.MaxPerBuyer, patch.SetHoldSeconds, patch.HoldSeconds)
	if err != nil {
		return Product{}, fmt.Errorf("patch product %d: %w", id, translate(err))
	}
	switch {
	case !limited && p.MaxPerBuyer != nil:
		_, err = tx.ExecContext(ctx, `
			INSERT INTO buyer_units (product_id, buyer_id, units)
			SELECT product_id, buyer_id, sum(quantity) FROM orders
			WHERE product_id = $1 AND status IN ('pending', 'completed')
			GROUP BY product_id, buyer_id`, id)
	case limited && p.MaxPerBuyer == nil:
		_, err = tx.ExecContext(ctx, `DELETE FROM buyer_units WHERE product_id = $1`, id)
	}
	if err != nil {
		return Product{}, fmt.Errorf("patch product %d: buyer units: %w", id, translate(err))
	}
	if err := tx.Commit(); err != nil {
		return Product{}, fmt.Errorf("patch product %d: commit: %w", id, translateCommit(err))
	}
	return p, nil
}

// RestockProduct adds quantity units to the product's stock and returns the
// product. The product's units in all — its stock plus the units of its
// pending and completed orders, which cancels and expiries give back — may
// not pass 2^31-1 (the stock column's range), so that giving units back
// can never fail: a restock that would take them past it is
// ErrStockOverflow and changes nothing. ErrProductNotFound when there is
// no such product.
//
// The units in all are the product's initial stock plus its restocks (the
// invariant: every order, cancel and expiry moves units between the stock
// and the orders); for a product whose initial stock is not recorded (a
// row inserted by hand) they are summed from the stock and the orders,
// under the product's row lock, where both are consistent.
func (s *Store) RestockProduct(ctx context.Context, id int32, quantity int32) (Product, error) {
	if quantity <= 0 {
		return Product{}, fmt.Errorf("%w: restock quantity %d is not positive", ErrInvalidInput, quantity)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Product{}, fmt.Errorf("restock product %d: %w", id, translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var units sql.NullInt64
	err = tx.GetContext(ctx, &units, `SELECT initial_stock + restocked FROM products WHERE id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, ErrProductNotFound
	}
	if err != nil {
		return Product{}, fmt.Errorf("restock product %d: %w", id, translate(err))
	}
	if !units.Valid {
		err = tx.GetContext(ctx, &units, `SELECT p.stock + (SELECT coalesce(sum(quantity), 0) FROM orders
			WHERE product_id = p.id AND status IN ('pending', 'completed')) FROM products p WHERE p.id = $1`, id)
		if err != nil {
			return Product{}, fmt.Errorf("restock product %d: %w", id, translate(err))
		}
	}
	if units.Int64+int64(quantity) > math.MaxInt32 {
		return Product{}, ErrStockOverflow
	}
	var p Product
	err = tx.GetContext(ctx, &p, `UPDATE products SET stock = stock + $2, restocked = restocked + $2
		WHERE id = $1 RETURNING `+productColumns, id, quantity)
	if err != nil {
		return Product{}, fmt.Errorf("restock product %d: %w", id, translate(err))
	}
	if err := tx.Commit(); err != nil {
		return Product{}, fmt.Errorf("restock product %d: commit: %w", id, translateCommit(err))
	}
	return p, nil
}
