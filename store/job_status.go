package store

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ordersettle/ordersettle/domain"
)

// JobStatus is the state of a settlement job (domain.JobStatus). The jobs table's
// jobs_status_check constraint allows exactly the values of JobStatuses, and
// the SQL of this package names them only through the constants (see jobSQL).
type JobStatus = domain.JobStatus

// The states of a job (domain's).
const (
	JobQueued    = domain.JobQueued
	JobRunning   = domain.JobRunning
	JobCompleted = domain.JobCompleted
	JobFailed    = domain.JobFailed
	JobCancelled = domain.JobCancelled
)

// JobStatuses returns every job status, in lifecycle order.
func JobStatuses() []JobStatus { return domain.JobStatuses() }

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
