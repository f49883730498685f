package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/store"
)

// insertJob writes a job straight into the database in the given state, as
// an engine elsewhere would have left it: a QUEUED job not runnable for an
// hour, a RUNNING job leased for an hour to another engine, a FAILED job with
// its error. The harness's engine leaves them alone.
func insertJob(t *testing.T, h *harness, status store.JobStatus) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := h.store.DB().Get(&id, `INSERT INTO jobs (from_date, to_date, status, attempts, error,
			started_at, finished_at, processed_count, total_count, progress,
			owner, lease_expires_at, run_after)
		VALUES ('2025-01-01', '2025-01-03', $1::text,
			CASE WHEN $1::text = 'QUEUED' THEN 0 ELSE 3 END,
			CASE WHEN $1::text = 'FAILED' THEN 'attempt 3 of 3 stopped without finishing' END,
			CASE WHEN $1::text <> 'QUEUED' THEN now() - interval '1 minute' END,
			CASE WHEN $1::text IN ('FAILED', 'CANCELLED') THEN now() END,
			2, 4, 50,
			CASE WHEN $1::text = 'RUNNING' THEN 'another-engine' END,
			CASE WHEN $1::text = 'RUNNING' THEN now() + interval '1 hour' END,
			now() + interval '1 hour')
		RETURNING job_id`, status)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// getJob reads a job through the API.
func getJob(t *testing.T, h *harness, id uuid.UUID) client.Job {
	t.Helper()
	resp, err := h.client.GetJobWithResponse(context.Background(), id)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("get job %s: %v, status %d: %s", id, err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// createJob queues a job through the API.
func createJob(t *testing.T, h *harness, from, to string) client.Job {
	t.Helper()
	resp, err := h.client.CreateSettlementJobWithResponse(context.Background(), client.NewSettlementJob{From: date(from), To: date(to)})
	if err != nil || resp.JSON202 == nil {
		t.Fatalf("create job: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON202
}

// TestJobStatusesMatchTheSpec: the store's statuses are the spec's.
func TestJobStatusesMatchTheSpec(t *testing.T) {
	t.Parallel()
	for _, st := range store.JobStatuses() {
		if !client.JobStatus(st).Valid() {
			t.Errorf("store status %s is not in the spec", st)
		}
	}
	for _, st := range []client.JobStatus{client.JobQueued, client.JobRunning, client.JobCompleted, client.JobFailed, client.JobCancelled} {
		if !store.JobStatus(st).Valid() {
			t.Errorf("spec status %s is not a store.JobStatus", st)
		}
	}
}

// TestJobTimesAttemptsAndSettlements: a queued job has no attempts and no
// times; a completed one has one attempt, started_at <= finished_at and the
// number of settlement rows its CSV holds.
func TestJobTimesAttemptsAndSettlements(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedTransactions(t, h)
	queued := createJob(t, h, "2025-01-01", "2025-01-03")
	if queued.Attempts != 0 || queued.StartedAt != nil || queued.FinishedAt != nil || queued.Settlements != nil {
		t.Errorf("new job = %+v; want attempts 0 and no started_at, finished_at or settlements", queued)
	}
	done := waitJobStatus(t, h, queued.JobID)
	if done.Status != client.JobCompleted || done.Attempts != 1 || done.StartedAt == nil || done.FinishedAt == nil {
		t.Fatalf("completed job = %+v", done)
	}
	if done.StartedAt.Before(done.CreatedAt) || done.FinishedAt.Before(*done.StartedAt) {
		t.Errorf("created %v, started %v, finished %v: out of order", done.CreatedAt, *done.StartedAt, *done.FinishedAt)
	}
	csv := h.downloadCSV(queued.JobID)
	if rows := int64(strings.Count(csv, "\n") - 1); done.Settlements == nil || *done.Settlements != rows || rows != 3 {
		t.Errorf("settlements = %v, want the CSV's %d rows (3)", done.Settlements, rows)
	}
	// An empty range completes with 0 settlements.
	empty := waitJobStatus(t, h, createJob(t, h, "2031-01-01", "2031-01-01").JobID)
	if empty.Settlements == nil || *empty.Settlements != 0 {
		t.Errorf("empty range: settlements = %v, want 0", empty.Settlements)
	}
}

// downloadCSV fetches a completed job's CSV.
func (h *harness) downloadCSV(id uuid.UUID) string {
	h.t.Helper()
	dl, err := h.client.DownloadSettlementCSVWithResponse(context.Background(), id, nil)
	if err != nil || dl.StatusCode() != http.StatusOK {
		h.t.Fatalf("download: %v, status %d: %s", err, dl.StatusCode(), dl.Body)
	}
	return string(dl.Body)
}

// TestRetryJob: FAILED and CANCELLED jobs are queued again and run to
// COMPLETED; QUEUED, RUNNING and COMPLETED jobs are 409 JOB_NOT_RETRYABLE
// and unchanged; unknown ids 404, malformed ones 400.
func TestRetryJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedTransactions(t, h)
	ctx := context.Background()

	completed := waitJobStatus(t, h, createJob(t, h, "2025-01-01", "2025-01-03").JobID)
	cancelled := createJob(t, h, "2025-01-01", "2025-01-03")
	// A cancel may come too late (the job completed first); then queue another.
	for {
		resp, err := h.client.CancelJobWithResponse(ctx, cancelled.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() == http.StatusAccepted {
			break
		}
		cancelled = createJob(t, h, "2025-01-01", "2025-01-03")
	}
	if end := waitJobStatus(t, h, cancelled.JobID); end.Status != client.JobCancelled {
		t.Fatalf("cancelled job ended %s", end.Status)
	}

	for _, tc := range []struct {
		status store.JobStatus
		id     uuid.UUID
	}{
		{store.JobFailed, insertJob(t, h, store.JobFailed)},
		{store.JobCancelled, cancelled.JobID},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			resp, err := h.client.RetryJobWithResponse(ctx, tc.id)
			if err != nil || resp.JSON202 == nil {
				t.Fatalf("retry: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
			}
			j := *resp.JSON202
			if j.JobID != tc.id || j.Status != client.JobQueued || j.Attempts != 0 || j.Progress != 0 ||
				j.Processed != 0 || j.Total != 0 || j.Error != nil || j.FinishedAt != nil || j.StartedAt != nil ||
				j.Settlements != nil || j.DownloadURL != nil {
				t.Errorf("retried job = %+v", j)
			}
			if loc := resp.HTTPResponse.Header.Get("Location"); loc != "/jobs/"+tc.id.String() {
				t.Errorf("Location = %q", loc)
			}
			done := waitJobStatus(t, h, tc.id)
			if done.Status != client.JobCompleted || done.Attempts != 1 || done.Settlements == nil || *done.Settlements != 3 {
				t.Fatalf("retried job ended %+v", done)
			}
			want := "merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n" +
				"1,2025-01-01,3000,90,2910,2\n2,2025-01-02,500,15,485,1\n3,2025-01-03,900,25,875,1\n"
			if csv := h.downloadCSV(tc.id); csv != want {
				t.Errorf("CSV of the retried job =\n%s\nwant\n%s", csv, want)
			}
		})
	}

	for _, tc := range []struct {
		status store.JobStatus
		id     uuid.UUID
		hint   string
	}{
		{store.JobQueued, insertJob(t, h, store.JobQueued), "cancel it first"},
		{store.JobRunning, insertJob(t, h, store.JobRunning), "cancel it first"},
		{store.JobCompleted, completed.JobID, "queue a new job"},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			before := getJob(t, h, tc.id)
			status, body := h.do(http.MethodPost, "/jobs/"+tc.id.String()+"/retry", nil, nil)
			wantError(t, status, body, http.StatusConflict, client.CodeJobNotRetryable)
			for _, want := range []string{tc.id.String(), "is " + string(tc.status), "FAILED or CANCELLED", tc.hint} {
				if !strings.Contains(string(body), want) {
					t.Errorf("409 message lacks %q: %s", want, body)
				}
			}
			if after := getJob(t, h, tc.id); after.Status != before.Status || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("a refused retry changed the job: %+v → %+v", before, after)
			}
		})
	}

	status, body := h.do(http.MethodPost, "/jobs/"+uuid.NewString()+"/retry", nil, nil)
	wantError(t, status, body, http.StatusNotFound, client.CodeJobNotFound)
	for _, bad := range []string{"nope", "42", strings.Repeat("a", 36)} {
		status, body := h.do(http.MethodPost, "/jobs/"+bad+"/retry", nil, nil)
		wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest)
	}
	status, body = h.do(http.MethodGet, "/jobs/"+completed.JobID.String()+"/retry", nil, nil)
	wantError(t, status, body, http.StatusMethodNotAllowed, client.CodeMethodNotAllowed)
}

// TestConcurrentRetriesOverHTTP: of many retries of one FAILED job released
// at once, exactly one is 202; the others are 409.
func TestConcurrentRetriesOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := insertJob(t, h, store.JobFailed)
	const n = 12
	start := make(chan struct{})
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := h.client.RetryJobWithResponse(context.Background(), id)
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = resp.StatusCode()
		})
	}
	close(start)
	wg.Wait()
	accepted, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusAccepted:
			accepted++
		case http.StatusConflict:
			conflicts++
		}
	}
	if accepted != 1 || conflicts != n-1 {
		t.Errorf("statuses %v: %d accepted and %d conflicts, want 1 and %d", statuses, accepted, conflicts, n-1)
	}
}

// walkJobs follows next_cursor from the first page of params and returns
// the ids in the order seen. between runs after each page.
func walkJobs(t *testing.T, h *harness, params client.ListJobsParams, between func()) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the walk does not end")
		}
		resp, err := h.client.ListJobsWithResponse(context.Background(), &params)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("list jobs: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
		}
		page := resp.JSON200
		for _, j := range page.Items {
			ids = append(ids, j.JobID)
		}
		if page.NextCursor == nil {
			return ids
		}
		if limit := params.Limit; limit != nil && len(page.Items) != int(*limit) {
			t.Errorf("a page with next_cursor holds %d jobs, not the limit %d", len(page.Items), *limit)
		}
		params.Cursor = page.NextCursor
		if between != nil {
			between()
		}
	}
}

// TestJobCursorWalk: walking GET /jobs page by page sees every job that
// existed when the walk started exactly once, newest first, while new jobs
// keep arriving; next_cursor is absent exactly on the last page.
func TestJobCursorWalk(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var existing []uuid.UUID
	for range 24 {
		existing = append(existing, createJob(t, h, "2031-02-01", "2031-02-01").JobID)
	}
	slices.Reverse(existing) // newest first

	var arrived []uuid.UUID
	limit := int32(6) // 24 jobs: 4 full pages, and the 4th has no next_cursor
	seen := walkJobs(t, h, client.ListJobsParams{Limit: &limit}, func() {
		arrived = append(arrived, createJob(t, h, "2031-02-02", "2031-02-02").JobID)
	})
	if !slices.Equal(seen, existing) {
		t.Errorf("the walk saw %d jobs:\n%v\nwant the %d that existed, newest first:\n%v", len(seen), seen, len(existing), existing)
	}
	if len(arrived) != 3 {
		t.Errorf("%d jobs arrived between pages, want 3 (4 pages)", len(arrived))
	}

	// A fresh walk with the largest page sees them all, new ones first.
	hundred := int32(100)
	all := walkJobs(t, h, client.ListJobsParams{Limit: &hundred}, nil)
	slices.Reverse(arrived)
	if want := append(arrived, existing...); !slices.Equal(all, want) {
		t.Errorf("one page of 100 = %v, want %v", all, want)
	}
}

// TestJobCursorWalkByStatus: the status filter pages with the cursor too,
// through jobs that share created_at.
func TestJobCursorWalkByStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var failed []uuid.UUID
	err := h.store.DB().Select(&failed, `INSERT INTO jobs (from_date, to_date, status, finished_at, error)
		SELECT '2025-01-01', '2025-01-01', CASE WHEN i % 3 = 0 THEN 'CANCELLED' ELSE 'FAILED' END, now(), 'boom'
		FROM generate_series(1, 30) AS i
		RETURNING CASE WHEN status = 'FAILED' THEN job_id END`)
	if err != nil {
		t.Fatal(err)
	}
	failed = slices.DeleteFunc(failed, func(id uuid.UUID) bool { return id == uuid.Nil })
	// One statement: the same created_at, so job_id alone orders them.
	slices.SortFunc(failed, func(a, b uuid.UUID) int { return -strings.Compare(a.String(), b.String()) })

	st, limit := client.JobFailed, int32(7)
	seen := walkJobs(t, h, client.ListJobsParams{Status: &st, Limit: &limit}, nil)
	if !slices.Equal(seen, failed) {
		t.Errorf("FAILED walk = %v\nwant %v", seen, failed)
	}
	for _, id := range seen {
		if j := getJob(t, h, id); j.Status != client.JobFailed {
			t.Errorf("the FAILED walk returned a %s job", j.Status)
		}
	}
}

// TestGarbageCursorsAre400: a cursor that this list did not give out is 400
// BAD_REQUEST naming the cursor, on both lists.
func TestGarbageCursorsAre400(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for range 3 {
		createJob(t, h, "2031-03-01", "2031-03-01")
	}
	one := int32(1)
	jobsPage, err := h.client.ListJobsWithResponse(context.Background(), &client.ListJobsParams{Limit: &one})
	if err != nil || jobsPage.JSON200 == nil || jobsPage.JSON200.NextCursor == nil {
		t.Fatalf("list jobs: %v %s", err, jobsPage.Body)
	}
	jobCursor := *jobsPage.JSON200.NextCursor
	if _, err := h.store.DB().Exec(`INSERT INTO settlements (merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id)
		VALUES (1, '2025-01-01', 10, 1, 9, 1, gen_random_uuid()), (2, '2025-01-01', 10, 1, 9, 1, gen_random_uuid())`); err != nil {
		t.Fatal(err)
	}
	sPage, err := h.client.ListSettlementsWithResponse(context.Background(), &client.ListSettlementsParams{Limit: &one})
	if err != nil || sPage.JSON200 == nil || sPage.JSON200.NextCursor == nil {
		t.Fatalf("list settlements: %v %s", err, sPage.Body)
	}
	settlementCursor := *sPage.JSON200.NextCursor

	garbage := []string{
		"x", "!!!!", "abc=", "%00", strings.Repeat("A", 201), "", // not base64url, too long, empty
		jobCursor[:len(jobCursor)-1], jobCursor + "A", // truncated, extended
		strings.ToUpper(jobCursor[:1]) + jobCursor[1:] + "x",
		"ajEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2", // base64 of text, not a key
		"_________________________________w",   // the right length, the wrong kind
	}
	for _, c := range garbage {
		for _, path := range []string{"/jobs", "/settlements"} {
			status, body := h.do(http.MethodGet, path+"?cursor="+url.QueryEscape(c), nil, nil)
			wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest)
			if !strings.Contains(string(body), "cursor") {
				t.Errorf("GET %s?cursor=%q: the message does not name the cursor: %s", path, c, body)
			}
		}
	}
	// A cursor of one list is refused by the other.
	status, body := h.do(http.MethodGet, "/jobs?cursor="+settlementCursor, nil, nil)
	wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest)
	status, body = h.do(http.MethodGet, "/settlements?cursor="+jobCursor, nil, nil)
	wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest)
	// The real ones work.
	if status, body := h.do(http.MethodGet, "/jobs?cursor="+jobCursor, nil, nil); status != http.StatusOK {
		t.Errorf("the job cursor it gave out: %d %s", status, body)
	}
	if status, body := h.do(http.MethodGet, "/settlements?cursor="+settlementCursor, nil, nil); status != http.StatusOK {
		t.Errorf("the settlement cursor it gave out: %d %s", status, body)
	}
}
