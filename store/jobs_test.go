package store_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/store"
)

// statusLiteral matches a job status written into SQL by hand.
var statusLiteral = regexp.MustCompile(`'(QUEUED|RUNNING|COMPLETED|FAILED|CANCELLED)'`)

// TestJobStatusesMatchTheCheckConstraint: the jobs table allows exactly the
// statuses of store.JobStatuses.
func TestJobStatusesMatchTheCheckConstraint(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	var def string
	if err := st.DB().Get(&def, `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'jobs_status_check'`); err != nil {
		t.Fatal(err)
	}
	var inSQL []string
	for _, m := range regexp.MustCompile(`'([A-Z_]+)'`).FindAllStringSubmatch(def, -1) {
		inSQL = append(inSQL, m[1])
	}
	var inGo []string
	for _, s := range store.JobStatuses() {
		inGo = append(inGo, string(s))
	}
	slices.Sort(inSQL)
	slices.Sort(inGo)
	if !slices.Equal(inSQL, inGo) {
		t.Errorf("jobs_status_check allows %v, store.JobStatuses are %v\n(constraint: %s)", inSQL, inGo, def)
	}
	for _, s := range store.JobStatuses() {
		if !s.Valid() {
			t.Errorf("%s is not Valid", s)
		}
	}
	if store.JobStatus("DONE").Valid() || store.JobStatus("queued").Valid() {
		t.Error("an unknown status is Valid")
	}
}

// TestJobQueriesNameStatusesThroughTheConstants: the job queries write
// statuses as {STATUS} placeholders, filled in from the constants.
func TestJobQueriesNameStatusesThroughTheConstants(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"jobs.go", "job_list.go", "jobstats.go", "settlements.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if lits := statusLiteral.FindAllString(string(src), -1); len(lits) > 0 {
			t.Errorf("%s writes statuses into SQL by hand: %v; use {STATUS} placeholders in jobSQL", file, lits)
		}
	}
}

// createJobs inserts n QUEUED jobs in one statement, so that they share one
// created_at and only job_id orders them, and returns their ids in the
// newest-first order of ListJobs.
func createJobs(t *testing.T, st *store.Store, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	err := st.DB().Select(&ids, `INSERT INTO jobs (from_date, to_date, run_after)
		SELECT '2030-01-01', '2030-01-01', now() + interval '1 hour' FROM generate_series(1, $1)
		RETURNING job_id`, n)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return -slices.Compare(a[:], b[:]) })
	return ids
}

// TestListJobsPagesThroughTies: jobs with the same created_at are ordered
// by job_id and every page picks up exactly where the last one ended.
func TestListJobsPagesThroughTies(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	want := createJobs(t, st, 23)

	var got []uuid.UUID
	q := store.JobQuery{Limit: 5}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		jobs, more, err := st.ListJobs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			got = append(got, j.ID)
		}
		if !more {
			if len(jobs) == 0 && pages > 0 {
				t.Error("the page before the last said more would follow, but none did")
			}
			break
		}
		k := jobs[len(jobs)-1].Key()
		q.After = &k
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave\n%v\nwant\n%v", got, want)
	}

	// A status filter pages the same way.
	q = store.JobQuery{Status: store.JobFailed, Limit: 5}
	if jobs, more, err := st.ListJobs(ctx, q); err != nil || len(jobs) != 0 || more {
		t.Errorf("FAILED jobs: %d, more %v, err %v; want none", len(jobs), more, err)
	}
	q.Status = store.JobQueued
	q.Limit = 23
	if jobs, more, err := st.ListJobs(ctx, q); err != nil || len(jobs) != 23 || more {
		t.Errorf("QUEUED jobs with limit 23: %d, more %v, err %v; want 23 and no more", len(jobs), more, err)
	}
}

// setStatus forces a job's status, as the engine would leave it.
func setStatus(t *testing.T, st *store.Store, id uuid.UUID, status store.JobStatus) {
	t.Helper()
	_, err := st.DB().Exec(`UPDATE jobs SET status = $2::text, attempts = 3, error = 'boom',
		started_at = now(), finished_at = now(), processed_count = 5, total_count = 10, progress = 50,
		cancel_requested = $2::text = 'CANCELLED', run_after = now() + interval '1 hour',
		owner = CASE WHEN $2::text = 'RUNNING' THEN 'someone' END,
		lease_expires_at = CASE WHEN $2::text = 'RUNNING' THEN now() + interval '1 hour' END,
		settlement_count = CASE WHEN $2::text = 'COMPLETED' THEN 7 END
		WHERE job_id = $1`, id, status)
	if err != nil {
		t.Fatal(err)
	}
}

// TestRetryJob: FAILED and CANCELLED jobs start over; the others are refused
// with the job as it is.
func TestRetryJob(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	for _, status := range store.JobStatuses() {
		t.Run(string(status), func(t *testing.T) {
			id := createJobs(t, st, 1)[0]
			setStatus(t, st, id, status)
			j, err := st.RetryJob(ctx, id)
			if !status.Retryable() {
				if !errors.Is(err, store.ErrJobNotRetryable) || j.Status != status {
					t.Fatalf("retry of a %s job: %v, job %s; want ErrJobNotRetryable and the job", status, err, j.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.Status != store.JobQueued || j.Attempts != 0 || j.Processed != 0 || j.Total != 0 || j.Progress != 0 ||
				j.Error != nil || j.StartedAt != nil || j.FinishedAt != nil || j.Settlements != nil ||
				j.CancelRequested {
				t.Errorf("retried job = %+v", j)
			}
			if j.UpdatedAt.Before(j.CreatedAt) {
				t.Errorf("updated_at %v before created_at %v", j.UpdatedAt, j.CreatedAt)
			}
			// Runnable at once: the engine can claim it now.
			claimed, ok, err := st.ClaimJob(ctx, "test-engine", time.Minute)
			if err != nil || !ok || claimed.ID != id || claimed.Attempts != 1 {
				t.Errorf("claim after retry: %v, %v, %+v", ok, err, claimed)
			}
		})
	}
	if _, err := st.RetryJob(ctx, uuid.New()); !errors.Is(err, store.ErrJobNotFound) {
		t.Errorf("retry of an unknown job: %v, want ErrJobNotFound", err)
	}
}

// TestConcurrentRetries: of many retries of one FAILED job released at once,
// exactly one wins; the others see it QUEUED.
func TestConcurrentRetries(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	id := createJobs(t, st, 1)[0]
	setStatus(t, st, id, store.JobFailed)

	const n = 16
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = st.RetryJob(ctx, id)
		})
	}
	close(start)
	wg.Wait()
	won, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrJobNotRetryable):
			refused++
		default:
			t.Errorf("retry: %v", err)
		}
	}
	if won != 1 || refused != n-1 {
		t.Errorf("%d retries won and %d were refused, want 1 and %d", won, refused, n-1)
	}
}

// TestRetryRacingCancel: a retry and a cancel of a CANCELLED job, released
// together, leave the job in one of the two orders' outcomes, never a mix.
func TestRetryRacingCancel(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	for range 10 {
		id := createJobs(t, st, 1)[0]
		setStatus(t, st, id, store.JobCancelled)
		start := make(chan struct{})
		var wg sync.WaitGroup
		var retryErr, cancelErr error
		wg.Go(func() { <-start; _, retryErr = st.RetryJob(ctx, id) })
		wg.Go(func() { <-start; _, cancelErr = st.CancelJob(ctx, id) })
		close(start)
		wg.Wait()
		if retryErr != nil || cancelErr != nil {
			t.Fatalf("retry: %v, cancel: %v; both must succeed in either order", retryErr, cancelErr)
		}
		j, err := st.GetJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		switch j.Status {
		case store.JobQueued: // cancel (a no-op) first, then the retry
			if j.CancelRequested || j.FinishedAt != nil {
				t.Errorf("QUEUED after the race but %+v", j)
			}
		case store.JobCancelled: // retry first, then the cancel of the queued job
			if !j.CancelRequested || j.FinishedAt == nil || j.Attempts != 0 {
				t.Errorf("CANCELLED after the race but %+v", j)
			}
		default:
			t.Errorf("status after the race = %s", j.Status)
		}
	}
}

// TestClaimTokenFences: a claim taken over (reaped, then claimed again) can
// no longer heartbeat, end its run or complete; the new claim can.
func TestClaimTokenFences(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	j, err := st.CreateJob(ctx, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "")
	if err != nil {
		t.Fatal(err)
	}
	first, ok, err := st.ClaimJob(ctx, "same-engine", time.Millisecond)
	if err != nil || !ok || first.ID != j.ID {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := st.ReapExpiredJobs(ctx, 3); err != nil {
		t.Fatal(err)
	}
	// The same owner string claims again: only the token tells the runs apart.
	second, ok, err := st.ClaimJob(ctx, "same-engine", time.Minute)
	if err != nil || !ok || second.ClaimToken == first.ClaimToken || second.Attempts != 2 {
		t.Fatalf("second claim: %v %v, tokens %d then %d, attempts %d", ok, err, first.ClaimToken, second.ClaimToken, second.Attempts)
	}
	stale := store.ClaimOf(first)
	if _, err := st.Heartbeat(ctx, stale, store.JobProgress{Processed: 5, Total: 5, Percent: 100}, time.Minute); !errors.Is(err, store.ErrJobLost) {
		t.Errorf("stale heartbeat: %v, want ErrJobLost", err)
	}
	for _, end := range []store.RunEnd{store.EndFailed, store.EndCancelled, store.EndReleased} {
		if _, err := st.EndRun(ctx, stale, end, "stale", 3, 0); !errors.Is(err, store.ErrJobLost) {
			t.Errorf("stale end %d: %v, want ErrJobLost", end, err)
		}
	}
	if _, err := st.BeginCompletion(ctx, stale); !errors.Is(err, store.ErrJobLost) {
		t.Errorf("stale completion: %v, want ErrJobLost", err)
	}
	now, _ := st.GetJob(ctx, j.ID)
	if now.Status != store.JobRunning || now.Processed != 0 || now.Progress != 0 || now.Attempts != 2 {
		t.Fatalf("the stale claim changed the job: %+v", now)
	}
	live := store.ClaimOf(second)
	if _, err := st.Heartbeat(ctx, live, store.JobProgress{Processed: 3, Total: 10, TotalEstimated: true, Percent: 30}, time.Minute); err != nil {
		t.Fatalf("live heartbeat: %v", err)
	}
	// Progress and processed never go back, the total never below processed.
	if _, err := st.Heartbeat(ctx, live, store.JobProgress{Processed: 2, Total: 1, TotalEstimated: true, Percent: 10}, time.Minute); err != nil {
		t.Fatal(err)
	}
	now, _ = st.GetJob(ctx, j.ID)
	if now.Processed != 3 || now.Total != 3 || now.Progress != 30 || !now.TotalEstimated {
		t.Fatalf("after a lower report: processed %d total %d progress %v estimated %v", now.Processed, now.Total, now.Progress, now.TotalEstimated)
	}
	if status, err := st.EndRun(ctx, live, store.EndReleased, "", 3, 0); err != nil || status != store.JobQueued {
		t.Fatalf("live release: %s %v", status, err)
	}
	now, _ = st.GetJob(ctx, j.ID)
	if now.Attempts != 1 || now.Processed != 0 || now.Total != 0 || now.Progress != 0 || !now.TotalEstimated {
		t.Fatalf("released job: %+v", now)
	}
}
