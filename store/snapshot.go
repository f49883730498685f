package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jmoiron/sqlx"
)

// Snapshot is a read-only REPEATABLE READ transaction whose snapshot other
// connections can import (AggregateBatch), so that a job's count, batch plan
// and parallel aggregation all see the same data. It holds an ACCESS SHARE
// lock on transactions until Close, so the table cannot be rewritten (VACUUM
// FULL, CLUSTER, TRUNCATE) under a job: block numbers stay valid for the
// whole job. Close it when done.
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
	// The count and the plan's walk read the paid_at index only (the
	// visibility map spares the heap): a parallel sequential scan would read
	// the whole table a second time next to the job's own batches.
	if _, err := tx.ExecContext(ctx, `LOCK TABLE transactions IN ACCESS SHARE MODE; `+
		`SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; `+
		`SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off`); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("lock transactions: %w", translate(err))
	}
	return &Snapshot{tx: tx, ID: id}, nil
}

// Close ends the snapshot.
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// Layout is how the transactions of a paid_at range lie in the table,
// measured on a sample of its blocks.
type Layout struct {
	// Blocks is the size of the table in blocks, measured under the
	// snapshot's lock: every tuple the snapshot can see lies below it.
	Blocks int64
	// SampledBlocks and SampledRows are what the sample read; InRange is
	// how many of those rows lie in the range.
	SampledBlocks, SampledRows, InRange int64
	// Correlation is Pearson's correlation between the block number and
	// paid_at of the sampled rows in the range: near ±1 when the range's rows
	// are stored in time order, near 0 when their order is unrelated to
	// paid_at. It is 1 when the sample holds too few rows to tell.
	Correlation float64
	// Merchants and Days are the distinct merchants and UTC days among the
	// sampled rows in the range (lower bounds of the range's own).
	Merchants, Days int64
}

// RowsPerBlock is the sample's average number of rows per block (at least 1).
func (l Layout) RowsPerBlock() float64 {
	if l.SampledBlocks == 0 || l.SampledRows == 0 {
		return 1
	}
	return float64(l.SampledRows) / float64(l.SampledBlocks)
}

// Share is the estimated fraction of the table's rows that lie in the range.
func (l Layout) Share() float64 {
	if l.SampledRows == 0 {
		return 0
	}
	return float64(l.InRange) / float64(l.SampledRows)
}

// Layout samples about sampleBlocks blocks of the table (all of them when it
// is smaller; the same blocks every time for the same table) and describes
// how the rows with from <= paid_at < to lie in it.
func (sn *Snapshot) Layout(ctx context.Context, from, to time.Time, sampleBlocks int) (Layout, error) {
	var l Layout
	err := sn.tx.GetContext(ctx, &l.Blocks,
		`SELECT pg_relation_size('transactions') / current_setting('block_size')::bigint`)
	if err != nil {
		return Layout{}, fmt.Errorf("measure transactions: %w", translate(err))
	}
	if l.Blocks == 0 {
		return l, nil
	}
	percent := math.Min(100, 100*float64(sampleBlocks)/float64(l.Blocks))
	var corr sql.NullFloat64
	err = sn.tx.QueryRowContext(ctx, `
		WITH sample AS (
			SELECT (ctid::text::point)[0] AS block, paid_at, merchant_id,
			       paid_at >= $1 AND paid_at < $2 AS in_range
			FROM transactions TABLESAMPLE SYSTEM ($3) REPEATABLE (7)
		)
		SELECT count(DISTINCT block), count(*), count(*) FILTER (WHERE in_range),
		       corr(block, extract(epoch FROM paid_at)) FILTER (WHERE in_range),
		       count(DISTINCT merchant_id) FILTER (WHERE in_range),
		       count(DISTINCT paid_at::date) FILTER (WHERE in_range)
		FROM sample`, from, to, percent).
		Scan(&l.SampledBlocks, &l.SampledRows, &l.InRange, &corr, &l.Merchants, &l.Days)
	if err != nil {
		return Layout{}, fmt.Errorf("sample transactions: %w", translate(err))
	}
	l.Correlation = 1
	if corr.Valid {
		l.Correlation = corr.Float64
	}
	return l, nil
}

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
