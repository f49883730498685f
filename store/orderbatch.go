package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/ordersettle/ordersettle/domain"
)

// BatchOrder is one order of a batch given to PlaceOrders (domain.BatchOrder:
// its Claim is recorded with the outcome, and a closed Abandoned leaves it
// out with ErrAbandoned).
type BatchOrder = domain.BatchOrder

// Placement is the outcome of one order of a batch (domain.Placement).
type Placement = domain.Placement

// PlaceOrders places a batch of orders in one transaction, with the outcome
// each would have had if the orders had been placed one at a time in slice
// order: an order is placed when the stock its product has left at its turn
// covers its quantity, so a big order that does not fit never blocks a
// smaller one behind it.
//
// The transaction locks the batch's products in id order, so that batches
// of other committers and other processes wait for each other instead of
// deadlocking; then the rows of the batch's Idempotency-Key claims. It
// decides every order in Go against the locked stock, then takes all the
// stock, inserts all the orders (their ids are made here, so no RETURNING
// has to be matched up) and records the outcomes under their keys in one
// statement, and commits: one round trip and one WAL flush for the whole
// batch. The products' CHECK (stock >= 0) backs the arithmetic up.
//
// It returns one Placement per order, in batch order. An error means that no
// order of the batch was placed, and says whether running the batch again is
// safe: ErrConflict, or ErrUnavailable without ErrCommitUnknown, mean the
// transaction failed before COMMIT was sent; ErrCommitUnknown means the
// connection failed after it was sent, so the batch may have committed; any
// other error is the database refusing the batch (for example a constraint
// an order breaks).
func (s *Store) PlaceOrders(ctx context.Context, batch []BatchOrder) ([]Placement, error) {
	out := make([]Placement, len(batch))
	var productIDs []int32
	var keys []string
	for i, b := range batch {
		if err := checkOrder(b.NewOrder); err != nil {
			out[i].Err = err
			continue
		}
		productIDs = append(productIDs, b.ProductID)
		if b.Claim != nil {
			keys = append(keys, b.Claim.Key)
		}
	}
	if len(productIDs) == 0 {
		return out, nil
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("place orders: begin: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	products, err := lockProducts(ctx, tx, productIDs)
	if err != nil {
		return nil, err
	}
	claims, err := lockClaims(ctx, tx, keys)
	if err != nil {
		return nil, err
	}

	var ch batchChanges
	for i, b := range batch {
		if out[i].Err != nil {
			continue
		}
		select {
		case <-b.Abandoned:
			out[i].Err = ErrAbandoned
			continue
		default:
		}
		if b.Claim != nil && claims[b.Claim.Key] != b.Claim.ID {
			out[i].Err = ErrIdempotencyKeyInUse
			continue
		}
		p := products[b.ProductID]
		switch {
		case p == nil:
			out[i].Err = ErrProductNotFound
		case p.stock < b.Quantity:
			out[i].Err = ErrOutOfStock
		default:
			p.stock -= b.Quantity
			p.taken += b.Quantity
			out[i].Order = Order{
				ID: uuid.New(), ProductID: b.ProductID, Quantity: b.Quantity, BuyerID: b.BuyerID,
				TotalAmountCents: int64(b.Quantity) * int64(p.priceCents), Status: OrderStatusCompleted,
			}
			ch.place(out[i].Order)
		}
		if b.Claim != nil {
			ch.record(b.Claim.Key, out[i])
		}
	}
	if ch.empty() {
		return out, nil // nothing to change: every order was refused; roll back
	}
	createdAt, err := ch.apply(ctx, tx, products)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("place orders: commit: %w", translateCommit(err))
	}
	for i := range out {
		if out[i].Err == nil {
			out[i].Order.CreatedAt = createdAt
		}
	}
	return out, nil
}

// lockedProduct is a product row locked by a batch, with the stock left as
// the batch's orders are decided.
type lockedProduct struct {
	stock      int32
	priceCents int32
	taken      int32 // units the batch takes
}

// lockProducts locks the rows of the products ids names (duplicates allowed)
// in id order and reads them. Missing products are absent from the map.
func lockProducts(ctx context.Context, tx *sql.Tx, ids []int32) (map[int32]*lockedProduct, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT id, stock, price_cents FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("place orders: lock products: %w", translate(err))
	}
	defer rows.Close()
	products := make(map[int32]*lockedProduct, len(ids))
	for rows.Next() {
		var id int32
		p := &lockedProduct{}
		if err := rows.Scan(&id, &p.stock, &p.priceCents); err != nil {
			return nil, fmt.Errorf("place orders: lock products: %w", translate(err))
		}
		products[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("place orders: lock products: %w", translate(err))
	}
	return products, nil
}

// lockClaims locks the rows of the keys still in flight (no outcome yet) in
// key order and returns the claim each is held by.
func lockClaims(ctx context.Context, tx *sql.Tx, keys []string) (map[string]uuid.UUID, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT key, claim_id FROM idempotency_keys
		WHERE key = ANY($1) AND outcome IS NULL ORDER BY key FOR UPDATE`, pq.Array(keys))
	if err != nil {
		return nil, fmt.Errorf("place orders: lock idempotency keys: %w", translate(err))
	}
	defer rows.Close()
	claims := make(map[string]uuid.UUID, len(keys))
	for rows.Next() {
		var key string
		var claim uuid.UUID
		if err := rows.Scan(&key, &claim); err != nil {
			return nil, fmt.Errorf("place orders: lock idempotency keys: %w", translate(err))
		}
		claims[key] = claim
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("place orders: lock idempotency keys: %w", translate(err))
	}
	return claims, nil
}

// batchChanges are the writes of a batch, as column arrays for unnest.
type batchChanges struct {
	// The orders to insert.
	ids, buyers []string
	productIDs  []int32
	quantities  []int32
	totals      []int64
	// The outcomes to record under Idempotency-Keys; orderIDs holds "" for
	// an outcome without an order.
	keys, outcomes, orderIDs []string
}

func (c *batchChanges) place(o Order) {
	c.ids = append(c.ids, o.ID.String())
	c.productIDs = append(c.productIDs, o.ProductID)
	c.buyers = append(c.buyers, o.BuyerID)
	c.quantities = append(c.quantities, o.Quantity)
	c.totals = append(c.totals, o.TotalAmountCents)
}

func (c *batchChanges) record(key string, p Placement) {
	orderID := ""
	if p.Err == nil {
		orderID = p.Order.ID.String()
	}
	c.keys = append(c.keys, key)
	c.outcomes = append(c.outcomes, string(outcomeOf(p.Err)))
	c.orderIDs = append(c.orderIDs, orderID)
}

func (c *batchChanges) empty() bool { return len(c.ids) == 0 && len(c.keys) == 0 }

// placeOrdersSQL is the one statement that writes orders: it takes the
// stock ($1 product ids, $2 units), inserts the orders ($3 ids, $4 product
// ids, $5 buyers, $6 quantities, $7 totals, $8 status) and records
// Idempotency-Key outcomes ($9 keys, $10 outcomes, $11 order ids, empty for
// none). It returns the orders' created_at, the transaction's timestamp.
const placeOrdersSQL = `
	WITH taken AS (
		UPDATE products p SET stock = p.stock - t.units
		FROM unnest($1::int[], $2::int[]) AS t(id, units)
		WHERE p.id = t.id
	), placed AS (
		INSERT INTO orders (id, product_id, buyer_id, quantity, total_amount_cents, status, created_at)
		SELECT o.id, o.product_id, o.buyer_id, o.quantity, o.total, $8, localtimestamp
		FROM unnest($3::uuid[], $4::int[], $5::text[], $6::int[], $7::bigint[])
			AS o(id, product_id, buyer_id, quantity, total)
	), recorded AS (
		UPDATE idempotency_keys k SET outcome = r.outcome, order_id = NULLIF(r.order_id, '')::uuid
		FROM unnest($9::text[], $10::text[], $11::text[]) AS r(key, outcome, order_id)
		WHERE k.key = r.key
	)
	SELECT localtimestamp`

// apply writes the changes in one statement and returns the orders'
// created_at.
func (c *batchChanges) apply(ctx context.Context, tx *sql.Tx, products map[int32]*lockedProduct) (time.Time, error) {
	var takenIDs, takenUnits []int32
	for id, p := range products {
		if p.taken > 0 {
			takenIDs = append(takenIDs, id)
		}
	}
	slices.Sort(takenIDs)
	for _, id := range takenIDs {
		takenUnits = append(takenUnits, products[id].taken)
	}

	var createdAt time.Time
	err := tx.QueryRowContext(ctx, placeOrdersSQL,
		pq.Array(takenIDs), pq.Array(takenUnits),
		pq.Array(c.ids), pq.Array(c.productIDs), pq.Array(c.buyers), pq.Array(c.quantities), pq.Array(c.totals),
		OrderStatusCompleted,
		pq.Array(c.keys), pq.Array(c.outcomes), pq.Array(c.orderIDs),
	).Scan(&createdAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("place orders: write: %w", translate(err))
	}
	return createdAt, nil
}
