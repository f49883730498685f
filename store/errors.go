package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/lib/pq"
)

// Domain errors. Callers test them with errors.Is; the server maps each to its
// HTTP status and error code.
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
	// ErrAbandoned means an order was left out of its batch because nobody
	// waited for it any more (see BatchOrder.Abandoned).
	ErrAbandoned = errors.New("order abandoned by its requester")
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

// translate turns driver errors into the package's sentinel errors, keeping
// the original in the chain for logs. Errors it does not know pass through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case pqErr.Code == "57014": // query_canceled: a statement timeout or a cancelled context
			return fmt.Errorf("%w: %w", context.Canceled, err)
		case pqErr.Code.Class() == "08", // connection_exception
			pqErr.Code.Class() == "53", // insufficient_resources (too_many_connections, …)
			pqErr.Code == "57P01",      // admin_shutdown
			pqErr.Code == "57P02",      // crash_shutdown
			pqErr.Code == "57P03":      // cannot_connect_now (starting up, shutting down)
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		case pqErr.Code.Class() == "22": // data_exception (NUL bytes, bad encoding, out of range)
			return fmt.Errorf("%w: %w", ErrInvalidInput, err)
		case pqErr.Code == "40001", // serialization_failure
			pqErr.Code == "40P01": // deadlock_detected
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return err
	}
	var netErr net.Error
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &netErr) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// translateCommit translates an error of COMMIT. Only an ERROR the server
// sent in answer to it, or a COMMIT that was never sent (the context ended
// first), proves that the transaction did not commit. Anything else — the
// connection broke, or the server ended the session with a FATAL error, which
// can happen just after it committed — leaves the outcome unknown.
func translateCommit(err error) error {
	if err == nil {
		return nil
	}
	var pqErr *pq.Error
	switch {
	case errors.As(err, &pqErr) && pqErr.Severity == "ERROR", // not FATAL or PANIC
		errors.Is(err, pq.ErrInFailedTransaction),
		errors.Is(err, sql.ErrTxDone),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return translate(err)
	}
	err = translate(err)
	if !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrCommitUnknown, err)
}
