package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/domain"
)

// Errors of the job lifecycle (domain's).
var (
	ErrJobLost         = domain.ErrJobLost
	ErrCancelRequested = domain.ErrCancelRequested
)

// Job is a settlement job (domain.Job; store scans its rows into it).
type Job = domain.Job

const jobColumns = `job_id, from_date, to_date, status, progress, processed_count, total_count,
	error, attempts, cancel_requested, created_at, updated_at, started_at, finished_at,
	settlement_count, created_by`

// CreateJob queues a job for the days from..to (both included), queued by
// the principal createdBy ("" when there is none).
func (s *Store) CreateJob(ctx context.Context, from, to time.Time, createdBy string) (Job, error) {
	var j Job
	err := s.db.GetContext(ctx, &j,
		`INSERT INTO jobs (from_date, to_date, created_by) VALUES ($1::date, $2::date, NULLIF($3, '')) RETURNING `+jobColumns,
		from.Format(time.DateOnly), to.Format(time.DateOnly), createdBy)
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

// lookAgain bounds how often CancelJob and RetryJob try their update again
// when the job changed between the update that did not apply and their look
// at the job (a retry making a CANCELLED job QUEUED, say).
const lookAgain = 3

// CancelJob records a cancel. A QUEUED job becomes CANCELLED at once; a
// RUNNING job gets cancel_requested and its engine stops it (the returned job
// is still RUNNING); a CANCELLED job is returned unchanged. A COMPLETED or
// FAILED job gives ErrJobNotCancellable, an unknown one ErrJobNotFound.
func (s *Store) CancelJob(ctx context.Context, id uuid.UUID) (Job, error) {
	for range lookAgain {
		var j Job
		err := s.db.GetContext(ctx, &j, jobSQL(`
			UPDATE jobs SET
				status = CASE WHEN status = {QUEUED} THEN {CANCELLED} ELSE status END,
				finished_at = CASE WHEN status = {QUEUED} THEN now() ELSE finished_at END,
				cancel_requested = true,
				updated_at = now()
			WHERE job_id = $1 AND status IN ({QUEUED}, {RUNNING})
			RETURNING `)+jobColumns, id)
		if err == nil {
			return j, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Job{}, fmt.Errorf("cancel job %s: %w", id, translate(err))
		}
		j, err = s.GetJob(ctx, id)
		switch {
		case err != nil:
			return Job{}, err
		case j.Status == JobCancelled:
			return j, nil
		case j.Status == JobCompleted || j.Status == JobFailed:
			return j, ErrJobNotCancellable
		}
		// Queued again (retried) since the update looked: try again.
	}
	return Job{}, fmt.Errorf("cancel job %s: the job kept changing; try again", id)
}

// RetryJob queues a FAILED or CANCELLED job again under the same id, as a
// new run from scratch: QUEUED, runnable now, attempts 0, no progress,
// error, start or finish time, settlement count, result path, owner or
// cancel request. The check and the change are one UPDATE, so a concurrent
// cancel, claim, reap or retry sees the job either before or after it. A
// QUEUED, RUNNING or COMPLETED job gives ErrJobNotRetryable together with the
// job as it is; an unknown one ErrJobNotFound.
func (s *Store) RetryJob(ctx context.Context, id uuid.UUID) (Job, error) {
	for range lookAgain {
		var j Job
		err := s.db.GetContext(ctx, &j, jobSQL(`
			UPDATE jobs SET
				status = {QUEUED}, attempts = 0, run_after = now(), updated_at = now(),
				progress = 0, processed_count = 0, total_count = 0,
				error = NULL, started_at = NULL, finished_at = NULL,
				settlement_count = NULL,
				cancel_requested = false, owner = NULL, lease_expires_at = NULL
			WHERE job_id = $1 AND status IN ({FAILED}, {CANCELLED})
			RETURNING `)+jobColumns, id)
		if err == nil {
			return j, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Job{}, fmt.Errorf("retry job %s: %w", id, translate(err))
		}
		j, err = s.GetJob(ctx, id)
		if err != nil {
			return Job{}, err
		}
		if !j.Status.Retryable() {
			return j, ErrJobNotRetryable
		}
		// It became FAILED or CANCELLED since the update looked: try again.
	}
	return Job{}, fmt.Errorf("retry job %s: the job kept changing; try again", id)
}

// ClaimJob makes the oldest runnable QUEUED job RUNNING under owner with a
// lease, counting an attempt. Engines on other processes skip jobs being
// claimed (FOR UPDATE SKIP LOCKED), so each claim goes to one engine. It
// returns false when no job is waiting.
func (s *Store) ClaimJob(ctx context.Context, owner string, lease time.Duration) (Job, bool, error) {
	var j Job
	err := s.db.GetContext(ctx, &j, jobSQL(`
		UPDATE jobs SET
			status = {RUNNING}, owner = $1, lease_expires_at = now() + make_interval(secs => $2),
			attempts = attempts + 1, started_at = now(), updated_at = now(),
			processed_count = 0, total_count = 0, progress = 0
		WHERE job_id = (
			SELECT job_id FROM jobs
			WHERE status = {QUEUED} AND run_after <= now()
			ORDER BY created_at, job_id
			LIMIT 1
			FOR UPDATE SKIP LOCKED
		)
		RETURNING `)+jobColumns, owner, lease.Seconds())
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
	err := s.db.SelectContext(ctx, &jobs, jobSQL(`
		UPDATE jobs SET
			status = CASE WHEN cancel_requested THEN {CANCELLED}
			              WHEN attempts >= $1 THEN {FAILED} ELSE {QUEUED} END,
			error = CASE WHEN cancel_requested THEN error
			             ELSE format('attempt %s of %s stopped without finishing: the process running it went away', attempts, $1::int) END,
			finished_at = CASE WHEN cancel_requested OR attempts >= $1 THEN now() END,
			`+resetWhenQueued(`NOT cancel_requested AND attempts < $1`)+`,
			owner = NULL, lease_expires_at = NULL, run_after = now(), updated_at = now()
		WHERE status = {RUNNING} AND lease_expires_at < now()
		RETURNING `)+jobColumns, maxAttempts)
	if err != nil {
		return nil, fmt.Errorf("reap expired jobs: %w", translate(err))
	}
	return jobs, nil
}

// Heartbeat renews the lease of a running job and records its progress
// (processed rows; progress follows). It reports whether a cancel was
// requested, and ErrJobLost when owner no longer runs the job.
func (s *Store) Heartbeat(ctx context.Context, id uuid.UUID, owner string, processed int64, lease time.Duration) (cancelRequested bool, err error) {
	err = s.db.GetContext(ctx, &cancelRequested, jobSQL(`
		UPDATE jobs SET
			processed_count = GREATEST(processed_count, LEAST($3, total_count)),
			progress = CASE WHEN total_count = 0 THEN 0
			                ELSE round(100.0 * GREATEST(processed_count, LEAST($3, total_count)) / total_count, 2) END,
			lease_expires_at = now() + make_interval(secs => $4),
			updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = {RUNNING}
		RETURNING cancel_requested`), id, owner, processed, lease.Seconds())
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
		jobSQL(`UPDATE jobs SET total_count = $3, updated_at = now()
		 WHERE job_id = $1 AND owner = $2 AND status = {RUNNING}`), id, owner, total)
}

// FailJob ends an attempt that went wrong: the job is queued again after
// backoff × attempts (its progress back at 0), or FAILED with errMsg once it
// has had maxAttempts, or CANCELLED when a cancel was requested meanwhile. It
// returns the job's new status.
func (s *Store) FailJob(ctx context.Context, id uuid.UUID, owner, errMsg string, maxAttempts int, backoff time.Duration) (JobStatus, error) {
	return s.endOwnedRun(ctx, "fail job", jobSQL(`
		UPDATE jobs SET
			status = CASE WHEN cancel_requested THEN {CANCELLED}
			              WHEN attempts >= $4 THEN {FAILED} ELSE {QUEUED} END,
			error = $3,
			finished_at = CASE WHEN cancel_requested OR attempts >= $4 THEN now() END,
			`+resetWhenQueued(`NOT cancel_requested AND attempts < $4`)+`,
			run_after = now() + make_interval(secs => $5::float8 * attempts),
			owner = NULL, lease_expires_at = NULL, updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = {RUNNING}
		RETURNING status`),
		id, owner, errMsg, maxAttempts, backoff.Seconds())
}

// CancelRunningJob ends a running job whose cancel was requested.
func (s *Store) CancelRunningJob(ctx context.Context, id uuid.UUID, owner string) error {
	return s.updateOwnedJob(ctx, "cancel running job", jobSQL(`
		UPDATE jobs SET status = {CANCELLED}, finished_at = now(),
			owner = NULL, lease_expires_at = NULL, updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = {RUNNING}`), id, owner)
}

// ReleaseJob hands a running job back when its engine shuts down: it is
// queued again with its progress back at 0 (the attempt does not count) or,
// when a cancel was requested, CANCELLED. It returns the job's new status.
func (s *Store) ReleaseJob(ctx context.Context, id uuid.UUID, owner string) (JobStatus, error) {
	return s.endOwnedRun(ctx, "release job", jobSQL(`
		UPDATE jobs SET
			status = CASE WHEN cancel_requested THEN {CANCELLED} ELSE {QUEUED} END,
			finished_at = CASE WHEN cancel_requested THEN now() END,
			attempts = CASE WHEN cancel_requested THEN attempts ELSE attempts - 1 END,
			`+resetWhenQueued(`NOT cancel_requested`)+`,
			owner = NULL, lease_expires_at = NULL, run_after = now(), updated_at = now()
		WHERE job_id = $1 AND owner = $2 AND status = {RUNNING}
		RETURNING status`), id, owner)
}

// resetWhenQueued is the SET list that puts a job's progress back at 0 when
// queued (the condition holds): a queued job shows no progress, and its
// next run starts from scratch.
func resetWhenQueued(queued string) string {
	return `processed_count = CASE WHEN ` + queued + ` THEN 0 ELSE processed_count END,
			total_count = CASE WHEN ` + queued + ` THEN 0 ELSE total_count END,
			progress = CASE WHEN ` + queued + ` THEN 0 ELSE progress END`
}

// endOwnedRun runs an update guarded by owner that returns the job's new
// status; no row means ErrJobLost.
func (s *Store) endOwnedRun(ctx context.Context, what, query string, args ...any) (JobStatus, error) {
	var status JobStatus
	err := s.db.GetContext(ctx, &status, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrJobLost
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, translate(err))
	}
	return status, nil
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
