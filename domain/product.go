package domain

import "time"

// Product is a product with its current stock.
type Product struct {
	ID         int32     `db:"id"`
	Name       string    `db:"name"`
	Stock      int32     `db:"stock"`
	PriceCents int32     `db:"price_cents"`
	CreatedAt  time.Time `db:"created_at"`
}

// NewProduct is a product to create.
type NewProduct struct {
	Name       string
	Stock      int32
	PriceCents int32
}
