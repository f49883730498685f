package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Batch selects a slice of a settlement job's transactions: those with
// From <= paid_at < To and, when ByBlock, stored in the table's blocks
// [FirstBlock, EndBlock).
type Batch struct {
	From, To time.Time
	// ByBlock limits the batch to a range of heap blocks, read with a TID
	// range scan instead of the paid_at index.
	ByBlock bool
	// FirstBlock is the first block of a ByBlock batch.
	FirstBlock int64
	// EndBlock is the block after the last one; 0 means to the end of the
	// table (the last batch of a plan, so that no block can be missed).
	EndBlock int64
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

const aggregateSelect = `
	SELECT merchant_id,
	       paid_at::date - DATE '1970-01-01' AS day,
	       count(*),
	       count(*) FILTER (WHERE status = 'PAID'),
	       coalesce(sum(amount_cents) FILTER (WHERE status = 'PAID'), 0),
	       coalesce(sum(fee_cents) FILTER (WHERE status = 'PAID'), 0)
	FROM transactions
	WHERE paid_at >= $1 AND paid_at < $2`

// batchSettings make each batch one plain, serial query: the engine runs
// batches in parallel itself; a batch's estimated cost would otherwise
// often pay for JIT compilation that takes longer than the batch. A
// block batch must be a TID range scan: an index scan over the job's whole
// paid_at range per batch would make the job quadratic.
const (
	batchSettings = `SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0`
	blockSettings = `; SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_bitmapscan = off`
)

// AggregateBatch aggregates the transactions of b per merchant and UTC day,
// in the exported snapshot snapshotID, and hands each group to each as it is
// read (so a batch's answer is never held whole). Every group is handed
// over, also those without PAID rows (TxnCount 0), so that the scanned
// counts add up to the rows of the batch. Rows are scanned by hand (no
// reflection) and the day travels as an integer: this runs many times per
// job. On an error, each may already have seen some of the groups.
func (s *Store) AggregateBatch(ctx context.Context, snapshotID string, b Batch, each func(DailyTotal)) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("aggregate batch: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	settings := `SET TRANSACTION SNAPSHOT ` + pq.QuoteLiteral(snapshotID) + `; ` + batchSettings
	query, args := aggregateSelect, []any{b.From, b.To}
	if b.ByBlock {
		settings += blockSettings
		query += fmt.Sprintf(` AND ctid >= '(%d,0)'::tid`, b.FirstBlock)
		if b.EndBlock > 0 {
			query += fmt.Sprintf(` AND ctid < '(%d,0)'::tid`, b.EndBlock)
		}
	}
	if _, err := tx.ExecContext(ctx, settings); err != nil {
		return fmt.Errorf("aggregate batch: import snapshot: %w", translate(err))
	}
	rows, err := tx.QueryContext(ctx, query+` GROUP BY 1, 2`, args...)
	if err != nil {
		return fmt.Errorf("aggregate batch: %w", translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var t DailyTotal
		if err := rows.Scan(&t.MerchantID, &t.Day, &t.Scanned, &t.TxnCount, &t.GrossCents, &t.FeeCents); err != nil {
			return fmt.Errorf("aggregate batch: %w", translate(err))
		}
		each(t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("aggregate batch: %w", translate(err))
	}
	return nil
}
