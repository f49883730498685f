package migrations_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/migrations"
)

// TestIdempotencyOutcomeMigration: records written as HTTP status and error
// codes (before migration 7) read as outcomes after it, and back after its
// down migration; claims in flight stay in flight both ways.
func TestIdempotencyOutcomeMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t).DB().DB
	if err := migrations.Goto(ctx, db, 6); err != nil {
		t.Fatal(err)
	}
	exec(t, db, `INSERT INTO products (id, name, stock, price_cents) VALUES (1, 'p', 1, 1)`)
	exec(t, db, `INSERT INTO orders (id, product_id, buyer_id, quantity, total_amount_cents, status)
		VALUES ('00000000-0000-4000-8000-000000000001', 1, 'b', 1, 1, 'completed')`)
	exec(t, db, `INSERT INTO idempotency_keys (key, product_id, quantity, buyer_id, claim_id, status_code, order_id, error_code) VALUES
		('placed', 1, 1, 'b', gen_random_uuid(), 200, '00000000-0000-4000-8000-000000000001', NULL),
		('conflict', 1, 5, 'b', gen_random_uuid(), 409, NULL, 'OUT_OF_STOCK'),
		('missing', 2, 1, 'b', gen_random_uuid(), 404, NULL, 'PRODUCT_NOT_FOUND'),
		('in-flight', 1, 1, 'b', gen_random_uuid(), NULL, NULL, NULL)`)

	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"placed": "placed", "conflict": "out_of_stock", "missing": "product_not_found", "in-flight": "<nil>"}
	for key, outcome := range want {
		var got sql.NullString
		if err := db.QueryRow(`SELECT outcome FROM idempotency_keys WHERE key = $1`, key).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if (got.Valid && got.String != outcome) || (!got.Valid && outcome != "<nil>") {
			t.Errorf("key %s: outcome %v, want %s", key, got, outcome)
		}
	}

	if err := migrations.Goto(ctx, db, 6); err != nil {
		t.Fatal(err)
	}
	back := map[string][2]any{"placed": {int64(200), nil}, "conflict": {int64(409), "OUT_OF_STOCK"},
		"missing": {int64(404), "PRODUCT_NOT_FOUND"}, "in-flight": {nil, nil}}
	for key, w := range back {
		var status sql.NullInt64
		var code sql.NullString
		if err := db.QueryRow(`SELECT status_code, error_code FROM idempotency_keys WHERE key = $1`, key).Scan(&status, &code); err != nil {
			t.Fatal(err)
		}
		gotStatus, gotCode := any(nil), any(nil)
		if status.Valid {
			gotStatus = status.Int64
		}
		if code.Valid {
			gotCode = code.String
		}
		if gotStatus != w[0] || gotCode != w[1] {
			t.Errorf("key %s after down: %v/%v, want %v/%v", key, gotStatus, gotCode, w[0], w[1])
		}
	}
}

func exec(t *testing.T, db *sql.DB, stmt string) {
	t.Helper()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}
