package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/gen/client"
)

// The ids the fake knows; every other id is not found.
var (
	fakeJobID   = uuid.MustParse("5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a")
	fakeOrderID = uuid.MustParse("3f1c2b9e-8d4a-4f6b-9c1d-2e5a7b8c9d0e")
	otherID     = uuid.MustParse("00000000-0000-4000-8000-000000000001")
)

// fakeCSV is the settlement file the fake serves for a COMPLETED job.
const fakeCSV = "merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n" +
	"1,2025-01-01,1250000,36550,1213450,97\n" +
	"2,2025-01-01,990,29,961,1\n"

func init() {
	// kin-openapi checks format: uuid only once a validator is defined.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return errors.New("not a UUID")
		}
		return nil
	}))
}

// jobState is one state of the fake's job, as GET /jobs/{id} shows it.
type jobState struct {
	status    client.JobStatus
	processed int64
	total     int64
	err       string // the job's error when FAILED
}

// fakeAPI fakes the few endpoints the CLI calls, with one settlement job whose
// states are scripted, and checks every request and every response it gives
// against the OpenAPI spec, so that the canned answers are the contract's.
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	router routers.Router

	mu sync.Mutex
	// states are what successive GET /jobs/{id} answer; the last repeats.
	states []jobState
	gets   int
	// onGet, if set, runs before the nth (0-based) GET /jobs/{id} is answered.
	onGet func(n int)
	// unavailable is how many GET /jobs/{id} answer 503 before the script runs.
	unavailable int
	// cancelled is set by POST /jobs/{id}/cancel; GETs then answer CANCELLED.
	cancelled bool
	// truncateCSV makes the download break off half way.
	truncateCSV bool
	// calls lists the requests received, as "METHOD /path".
	calls []string
	// bodies holds the request bodies received, by "METHOD /path".
	bodies map[string][]byte
	// headers holds the request headers received, by "METHOD /path".
	headers map[string]http.Header
	// queries holds the query strings received, by "METHOD /path", in order.
	queries map[string][]string
	// authorizations lists the Authorization header of each request, in
	// the order of calls ("" when absent).
	authorizations []string
	// deny, if set, answers a request before its handler: the status (401,
	// 403 or 429) and message of the error, or 0 to let it through.
	deny func(r *http.Request) (status int, message string)
	// retryAfter is the Retry-After of a 429 from deny ("7" when empty).
	retryAfter string
	// listed, if set, is what GET /jobs pages through instead of the one job.
	listed []client.Job
	// settlements is what GET /settlements pages through.
	settlements []client.Settlement
}

func newFakeAPI(t *testing.T, states ...jobState) *fakeAPI {
	t.Helper()
	doc, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) == 0 {
		states = []jobState{{status: client.JobQueued}}
	}
	f := &fakeAPI{t: t, router: router, states: states, bodies: map[string][]byte{}, headers: map[string]http.Header{}, queries: map[string][]string{}}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /jobs/settlement", f.createJob)
	mux.HandleFunc("GET /jobs", f.listJobs)
	mux.HandleFunc("GET /jobs/{id}", f.getJob)
	mux.HandleFunc("POST /jobs/{id}/cancel", f.cancelJob)
	mux.HandleFunc("POST /jobs/{id}/retry", f.retryJob)
	mux.HandleFunc("GET /settlements", f.listSettlements)
	mux.HandleFunc("GET /downloads/{file}", f.download)
	mux.HandleFunc("POST /orders", f.createOrder)
	mux.HandleFunc("GET /orders/{id}", f.getOrder)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, client.CodeNotFound, "no route "+r.URL.Path)
	})
	f.srv = httptest.NewServer(f.validate(mux))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL.
func (f *fakeAPI) URL() string { return f.srv.URL }

// Calls returns the requests received so far.
func (f *fakeAPI) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Authorizations returns the Authorization header of each request so far.
func (f *fakeAPI) Authorizations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.authorizations...)
}

// requireToken makes the fake answer 401 to every request that does not
// carry "Authorization: Bearer token".
func (f *fakeAPI) requireToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deny = func(r *http.Request) (int, string) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			return http.StatusUnauthorized, "the API key is unknown, revoked or expired; send Authorization: Bearer <token> with a valid key"
		}
		return 0, ""
	}
}

// called reports how many requests matched "METHOD /path".
func (f *fakeAPI) called(call string) int {
	n := 0
	for _, c := range f.Calls() {
		if c == call {
			n++
		}
	}
	return n
}

// validate records each request and checks it and its response against the spec.
func (f *fakeAPI) validate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(r.Body)
			body = buf.Bytes()
			r.Body.Close()
		}
		key := r.Method + " " + r.URL.Path
		f.mu.Lock()
		f.calls = append(f.calls, key)
		f.bodies[key] = body
		f.headers[key] = r.Header.Clone()
		f.queries[key] = append(f.queries[key], r.URL.RawQuery)
		f.authorizations = append(f.authorizations, r.Header.Get("Authorization"))
		deny, retryAfter := f.deny, cmp.Or(f.retryAfter, "7")
		f.mu.Unlock()

		route, params, err := f.router.FindRoute(r)
		if err != nil {
			f.t.Errorf("the CLI sent %s, which is not in the spec: %v", key, err)
			writeErr(w, http.StatusNotFound, client.CodeNotFound, "not in spec")
			return
		}
		in := &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			f.t.Errorf("the CLI sent %s, which breaks the contract: %v\nbody: %s", key, err, body)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-ID", "fake-request-id") // like the real server, on every response
		status, msg := 0, ""
		if deny != nil {
			status, msg = deny(r)
		}
		switch status {
		case 0:
			next.ServeHTTP(rec, r)
		case http.StatusUnauthorized:
			challenge := `Bearer realm="ordersettle"`
			if r.Header.Get("Authorization") != "" {
				challenge += `, error="invalid_token"`
			}
			rec.Header().Set("WWW-Authenticate", challenge)
			writeErr(rec, status, client.CodeUnauthenticated, msg)
		case http.StatusForbidden:
			writeErr(rec, status, client.CodeForbidden, msg)
		case http.StatusTooManyRequests:
			rec.Header().Set("Retry-After", retryAfter)
			writeErr(rec, status, client.CodeRateLimited, msg)
		default:
			f.t.Fatalf("deny answered %d", status)
		}
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 rec.Code,
			Header:                 rec.Header(),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true},
		}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			f.t.Errorf("the fake answered %s with %d, which breaks the contract: %v\nbody: %s", key, rec.Code, err, rec.Body)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// job returns the job as it is after n GETs.
func (f *fakeAPI) job(n int) client.Job {
	st := f.states[min(n, len(f.states)-1)]
	if f.cancelled {
		st.status = client.JobCancelled
	}
	created := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	j := client.Job{
		JobID:     fakeJobID,
		Status:    st.status,
		Processed: st.processed,
		Total:     st.total,
		From:      openapi_types.Date{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		To:        openapi_types.Date{Time: time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)},
		CreatedAt: created,
		UpdatedAt: created.Add(time.Duration(n) * time.Second),
	}
	if st.total > 0 {
		j.Progress = 100 * float64(st.processed) / float64(st.total)
	}
	if st.status != client.JobQueued {
		started := created.Add(time.Second)
		j.Attempts, j.StartedAt = 1, &started
	}
	if isFinal(st.status) {
		finished := created.Add(time.Duration(n+1) * time.Second)
		j.FinishedAt = &finished
	}
	switch st.status {
	case client.JobCompleted:
		j.Progress = 100
		u := "/downloads/" + fakeJobID.String() + ".csv"
		j.DownloadURL = &u
		n := int64(2) // the rows of fakeCSV
		j.Settlements = &n
	case client.JobFailed:
		e := st.err
		j.Error = &e
	}
	return j
}

// fakePage pages through items by offset: the cursor is "at:N". It answers
// 400 for a cursor it did not give out.
func fakePage[T any](w http.ResponseWriter, r *http.Request, items []T, defaultLimit int) (page []T, next *string, ok bool) {
	limit := defaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		fmt.Sscan(v, &limit)
	}
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		if _, err := fmt.Sscanf(c, "at:%d", &start); err != nil || start < 0 || start > len(items) {
			writeErr(w, http.StatusBadRequest, client.CodeBadRequest, "query parameter cursor: not a cursor this list gave out")
			return nil, nil, false
		}
	}
	end := min(start+limit, len(items))
	if end < len(items) {
		c := fmt.Sprintf("at:%d", end)
		next = &c
	}
	return items[start:end], next, true
}

// fakeJobs makes n COMPLETED jobs, newest first, all with status st.
func fakeJobs(n int, st client.JobStatus) []client.Job {
	jobs := make([]client.Job, n)
	newest := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range jobs {
		created := newest.Add(-time.Duration(i) * time.Minute)
		jobs[i] = client.Job{
			JobID:     uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint("job", i))),
			Status:    st,
			From:      openapi_types.Date{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
			To:        openapi_types.Date{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
			CreatedAt: created,
			UpdatedAt: created,
		}
	}
	return jobs
}

// fakeSettlements makes a settlement per merchant 1..merchants and day of
// January 2025 from the first to days, ordered by date then merchant.
func fakeSettlements(days, merchants int) []client.Settlement {
	var rows []client.Settlement
	for d := range days {
		for m := 1; m <= merchants; m++ {
			gross := int64(1000*m + d)
			rows = append(rows, client.Settlement{
				MerchantID: int32(m), Date: openapi_types.Date{Time: time.Date(2025, 1, 1+d, 0, 0, 0, 0, time.UTC)},
				GrossCents: gross, FeeCents: 30, NetCents: gross - 30, TxnCount: int64(m),
				JobID: fakeJobID, GeneratedAt: time.Date(2025, 2, 1, 0, 0, 2, 0, time.UTC),
			})
		}
	}
	return rows
}

func (f *fakeAPI) createJob(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	j := f.job(0)
	j.Status, j.Progress, j.Processed, j.Total, j.DownloadURL, j.Error = client.JobQueued, 0, 0, 0, nil, nil
	f.mu.Unlock()
	w.Header().Set("Location", "/jobs/"+fakeJobID.String())
	writeJSON(w, http.StatusAccepted, j)
}

func (f *fakeAPI) listJobs(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	jobs := f.listed
	if jobs == nil {
		jobs = []client.Job{f.job(len(f.states))}
	}
	f.mu.Unlock()
	if st := r.URL.Query().Get("status"); st != "" {
		var kept []client.Job
		for _, j := range jobs {
			if string(j.Status) == st {
				kept = append(kept, j)
			}
		}
		jobs = kept
	}
	page, next, ok := fakePage(w, r, jobs, 20)
	if ok {
		writeJSON(w, http.StatusOK, client.JobList{Items: append([]client.Job{}, page...), NextCursor: next})
	}
}

func (f *fakeAPI) retryJob(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeJobID.String() {
		writeErr(w, http.StatusNotFound, client.CodeJobNotFound, fmt.Sprintf("job %s not found", r.PathValue("id")))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.job(f.gets)
	if j.Status != client.JobFailed && j.Status != client.JobCancelled {
		writeErr(w, http.StatusConflict, client.CodeJobNotRetryable,
			fmt.Sprintf("job %s is %s; only FAILED or CANCELLED jobs can be retried", fakeJobID, j.Status))
		return
	}
	j.Status, j.Attempts, j.Progress, j.Processed, j.Total = client.JobQueued, 0, 0, 0, 0
	j.Error, j.StartedAt, j.FinishedAt = nil, nil, nil
	w.Header().Set("Location", "/jobs/"+fakeJobID.String())
	writeJSON(w, http.StatusAccepted, j)
}

func (f *fakeAPI) listSettlements(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	all := f.settlements
	f.mu.Unlock()
	rows := []client.Settlement{}
	for _, s := range all {
		d := s.Date.String()
		if (q.Get("from") != "" && d < q.Get("from")) || (q.Get("to") != "" && d > q.Get("to")) ||
			(q.Get("merchant_id") != "" && fmt.Sprint(s.MerchantID) != q.Get("merchant_id")) {
			continue
		}
		rows = append(rows, s)
	}
	page, next, ok := fakePage(w, r, rows, 100)
	if ok {
		writeJSON(w, http.StatusOK, client.SettlementPage{Items: append([]client.Settlement{}, page...), NextCursor: next})
	}
}

func (f *fakeAPI) getJob(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeJobID.String() {
		writeErr(w, http.StatusNotFound, client.CodeJobNotFound, fmt.Sprintf("job %s not found", r.PathValue("id")))
		return
	}
	f.mu.Lock()
	if f.unavailable > 0 {
		f.unavailable--
		f.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, client.CodeUnavailable, "the database is unavailable; retry later")
		return
	}
	n := f.gets
	f.gets++
	hook := f.onGet
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	f.mu.Lock()
	j := f.job(n)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
}

func (f *fakeAPI) cancelJob(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeJobID.String() {
		writeErr(w, http.StatusNotFound, client.CodeJobNotFound, fmt.Sprintf("job %s not found", r.PathValue("id")))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.job(f.gets)
	if j.Status == client.JobCompleted || j.Status == client.JobFailed {
		writeErr(w, http.StatusConflict, client.CodeJobNotCancellable,
			fmt.Sprintf("job %s is %s and can no longer be cancelled", fakeJobID, j.Status))
		return
	}
	w.Header().Set("Location", "/jobs/"+fakeJobID.String())
	// A RUNNING job winds down: the answer shows it RUNNING, later GETs CANCELLED.
	f.cancelled = true
	if j.Status == client.JobQueued {
		j.Status = client.JobCancelled
	}
	writeJSON(w, http.StatusAccepted, j)
}

func (f *fakeAPI) download(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file != fakeJobID.String()+".csv" {
		writeErr(w, http.StatusNotFound, client.CodeJobNotFound, "job "+strings.TrimSuffix(file, ".csv")+" not found")
		return
	}
	f.mu.Lock()
	j := f.job(f.gets)
	truncate := f.truncateCSV
	f.mu.Unlock()
	if j.Status != client.JobCompleted {
		writeErr(w, http.StatusNotFound, client.CodeFileNotReady,
			fmt.Sprintf("job %s is %s; the file is ready when it is COMPLETED", fakeJobID, j.Status))
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Disposition", `attachment; filename="settlement-`+fakeJobID.String()+`.csv"`)
	w.Header().Set("ETag", `"fake-etag"`)
	body := fakeCSV
	if truncate {
		// Promise the whole file, send the header line: the connection drops.
		w.Header().Set("Content-Length", fmt.Sprint(len(fakeCSV)))
		body = fakeCSV[:strings.IndexByte(fakeCSV, '\n')+1]
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

func (f *fakeAPI) createOrder(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	body := f.bodies["POST /orders"]
	f.mu.Unlock()
	var in client.NewOrder
	if err := json.Unmarshal(body, &in); err != nil {
		writeErr(w, http.StatusBadRequest, client.CodeBadRequest, "request body: "+err.Error())
		return
	}
	switch in.ProductID {
	case 99:
		writeErr(w, http.StatusNotFound, client.CodeProductNotFound, "product 99 not found")
		return
	case 2:
		writeErr(w, http.StatusConflict, client.CodeOutOfStock, fmt.Sprintf("product 2 has not enough stock for quantity %d", in.Quantity))
		return
	}
	writeJSON(w, http.StatusOK, client.Order{
		ID: fakeOrderID, ProductID: in.ProductID, Quantity: in.Quantity, BuyerID: in.BuyerID,
		TotalAmountCents: int64(in.Quantity) * 12999, Status: client.OrderCompleted,
		CreatedAt: time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC),
	})
}

func (f *fakeAPI) getOrder(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeOrderID.String() {
		writeErr(w, http.StatusNotFound, client.CodeOrderNotFound, fmt.Sprintf("order %s not found", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, client.Order{
		ID: fakeOrderID, ProductID: 1, Quantity: 3, BuyerID: "user-123",
		TotalAmountCents: 38997, Status: client.OrderCompleted,
		CreatedAt: time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code client.ErrorCode, msg string) {
	writeJSON(w, status, client.Error{Error: client.ErrorDetail{Code: code, Message: msg}})
}
