package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Job states, mirrored by the jobs_status_check constraint.
const (
	// JobQueued: waiting to be claimed by an engine.
	JobQueued = "QUEUED"
	// JobRunning: claimed by an engine that keeps its lease alive.
	JobRunning = "RUNNING"
	// JobCompleted: settlements stored and the CSV published. Final.
	JobCompleted = "COMPLETED"
	// JobFailed: gave up after its last attempt; Error says why. Final.
	JobFailed = "FAILED"
	// JobCancelled: stopped on request; it left no settlements or CSV. Final.
	JobCancelled = "CANCELLED"
)

// Errors of the job lifecycle.
var (
	// ErrJobLost means the engine no longer owns the job: its lease expired
	// and the job was reaped or claimed by another engine.
	ErrJobLost = errors.New("job is no longer owned by this engine")
	// ErrCancelRequested means a cancel was recorded for the running job.
	ErrCancelRequested = errors.New("job cancel requested")
)

// Job is a settlement job.
type Job struct {
	ID              uuid.UUID  `db:"job_id"`
	From            time.Time  `db:"from_date"` // first day, UTC midnight
	To              time.Time  `db:"to_date"`   // last day, UTC midnight
	Status          string     `db:"status"`
	Progress        float64    `db:"progress"` // 0..100
	Processed       int64      `db:"processed_count"`
	Total           int64      `db:"total_count"`
	ResultPath      *string    `db:"result_path"`
	Error           *string    `db:"error"`
	Attempts        int        `db:"attempts"`
	CancelRequested bool       `db:"cancel_requested"`
	CreatedAt       time.Time  `db:"created_at"`
	UpdatedAt       time.Time  `db:"updated_at"`
	StartedAt       *time.Time `db:"started_at"`
	FinishedAt      *time.Time `db:"finished_at"`
}

const jobColumns = `job_id, from_date, to_date, status, progress, processed_count, total_count,
	result_path, error, attempts, cancel_requested, created_at, updated_at, started_at, finished_at`

// CreateJob queues a job for the days from..to (both included).
func (s *Store) CreateJob(ctx context.Context, from, to time.Time) (Job, error) {
	var j Job
	err := s.db.GetContext(ctx, &j,
		`INSERT INTO jobs (from_date, to_date) VALUES ($1::date, $2::date) RETURNING `+jobColumns,
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return Job{}, fmt.Errorf("create job: %w", translate(err))
	}
	return j, nil
}

// GetJob returns the job with id, or ErrJobNotFound.
func (s *Store) GetJob(ctx context.Context, id uuid.UUID) (Job, error) {
	var j Job
	err := s.db.GetContext(ctx, &j, `SELECT `+jobColumns+` FROM jobs WHERE job_id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrJobNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job %s: %w", id, translate(err))
	}
	return j, nil
}

// ListJobs returns up to limit jobs, newest first; status "" means any.
func (s *Store) ListJobs(ctx context.Context, status string, limit int) ([]Job, error) {
	jobs := []Job{}
	err := s.db.SelectContext(ctx, &jobs, `SELECT `+jobColumns+` FROM jobs
		WHERE ($1 = '' OR status = $1) ORDER BY created_at DESC, job_id DESC LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", translate(err))
	}
	return jobs, nil
}

// CancelJob records a cancel. A QUEUED job becomes CANCELLED at once; a
// RUNNING job gets cancel_requested and its engine stops it (the returned job
// is still RUNNING); a CANCELLED job is returned unchanged. A COMPLETED or
// FAILED job gives ErrJobNotCancellable, an unknown one ErrJobNotFound.
func (s *Store) CancelJob(ctx context.Context, id uuid.UUID) (Job, error) {
	var j Job
	err := s.db.GetContext(ctx, &j, `
		UPDATE jobs SET
			status = CASE WHEN status = 'QUEUED' THEN 'CANCELLED' ELSE status END,
			finished_at = CASE WHEN status = 'QUEUED' THEN now() ELSE finished_at END,
			cancel_requested = true,
			updated_at = now()
		WHERE job_id = $1 AND status IN ('QUEUED', 'RUNNING')
		RETURNING `+jobColumns, id)
	if errors.Is(err, sql.ErrNoRows) {
		j, err = s.GetJob(ctx, id)
		switch {
		case err != nil:
			return Job{}, err
		case j.Status == JobCancelled:
			return j, nil
		default:
			return j, ErrJobNotCancellable
		}
	}
	if err != nil {
		return Job{}, fmt.Errorf("cancel job %s: %w", id, translate(err))
	}
	return j, nil
}

// ClaimJob makes the oldest runnable QUEUED job RUNNING under owner with a
// lease, counting an attempt. Engines on other processes skip jobs being
// claimed (FOR UPDATE SKIP LOCKED), so each claim goes to one engine. It
// returns false when no job is waiting.
func (s *Store) ClaimJob(ctx context.Context, owner string, lease time.Duration) (Job, bool, error) {
	var j Job
	err := s.db.GetContext(ctx, &j, `
		UPDATE jobs SET
			status = 'RUNNING', owner = $1, lease_expires_at = now() + make_interval(secs => $2),
			attempts = attempts + 1, started_at = now(), updated_at = now(),
			processed_count = 0, total_count = 0, progress = 0
		WHERE job_id = (
			SELECT job_id FROM jobs
			WHERE status = 'QUEUED' AND run_after <= now()
			ORDER BY created_at, job_id
			LIMIT 1
			FOR UPDATE SKIP LOCKED
		)
		RETURNING `+jobColumns, owner, lease.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("claim job: %w", translate(err))
	}
	return j, true, nil
}

// ReapExpiredJobs ends the runs whose engine stopped renewing the lease (its
// process died): such a job is queued again from scratch, or FAILED when it
// has had maxAttempts attempts, or CANCELLED when a cancel was requested. It
// returns the jobs it changed.
func (s *Store) ReapExpiredJobs(ctx context.Context, maxAttempts int) ([]Job, error) {
	jobs := []Job{}
	err := s.db.SelectContext(ctx, &jobs, `
		UPDATE jobs SET
			status = CASE WHEN cancel_requested THEN 'CANCELLED'
			              WHEN attempts >= $1 THEN 'FAILED' ELSE 'QUEUED' END,
			error = CASE WHEN cancel_requested THEN error
			             ELSE format('attempt %s of %s stopped without finishing: the process running it went away', attempts, $1::int) END,
			finished_at = CASE WHEN cancel_requested OR attempts >= $1 THEN now() END,
			owner = NULL, lease_expires_at = NULL, run_after = now(), updated_at = now()
		WHERE status = 'RUNNING' AND lease_expires_at < now()
		RETURNING `+jobColumns, maxAttempts)
	if err != nil {
		return nil, fmt.Errorf("reap expired jobs: %w", translate(err))
	}
	return jobs, nil
}

// Heartbeat renews the lease of a running job and records its progress
// (processed rows; progress follows). It reports whether a cancel was
// requested, and ErrJobLost when owner no longer runs the job.
func (s *Store) Heartbeat(ctx context.Context, id uuid.UUID, owner string, processed int64, lease time.Duration) (cancelRequested bool, err error) {
	err = s.db.GetContext(ctx, &cancelRequested, `
		UPDATE jobs SET
			processed_count = GREATEST(processed_count, LEAST($3, total_count)),
			progress = CASE WHEN total_count = 0 THEN 0
			                ELSE round(100.0 * GREATEST(processed_count, LEAST($3, total_count)) / total_count, 2) END,
			lease_expires_at = now() + make_interval(secs => $4),
			updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = 'RUNNING'
		RETURNING cancel_requested`, id, owner, processed, lease.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return false, ErrJobLost
	}
	if err != nil {
		return false, fmt.Errorf("job heartbeat: %w", translate(err))
	}
	return cancelRequested, nil
}

// SetJobTotal records how many transactions the running job covers.
func (s *Store) SetJobTotal(ctx context.Context, id uuid.UUID, owner string, total int64) error {
	return s.updateOwnedJob(ctx, "set job total",
		`UPDATE jobs SET total_count = $3, updated_at = now()
		 WHERE job_id = $1 AND owner = $2 AND status = 'RUNNING'`, id, owner, total)
}

// FailJob ends an attempt that went wrong: the job is queued again after
// backoff × attempts, or FAILED with errMsg once it has had maxAttempts, or
// CANCELLED when a cancel was requested meanwhile.
func (s *Store) FailJob(ctx context.Context, id uuid.UUID, owner, errMsg string, maxAttempts int, backoff time.Duration) error {
	return s.updateOwnedJob(ctx, "fail job", `
		UPDATE jobs SET
			status = CASE WHEN cancel_requested THEN 'CANCELLED'
			              WHEN attempts >= $4 THEN 'FAILED' ELSE 'QUEUED' END,
			error = $3,
			finished_at = CASE WHEN cancel_requested OR attempts >= $4 THEN now() END,
			run_after = now() + make_interval(secs => $5 * attempts),
			owner = NULL, lease_expires_at = NULL, updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = 'RUNNING'`,
		id, owner, errMsg, maxAttempts, backoff.Seconds())
}

// CancelRunningJob ends a running job whose cancel was requested.
func (s *Store) CancelRunningJob(ctx context.Context, id uuid.UUID, owner string) error {
	return s.updateOwnedJob(ctx, "cancel running job", `
		UPDATE jobs SET status = 'CANCELLED', finished_at = now(),
			owner = NULL, lease_expires_at = NULL, updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = 'RUNNING'`, id, owner)
}

// ReleaseJob hands a running job back when its engine shuts down: it is
// queued again (the attempt does not count) or, when a cancel was requested,
// CANCELLED.
func (s *Store) ReleaseJob(ctx context.Context, id uuid.UUID, owner string) error {
	return s.updateOwnedJob(ctx, "release job", `
		UPDATE jobs SET
			status = CASE WHEN cancel_requested THEN 'CANCELLED' ELSE 'QUEUED' END,
			finished_at = CASE WHEN cancel_requested THEN now() END,
			attempts = CASE WHEN cancel_requested THEN attempts ELSE attempts - 1 END,
			owner = NULL, lease_expires_at = NULL, run_after = now(), updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = 'RUNNING'`, id, owner)
}

// updateOwnedJob runs a job update guarded by owner; no row means ErrJobLost.
func (s *Store) updateOwnedJob(ctx context.Context, what, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	if n == 0 {
		return ErrJobLost
	}
	return nil
}
