package store

import (
	"fmt"
	"regexp"
	"strings"
)

// JobStatus is the state of a settlement job. The jobs table's
// jobs_status_check constraint allows exactly the values of JobStatuses, and
// the SQL of this package names them only through the constants (see jobSQL).
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
func (st JobStatus) Valid() bool {
	for _, v := range JobStatuses() {
		if st == v {
			return true
		}
	}
	return false
}

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

// statusLiterals turns each {STATUS} placeholder of a query into the quoted
// SQL literal of that JobStatus constant.
var statusLiterals = func() *strings.Replacer {
	var pairs []string
	for _, st := range JobStatuses() {
		pairs = append(pairs, "{"+string(st)+"}", "'"+string(st)+"'")
	}
	return strings.NewReplacer(pairs...)
}()

// placeholder matches what is left of a {NAME} placeholder after replacement.
var placeholder = regexp.MustCompile(`\{[A-Z_]+\}`)

// jobSQL writes the job statuses into query: `status = {RUNNING}` becomes
// `status = 'RUNNING'`, from the constants, so that the SQL cannot drift from
// them (a literal keeps the partial indexes on status usable). A placeholder
// that names no status is a bug and panics on first use.
func jobSQL(query string) string {
	out := statusLiterals.Replace(query)
	if bad := placeholder.FindString(out); bad != "" {
		panic(fmt.Sprintf("store: %s in a query names no job status", bad))
	}
	return out
}
