package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"
)

// ExpireHolds expires up to limit pending orders whose expires_at has
// passed, oldest expiry first, and gives their units back to the stock (and
// to their buyers' limits), in one transaction: an order's status change
// and its units' return commit together or not at all. It returns how many orders it expired.
//
// The orders are claimed with FOR UPDATE SKIP LOCKED, so sweeps of several
// instances share the work and never wait for each other or for a confirm
// or cancel of the same order; then the products are locked in id order,
// like an order batch does, so that sweeps and batches never deadlock.
// An expired order's updated_at is its expires_at.
func (s *Store) ExpireHolds(ctx context.Context, limit int) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("expire holds: begin: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	rows, err := tx.QueryContext(ctx, `
		SELECT id, product_id, quantity FROM orders
		WHERE status = 'pending' AND expires_at <= localtimestamp
		ORDER BY expires_at LIMIT $1
		FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return 0, fmt.Errorf("expire holds: claim: %w", translate(err))
	}
	var ids []string
	units := map[int32]int64{}
	for rows.Next() {
		var id string
		var product, quantity int32
		if err := rows.Scan(&id, &product, &quantity); err != nil {
			rows.Close()
			return 0, fmt.Errorf("expire holds: claim: %w", translate(err))
		}
		ids = append(ids, id)
		units[product] += int64(quantity)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("expire holds: claim: %w", translate(err))
	}
	if len(ids) == 0 {
		return 0, nil
	}
	products := make([]int32, 0, len(units))
	for id := range units {
		products = append(products, id)
	}
	slices.Sort(products)
	back := make([]int64, len(products))
	for i, id := range products {
		back[i] = units[id]
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
		pq.Array(products)); err != nil {
		return 0, fmt.Errorf("expire holds: lock products: %w", translate(err))
	}
	if _, err := tx.ExecContext(ctx, `
		WITH expired AS (
			UPDATE orders SET status = 'expired', updated_at = expires_at WHERE id = ANY($1::uuid[])
			RETURNING product_id, buyer_id, quantity
		), uncounted AS (
			UPDATE buyer_units b SET units = b.units - e.units
			FROM (SELECT product_id, buyer_id, sum(quantity) AS units FROM expired GROUP BY product_id, buyer_id) e
			WHERE b.product_id = e.product_id AND b.buyer_id = e.buyer_id
		)
		UPDATE products p SET stock = p.stock + b.units
		FROM unnest($2::int[], $3::bigint[]) AS b(id, units)
		WHERE p.id = b.id`,
		pq.Array(ids), pq.Array(products), pq.Array(back)); err != nil {
		return 0, fmt.Errorf("expire holds: %w", translate(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("expire holds: commit: %w", translateCommit(err))
	}
	return len(ids), nil
}

// HoldStats is what the sweep needs to know about the pending orders.
type HoldStats struct {
	// Pending counts the pending orders, expired ones not yet swept
	// included.
	Pending int64
	// NextExpiry is how long until the earliest expires_at of a pending
	// order, by the database's clock (zero or less: one is due now); it
	// means nothing when Pending is 0.
	NextExpiry time.Duration
}

// Holds counts the pending orders and says when the next one expires,
// from the partial index on expires_at of pending orders.
func (s *Store) Holds(ctx context.Context) (HoldStats, error) {
	var n int64
	var next sql.NullFloat64
	err := s.db.QueryRowContext(ctx, `
		SELECT count(*), extract(epoch FROM min(expires_at) - localtimestamp)::float8
		FROM orders WHERE status = 'pending'`).Scan(&n, &next)
	if err != nil {
		return HoldStats{}, fmt.Errorf("count holds: %w", translate(err))
	}
	st := HoldStats{Pending: n}
	if next.Valid {
		st.NextExpiry = time.Duration(next.Float64 * float64(time.Second))
	}
	return st, nil
}
