package domain

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// Order statuses, as stored in orders.status (mirrored by its CHECK).
const (
	// OrderStatusPending is a hold: its units are taken until ExpiresAt,
	// when it expires unless it was confirmed.
	OrderStatusPending = "pending"
	// OrderStatusCompleted is a sold order: placed on a product without
	// hold_seconds, or a confirmed hold.
	OrderStatusCompleted = "completed"
	// OrderStatusCancelled is a cancelled order; its units went back to the
	// stock.
	OrderStatusCancelled = "cancelled"
	// OrderStatusExpired is a hold that passed its ExpiresAt unconfirmed;
	// its units went back to the stock (or are about to, when the sweep
	// reaches it).
	OrderStatusExpired = "expired"
)

// Order is a placed order, as it is now: a pending order past its
// ExpiresAt reads as expired whether or not a sweep has expired it yet.
type Order struct {
	ID               uuid.UUID `db:"id"`
	ProductID        int32     `db:"product_id"`
	Quantity         int32     `db:"quantity"`
	BuyerID          string    `db:"buyer_id"`
	TotalAmountCents int64     `db:"total_amount_cents"`
	Status           string    `db:"status"`
	CreatedAt        time.Time `db:"created_at"`
	// ExpiresAt is when a hold ends; nil for orders that completed at once.
	ExpiresAt *time.Time `db:"expires_at"`
	// UpdatedAt is when the status last changed (CreatedAt until then; an
	// expired hold's is its ExpiresAt).
	UpdatedAt time.Time `db:"updated_at"`
}

// FirstAnswer is the order as POST /orders first answered it: pending for
// a hold, completed otherwise, never updated. An Idempotency-Key replay
// answers it, whatever happened to the order since.
func (o Order) FirstAnswer() Order {
	o.Status = OrderStatusCompleted
	if o.ExpiresAt != nil {
		o.Status = OrderStatusPending
	}
	o.UpdatedAt = o.CreatedAt
	return o
}

// NewOrder is an order to place.
type NewOrder struct {
	ProductID int32
	Quantity  int32
	BuyerID   string
}

// KeyedOrder is an order placed under an Idempotency-Key.
type KeyedOrder struct {
	Key string
	NewOrder
}

// Claim is a request's hold on an Idempotency-Key while its order is being
// placed. The batch that places the order records its outcome under the
// key; a request whose order failed releases the claim.
type Claim struct {
	// Key is the Idempotency-Key.
	Key string
	// ID tells this claim from any later claim of the same key.
	ID uuid.UUID
	// Lapses is when the claim, unless released or given an outcome, stops
	// holding the key for a retry of the same request (by this process's
	// clock, a little after the database's own reckoning).
	Lapses time.Time
}

// ErrAbandoned means an order was left out of its batch because nobody
// waited for it any more (see BatchOrder.Abandoned).
var ErrAbandoned = errors.New("order abandoned by its requester")

// BatchOrder is one order of a batch placed by group commit.
type BatchOrder struct {
	NewOrder
	// Claim is the Idempotency-Key claim the order is placed under, nil
	// without a key. The order's outcome is recorded under the key in the
	// batch's transaction. If the claim is no longer held when the batch
	// locks it (it was released, or taken over as abandoned), the order is
	// left out with ErrIdempotencyKeyInUse.
	Claim *Claim
	// Abandoned is closed when nobody waits for the order any more. If it
	// is closed by the time the batch holds its locks, the order is left out
	// with ErrAbandoned. A nil channel never closes.
	Abandoned <-chan struct{}
}

// Placement is the outcome of one order of a batch.
type Placement struct {
	// Order is the placed order when Err is nil.
	Order Order
	// Err says why the order was not placed: ErrOutOfStock,
	// ErrBuyerLimitExceeded, ErrProductNotFound, ErrInvalidInput, ErrIdempotencyKeyInUse or
	// ErrAbandoned.
	Err error
}

// OrderKey is an order's place in the order orders are listed: newest
// first by created_at, then by id (both descending). A page's last key is
// where the next page starts.
type OrderKey struct {
	CreatedAt time.Time // as stored: microseconds, UTC
	ID        uuid.UUID
}

// Key returns the order's place in the listing order.
func (o Order) Key() OrderKey { return OrderKey{CreatedAt: o.CreatedAt, ID: o.ID} }
