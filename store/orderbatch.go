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
// smaller one behind it. On a product with max_per_buyer, an order is
// first checked against its buyer's pending and completed units of the
// product, as they stand under the product's row lock (the buyer_units
// row), plus what earlier orders of the batch gave the buyer: one that
// would pass the limit is ErrBuyerLimitExceeded, whatever the stock. On a product with
// hold_seconds the order is a hold: pending, expiring hold_seconds after
// its created_at; otherwise it is completed at once. Either way its units
// leave the stock in this transaction.
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
	held, err := buyerUnits(ctx, tx, batch, out, products)
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
		limited := p != nil && p.maxPerBuyer != nil
		buyer := buyerProduct{b.ProductID, b.BuyerID}
		switch {
		case p == nil:
			out[i].Err = ErrProductNotFound
		case limited && held[buyer]+int64(b.Quantity) > int64(*p.maxPerBuyer):
			out[i].Err = ErrBuyerLimitExceeded
		case p.stock < b.Quantity:
			out[i].Err = ErrOutOfStock
		default:
			p.stock -= b.Quantity
			p.taken += b.Quantity
			if limited {
				held[buyer] += int64(b.Quantity)
				ch.count(buyer, b.Quantity)
			}
			out[i].Order = Order{
				ID: uuid.New(), ProductID: b.ProductID, Quantity: b.Quantity, BuyerID: b.BuyerID,
				TotalAmountCents: int64(b.Quantity) * int64(p.priceCents), Status: OrderStatusCompleted,
			}
			var hold int32
			if p.holdSeconds != nil {
				hold = *p.holdSeconds
				out[i].Order.Status = OrderStatusPending
			}
			ch.place(out[i].Order, hold)
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
			o := &out[i].Order
			o.CreatedAt, o.UpdatedAt = createdAt, createdAt
			if hold := ch.holdOf[o.ID]; hold > 0 {
				expires := createdAt.Add(time.Duration(hold) * time.Second)
				o.ExpiresAt = &expires
			}
		}
	}
	return out, nil
}

// lockedProduct is a product row locked by a batch, with the stock left as
// the batch's orders are decided.
type lockedProduct struct {
	stock       int32
	priceCents  int32
	maxPerBuyer *int32 // nil: no limit
	holdSeconds *int32 // nil: orders complete at once
	taken       int32  // units the batch takes
}

// buyerProduct names one buyer's orders of one product.
type buyerProduct struct {
	productID int32
	buyerID   string
}

// buyerUnits reads, for every buyer of the batch ordering a product with
// max_per_buyer, their units in pending and completed orders of it (their
// buyer_units rows). It runs after the products are locked, in a statement
// of its own, so that it sees every change committed before the lock was
// granted: all of them are made under the product's lock. Batches without
// a limited product make no round trip.
func buyerUnits(ctx context.Context, tx *sql.Tx, batch []BatchOrder, out []Placement, products map[int32]*lockedProduct) (map[buyerProduct]int64, error) {
	held := map[buyerProduct]int64{}
	var productIDs []int32
	var buyers []string
	for i, b := range batch {
		p := products[b.ProductID]
		if out[i].Err != nil || p == nil || p.maxPerBuyer == nil {
			continue
		}
		k := buyerProduct{b.ProductID, b.BuyerID}
		if _, seen := held[k]; seen {
			continue
		}
		held[k] = 0
		productIDs = append(productIDs, b.ProductID)
		buyers = append(buyers, b.BuyerID)
	}
	if len(productIDs) == 0 {
		return held, nil
	}
	// One primary-key lookup per buyer, whatever the table's size.
	rows, err := tx.QueryContext(ctx, `
		SELECT k.product_id, k.buyer_id, u.units
		FROM unnest($1::int[], $2::text[]) AS k(product_id, buyer_id)
		CROSS JOIN LATERAL (
			SELECT b.units FROM buyer_units b WHERE b.product_id = k.product_id AND b.buyer_id = k.buyer_id
		) u`, pq.Array(productIDs), pq.Array(buyers))
	if err != nil {
		return nil, fmt.Errorf("place orders: read buyer units: %w", translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var k buyerProduct
		var units int64
		if err := rows.Scan(&k.productID, &k.buyerID, &units); err != nil {
			return nil, fmt.Errorf("place orders: read buyer units: %w", translate(err))
		}
		held[k] = units
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("place orders: read buyer units: %w", translate(err))
	}
	return held, nil
}

// lockProducts locks the rows of the products ids names (duplicates allowed)
// in id order and reads them. Missing products are absent from the map.
func lockProducts(ctx context.Context, tx *sql.Tx, ids []int32) (map[int32]*lockedProduct, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT id, stock, price_cents, max_per_buyer, hold_seconds
		FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("place orders: lock products: %w", translate(err))
	}
	defer rows.Close()
	products := make(map[int32]*lockedProduct, len(ids))
	for rows.Next() {
		var id int32
		p := &lockedProduct{}
		if err := rows.Scan(&id, &p.stock, &p.priceCents, &p.maxPerBuyer, &p.holdSeconds); err != nil {
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
	// The orders to insert; holds has each order's hold_seconds, 0 for an
	// order that completes at once, and holdOf the same by order id.
	ids, buyers, statuses []string
	productIDs            []int32
	quantities, holds     []int32
	totals                []int64
	holdOf                map[uuid.UUID]int32
	// The units placed per buyer of a product with max_per_buyer, to add
	// to their buyer_units rows.
	counted map[buyerProduct]int32
	// The outcomes to record under Idempotency-Keys; orderIDs holds "" for
	// an outcome without an order.
	keys, outcomes, orderIDs []string
}

func (c *batchChanges) place(o Order, hold int32) {
	if c.holdOf == nil {
		c.holdOf = map[uuid.UUID]int32{}
	}
	c.holdOf[o.ID] = hold
	c.holds = append(c.holds, hold)
	c.statuses = append(c.statuses, o.Status)
	c.ids = append(c.ids, o.ID.String())
	c.productIDs = append(c.productIDs, o.ProductID)
	c.buyers = append(c.buyers, o.BuyerID)
	c.quantities = append(c.quantities, o.Quantity)
	c.totals = append(c.totals, o.TotalAmountCents)
}

func (c *batchChanges) count(k buyerProduct, units int32) {
	if c.counted == nil {
		c.counted = map[buyerProduct]int32{}
	}
	c.counted[k] += units
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
// ids, $5 buyers, $6 quantities, $7 totals, $8 statuses, $12 hold seconds,
// 0 for none), adds to the buyers' units of limited products ($13 product
// ids, $14 buyers, $15 units) and records Idempotency-Key outcomes ($9
// keys, $10 outcomes, $11 order ids, empty for none). It returns the orders' created_at, the
// transaction's timestamp; a hold's expires_at is created_at plus its
// hold seconds.
const placeOrdersSQL = `
	WITH taken AS (
		UPDATE products p SET stock = p.stock - t.units
		FROM unnest($1::int[], $2::int[]) AS t(id, units)
		WHERE p.id = t.id
	), placed AS (
		INSERT INTO orders (id, product_id, buyer_id, quantity, total_amount_cents, status,
			created_at, updated_at, expires_at)
		SELECT o.id, o.product_id, o.buyer_id, o.quantity, o.total, o.status,
			localtimestamp, localtimestamp,
			CASE WHEN o.hold > 0 THEN localtimestamp + make_interval(secs => o.hold) END
		FROM unnest($3::uuid[], $4::int[], $5::text[], $6::int[], $7::bigint[], $8::text[], $12::int[])
			AS o(id, product_id, buyer_id, quantity, total, status, hold)
	), counted AS (
		INSERT INTO buyer_units AS b (product_id, buyer_id, units)
		SELECT * FROM unnest($13::int[], $14::text[], $15::bigint[])
		ON CONFLICT (product_id, buyer_id) DO UPDATE SET units = b.units + excluded.units
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

	var countedIDs []int32
	var countedBuyers []string
	var countedUnits []int64
	for k, units := range c.counted {
		countedIDs = append(countedIDs, k.productID)
		countedBuyers = append(countedBuyers, k.buyerID)
		countedUnits = append(countedUnits, int64(units))
	}

	var createdAt time.Time
	err := tx.QueryRowContext(ctx, placeOrdersSQL,
		pq.Array(takenIDs), pq.Array(takenUnits),
		pq.Array(c.ids), pq.Array(c.productIDs), pq.Array(c.buyers), pq.Array(c.quantities), pq.Array(c.totals),
		pq.Array(c.statuses),
		pq.Array(c.keys), pq.Array(c.outcomes), pq.Array(c.orderIDs),
		pq.Array(c.holds),
		pq.Array(countedIDs), pq.Array(countedBuyers), pq.Array(countedUnits),
	).Scan(&createdAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("place orders: write: %w", translate(err))
	}
	return createdAt, nil
}
