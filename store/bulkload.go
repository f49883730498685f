package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ReplaceTransactions replaces every transaction with the rows next yields,
// in one database transaction: readers see the old rows or the new ones,
// and an error or an interruption leaves the old rows. progress, if not
// nil, is called with the number of rows sent so far every 10,000 rows.
//
// It is built for bulk loads of millions of rows: the table's indexes are
// dropped and built again after the load inside the same transaction (one
// sort each instead of a random index insert per row), and the rows are
// written frozen (COPY FREEZE) and so marked all-visible, which index-only
// scans need and a vacuum would otherwise have to do. The table is locked
// exclusively until the commit.
func (s *Store) ReplaceTransactions(ctx context.Context, next func() (Transaction, bool), progress func(n int64)) (int64, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("replace transactions: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `TRUNCATE transactions`); err != nil {
		return 0, fmt.Errorf("replace transactions: %w", translate(err))
	}
	rebuild, err := dropIndexes(ctx, tx)
	if err != nil {
		return 0, err
	}
	// FREEZE needs the table truncated in this transaction (it is).
	n, err := copyRows(ctx, tx, `COPY transactions (id, merchant_id, amount_cents, fee_cents, status, paid_at) FROM STDIN WITH (FREEZE)`, next, progress)
	if err != nil {
		return 0, fmt.Errorf("replace transactions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
		return 0, fmt.Errorf("replace transactions: %w", translate(err))
	}
	for _, stmt := range rebuild {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return 0, fmt.Errorf("replace transactions: rebuild index: %w", translate(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("replace transactions: commit: %w", translate(err))
	}
	if progress != nil {
		progress(n)
	}
	return n, nil
}

// dropIndexes drops the indexes of transactions (constraints that own an
// index, such as the primary key, as constraints) and returns the
// statements that create them again as they were.
func dropIndexes(ctx context.Context, tx *sqlx.Tx) (rebuild []string, err error) {
	var defs []struct {
		Index      string         `db:"index_name"`
		IndexDef   string         `db:"index_def"`
		Constraint sql.NullString `db:"constraint_name"`
		ConDef     sql.NullString `db:"constraint_def"`
	}
	err = tx.SelectContext(ctx, &defs, `
		SELECT i.indexrelid::regclass::text AS index_name, pg_get_indexdef(i.indexrelid) AS index_def,
		       c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_def
		FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
		WHERE i.indrelid = 'transactions'::regclass
		ORDER BY c.conname NULLS LAST, 1`)
	if err != nil {
		return nil, fmt.Errorf("replace transactions: read indexes: %w", translate(err))
	}
	for _, d := range defs {
		drop := `DROP INDEX ` + d.Index
		create := d.IndexDef
		if d.Constraint.Valid {
			name := pq.QuoteIdentifier(d.Constraint.String)
			drop = `ALTER TABLE transactions DROP CONSTRAINT ` + name
			create = `ALTER TABLE transactions ADD CONSTRAINT ` + name + ` ` + d.ConDef.String
		}
		if _, err := tx.ExecContext(ctx, drop); err != nil {
			return nil, fmt.Errorf("replace transactions: drop index: %w", translate(err))
		}
		rebuild = append(rebuild, create)
	}
	return rebuild, nil
}

// copyRows streams rows to a COPY … FROM STDIN statement in tx.
func copyRows(ctx context.Context, tx *sqlx.Tx, copyStmt string, next func() (Transaction, bool), progress func(n int64)) (int64, error) {
	stmt, err := tx.PrepareContext(ctx, copyStmt)
	if err != nil {
		return 0, translate(err)
	}
	var n int64
	for {
		t, ok := next()
		if !ok {
			break
		}
		if _, err := stmt.ExecContext(ctx, t.ID, t.MerchantID, t.AmountCents, t.FeeCents, t.Status, t.PaidAt); err != nil {
			_ = stmt.Close()
			return 0, fmt.Errorf("row %d: %w", n+1, translate(err))
		}
		n++
		if progress != nil && n%10000 == 0 {
			progress(n)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil { // flush
		_ = stmt.Close()
		return 0, translate(err)
	}
	if err := stmt.Close(); err != nil {
		return 0, translate(err)
	}
	return n, nil
}
