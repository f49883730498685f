package store

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Settlement is what one merchant is owed for one UTC day.
type Settlement struct {
	MerchantID  int32     `db:"merchant_id"`
	Date        time.Time `db:"date"` // UTC midnight
	GrossCents  int64     `db:"gross_cents"`
	FeeCents    int64     `db:"fee_cents"`
	NetCents    int64     `db:"net_cents"`
	TxnCount    int64     `db:"txn_count"`
	UniqueRunID uuid.UUID `db:"unique_run_id"`
}

// settlementCommitLock is the advisory lock key that serialises job
// completions, so that of two overlapping jobs the last to commit wins whole.
const settlementCommitLock = 0x5e771e // "settle"

// Completion is the transaction that completes a job: settlements, the
// job's CSV and the COMPLETED status commit together. Rollback (deferred)
// undoes everything that was not committed.
type Completion struct {
	tx    *sqlx.Tx
	job   Job
	claim JobClaim
}

// BeginCompletion starts completing claim c's run. It waits for other
// completions, then locks the job row: a concurrent cancel either came first
// (ErrCancelRequested) or waits and then finds the job COMPLETED. It returns
// ErrJobLost when the claim is no longer the job's.
func (s *Store) BeginCompletion(ctx context.Context, claim JobClaim) (*Completion, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin completion: %w", translate(err))
	}
	c := &Completion{tx: tx, claim: claim}
	if err := c.begin(ctx, claim.ID); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return c, nil
}

func (c *Completion) begin(ctx context.Context, id uuid.UUID) error {
	if _, err := c.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, settlementCommitLock); err != nil {
		return fmt.Errorf("begin completion: %w", translate(err))
	}
	rows, err := c.tx.QueryxContext(ctx, jobSQL(`SELECT `+jobColumns+` FROM jobs
		WHERE job_id = $1 AND claim_token = $2 AND status = {RUNNING} FOR UPDATE`), id, c.claim.Token)
	if err != nil {
		return fmt.Errorf("begin completion: %w", translate(err))
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("begin completion: %w", translate(err))
		}
		return ErrJobLost
	}
	if err := rows.StructScan(&c.job); err != nil {
		return fmt.Errorf("begin completion: %w", translate(err))
	}
	if c.job.CancelRequested {
		return ErrCancelRequested
	}
	return nil
}

// Settle makes the settlements of the job's days exactly rows: it upserts
// them on (merchant_id, date) with unique_run_id = the job's id, deletes the
// rows of those days that this run did not produce, stores csv as the job's
// result and marks the job COMPLETED with total rows (exact), all processed.
// The rows are streamed to the server with COPY into a temporary table, so
// they are never all in memory at once. Nothing is visible before Commit.
func (c *Completion) Settle(ctx context.Context, rows iter.Seq[Settlement], total int64, csv []byte) error {
	if _, err := c.tx.ExecContext(ctx, `CREATE TEMPORARY TABLE settlement_run (
			merchant_id integer, date date, gross_cents bigint, fee_cents bigint, txn_count integer
		) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("stage settlements: %w", translate(err))
	}
	stmt, err := c.tx.PrepareContext(ctx, `COPY settlement_run (merchant_id, date, gross_cents, fee_cents, txn_count) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("stage settlements: %w", translate(err))
	}
	for r := range rows {
		if _, err := stmt.ExecContext(ctx, r.MerchantID, r.Date.Format(time.DateOnly), r.GrossCents, r.FeeCents, r.TxnCount); err != nil {
			_ = stmt.Close()
			return fmt.Errorf("stage settlements: %w", translate(err))
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		_ = stmt.Close()
		return fmt.Errorf("stage settlements: %w", translate(err))
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("stage settlements: %w", translate(err))
	}
	_, err = c.tx.ExecContext(ctx, `
		INSERT INTO settlements (merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id, generated_at)
		SELECT merchant_id, date, gross_cents, fee_cents, gross_cents - fee_cents, txn_count, $1, now()
		FROM settlement_run
		ON CONFLICT (merchant_id, date) DO UPDATE SET
			gross_cents = EXCLUDED.gross_cents, fee_cents = EXCLUDED.fee_cents,
			net_cents = EXCLUDED.net_cents, txn_count = EXCLUDED.txn_count,
			unique_run_id = EXCLUDED.unique_run_id, generated_at = EXCLUDED.generated_at`, c.job.ID)
	if err != nil {
		return fmt.Errorf("upsert settlements: %w", translate(err))
	}
	_, err = c.tx.ExecContext(ctx, `DELETE FROM settlements
		WHERE date BETWEEN $1::date AND $2::date AND unique_run_id <> $3`,
		c.job.From.Format(time.DateOnly), c.job.To.Format(time.DateOnly), c.job.ID)
	if err != nil {
		return fmt.Errorf("delete stale settlements: %w", translate(err))
	}
	if err := storeResult(ctx, c.tx, c.job.ID, csv); err != nil {
		return err
	}
	_, err = c.tx.ExecContext(ctx, jobSQL(`
		UPDATE jobs SET status = {COMPLETED}, progress = 100,
			processed_count = $2, total_count = $2, total_estimated = false,
			error = NULL, finished_at = now(), updated_at = now(),
			owner = NULL, lease_expires_at = NULL,
			settlement_count = (SELECT count(*) FROM settlements s WHERE s.unique_run_id = $1 AND s.date BETWEEN jobs.from_date AND jobs.to_date)
		WHERE job_id = $1`), c.job.ID, total)
	if err != nil {
		return fmt.Errorf("complete job: %w", translate(err))
	}
	return nil
}

// Commit commits the completion. A failed commit is an error: the job is not
// COMPLETED and its settlements did not change — unless the error is
// ErrCommitUnknown (the connection broke after COMMIT was sent): then read
// the job to learn the truth.
func (c *Completion) Commit() error {
	if err := c.tx.Commit(); err != nil {
		return fmt.Errorf("commit completion: %w", translateCommit(err))
	}
	return nil
}

// Rollback abandons the completion; it is a no-op after Commit.
func (c *Completion) Rollback() { _ = c.tx.Rollback() }

// SettlementsBetween returns the stored settlements of the days from..to,
// ordered by date then merchant_id.
func (s *Store) SettlementsBetween(ctx context.Context, from, to time.Time) ([]Settlement, error) {
	rows := []Settlement{}
	err := s.db.SelectContext(ctx, &rows, `
		SELECT merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id
		FROM settlements WHERE date BETWEEN $1::date AND $2::date
		ORDER BY date, merchant_id`, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("list settlements: %w", translate(err))
	}
	return rows, nil
}
