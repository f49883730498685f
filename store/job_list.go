package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ordersettle/ordersettle/domain"
)

// JobKey is a job's place in the order ListJobs returns (domain.JobKey;
// Job.Key gives it).
type JobKey = domain.JobKey

// JobQuery asks ListJobs for one page of jobs.
type JobQuery struct {
	// Status keeps only the jobs in this status; "" means any.
	Status JobStatus
	// After starts the page after this key (exclusive); nil starts at the
	// newest job.
	After *JobKey
	// Limit is the most jobs on the page (at least 1).
	Limit int
}

// ListJobs returns one page of jobs, newest first, and whether more jobs
// follow it. Paging is by key (never OFFSET): a job created while someone
// pages sorts before the page they are on, so it never shows up twice nor
// pushes another job off a page. The jobs indexes on (created_at, job_id)
// and (status, created_at, job_id) serve every page.
func (s *Store) ListJobs(ctx context.Context, q JobQuery) (jobs []Job, more bool, err error) {
	if q.Limit < 1 {
		return nil, false, fmt.Errorf("list jobs: limit %d is below 1", q.Limit)
	}
	query, args := jobListQuery(q)
	jobs = []Job{}
	if err := s.db.SelectContext(ctx, &jobs, query, args...); err != nil {
		return nil, false, fmt.Errorf("list jobs: %w", translate(err))
	}
	if len(jobs) > q.Limit {
		return jobs[:q.Limit], true, nil
	}
	return jobs, false, nil
}

// jobListQuery is the statement of ListJobs: q's page and one row more,
// which tells whether another page follows.
func jobListQuery(q JobQuery) (string, []any) {
	var w where
	if q.Status != "" {
		w.add("status = ?", q.Status)
	}
	if q.After != nil {
		w.add("(created_at, job_id) < (?::timestamp, ?::uuid)", sqlTimestamp(q.After.CreatedAt), q.After.ID)
	}
	limit := w.param(q.Limit + 1)
	return `SELECT ` + jobColumns + ` FROM jobs ` + w.String() + `
		ORDER BY created_at DESC, job_id DESC LIMIT ` + limit, w.args
}

// sqlTimestamp formats t for a TIMESTAMP (without time zone) parameter: its
// UTC wall-clock time to the microsecond, the column's precision.
func sqlTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999")
}
