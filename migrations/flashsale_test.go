package migrations_test

import (
	"context"
	"testing"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/migrations"
)

// TestFlashSaleMigration: products and orders of earlier releases get
// their initial stock (stock + units ordered) and updated_at (created_at);
// the down migration keeps the rows, and expired orders read as cancelled.
func TestFlashSaleMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t).DB().DB
	if err := migrations.Goto(ctx, db, 10); err != nil {
		t.Fatal(err)
	}
	exec(t, db, `INSERT INTO products (id, name, stock, price_cents) VALUES (1, 'p', 7, 1)`)
	exec(t, db, `INSERT INTO orders (product_id, buyer_id, quantity, total_amount_cents, status, created_at)
		VALUES (1, 'b', 2, 2, 'completed', '2025-01-01 10:00:00'), (1, 'c', 1, 1, 'completed', '2025-01-02 10:00:00')`)
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	var initial int64
	var restocked int64
	if err := db.QueryRow(`SELECT initial_stock, restocked FROM products WHERE id = 1`).Scan(&initial, &restocked); err != nil {
		t.Fatal(err)
	}
	if initial != 10 || restocked != 0 {
		t.Errorf("initial_stock %d, restocked %d; want 10 (7 in stock + 3 ordered), 0", initial, restocked)
	}
	var stale int
	if err := db.QueryRow(`SELECT count(*) FROM orders WHERE updated_at <> created_at OR expires_at IS NOT NULL`).Scan(&stale); err != nil || stale != 0 {
		t.Errorf("%d orders without updated_at = created_at (%v)", stale, err)
	}
	exec(t, db, `UPDATE orders SET status = 'expired', expires_at = created_at WHERE buyer_id = 'c'`)
	if err := migrations.Goto(ctx, db, 10); err != nil {
		t.Fatal(err)
	}
	var status string
	if err := db.QueryRow(`SELECT status FROM orders WHERE buyer_id = 'c'`).Scan(&status); err != nil || status != "cancelled" {
		t.Errorf("an expired order after down: %q (%v), want cancelled", status, err)
	}
}
