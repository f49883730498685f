package domain

import "time"

// Product is a product with its current stock.
type Product struct {
	ID         int32  `db:"id"`
	Name       string `db:"name"`
	Stock      int32  `db:"stock"`
	PriceCents int32  `db:"price_cents"`
	// MaxPerBuyer is the most units one buyer may hold in pending and
	// completed orders of the product; nil: no limit.
	MaxPerBuyer *int32 `db:"max_per_buyer"`
	// HoldSeconds makes the product's orders holds (pending) for that many
	// seconds; nil: orders complete at once.
	HoldSeconds *int32    `db:"hold_seconds"`
	CreatedAt   time.Time `db:"created_at"`
}

// NewProduct is a product to create.
type NewProduct struct {
	Name        string
	Stock       int32
	PriceCents  int32
	MaxPerBuyer *int32 // nil: no limit
	HoldSeconds *int32 // nil: orders complete at once
}
