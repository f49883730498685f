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

	"github.com/ordersettle/ordersettle/domain"
)

// Domain errors (domain's, re-exported while callers move to package
// domain). Callers test them with errors.Is; the server maps each to its
// HTTP status and error code.
var (
	ErrProductNotFound      = domain.ErrProductNotFound
	ErrOrderNotFound        = domain.ErrOrderNotFound
	ErrJobNotFound          = domain.ErrJobNotFound
	ErrOutOfStock           = domain.ErrOutOfStock
	ErrBuyerLimitExceeded   = domain.ErrBuyerLimitExceeded
	ErrOrderExpired         = domain.ErrOrderExpired
	ErrOrderNotPending      = domain.ErrOrderNotPending
	ErrStockOverflow        = domain.ErrStockOverflow
	ErrIdempotencyKeyReused = domain.ErrIdempotencyKeyReused
	ErrIdempotencyKeyInUse  = domain.ErrIdempotencyKeyInUse
	ErrAbandoned            = domain.ErrAbandoned
	ErrJobNotCancellable    = domain.ErrJobNotCancellable
	ErrJobNotRetryable      = domain.ErrJobNotRetryable
	ErrInvalidInput         = domain.ErrInvalidInput
	ErrUnavailable          = domain.ErrUnavailable
	ErrConflict             = domain.ErrConflict
	ErrCommitUnknown        = domain.ErrCommitUnknown
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
