package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

const (
	// IdempotencyKeyRetention is how long a key's outcome is kept; after it the
	// key may be used for a new request.
	IdempotencyKeyRetention = 24 * time.Hour
	// idempotencyClaimLease is how long a claim stays in flight before it is
	// considered abandoned (its process died) and a retry may take it over.
	// It is far longer than any request may run.
	idempotencyClaimLease = 2 * time.Minute
	// claimAttempts bounds the retries when a key is freed between our claim
	// attempt and our read of it.
	claimAttempts = 3
)

// keyRecord is a row of idempotency_keys.
type keyRecord struct {
	ProductID  int32          `db:"product_id"`
	Quantity   int32          `db:"quantity"`
	BuyerID    string         `db:"buyer_id"`
	StatusCode sql.NullInt32  `db:"status_code"`
	OrderID    *uuid.UUID     `db:"order_id"`
	ErrorCode  sql.NullString `db:"error_code"`
	Expired    bool           `db:"expired"`   // older than IdempotencyKeyRetention
	Abandoned  bool           `db:"abandoned"` // in flight for longer than the claim lease
}

func (r keyRecord) sameRequest(in NewOrder) bool {
	return r.ProductID == in.ProductID && r.Quantity == in.Quantity && r.BuyerID == in.BuyerID
}

// Error codes stored for the recorded non-200 outcomes.
const (
	recordedOutOfStock      = "OUT_OF_STOCK"
	recordedProductNotFound = "PRODUCT_NOT_FOUND"
)

// CreateOrderIdempotent places an order under an Idempotency-Key.
//
// The first request with key claims it, places the order and records the
// outcome in the same statement, so the order and its record commit together.
// A retry with the same key and the same request gets the first outcome again
// (the same order, or ErrOutOfStock / ErrProductNotFound) and stock moves once.
// The same key with a different request gives ErrIdempotencyKeyReused; a
// request whose key is still in flight gives ErrIdempotencyKeyInUse at once,
// without waiting for the request in flight. When placing the order fails
// unexpectedly the claim is removed, so the key is free again.
func (s *Store) CreateOrderIdempotent(ctx context.Context, key string, in NewOrder) (Order, error) {
	for range claimAttempts {
		claimID, claimed, err := s.claimKey(ctx, key, in)
		if err != nil {
			return Order{}, err
		}
		if claimed {
			return s.placeClaimed(ctx, key, claimID, in)
		}
		rec, found, err := s.readKey(ctx, key)
		if err != nil {
			return Order{}, err
		}
		if !found {
			continue // freed after a failure between our two statements; claim again
		}
		if rec.Expired || (rec.Abandoned && rec.sameRequest(in)) {
			claimID, claimed, err := s.takeOverKey(ctx, key, in)
			if err != nil {
				return Order{}, err
			}
			if claimed {
				return s.placeClaimed(ctx, key, claimID, in)
			}
			continue // someone else took it over or completed it; look again
		}
		return s.replay(ctx, rec, in)
	}
	return Order{}, ErrIdempotencyKeyInUse
}

// claimKey records key as in flight for in, unless the key exists. It never
// waits for the request that holds the key.
func (s *Store) claimKey(ctx context.Context, key string, in NewOrder) (claimID uuid.UUID, claimed bool, err error) {
	claimID = uuid.New()
	err = s.db.GetContext(ctx, &claimID, `
		INSERT INTO idempotency_keys (key, product_id, quantity, buyer_id, claim_id)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (key) DO NOTHING
		RETURNING claim_id`,
		key, in.ProductID, in.Quantity, in.BuyerID, claimID)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, false, nil // the key exists
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("claim idempotency key: %w", translate(err))
	}
	return claimID, true, nil
}

// takeOverKey claims a key whose retention has passed, or whose claim was
// abandoned, for in. SKIP LOCKED keeps it from waiting on a request that is
// placing its order right now.
func (s *Store) takeOverKey(ctx context.Context, key string, in NewOrder) (claimID uuid.UUID, claimed bool, err error) {
	claimID = uuid.New()
	var got uuid.UUID
	err = s.db.GetContext(ctx, &got, `
		UPDATE idempotency_keys SET
			product_id = $2, quantity = $3, buyer_id = $4, claim_id = $5,
			claimed_at = now(), created_at = now(),
			status_code = NULL, order_id = NULL, error_code = NULL
		WHERE key = (
			SELECT key FROM idempotency_keys
			WHERE key = $1
			  AND (created_at < now() - make_interval(secs => $6)
			       OR (status_code IS NULL AND claimed_at < now() - make_interval(secs => $7)
			           AND product_id = $2 AND quantity = $3 AND buyer_id = $4))
			FOR UPDATE SKIP LOCKED
		)
		RETURNING claim_id`,
		key, in.ProductID, in.Quantity, in.BuyerID, claimID,
		IdempotencyKeyRetention.Seconds(), idempotencyClaimLease.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("take over idempotency key: %w", translate(err))
	}
	return got, true, nil
}

// placeClaimed places the order and records its outcome under our claim, in
// one statement. If our claim was taken over meanwhile, nothing is placed.
func (s *Store) placeClaimed(ctx context.Context, key string, claimID uuid.UUID, in NewOrder) (Order, error) {
	leave, err := s.gate.enter(ctx, in.ProductID)
	if err != nil {
		s.releaseClaim(ctx, key, claimID)
		return Order{}, fmt.Errorf("create order: %w", err)
	}
	defer leave()
	var row struct {
		placedRow
		Recorded bool `db:"recorded"`
	}
	err = s.db.GetContext(ctx, &row, `WITH
		claim AS (
			SELECT key FROM idempotency_keys
			WHERE key = $4 AND claim_id = $5 AND status_code IS NULL
			FOR UPDATE
		), taken AS (
			UPDATE products SET stock = stock - $2::int
			WHERE id = $1::int AND stock >= $2::int AND EXISTS (SELECT 1 FROM claim)
			RETURNING id, price_cents
		), placed AS (
			INSERT INTO orders (product_id, buyer_id, quantity, total_amount_cents, status)
			SELECT id, $3::text, $2::int, $2::int::bigint * price_cents, 'completed' FROM taken
			RETURNING `+orderColumns+`
		), product AS (
			SELECT EXISTS (SELECT 1 FROM products WHERE id = $1::int) AS product_exists
		), recorded AS (
			UPDATE idempotency_keys k SET
				status_code = CASE WHEN placed.id IS NOT NULL THEN 200
				                   WHEN product.product_exists THEN 409 ELSE 404 END,
				order_id = placed.id,
				error_code = CASE WHEN placed.id IS NOT NULL THEN NULL
				                  WHEN product.product_exists THEN $6 ELSE $7 END
			FROM claim CROSS JOIN product LEFT JOIN placed ON true
			WHERE k.key = claim.key
			RETURNING k.key
		)
		SELECT placed.*, product.product_exists, EXISTS (SELECT 1 FROM recorded) AS recorded
		FROM product LEFT JOIN placed ON true`,
		in.ProductID, in.Quantity, in.BuyerID, key, claimID, recordedOutOfStock, recordedProductNotFound)
	if err != nil {
		s.releaseClaim(ctx, key, claimID)
		return Order{}, fmt.Errorf("create order: %w", translate(err))
	}
	if !row.Recorded {
		// Our claim was taken over as abandoned; the other request owns the key.
		return Order{}, ErrIdempotencyKeyInUse
	}
	return row.outcome()
}

// releaseClaim frees a key whose request failed, unless an outcome was
// recorded after all (the statement may have committed before the error).
// It runs even when ctx was cancelled: a failed request must free its key.
func (s *Store) releaseClaim(ctx context.Context, key string, claimID uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// If this fails too, the claim is abandoned and a retry takes it over once
	// the claim lease has passed.
	_, _ = s.db.ExecContext(ctx,
		`DELETE FROM idempotency_keys WHERE key = $1 AND claim_id = $2 AND status_code IS NULL`, key, claimID)
}

// readKey reads the record of key.
func (s *Store) readKey(ctx context.Context, key string) (keyRecord, bool, error) {
	var rec keyRecord
	err := s.db.GetContext(ctx, &rec, `
		SELECT product_id, quantity, buyer_id, status_code, order_id, error_code,
			created_at < now() - make_interval(secs => $2) AS expired,
			(status_code IS NULL AND claimed_at < now() - make_interval(secs => $3)) AS abandoned
		FROM idempotency_keys WHERE key = $1`,
		key, IdempotencyKeyRetention.Seconds(), idempotencyClaimLease.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return keyRecord{}, false, nil
	}
	if err != nil {
		return keyRecord{}, false, fmt.Errorf("read idempotency key: %w", translate(err))
	}
	return rec, true, nil
}

// replay answers a request whose key is already recorded.
func (s *Store) replay(ctx context.Context, rec keyRecord, in NewOrder) (Order, error) {
	if !rec.sameRequest(in) {
		return Order{}, ErrIdempotencyKeyReused
	}
	if !rec.StatusCode.Valid {
		return Order{}, ErrIdempotencyKeyInUse
	}
	switch {
	case rec.OrderID != nil:
		return s.GetOrder(ctx, *rec.OrderID)
	case rec.ErrorCode.String == recordedOutOfStock:
		return Order{}, ErrOutOfStock
	case rec.ErrorCode.String == recordedProductNotFound:
		return Order{}, ErrProductNotFound
	default:
		return Order{}, fmt.Errorf("idempotency key has an unknown recorded outcome %d/%q",
			rec.StatusCode.Int32, rec.ErrorCode.String)
	}
}

// PurgeIdempotencyKeys deletes keys older than IdempotencyKeyRetention and
// returns how many it deleted.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)`,
		IdempotencyKeyRetention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", translate(err))
	}
	return res.RowsAffected()
}
