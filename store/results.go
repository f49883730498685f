package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// ErrResultNotFound means a job has no stored result: it is not COMPLETED,
// or its result was removed by retention (or predates results in the
// database and was never imported).
var ErrResultNotFound = errors.New("job result not found")

// ResultChunkSize is the most bytes of a result one stored chunk holds; a
// download reads one chunk at a time.
const ResultChunkSize = 1 << 20

// Result describes a completed job's stored CSV.
type Result struct {
	JobID     uuid.UUID `db:"job_id"`
	SHA256    string    `db:"sha256"` // hex digest of the whole CSV
	Size      int64     `db:"size"`   // bytes
	Chunks    int       `db:"chunks"`
	CreatedAt time.Time `db:"created_at"`
}

// storeResult writes csv as job id's result in tx, replacing any earlier one.
func storeResult(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, csv []byte) error {
	sum := sha256.Sum256(csv)
	chunks := (len(csv) + ResultChunkSize - 1) / ResultChunkSize
	if _, err := tx.ExecContext(ctx, `DELETE FROM job_results WHERE job_id = $1`, id); err != nil {
		return fmt.Errorf("store job result: %w", translate(err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO job_results (job_id, sha256, size, chunks) VALUES ($1, $2, $3, $4)`,
		id, hex.EncodeToString(sum[:]), len(csv), chunks); err != nil {
		return fmt.Errorf("store job result: %w", translate(err))
	}
	for i := range chunks {
		part := csv[i*ResultChunkSize : min((i+1)*ResultChunkSize, len(csv))]
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_result_chunks (job_id, seq, data) VALUES ($1, $2, $3)`,
			id, i, part); err != nil {
			return fmt.Errorf("store job result: %w", translate(err))
		}
	}
	return nil
}

// GetResult describes job id's stored result, or ErrResultNotFound.
func (s *Store) GetResult(ctx context.Context, id uuid.UUID) (Result, error) {
	var r Result
	err := s.db.GetContext(ctx, &r, `SELECT job_id, sha256, size, chunks, created_at FROM job_results WHERE job_id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{}, ErrResultNotFound
	}
	if err != nil {
		return Result{}, fmt.Errorf("get job result: %w", translate(err))
	}
	return r, nil
}

// ResultChunk returns chunk seq (0, 1, …) of job id's result, or
// ErrResultNotFound when it is gone (purged meanwhile).
func (s *Store) ResultChunk(ctx context.Context, id uuid.UUID, seq int) ([]byte, error) {
	var data []byte
	err := s.db.GetContext(ctx, &data, `SELECT data FROM job_result_chunks WHERE job_id = $1 AND seq = $2`, id, seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrResultNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read job result: %w", translate(err))
	}
	return data, nil
}

// PurgeResults removes the results stored longer than maxAge ago and returns
// how many went. Their jobs stay COMPLETED; downloading them is then 410.
func (s *Store) PurgeResults(ctx context.Context, maxAge time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM job_results WHERE created_at < now() - make_interval(secs => $1)`, maxAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge job results: %w", translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge job results: %w", translate(err))
	}
	return n, nil
}

// ImportResult stores csv as the result of job id when the job is COMPLETED
// and has none yet (a CSV file written before results lived in the
// database). It reports whether it stored it.
func (s *Store) ImportResult(ctx context.Context, id uuid.UUID, csv []byte) (bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("import job result: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var n int
	err = tx.GetContext(ctx, &n, jobSQL(`SELECT count(*) FROM jobs j
		WHERE j.job_id = $1 AND j.status = {COMPLETED}
		AND NOT EXISTS (SELECT 1 FROM job_results r WHERE r.job_id = j.job_id)`), id)
	if err != nil {
		return false, fmt.Errorf("import job result: %w", translate(err))
	}
	if n == 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM jobs WHERE job_id = $1 FOR UPDATE`, id); err != nil {
		return false, fmt.Errorf("import job result: %w", translate(err))
	}
	if err := storeResult(ctx, tx, id, csv); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("import job result: %w", translate(err))
	}
	return true, nil
}

// ResultReader reads a stored result one chunk at a time, so a download
// never holds more than a chunk of it.
type ResultReader struct {
	s    *Store
	ctx  context.Context
	res  Result
	next int    // the next chunk to read
	buf  []byte // what is left of the current chunk
}

// OpenResult returns a reader of job id's stored result (ErrResultNotFound
// when there is none). Reading fails with ErrResultNotFound if the result is
// purged meanwhile.
func (s *Store) OpenResult(ctx context.Context, id uuid.UUID) (Result, *ResultReader, error) {
	r, err := s.GetResult(ctx, id)
	if err != nil {
		return Result{}, nil, err
	}
	return r, &ResultReader{s: s, ctx: ctx, res: r}, nil
}

// Read implements io.Reader.
func (r *ResultReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.res.Chunks {
			return 0, io.EOF
		}
		data, err := r.s.ResultChunk(r.ctx, r.res.JobID, r.next)
		if err != nil {
			return 0, err
		}
		r.next++
		r.buf = data
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close implements io.Closer; it holds nothing open.
func (r *ResultReader) Close() error { return nil }

// ReadResult returns job id's whole stored result (for tools and tests; a
// download streams it with OpenResult).
func (s *Store) ReadResult(ctx context.Context, id uuid.UUID) ([]byte, error) {
	_, r, err := s.OpenResult(ctx, id)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
