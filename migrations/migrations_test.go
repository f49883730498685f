package migrations_test

import (
	"context"
	"testing"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestUpDownUp reverts every migration of a migrated database, checks that the
// tables are gone and the pool still works (the migrator must not close it),
// then applies them again.
func TestUpDownUp(t *testing.T) {
	ctx := context.Background()
	st := dbtest.New(t) // already migrated from the template
	db := st.DB().DB

	v, dirty, err := migrations.Version(ctx, db)
	if err != nil || dirty || v == 0 {
		t.Fatalf("version of a migrated database = %d (dirty %v, err %v)", v, dirty, err)
	}
	latest := v
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("up on an up-to-date database must be a no-op: %v", err)
	}

	if err := migrations.Down(ctx, db); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name IN ('products', 'orders', 'transactions', 'settlements', 'jobs', 'idempotency_keys')`).Scan(&tables); err != nil {
		t.Fatalf("the pool no longer works after migrating: %v", err)
	}
	if tables != 0 {
		t.Fatalf("%d tables left after down", tables)
	}
	if v, _, err := migrations.Version(ctx, db); err != nil || v != 0 {
		t.Fatalf("version after down = %d, %v", v, err)
	}

	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	if v, dirty, err := migrations.Version(ctx, db); err != nil || dirty || v != latest {
		t.Fatalf("version after up = %d (dirty %v, err %v), want %d", v, dirty, err, latest)
	}
	if _, err := st.CreateProduct(ctx, store.NewProduct{Name: "after re-migration", Stock: 1, PriceCents: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestConstraints checks the database refuses what the service must never
// write, whatever the code above it does.
func TestConstraints(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	db := st.DB()
	for name, stmt := range map[string]string{
		"negative stock":         `INSERT INTO products (name, stock, price_cents) VALUES ('x', -1, 1)`,
		"negative price":         `INSERT INTO products (name, stock, price_cents) VALUES ('x', 1, -1)`,
		"unknown job status":     `INSERT INTO jobs (from_date, to_date, status) VALUES ('2025-01-01', '2025-01-01', 'DONE')`,
		"inverted job range":     `INSERT INTO jobs (from_date, to_date) VALUES ('2025-01-02', '2025-01-01')`,
		"running without owner":  `INSERT INTO jobs (from_date, to_date, status) VALUES ('2025-01-01', '2025-01-01', 'RUNNING')`,
		"completed, no count":    `INSERT INTO jobs (from_date, to_date, status) VALUES ('2025-01-01', '2025-01-01', 'COMPLETED')`,
		"negative count":         `INSERT INTO jobs (from_date, to_date, settlement_count) VALUES ('2025-01-01', '2025-01-01', -1)`,
		"unknown txn status":     `INSERT INTO transactions (merchant_id, amount_cents, fee_cents, status, paid_at) VALUES (1, 1, 0, 'LOST', now())`,
		"net is not gross - fee": `INSERT INTO settlements (merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id) VALUES (1, '2025-01-01', 10, 1, 10, 1, gen_random_uuid())`,
		"order of no product":    `INSERT INTO orders (product_id, buyer_id, quantity, total_amount_cents, status) VALUES (12345, 'b', 1, 1, 'completed')`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
