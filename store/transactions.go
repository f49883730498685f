package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Transaction is a payment transaction to settle.
type Transaction struct {
	ID          uuid.UUID
	MerchantID  int32
	AmountCents int32
	FeeCents    int32
	Status      string // PAID, PENDING, FAILED or REFUNDED
	PaidAt      time.Time
}

// Transaction statuses, mirrored by the transactions_status_check constraint.
// Only PAID transactions are settled.
const (
	TxnPaid     = "PAID"
	TxnPending  = "PENDING"
	TxnFailed   = "FAILED"
	TxnRefunded = "REFUNDED"
)

// CopyTransactions loads transactions with COPY in one database transaction.
// next returns the next row and false when there are no more; progress, if
// not nil, is called with the number of rows sent so far every 10,000 rows.
func (s *Store) CopyTransactions(ctx context.Context, next func() (Transaction, bool), progress func(n int64)) (int64, error) {
	conn, tx, err := s.beginOnConn(ctx)
	if err != nil {
		return 0, fmt.Errorf("copy transactions: %w", err)
	}
	defer conn.Close()
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	n, err := copyRows(ctx, conn, `COPY transactions (id, merchant_id, amount_cents, fee_cents, status, paid_at) FROM STDIN`, next, progress)
	if err != nil {
		return 0, fmt.Errorf("copy transactions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("copy transactions: commit: %w", translate(err))
	}
	if progress != nil {
		progress(n)
	}
	return n, nil
}

// AnalyzeTransactions vacuums and analyzes the transactions table after a
// bulk load, so that the planner has statistics and paid_at index scans can
// skip the heap (index-only scans need the visibility map).
func (s *Store) AnalyzeTransactions(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM (ANALYZE) transactions`); err != nil {
		return fmt.Errorf("vacuum transactions: %w", translate(err))
	}
	return nil
}
