package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ReplaceTransactions replaces every transaction with the rows next yields,
// in one database transaction: readers see the old rows or the new ones,
// and an error or an interruption leaves the old rows. progress, if not
// nil, is called with the number of rows sent so far every 10,000 rows and
// once more when all are sent, before the indexes are built.
//
// It is built for bulk loads of millions of rows: the table's indexes are
// dropped and built again after the load inside the same transaction (one
// sort each instead of a random index insert per row), and the rows are
// written frozen (COPY FREEZE) and so marked all-visible, which index-only
// scans need and a vacuum would otherwise have to do. The table is locked
// exclusively until the commit.
func (s *Store) ReplaceTransactions(ctx context.Context, next func() (Transaction, bool), progress func(n int64)) (int64, error) {
	conn, tx, err := s.beginOnConn(ctx)
	if err != nil {
		return 0, fmt.Errorf("replace transactions: %w", err)
	}
	defer conn.Close()
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `TRUNCATE transactions`); err != nil {
		return 0, fmt.Errorf("replace transactions: %w", translate(err))
	}
	rebuild, err := dropIndexes(ctx, tx)
	if err != nil {
		return 0, err
	}
	// FREEZE needs the table truncated in this transaction (it is).
	n, err := copyRows(ctx, conn, `COPY transactions (id, merchant_id, amount_cents, fee_cents, status, paid_at) FROM STDIN WITH (FREEZE)`, next, progress)
	if err != nil {
		return 0, fmt.Errorf("replace transactions: %w", err)
	}
	if progress != nil {
		progress(n) // every row is sent; the indexes are built next
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
	return n, nil
}

// beginOnConn takes a connection of its own from the pool and begins a
// transaction on it, so that the driver connection can be used directly
// (copyRows) inside the transaction. Close the connection after the
// transaction ends.
func (s *Store) beginOnConn(ctx context.Context) (*sql.Conn, *sqlx.Tx, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, translate(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		_ = conn.Close()
		return nil, nil, translate(err)
	}
	return conn, &sqlx.Tx{Tx: tx, Mapper: s.db.Mapper}, nil
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

// copyRows streams rows to a COPY … FROM STDIN statement on conn (inside
// the transaction open on it). Rows are written as COPY text lines straight
// to the driver: the per-row overhead of database/sql and of encoding
// driver values would otherwise cost more CPU than the server's COPY.
func copyRows(ctx context.Context, conn *sql.Conn, copyStmt string, next func() (Transaction, bool), progress func(n int64)) (int64, error) {
	var n int64
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection %T cannot prepare", dc)
		}
		stmt, err := c.Prepare(copyStmt)
		if err != nil {
			return translate(err)
		}
		defer stmt.Close()
		cd, ok := stmt.(interface {
			CopyData(ctx context.Context, line string) (driver.Result, error)
		})
		if !ok {
			return fmt.Errorf("driver statement %T takes no COPY data", stmt)
		}
		line := make([]byte, 0, 128)
		for {
			t, ok := next()
			if !ok {
				break
			}
			line = appendCopyRow(line[:0], t)
			if _, err := cd.CopyData(ctx, string(line)); err != nil {
				if ctx.Err() != nil {
					return ctx.Err() // the driver reports a cancelled COPY as a bad connection
				}
				return fmt.Errorf("row %d: %w", n+1, translate(err))
			}
			n++
			if progress != nil && n%10000 == 0 {
				progress(n)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Closing the COPY statement sends CopyDone and waits for the
		// server's answer, so it reports any error of the data sent.
		if err := stmt.Close(); err != nil {
			return translate(err)
		}
		return nil
	})
	return n, err
}

// appendCopyRow appends t as a line of COPY text format (without the
// newline) for the columns id, merchant_id, amount_cents, fee_cents,
// status, paid_at.
func appendCopyRow(b []byte, t Transaction) []byte {
	var id [36]byte
	hex.Encode(id[0:8], t.ID[0:4])
	hex.Encode(id[9:13], t.ID[4:6])
	hex.Encode(id[14:18], t.ID[6:8])
	hex.Encode(id[19:23], t.ID[8:10])
	hex.Encode(id[24:36], t.ID[10:16])
	id[8], id[13], id[18], id[23] = '-', '-', '-', '-'
	b = append(b, id[:]...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(t.MerchantID), 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(t.AmountCents), 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(t.FeeCents), 10)
	b = append(b, '\t')
	for i := range len(t.Status) { // COPY text escapes
		switch c := t.Status[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	b = append(b, '\t')
	return t.PaidAt.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999")
}
