package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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

// Snapshot is a read-only REPEATABLE READ transaction whose snapshot other
// connections can import (AggregateBatch), so that a job's count, batch plan
// and parallel aggregation all see the same data. Close it when done.
type Snapshot struct {
	tx *sqlx.Tx
	// ID names the exported snapshot.
	ID string
}

// OpenSnapshot begins a snapshot that stays open until Close.
func (s *Store) OpenSnapshot(ctx context.Context) (*Snapshot, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", translate(err))
	}
	var id string
	if err := tx.GetContext(ctx, &id, `SELECT pg_export_snapshot()`); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("export snapshot: %w", translate(err))
	}
	return &Snapshot{tx: tx, ID: id}, nil
}

// Close ends the snapshot.
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// PlanBatches walks the transactions with from <= paid_at < to in paid_at
// order, in one pass over the paid_at index with a server-side cursor that
// skips rows without sending them (MOVE), and cuts them into batches of about
// batchSize rows: emit receives each batch [lo, hi) as soon as its end is
// known, so that work on it can start while the walk goes on. Batches cover
// the range without gaps or overlaps; rows sharing a paid_at stay in one
// batch. It returns the number of transactions in the range.
func (sn *Snapshot) PlanBatches(ctx context.Context, from, to time.Time, batchSize int, emit func(lo, hi time.Time) error) (total int64, err error) {
	if batchSize < 1 {
		return 0, fmt.Errorf("plan batches: batch size %d is below 1", batchSize)
	}
	if _, err := sn.tx.ExecContext(ctx, `DECLARE batch_plan NO SCROLL CURSOR FOR
		SELECT paid_at FROM transactions WHERE paid_at >= $1 AND paid_at < $2 ORDER BY paid_at`, from, to); err != nil {
		return 0, fmt.Errorf("plan batches: %w", translate(err))
	}
	defer sn.tx.ExecContext(context.WithoutCancel(ctx), `CLOSE batch_plan`) //nolint:errcheck // the snapshot's end closes it too

	lo := from
	skip := fmt.Sprintf(`MOVE FORWARD %d IN batch_plan`, batchSize)
	for {
		res, err := sn.tx.ExecContext(ctx, skip)
		if err != nil {
			return 0, fmt.Errorf("plan batches: %w", translate(err))
		}
		moved, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("plan batches: %w", translate(err))
		}
		total += moved
		if moved < int64(batchSize) {
			break // the rest of the range is the last batch
		}
		// The next row starts the next batch, unless it shares the current
		// batch's last timestamp (then the batch grows to keep ties together).
		var next time.Time
		err = sn.tx.GetContext(ctx, &next, `FETCH NEXT FROM batch_plan`)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("plan batches: %w", translate(err))
		}
		total++
		if next.After(lo) {
			if err := emit(lo, next); err != nil {
				return 0, err
			}
			lo = next
		}
	}
	if total > 0 {
		if err := emit(lo, to); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// DailyTotal is the aggregation of one merchant's transactions on one UTC day
// within a batch.
type DailyTotal struct {
	MerchantID int32
	Day        int32 // days since 1970-01-01 (UTC)
	Scanned    int64 // rows of any status
	TxnCount   int64 // PAID rows
	GrossCents int64 // sum of PAID amount_cents
	FeeCents   int64 // sum of PAID fee_cents
}

// AggregateBatch aggregates the transactions with lo <= paid_at < hi per
// merchant and UTC day, in the exported snapshot snapshotID. Every group is
// returned, also those without PAID rows (TxnCount 0), so that the scanned
// counts add up to the rows of the batch. Rows are scanned by hand (no
// reflection) and the day travels as an integer: this runs a hundred times per
// million transactions.
func (s *Store) AggregateBatch(ctx context.Context, snapshotID string, lo, hi time.Time) ([]DailyTotal, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("aggregate batch: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	if _, err := tx.ExecContext(ctx, `SET TRANSACTION SNAPSHOT `+pq.QuoteLiteral(snapshotID)); err != nil {
		return nil, fmt.Errorf("aggregate batch: import snapshot: %w", translate(err))
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT merchant_id,
		       paid_at::date - DATE '1970-01-01' AS day,
		       count(*),
		       count(*) FILTER (WHERE status = 'PAID'),
		       coalesce(sum(amount_cents) FILTER (WHERE status = 'PAID'), 0),
		       coalesce(sum(fee_cents) FILTER (WHERE status = 'PAID'), 0)
		FROM transactions
		WHERE paid_at >= $1 AND paid_at < $2
		GROUP BY 1, 2`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("aggregate batch: %w", translate(err))
	}
	defer rows.Close()
	totals := []DailyTotal{}
	for rows.Next() {
		var t DailyTotal
		if err := rows.Scan(&t.MerchantID, &t.Day, &t.Scanned, &t.TxnCount, &t.GrossCents, &t.FeeCents); err != nil {
			return nil, fmt.Errorf("aggregate batch: %w", translate(err))
		}
		totals = append(totals, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("aggregate batch: %w", translate(err))
	}
	return totals, nil
}

// CopyTransactions loads transactions with COPY in one database transaction.
// next returns the next row and false when there are no more; progress, if
// not nil, is called with the number of rows sent so far every 10,000 rows.
func (s *Store) CopyTransactions(ctx context.Context, next func() (Transaction, bool), progress func(n int64)) (int64, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("copy transactions: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("transactions",
		"id", "merchant_id", "amount_cents", "fee_cents", "status", "paid_at"))
	if err != nil {
		return 0, fmt.Errorf("copy transactions: %w", translate(err))
	}
	var n int64
	for {
		t, ok := next()
		if !ok {
			break
		}
		if _, err := stmt.ExecContext(ctx, t.ID, t.MerchantID, t.AmountCents, t.FeeCents, t.Status, t.PaidAt); err != nil {
			_ = stmt.Close()
			return 0, fmt.Errorf("copy transactions: row %d: %w", n+1, translate(err))
		}
		n++
		if progress != nil && n%10000 == 0 {
			progress(n)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil { // flush
		_ = stmt.Close()
		return 0, fmt.Errorf("copy transactions: %w", translate(err))
	}
	if err := stmt.Close(); err != nil {
		return 0, fmt.Errorf("copy transactions: %w", translate(err))
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

// DeleteTransactions removes every transaction (TRUNCATE).
func (s *Store) DeleteTransactions(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `TRUNCATE transactions`); err != nil {
		return fmt.Errorf("truncate transactions: %w", translate(err))
	}
	return nil
}
