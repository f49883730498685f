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

// aggregateSelect answers a group as five integers: the merchant and the
// day packed into one key (unpacked by dailyTotalOf), then the rows,
// the PAID rows and their sums. The packing is done once per group, over
// the grouped values, never per row; fewer columns make each of the many
// groups of a job cheaper to send and to read.
const aggregateSelect = `
	SELECT (g.merchant_id::int8 << 32) | (g.day::int8 & 4294967295), g.scanned, g.paid, g.gross, g.fee
	FROM (SELECT merchant_id,
	             paid_at::date - DATE '1970-01-01' AS day,
	             count(*) AS scanned,
	             count(*) FILTER (WHERE status = 'PAID') AS paid,
	             coalesce(sum(amount_cents) FILTER (WHERE status = 'PAID'), 0) AS gross,
	             coalesce(sum(fee_cents) FILTER (WHERE status = 'PAID'), 0) AS fee
	      FROM transactions
	      WHERE paid_at >= $1 AND paid_at < $2 %s
	      GROUP BY 1, 2) g`

// dailyTotalOf reads a group of aggregateSelect.
func dailyTotalOf(v [5]any) (DailyTotal, error) {
	var n [5]int64
	for i, x := range v {
		var ok bool
		if n[i], ok = x.(int64); !ok {
			return DailyTotal{}, fmt.Errorf("column %d of a group is %T, want int64", i+1, x)
		}
	}
	return DailyTotal{
		MerchantID: int32(n[0] >> 32),
		Day:        int32(uint32(n[0])),
		Scanned:    n[1], TxnCount: n[2], GrossCents: n[3], FeeCents: n[4],
	}, nil
}

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
	var blocks string
	if b.ByBlock {
		settings += blockSettings
		blocks = fmt.Sprintf(`AND ctid >= '(%d,0)'::tid`, b.FirstBlock)
		if b.EndBlock > 0 {
			blocks += fmt.Sprintf(` AND ctid < '(%d,0)'::tid`, b.EndBlock)
		}
	}
	if _, err := tx.ExecContext(ctx, settings); err != nil {
		return fmt.Errorf("aggregate batch: import snapshot: %w", translate(err))
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(aggregateSelect, blocks), b.From, b.To)
	if err != nil {
		return fmt.Errorf("aggregate batch: %w", translate(err))
	}
	defer rows.Close()
	// Scanned into any: the driver's int64s are taken as they are, without
	// database/sql's conversions (reflection, and a string round trip for
	// int32), which cost more than the rest of a group's handling.
	var v [5]any
	for rows.Next() {
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
			return fmt.Errorf("aggregate batch: %w", translate(err))
		}
		t, err := dailyTotalOf(v)
		if err != nil {
			return fmt.Errorf("aggregate batch: %w", err)
		}
		each(t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("aggregate batch: %w", translate(err))
	}
	return nil
}
