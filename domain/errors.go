package domain

import "errors"

// Sentinel errors. Callers test them with errors.Is; the HTTP layer maps
// each to its status and error code.
var (
	// ErrProductNotFound means no product has the requested id.
	ErrProductNotFound = errors.New("product not found")
	// ErrOrderNotFound means no order has the requested id.
	ErrOrderNotFound = errors.New("order not found")
	// ErrJobNotFound means no settlement job has the requested id.
	ErrJobNotFound = errors.New("job not found")
	// ErrOutOfStock means the product has fewer units than the order asks for.
	ErrOutOfStock = errors.New("out of stock")
	// ErrBuyerLimitExceeded means the order would take the buyer's pending
	// and completed units of the product past its max_per_buyer.
	ErrBuyerLimitExceeded = errors.New("buyer limit exceeded")
	// ErrOrderExpired means the order is a hold whose expires_at has
	// passed: it can no longer be confirmed or cancelled.
	ErrOrderExpired = errors.New("order expired")
	// ErrOrderNotPending means the order cannot be confirmed: it was
	// cancelled.
	ErrOrderNotPending = errors.New("order is not pending")
	// ErrStockOverflow means a restock would take the product's units past
	// the stock's range (2^31-1).
	ErrStockOverflow = errors.New("stock overflow")
	// ErrIdempotencyKeyReused means the Idempotency-Key was first used with a
	// different request.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
	// ErrIdempotencyKeyInUse means another request with the same
	// Idempotency-Key is still in flight.
	ErrIdempotencyKeyInUse = errors.New("idempotency key in use by a request in flight")
	// ErrJobNotCancellable means the job is COMPLETED or FAILED.
	ErrJobNotCancellable = errors.New("job is not cancellable")
	// ErrJobNotRetryable means the job is QUEUED, RUNNING or COMPLETED: only
	// FAILED and CANCELLED jobs can be retried.
	ErrJobNotRetryable = errors.New("job is not retryable")
	// ErrInvalidInput means the database refused a value (for example a string
	// with a NUL byte) that request validation let through.
	ErrInvalidInput = errors.New("invalid input")
	// ErrUnavailable means the database cannot be reached or refuses new work
	// (connection refused or lost, too many connections, shutting down).
	ErrUnavailable = errors.New("database unavailable")
	// ErrConflict means the transaction lost a conflict with a concurrent one
	// (a serialization failure or a deadlock) and was rolled back: running
	// it again may succeed.
	ErrConflict = errors.New("transaction conflict")
	// ErrCommitUnknown means the connection failed after COMMIT was sent:
	// the transaction may or may not have committed, so it must not simply
	// be run again. It comes wrapped together with ErrUnavailable.
	ErrCommitUnknown = errors.New("commit outcome unknown")
)
