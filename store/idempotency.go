package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/ordersettle/ordersettle/domain"
)

const (
	// IdempotencyKeyRetention is how long a key's outcome is kept; after it the
	// key may be used for a new request.
	IdempotencyKeyRetention = 24 * time.Hour
	// claimAttempts bounds the retries when a key is freed between our claim
	// attempt and our read of it.
	claimAttempts = 3
	// ReleaseTimeout bounds ReleaseClaim, which runs after its request's
	// context may have ended: a request's cleanup must fit in the little
	// time it keeps for it.
	ReleaseTimeout = time.Second
)

// Claim is a request's hold on an Idempotency-Key while its order is being
// placed (domain.Claim). Pass it to PlaceOrders (BatchOrder.Claim), which
// records the order's outcome under the key; or to ReleaseClaim when the
// order failed.
type Claim = domain.Claim

// keyOutcome is what happened to the order placed under a key, as recorded
// in idempotency_keys.outcome (NULL while the claim is in flight).
type keyOutcome string

const (
	outcomePlaced          keyOutcome = "placed"               // order_id names the order
	outcomeOutOfStock      keyOutcome = "out_of_stock"         // ErrOutOfStock
	outcomeProductNotFound keyOutcome = "product_not_found"    // ErrProductNotFound
	outcomeBuyerLimit      keyOutcome = "buyer_limit_exceeded" // ErrBuyerLimitExceeded
)

// outcomeOf is the recorded outcome of an order that was placed (err nil) or
// refused with err. Other errors are never recorded: they have no outcome
// (the empty value, which the table's CHECK refuses).
func outcomeOf(err error) keyOutcome {
	switch {
	case err == nil:
		return outcomePlaced
	case errors.Is(err, ErrOutOfStock):
		return outcomeOutOfStock
	case errors.Is(err, ErrProductNotFound):
		return outcomeProductNotFound
	case errors.Is(err, ErrBuyerLimitExceeded):
		return outcomeBuyerLimit
	}
	return ""
}

// keyRecord is a row of idempotency_keys.
type keyRecord struct {
	ProductID int32          `db:"product_id"`
	Quantity  int32          `db:"quantity"`
	BuyerID   string         `db:"buyer_id"`
	Outcome   sql.NullString `db:"outcome"`
	OrderID   *uuid.UUID     `db:"order_id"`
	Expired   bool           `db:"expired"`   // older than IdempotencyKeyRetention
	Abandoned bool           `db:"abandoned"` // in flight for longer than the claim lease
}

func (r keyRecord) sameRequest(in NewOrder) bool {
	return r.ProductID == in.ProductID && r.Quantity == in.Quantity && r.BuyerID == in.BuyerID
}

// KeyedOrder is an order placed under an Idempotency-Key (domain.KeyedOrder).
type KeyedOrder = domain.KeyedOrder

// CheckOrder reports ErrInvalidInput when the database cannot store the
// order or its Idempotency-Key (empty for none), so that the order is
// refused on its own before it joins a batch.
func CheckOrder(key string, in NewOrder) error {
	if !storableText(key) {
		return fmt.Errorf("%w: the idempotency key is not storable text", ErrInvalidInput)
	}
	return checkOrder(in)
}

// ClaimIdempotencyKeys claims the keys of orders in one statement, in key
// order (so that concurrent claims of overlapping keys never deadlock).
// claims[i] is the claim of orders[i], to place the order with
// (BatchOrder.Claim) or to release (ReleaseClaim); it is nil when the key
// was held already, by an earlier request or by an earlier order of the same
// slice, or when CheckOrder refuses the order: ResolveIdempotencyKey then
// says what to answer. It never waits for the requests that hold keys.
//
// The claims are committed without waiting for their WAL flush
// (synchronous_commit off for this one statement's transaction): losing a
// claim in a crash only frees its key, and the durable commit of the batch
// that records an outcome flushes the WAL up to and including the claim.
func (s *Store) ClaimIdempotencyKeys(ctx context.Context, orders []KeyedOrder) ([]*Claim, error) {
	claims := make([]*Claim, len(orders))
	var todo []int // indexes of the orders to claim for
	seen := make(map[string]bool, len(orders))
	for i, o := range orders {
		if seen[o.Key] || CheckOrder(o.Key, o.NewOrder) != nil {
			continue
		}
		seen[o.Key] = true
		claims[i] = &Claim{Key: o.Key, ID: uuid.New()}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return claims, nil
	}
	slices.SortFunc(todo, func(a, b int) int { return strings.Compare(orders[a].Key, orders[b].Key) })
	keys, buyers, claimIDs := make([]string, len(todo)), make([]string, len(todo)), make([]string, len(todo))
	productIDs, quantities := make([]int32, len(todo)), make([]int32, len(todo))
	for j, i := range todo {
		o := orders[i]
		keys[j], buyers[j], claimIDs[j] = o.Key, o.BuyerID, claims[i].ID.String()
		productIDs[j], quantities[j] = o.ProductID, o.Quantity
	}

	claimed, err := s.insertClaims(ctx, keys, productIDs, quantities, buyers, claimIDs)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
			// The claims may have committed all the same; nobody would use them.
			_ = s.releaseClaims(ctx, keys, claimIDs)
		}
		return nil, fmt.Errorf("claim idempotency keys: %w", err)
	}
	lapses := time.Now().Add(s.claimLease)
	for _, i := range todo {
		if !claimed[claims[i].ID] {
			claims[i] = nil // the key was held already
			continue
		}
		claims[i].Lapses = lapses
	}
	return claims, nil
}

// insertClaims inserts the claims given as columns, skipping keys that
// exist, and returns the ids of the claims inserted.
func (s *Store) insertClaims(ctx context.Context, keys []string, productIDs, quantities []int32, buyers, claimIDs []string) (map[uuid.UUID]bool, error) {
	rows, err := s.db.QueryContext(ctx, `
		INSERT INTO idempotency_keys (key, product_id, quantity, buyer_id, claim_id)
		SELECT k.key, k.product_id, k.quantity, k.buyer_id, k.claim_id
		FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::uuid[])
			AS k(key, product_id, quantity, buyer_id, claim_id)
		CROSS JOIN `+asyncCommit+`
		WHERE async.setting IS NOT NULL
		ORDER BY k.key
		ON CONFLICT (key) DO NOTHING
		RETURNING claim_id`,
		pq.Array(keys), pq.Array(productIDs), pq.Array(quantities), pq.Array(buyers), pq.Array(claimIDs))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	claimed := make(map[uuid.UUID]bool, len(keys))
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, translate(err)
		}
		claimed[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	return claimed, nil
}

// ResolveIdempotencyKey answers an order whose key ClaimIdempotencyKeys did
// not claim. It returns exactly one of:
//
//   - a claim: the key was freed meanwhile, its retention passed, or the
//     request that held it was abandoned; place the order with it, or
//     release it;
//   - the order first placed under the key, for a retry of the same request;
//   - an error: the first outcome when it was a refusal (ErrOutOfStock,
//     ErrProductNotFound), ErrIdempotencyKeyReused for a different request,
//     ErrIdempotencyKeyInUse while the first request is in flight (at once:
//     it never waits for that request), or ErrInvalidInput (see CheckOrder),
//     which records nothing.
func (s *Store) ResolveIdempotencyKey(ctx context.Context, key string, in NewOrder) (*Claim, *Order, error) {
	if err := CheckOrder(key, in); err != nil {
		return nil, nil, err
	}
	for range claimAttempts {
		rec, found, err := s.readKey(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		if !found { // freed meanwhile: claim it
			claims, err := s.ClaimIdempotencyKeys(ctx, []KeyedOrder{{Key: key, NewOrder: in}})
			if err != nil {
				return nil, nil, err
			}
			if claims[0] != nil {
				return claims[0], nil, nil
			}
			continue // claimed by another request meanwhile; look again
		}
		if rec.Expired || (rec.Abandoned && rec.sameRequest(in)) {
			claim, err := s.takeOverKey(ctx, key, in)
			if err != nil || claim != nil {
				return claim, nil, err
			}
			continue // someone else took it over or completed it; look again
		}
		order, err := s.replay(ctx, rec, in)
		if err != nil {
			return nil, nil, err
		}
		return nil, &order, nil
	}
	return nil, nil, ErrIdempotencyKeyInUse
}

// asyncCommit, selected from in a statement's FROM, turns synchronous_commit
// off for the statement's own transaction.
const asyncCommit = `(SELECT set_config('synchronous_commit', 'off', true) AS setting) AS async`

// takeOverKey claims a key whose retention has passed, or whose claim was
// abandoned, for in. SKIP LOCKED keeps it from waiting on a batch that is
// recording the key's outcome right now.
func (s *Store) takeOverKey(ctx context.Context, key string, in NewOrder) (*Claim, error) {
	claim := Claim{Key: key, ID: uuid.New()}
	var got uuid.UUID
	err := s.db.GetContext(ctx, &got, `
		UPDATE idempotency_keys SET
			product_id = $2, quantity = $3, buyer_id = $4, claim_id = $5,
			claimed_at = now(), created_at = now(), outcome = NULL, order_id = NULL
		FROM `+asyncCommit+`
		WHERE async.setting IS NOT NULL AND key = (
			SELECT key FROM idempotency_keys
			WHERE key = $1
			  AND (created_at < now() - make_interval(secs => $6)
			       OR (outcome IS NULL AND claimed_at < now() - make_interval(secs => $7)
			           AND product_id = $2 AND quantity = $3 AND buyer_id = $4))
			FOR UPDATE SKIP LOCKED
		)
		RETURNING claim_id`,
		key, in.ProductID, in.Quantity, in.BuyerID, claim.ID,
		IdempotencyKeyRetention.Seconds(), s.claimLease.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		err = translate(err)
		s.releaseIfCancelled(ctx, claim, err)
		return nil, fmt.Errorf("take over idempotency key: %w", err)
	}
	claim.Lapses = time.Now().Add(s.claimLease)
	return &claim, nil
}

// releaseIfCancelled releases claim when err says that the statement making
// it was cancelled: it may have committed all the same, and nobody would
// use it.
func (s *Store) releaseIfCancelled(ctx context.Context, claim Claim, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		_ = s.ReleaseClaim(ctx, claim)
	}
}

// ReleaseClaim frees the key of a request whose order failed, unless an
// outcome was recorded under the claim after all (a batch may commit after
// its requester stopped waiting). It runs for ReleaseTimeout at most, even
// when ctx has ended: a failed request must free its key. If it fails, the
// claim is abandoned, and a retry of the same request takes it over once
// the claim lease has passed.
func (s *Store) ReleaseClaim(ctx context.Context, c Claim) error {
	return s.releaseClaims(ctx, []string{c.Key}, []string{c.ID.String()})
}

// releaseClaims is ReleaseClaim for the claims given as columns.
func (s *Store) releaseClaims(ctx context.Context, keys, claimIDs []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReleaseTimeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `
		DELETE FROM idempotency_keys k USING unnest($1::text[], $2::uuid[]) AS r(key, claim_id)
		WHERE k.key = r.key AND k.claim_id = r.claim_id AND k.outcome IS NULL`,
		pq.Array(keys), pq.Array(claimIDs))
	if err != nil {
		return fmt.Errorf("release idempotency keys: %w", translate(err))
	}
	return nil
}

// readKey reads the record of key.
func (s *Store) readKey(ctx context.Context, key string) (keyRecord, bool, error) {
	var rec keyRecord
	err := s.db.GetContext(ctx, &rec, `
		SELECT product_id, quantity, buyer_id, outcome, order_id,
			created_at < now() - make_interval(secs => $2) AS expired,
			(outcome IS NULL AND claimed_at < now() - make_interval(secs => $3)) AS abandoned
		FROM idempotency_keys WHERE key = $1`,
		key, IdempotencyKeyRetention.Seconds(), s.claimLease.Seconds())
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
	if !rec.Outcome.Valid {
		return Order{}, ErrIdempotencyKeyInUse
	}
	switch keyOutcome(rec.Outcome.String) {
	case outcomePlaced:
		if rec.OrderID == nil {
			break
		}
		o, err := s.GetOrder(ctx, *rec.OrderID, "")
		if err != nil {
			return Order{}, err
		}
		return o.FirstAnswer(), nil // as first sent, whatever happened to it since
	case outcomeOutOfStock:
		return Order{}, ErrOutOfStock
	case outcomeBuyerLimit:
		return Order{}, ErrBuyerLimitExceeded
	case outcomeProductNotFound:
		return Order{}, ErrProductNotFound
	}
	return Order{}, fmt.Errorf("idempotency key has an unknown recorded outcome %q", rec.Outcome.String)
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
