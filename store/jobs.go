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
	settlement_count, created_by, total_estimated, claim_token`

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
				progress = 0, processed_count = 0, total_count = 0, total_estimated = true,
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
// lease and a new claim token (Job.ClaimToken), counting an attempt. Engines on other processes skip jobs being
// claimed (FOR UPDATE SKIP LOCKED), so each claim goes to one engine. It
// returns false when no job is waiting.
func (s *Store) ClaimJob(ctx context.Context, owner string, lease time.Duration) (Job, bool, error) {
	var j Job
	err := s.db.GetContext(ctx, &j, jobSQL(`
		UPDATE jobs SET
			status = {RUNNING}, owner = $1, lease_expires_at = now() + make_interval(secs => $2),
			attempts = attempts + 1, started_at = now(), updated_at = now(),
			processed_count = 0, total_count = 0, progress = 0, total_estimated = true,
			claim_token = claim_token + 1
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
			processed_count = CASE WHEN NOT cancel_requested AND attempts < $1 THEN 0 ELSE processed_count END,
			total_count = CASE WHEN NOT cancel_requested AND attempts < $1 THEN 0 ELSE total_count END,
			progress = CASE WHEN NOT cancel_requested AND attempts < $1 THEN 0 ELSE progress END,
			total_estimated = CASE WHEN NOT cancel_requested AND attempts < $1 THEN true ELSE total_estimated END,
			owner = NULL, lease_expires_at = NULL, run_after = now(), updated_at = now()
		WHERE status = {RUNNING} AND lease_expires_at < now()
		RETURNING `)+jobColumns, maxAttempts)
	if err != nil {
		return nil, fmt.Errorf("reap expired jobs: %w", translate(err))
	}
	return jobs, nil
}

// JobClaim names one claim of a job: the job and the token its claim got. Every
// write of a running job is guarded by it (WHERE job_id AND claim_token), so
// that a run whose claim was taken over — its lease expired while its process
// was paused, and the job was reaped or claimed again — writes nothing.
type JobClaim struct {
	ID    uuid.UUID
	Token int64
}

// ClaimOf returns the claim a job's row names (after ClaimJob).
func ClaimOf(j Job) JobClaim { return JobClaim{ID: j.ID, Token: j.ClaimToken} }

// JobProgress is what a running job reports of its progress.
type JobProgress struct {
	// Processed is the rows aggregated so far.
	Processed int64
	// Total is the range's row count, an estimate when TotalEstimated.
	Total          int64
	TotalEstimated bool
	// Percent is the share of the planned work done, 0..100.
	Percent float64
}

// Heartbeat renews the lease of a running claim and records its progress.
// Processed and progress never decrease, and total never falls below
// processed. It reports whether a cancel was requested, and ErrJobLost when
// the claim is no longer the job's (its lease expired and the job was reaped
// or claimed again).
func (s *Store) Heartbeat(ctx context.Context, c JobClaim, p JobProgress, lease time.Duration) (cancelRequested bool, err error) {
	err = s.db.GetContext(ctx, &cancelRequested, jobSQL(`
		UPDATE jobs SET
			processed_count = GREATEST(processed_count, $3),
			total_count = GREATEST($4, processed_count, $3),
			total_estimated = $5,
			progress = GREATEST(progress, LEAST(round($6::numeric, 2), 100)),
			lease_expires_at = now() + make_interval(secs => $7),
			updated_at = now()
		WHERE job_id = $1 AND claim_token = $2 AND status = {RUNNING}
		RETURNING cancel_requested`), c.ID, c.Token, p.Processed, p.Total, p.TotalEstimated, p.Percent, lease.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return false, ErrJobLost
	}
	if err != nil {
		return false, fmt.Errorf("job heartbeat: %w", translate(err))
	}
	return cancelRequested, nil
}

// RunEnd is how a run that did not complete ends; EndRun records it.
type RunEnd int

// The ends of a run other than completion.
const (
	// EndFailed: the attempt failed with an error. The job is queued again
	// after the backoff × attempts, or FAILED once it has had its attempts.
	EndFailed RunEnd = iota + 1
	// EndCancelled: the run stopped on a cancel request; CANCELLED.
	EndCancelled
	// EndReleased: the run is handed back without counting its attempt (a
	// shutdown, or a fault of the database connection); queued again after
	// the backoff (once, not per attempt).
	EndReleased
)

// EndRun records how claim c's run ended, in one guarded statement: end says
// how; errMsg is the job's error for EndFailed. A cancel requested meanwhile
// makes any end CANCELLED. A job queued again shows no progress and starts
// from scratch. It returns the job's new status, or ErrJobLost when the claim
// is no longer the job's.
func (s *Store) EndRun(ctx context.Context, c JobClaim, end RunEnd, errMsg string, maxAttempts int, backoff time.Duration) (JobStatus, error) {
	var status JobStatus
	err := s.db.GetContext(ctx, &status, jobSQL(`
		WITH run AS (
			SELECT job_id, attempts,
				CASE WHEN cancel_requested OR $3 = 2 THEN {CANCELLED}
				     WHEN $3 = 3 THEN {QUEUED}
				     WHEN attempts >= $5 THEN {FAILED}
				     ELSE {QUEUED} END AS next
			FROM jobs
			WHERE job_id = $1 AND claim_token = $2 AND status = {RUNNING}
			FOR UPDATE
		)
		UPDATE jobs SET
			status = run.next,
			error = CASE WHEN $3 = 1 THEN $4 ELSE jobs.error END,
			attempts = CASE WHEN $3 = 3 AND run.next = {QUEUED} THEN run.attempts - 1 ELSE run.attempts END,
			finished_at = CASE WHEN run.next <> {QUEUED} THEN now() END,
			run_after = now() + make_interval(secs => $6::float8 * CASE WHEN $3 = 3 THEN 1 ELSE run.attempts END),
			processed_count = CASE WHEN run.next = {QUEUED} THEN 0 ELSE processed_count END,
			total_count = CASE WHEN run.next = {QUEUED} THEN 0 ELSE total_count END,
			progress = CASE WHEN run.next = {QUEUED} THEN 0 ELSE progress END,
			total_estimated = CASE WHEN run.next = {QUEUED} THEN true ELSE total_estimated END,
			owner = NULL, lease_expires_at = NULL, updated_at = now()
		FROM run WHERE jobs.job_id = run.job_id
		RETURNING jobs.status`), c.ID, c.Token, int(end), errMsg, maxAttempts, backoff.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrJobLost
	}
	if err != nil {
		return "", fmt.Errorf("end job run: %w", translate(err))
	}
	return status, nil
}
