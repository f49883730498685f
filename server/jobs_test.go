package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/store"
)

func date(s string) openapi_types.Date {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return openapi_types.Date{Time: t}
}

// seedTransactions inserts a few transactions straight into the database.
func seedTransactions(t *testing.T, h *harness) {
	t.Helper()
	_, err := h.store.DB().Exec(`
		INSERT INTO transactions (merchant_id, amount_cents, fee_cents, status, paid_at) VALUES
			(1, 1000, 30, 'PAID',     '2025-01-01 00:00:00'),
			(1, 2000, 60, 'PAID',     '2025-01-01 23:59:59.999999'),
			(2,  500, 15, 'PAID',     '2025-01-02 10:00:00'),
			(2,  700, 20, 'REFUNDED', '2025-01-02 11:00:00'),
			(3,  900, 25, 'PAID',     '2025-01-03 00:00:00')`)
	if err != nil {
		t.Fatal(err)
	}
}

// waitJobStatus polls GET /jobs/{id} until the job is final.
func waitJobStatus(t *testing.T, h *harness, id uuid.UUID) client.Job {
	t.Helper()
	var job client.Job
	testkit.Eventually(t, fmt.Sprintf("job %s to finish", id), 30*time.Second, func() bool {
		resp, err := h.client.GetJobWithResponse(context.Background(), id)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("get job: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
		}
		job = *resp.JSON200
		return job.Status == client.JobCompleted || job.Status == client.JobFailed || job.Status == client.JobCancelled
	})
	return job
}

// TestSettlementJobLifecycle: create (202 + Location), get, list, download.
func TestSettlementJobLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedTransactions(t, h)
	ctx := context.Background()

	created, err := h.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: date("2025-01-01"), To: date("2025-01-02")})
	if err != nil || created.JSON202 == nil {
		t.Fatalf("create: %v, status %d: %s", err, created.StatusCode(), created.Body)
	}
	job := *created.JSON202
	if job.Status != client.JobQueued || job.Progress != 0 || job.Total != 0 || job.DownloadURL != nil {
		t.Errorf("new job = %+v", job)
	}
	if loc := created.HTTPResponse.Header.Get("Location"); loc != "/jobs/"+job.JobID.String() {
		t.Errorf("Location = %q", loc)
	}

	done := waitJobStatus(t, h, job.JobID)
	if done.Status != client.JobCompleted || done.Progress != 100 || done.Total != 4 || done.Processed != 4 ||
		done.DownloadURL == nil || *done.DownloadURL != "/downloads/"+job.JobID.String()+".csv" || done.Error != nil {
		t.Fatalf("completed job = %+v", done)
	}
	if done.From.String() != "2025-01-01" || done.To.String() != "2025-01-02" {
		t.Errorf("from/to = %s/%s", done.From, done.To)
	}

	dl, err := h.client.DownloadSettlementCSVWithResponse(ctx, job.JobID, nil)
	if err != nil || dl.StatusCode() != http.StatusOK {
		t.Fatalf("download: %v, status %d: %s", err, dl.StatusCode(), dl.Body)
	}
	want := "merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n" +
		"1,2025-01-01,3000,90,2910,2\n" +
		"2,2025-01-02,500,15,485,1\n"
	if string(dl.Body) != want {
		t.Errorf("CSV =\n%s\nwant\n%s", dl.Body, want)
	}
	if ct := dl.HTTPResponse.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := dl.HTTPResponse.Header.Get("Content-Disposition"); cd != `attachment; filename="settlement-`+job.JobID.String()+`.csv"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	sum := sha256.Sum256([]byte(want))
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	if got := dl.HTTPResponse.Header.Get("ETag"); got != etag {
		t.Errorf("ETag = %q, want %q (strong, the SHA-256)", got, etag)
	}
	if done.TotalEstimated {
		t.Error("a COMPLETED job's total is estimated")
	}

	// If-None-Match: 304 without a body for a matching tag (or *), 200
	// otherwise.
	for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
		resp, err := h.client.DownloadSettlementCSVWithResponse(ctx, job.JobID, &client.DownloadSettlementCSVParams{IfNoneMatch: &inm})
		if err != nil || resp.StatusCode() != http.StatusNotModified || len(resp.Body) != 0 || resp.HTTPResponse.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %v, status %d, ETag %q, body %q", inm, err, resp.StatusCode(), resp.HTTPResponse.Header.Get("ETag"), resp.Body)
		}
	}
	stale := `"stale"`
	if resp, err := h.client.DownloadSettlementCSVWithResponse(ctx, job.JobID, &client.DownloadSettlementCSVParams{IfNoneMatch: &stale}); err != nil || string(resp.Body) != want {
		t.Errorf("If-None-Match of another version: %v, status %d", err, resp.StatusCode())
	}

	if status, b := h.do(http.MethodHead, "/downloads/"+job.JobID.String()+".csv", nil, map[string]string{"If-None-Match": etag}); status != http.StatusNotModified || len(b) != 0 {
		t.Errorf("HEAD with a matching If-None-Match: %d %q, want 304", status, b)
	}

	// HEAD: GET's status and headers, no body.
	head, err := h.client.HeadSettlementCSV(ctx, job.JobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	headBody, _ := io.ReadAll(head.Body)
	_ = head.Body.Close()
	if head.StatusCode != http.StatusOK || len(headBody) != 0 || head.Header.Get("ETag") != etag ||
		head.Header.Get("Content-Length") != strconv.Itoa(len(want)) ||
		head.Header.Get("Content-Disposition") != dl.HTTPResponse.Header.Get("Content-Disposition") ||
		!strings.HasPrefix(head.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("HEAD: %d, headers %v, body %q", head.StatusCode, head.Header, headBody)
	}

	list, err := h.client.ListJobsWithResponse(ctx, &client.ListJobsParams{})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].JobID != job.JobID {
		t.Fatalf("list: %v, status %d: %s", err, list.StatusCode(), list.Body)
	}
}

// TestListJobs: newest first, limit, status filter, bad status.
func TestListJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	var ids []uuid.UUID
	for _, d := range []string{"2030-01-01", "2030-01-02", "2030-01-03"} {
		resp, err := h.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: date(d), To: date(d)})
		if err != nil || resp.JSON202 == nil {
			t.Fatalf("create: %v %s", err, resp.Body)
		}
		ids = append(ids, resp.JSON202.JobID)
	}
	for _, id := range ids {
		waitJobStatus(t, h, id)
	}
	two := int32(2)
	list, err := h.client.ListJobsWithResponse(ctx, &client.ListJobsParams{Limit: &two})
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	if got := list.JSON200.Items; len(got) != 2 || got[0].JobID != ids[2] || got[1].JobID != ids[1] {
		t.Errorf("newest two = %v, want %v, %v", got, ids[2], ids[1])
	}
	completed, failed := client.JobCompleted, client.JobFailed
	list, _ = h.client.ListJobsWithResponse(ctx, &client.ListJobsParams{Status: &completed})
	if list.JSON200 == nil || len(list.JSON200.Items) != 3 {
		t.Errorf("COMPLETED jobs: %s", list.Body)
	}
	list, _ = h.client.ListJobsWithResponse(ctx, &client.ListJobsParams{Status: &failed})
	if list.JSON200 == nil || len(list.JSON200.Items) != 0 {
		t.Errorf("FAILED jobs: %s", list.Body)
	}
	for _, q := range []string{"status=DONE", "status=queued", "limit=0", "limit=101", "limit=x"} {
		status, body := h.do(http.MethodGet, "/jobs?"+q, nil, nil)
		wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest)
	}
}

// TestJobErrors: the 400/404/409/410 answers of the job endpoints.
func TestJobErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedTransactions(t, h)
	ctx := context.Background()
	json := map[string]string{"Content-Type": "application/json"}
	unknown := uuid.New()

	for name, body := range map[string]string{
		"to before from": `{"from":"2025-01-02","to":"2025-01-01"}`,
		"no such day":    `{"from":"2025-02-30","to":"2025-03-01"}`,
		"not a date":     `{"from":"yesterday","to":"2025-03-01"}`,
		"datetime":       `{"from":"2025-01-01T00:00:00Z","to":"2025-03-01"}`,
		"missing to":     `{"from":"2025-01-01"}`,
		"unknown field":  `{"from":"2025-01-01","to":"2025-01-02","merchant":1}`,
		"malformed":      `{"from":`,
	} {
		status, b := h.do(http.MethodPost, "/jobs/settlement", strings.NewReader(body), json)
		t.Run(name, func(t *testing.T) { wantError(t, status, b, http.StatusBadRequest, client.CodeBadRequest) })
	}
	status, b := h.do(http.MethodPost, "/jobs/settlement", strings.NewReader(`{"from":"2025-01-01","to":"2025-01-02","pad":"`+strings.Repeat("x", 1<<20)+`"}`), json)
	wantError(t, status, b, http.StatusRequestEntityTooLarge, client.CodePayloadTooLarge)

	// HEAD of a download: GET's status, no body.
	if status, b := h.do(http.MethodHead, "/downloads/nope.csv", nil, nil); status != http.StatusBadRequest || len(b) != 0 {
		t.Errorf("HEAD of a bad id: %d %q", status, b)
	}
	if status, b := h.do(http.MethodHead, "/downloads/"+unknown.String()+".csv", nil, nil); status != http.StatusNotFound || len(b) != 0 {
		t.Errorf("HEAD of an unknown job: %d %q", status, b)
	}
	for _, path := range []string{"/jobs/nope", "/jobs/nope/cancel", "/downloads/nope.csv"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "/cancel") {
			method = http.MethodPost
		}
		status, b := h.do(method, path, nil, nil)
		wantError(t, status, b, http.StatusBadRequest, client.CodeBadRequest)
	}
	for _, path := range []string{"/jobs/" + unknown.String(), "/downloads/" + unknown.String() + ".csv"} {
		status, b := h.do(http.MethodGet, path, nil, nil)
		wantError(t, status, b, http.StatusNotFound, client.CodeJobNotFound)
	}
	status, b = h.do(http.MethodPost, "/jobs/"+unknown.String()+"/cancel", nil, nil)
	wantError(t, status, b, http.StatusNotFound, client.CodeJobNotFound)
	// Without the .csv suffix the download path does not exist.
	status, b = h.do(http.MethodGet, "/downloads/"+unknown.String(), nil, nil)
	wantError(t, status, b, http.StatusNotFound, client.CodeNotFound)

	// A completed job: not cancellable; its file can vanish (410).
	created, _ := h.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: date("2025-01-01"), To: date("2025-01-03")})
	id := created.JSON202.JobID
	waitJobStatus(t, h, id)
	status, b = h.do(http.MethodPost, "/jobs/"+id.String()+"/cancel", nil, nil)
	wantError(t, status, b, http.StatusConflict, client.CodeJobNotCancellable)
	// Retention removes its result: 410, for GET and HEAD.
	if _, err := h.store.PurgeResults(ctx, 0); err != nil {
		t.Fatal(err)
	}
	status, b = h.do(http.MethodGet, "/downloads/"+id.String()+".csv", nil, nil)
	wantError(t, status, b, http.StatusGone, client.CodeFileGone)
	if status, b = h.do(http.MethodHead, "/downloads/"+id.String()+".csv", nil, nil); status != http.StatusGone || len(b) != 0 {
		t.Errorf("HEAD of a purged result: %d %q", status, b)
	}
}

// TestCancelJobOverHTTP: a queued job is CANCELLED at once and its file is
// never ready; cancelling again is a no-op 202.
func TestCancelJobOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	// Keep the engine busy: its first job blocks on a table lock, and the
	// engine runs at most MaxJobs (2) at once.
	tx, err := h.store.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.Exec(`LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var jobs []uuid.UUID
	for range 3 {
		resp, err := h.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: date("2025-01-01"), To: date("2025-01-01")})
		if err != nil || resp.JSON202 == nil {
			t.Fatalf("create: %v %s", err, resp.Body)
		}
		jobs = append(jobs, resp.JSON202.JobID)
	}
	// Wait until two run; the third stays QUEUED.
	var queued, running uuid.UUID
	deadline := time.Now().Add(10 * time.Second)
	for queued == uuid.Nil || running == uuid.Nil {
		if time.Now().After(deadline) {
			t.Fatal("jobs did not reach RUNNING/QUEUED")
		}
		queued, running = uuid.Nil, uuid.Nil
		n := 0
		for _, id := range jobs {
			r, _ := h.client.GetJobWithResponse(ctx, id)
			switch r.JSON200.Status {
			case client.JobRunning:
				running, n = id, n+1
			case client.JobQueued:
				queued = id
			}
		}
		if n < 2 {
			queued = uuid.Nil
		}
		time.Sleep(20 * time.Millisecond)
	}

	status, b := h.do(http.MethodGet, "/downloads/"+queued.String()+".csv", nil, nil)
	wantError(t, status, b, http.StatusNotFound, client.CodeFileNotReady)

	resp, err := h.client.CancelJobWithResponse(ctx, queued)
	if err != nil || resp.JSON202 == nil || resp.JSON202.Status != client.JobCancelled {
		t.Fatalf("cancel queued: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	resp, err = h.client.CancelJobWithResponse(ctx, queued)
	if err != nil || resp.JSON202 == nil || resp.JSON202.Status != client.JobCancelled {
		t.Fatalf("cancel again: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}

	started := time.Now()
	resp, err = h.client.CancelJobWithResponse(ctx, running)
	if err != nil || resp.JSON202 == nil || resp.JSON202.Status != client.JobRunning {
		t.Fatalf("cancel running: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	if end := waitJobStatus(t, h, running); end.Status != client.JobCancelled {
		t.Fatalf("running job ended %s", end.Status)
	}
	if took := time.Since(started); took > 2*time.Second {
		t.Errorf("cancelling a running job took %v", took)
	}
	status, b = h.do(http.MethodGet, "/downloads/"+running.String()+".csv", nil, nil)
	wantError(t, status, b, http.StatusNotFound, client.CodeFileNotReady)
}

// TestJobEndpointsFailCleanly: 503 when the database is unreachable, 500
// (leaking nothing) when it answers with an unexpected error.
func TestJobEndpointsFailCleanly(t *testing.T) {
	t.Parallel()
	id := uuid.New().String()
	calls := []struct{ method, path, body string }{
		{http.MethodPost, "/jobs/settlement", `{"from":"2025-01-01","to":"2025-01-02"}`},
		{http.MethodGet, "/jobs", ""},
		{http.MethodGet, "/jobs/" + id, ""},
		{http.MethodPost, "/jobs/" + id + "/cancel", ""},
		{http.MethodPost, "/jobs/" + id + "/retry", ""},
		{http.MethodGet, "/downloads/" + id + ".csv", ""},
		{http.MethodGet, "/settlements", ""},
	}
	send := func(h *harness, wantStatus int, wantCode client.ErrorCode) {
		for _, c := range calls {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			status, b := h.do(c.method, c.path, body, map[string]string{"Content-Type": "application/json"})
			t.Run(c.method+" "+c.path, func(t *testing.T) { wantError(t, status, b, wantStatus, wantCode) })
		}
		// HEAD answers GET's status without a body.
		if status, b := h.do(http.MethodHead, "/downloads/"+id+".csv", nil, nil); status != wantStatus || len(b) != 0 {
			t.Errorf("HEAD /downloads: %d %q, want %d without a body", status, b, wantStatus)
		}
	}

	down := newHarnessWithStore(t, store.New(sqlx.MustOpen("postgres",
		"postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")))
	send(down, http.StatusServiceUnavailable, client.CodeUnavailable)

	broken := newHarness(t)
	if _, err := broken.store.DB().Exec(`DROP TABLE jobs, settlements CASCADE`); err != nil {
		t.Fatal(err)
	}
	send(broken, http.StatusInternalServerError, client.CodeInternal)
}

// TestTwoServersServeTheSameCSV: two servers on one database, with no
// settlement directory at all, each run a job; both serve both CSVs, byte
// for byte the same, with the same ETag — also after the engine that ran a
// job has stopped.
func TestTwoServersServeTheSameCSV(t *testing.T) {
	t.Parallel()
	a := newHarness(t)
	seedTransactions(t, a)
	ctx := context.Background()
	submit := func(h *harness, from, to string) uuid.UUID {
		t.Helper()
		resp, err := h.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: date(from), To: date(to)})
		if err != nil || resp.JSON202 == nil {
			t.Fatalf("create: %v", err)
		}
		if j := waitJobStatus(t, h, resp.JSON202.JobID); j.Status != client.JobCompleted {
			t.Fatalf("job ended %s", j.Status)
		}
		return resp.JSON202.JobID
	}
	ranByA := submit(a, "2025-01-01", "2025-01-03") // A's engine is the only one
	a.stopEngine()
	st, err := store.Open(ctx, a.dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	b := newHarnessWithStore(t, st)
	ranByB := submit(b, "2025-01-02", "2025-01-03") // now B's is

	for _, id := range []uuid.UUID{ranByA, ranByB} {
		var bodies [2][]byte
		var etags [2]string
		for i, h := range []*harness{a, b} {
			dl, err := h.client.DownloadSettlementCSVWithResponse(ctx, id, nil)
			if err != nil || dl.StatusCode() != http.StatusOK {
				t.Fatalf("server %d, job %s: %v, status %d: %s", i, id, err, dl.StatusCode(), dl.Body)
			}
			bodies[i], etags[i] = dl.Body, dl.HTTPResponse.Header.Get("ETag")
		}
		if string(bodies[0]) != string(bodies[1]) || etags[0] != etags[1] || etags[0] == "" {
			t.Fatalf("job %s: the servers differ:\n%s (%s)\n%s (%s)", id, bodies[0], etags[0], bodies[1], etags[1])
		}
		if !strings.HasPrefix(string(bodies[0]), "merchant_id,date,") {
			t.Fatalf("job %s: not a settlement CSV: %q", id, bodies[0])
		}
	}
}
