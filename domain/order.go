package domain

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// OrderStatusCompleted is the status of every order placed through the API.
const OrderStatusCompleted = "completed"

// Order is a placed order.
type Order struct {
	ID               uuid.UUID `db:"id"`
	ProductID        int32     `db:"product_id"`
	Quantity         int32     `db:"quantity"`
	BuyerID          string    `db:"buyer_id"`
	TotalAmountCents int64     `db:"total_amount_cents"`
	Status           string    `db:"status"`
	CreatedAt        time.Time `db:"created_at"`
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
	// ErrProductNotFound, ErrInvalidInput, ErrIdempotencyKeyInUse or
	// ErrAbandoned.
	Err error
}
