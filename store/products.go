package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ordersettle/ordersettle/domain"
)

// Product is a product with its current stock (domain.Product).
type Product = domain.Product

// NewProduct is a product to create (domain.NewProduct).
type NewProduct = domain.NewProduct

const productColumns = `id, name, stock, price_cents, created_at`

// CreateProduct inserts a product.
func (s *Store) CreateProduct(ctx context.Context, in NewProduct) (Product, error) {
	var p Product
	err := s.db.GetContext(ctx, &p,
		`INSERT INTO products (name, stock, price_cents) VALUES ($1, $2, $3) RETURNING `+productColumns,
		in.Name, in.Stock, in.PriceCents)
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
