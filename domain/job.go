package domain

import (
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
)

// JobStatus is the state of a settlement job. The jobs table's
// jobs_status_check constraint allows exactly the values of JobStatuses.
type JobStatus string

// The states of a job.
const (
	// JobQueued: waiting to be claimed by an engine.
	JobQueued JobStatus = "QUEUED"
	// JobRunning: claimed by an engine that keeps its lease alive.
	JobRunning JobStatus = "RUNNING"
	// JobCompleted: settlements stored and the CSV published. Final.
	JobCompleted JobStatus = "COMPLETED"
	// JobFailed: gave up after its last attempt; Error says why. Final
	// unless retried.
	JobFailed JobStatus = "FAILED"
	// JobCancelled: stopped on request; it left no settlements or CSV. Final
	// unless retried.
	JobCancelled JobStatus = "CANCELLED"
)

// JobStatuses returns every job status, in lifecycle order.
func JobStatuses() []JobStatus {
	return []JobStatus{JobQueued, JobRunning, JobCompleted, JobFailed, JobCancelled}
}

// Valid reports whether st is one of JobStatuses.
func (st JobStatus) Valid() bool { return slices.Contains(JobStatuses(), st) }

// Final reports whether a job in status st has ended: COMPLETED, FAILED or
// CANCELLED. Only a retry moves a FAILED or CANCELLED job on.
func (st JobStatus) Final() bool {
	return st == JobCompleted || st == JobFailed || st == JobCancelled
}

// Retryable reports whether a job in status st can be retried: FAILED or
// CANCELLED.
func (st JobStatus) Retryable() bool {
	return st == JobFailed || st == JobCancelled
}

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
	Status          JobStatus  `db:"status"`
	Progress        float64    `db:"progress"` // 0..100
	Processed       int64      `db:"processed_count"`
	Total           int64      `db:"total_count"`
	Error           *string    `db:"error"`
	Attempts        int        `db:"attempts"`
	CancelRequested bool       `db:"cancel_requested"`
	CreatedAt       time.Time  `db:"created_at"`
	UpdatedAt       time.Time  `db:"updated_at"`
	StartedAt       *time.Time `db:"started_at"`  // latest claim of the current run; nil before it
	FinishedAt      *time.Time `db:"finished_at"` // when it ended COMPLETED, FAILED or CANCELLED
	// Settlements is how many settlement rows the completed run produced;
	// nil unless the job is COMPLETED.
	Settlements *int64 `db:"settlement_count"`
	// CreatedBy is the principal that queued the job (key:<id> or
	// jwt:<sub>); nil for jobs queued without one.
	CreatedBy *string `db:"created_by"`
	// TotalEstimated is true while Total is an estimate rather than the
	// range's exact row count (always false once COMPLETED).
	TotalEstimated bool `db:"total_estimated"`
	// ClaimToken fences the job's current claim: every claim increments it,
	// and every write of a running job names the token of its claim, so a run
	// whose claim was taken over cannot write anymore.
	ClaimToken int64 `db:"claim_token"`
}

// JobKey is a job's place in the order jobs are listed: newest first by
// created_at, then by job_id (both descending). A page's last key is where
// the next page starts.
type JobKey struct {
	CreatedAt time.Time // as stored: microseconds, UTC
	ID        uuid.UUID
}

// Key returns the job's place in the list order.
func (j Job) Key() JobKey { return JobKey{CreatedAt: j.CreatedAt, ID: j.ID} }
