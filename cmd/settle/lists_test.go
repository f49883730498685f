package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

// decodeOne decodes stdout as exactly one JSON value.
func decodeOne(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", stdout)
	}
}

// dataLines returns the table's lines without its header.
func dataLines(stdout string) []string {
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	return lines[1:]
}

func TestJobsListFollowsTheCursor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		rows      int
		pages     []string // the limit of each request
		moreNoted bool
	}{
		{"default", nil, 20, []string{"limit=20"}, true},
		{"limit within a page", []string{"--limit", "7"}, 7, []string{"limit=7"}, true},
		{"limit over pages", []string{"--limit", "250"}, 250, []string{"limit=100", "limit=100", "limit=50"}, true},
		{"limit past the end", []string{"--limit", "1000"}, 260, []string{"limit=100", "limit=100", "limit=100"}, false},
		{"all", []string{"--all"}, 260, []string{"limit=100", "limit=100", "limit=100"}, false},
		{"status", []string{"--status", "failed", "--all"}, 30, []string{"limit=100&status=FAILED"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			api.listed = append(fakeJobs(230, client.JobCompleted), fakeJobs(30, client.JobFailed)...)
			code, stdout, stderr := runCLI(t, t.Context(), append([]string{"--url", api.URL(), "jobs", "list"}, tt.args...)...)
			wantCode(t, code, 0, stdout, stderr)
			if n := len(dataLines(stdout)); n != tt.rows {
				t.Errorf("%d rows, want %d", n, tt.rows)
			}
			queries := api.queries["GET /jobs"]
			if len(queries) != len(tt.pages) {
				t.Fatalf("requests %q, want %d", queries, len(tt.pages))
			}
			for i, q := range queries {
				if !strings.HasPrefix(q, tt.pages[i]) || (i > 0) != strings.Contains(q, "cursor=at") {
					t.Errorf("request %d: %q, want %s and a cursor after the first", i, q, tt.pages[i])
				}
			}
			if noted := strings.Contains(stderr, "more jobs follow"); noted != tt.moreNoted {
				t.Errorf("stderr %q: the note on more jobs is %v, want %v", stderr, noted, tt.moreNoted)
			}
		})
	}
}

func TestJobsListJSONIsOneListWithItsCursor(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.listed = fakeJobs(150, client.JobCompleted)
	for _, tt := range []struct {
		args     []string
		items    int
		wantNext bool
	}{
		{[]string{"--limit", "120"}, 120, true},
		{[]string{"--all"}, 150, false},
	} {
		code, stdout, stderr := runCLI(t, t.Context(), append([]string{"--url", api.URL(), "--json", "jobs", "list"}, tt.args...)...)
		wantCode(t, code, 0, stdout, stderr)
		var list client.JobList
		decodeOne(t, stdout, &list)
		if len(list.Items) != tt.items || (list.NextCursor != nil) != tt.wantNext {
			t.Errorf("%v: %d items, next_cursor %v; want %d and a cursor %v", tt.args, len(list.Items), list.NextCursor, tt.items, tt.wantNext)
		}
		for i, j := range list.Items {
			if j.JobID != api.listed[i].JobID {
				t.Fatalf("%v: item %d is %s, want %s (every job once, in order)", tt.args, i, j.JobID, api.listed[i].JobID)
			}
		}
	}
}

func TestJobsRetry(t *testing.T) {
	t.Parallel()
	failed := newFakeAPI(t, jobState{status: client.JobFailed, processed: 1, total: 2, err: "boom"})
	code, stdout, stderr := runCLI(t, t.Context(), "--url", failed.URL(), "jobs", "retry", fakeJobID.String())
	wantCode(t, code, 0, stdout, stderr)
	for _, want := range []string{"status:", "QUEUED", "attempts:", "0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "queued again") {
		t.Errorf("stderr = %q", stderr)
	}
	if n := failed.called("POST /jobs/" + fakeJobID.String() + "/retry"); n != 1 {
		t.Errorf("retry called %d times", n)
	}

	done := newFakeAPI(t, jobState{status: client.JobCompleted, processed: 2, total: 2})
	code, stdout, stderr = runCLI(t, t.Context(), "--url", done.URL(), "jobs", "retry", fakeJobID.String())
	wantCode(t, code, 1, stdout, stderr)
	if want := "JOB_NOT_RETRYABLE: job " + fakeJobID.String() + " is COMPLETED; only FAILED or CANCELLED jobs can be retried (HTTP 409)"; strings.TrimSpace(stderr) != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	code, stdout, stderr = runCLI(t, t.Context(), "--url", done.URL(), "jobs", "retry", otherID.String())
	wantCode(t, code, 1, stdout, stderr)
	if !strings.Contains(stderr, "JOB_NOT_FOUND") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestSettlementsList(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.settlements = fakeSettlements(31, 40) // 1240 rows

	// The default: one page of 100, with a note that more follow.
	code, stdout, stderr := runCLI(t, t.Context(), "--url", api.URL(), "settlements", "list")
	wantCode(t, code, 0, stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "DATE MERCHANT GROSS_CENTS FEE_CENTS NET_CENTS TXN_COUNT JOB ID GENERATED" {
		t.Errorf("header = %q", lines[0])
	}
	if got := strings.Fields(lines[1]); strings.Join(got, " ") != "2025-01-01 1 1000 30 970 1 "+fakeJobID.String()+" 2025-02-01T00:00:02Z" {
		t.Errorf("first row = %q", got)
	}
	if len(lines) != 101 || !strings.Contains(stderr, "more settlements follow") {
		t.Errorf("%d rows, stderr %q; want 100 and a note", len(lines)-1, stderr)
	}

	// Filters go to the API; --all follows the cursor in pages of 1000.
	code, stdout, stderr = runCLI(t, t.Context(), "--url", api.URL(), "settlements", "list",
		"--from", "2025-01-03", "--to", "2025-01-05", "--merchant", "7", "--all")
	wantCode(t, code, 0, stdout, stderr)
	if rows := dataLines(stdout); len(rows) != 3 || !strings.HasPrefix(rows[0], "2025-01-03  7 ") {
		t.Errorf("filtered rows = %q", rows)
	}
	if q := api.queries["GET /settlements"]; len(q) != 2 || q[1] != "from=2025-01-03&to=2025-01-05&merchant_id=7&limit=1000" {
		t.Errorf("queries = %q", q)
	}
	code, stdout, stderr = runCLI(t, t.Context(), "--url", api.URL(), "--json", "settlements", "list", "--all")
	wantCode(t, code, 0, stdout, stderr)
	var page client.SettlementPage
	decodeOne(t, stdout, &page)
	if len(page.Items) != 1240 || page.NextCursor != nil || page.Items[1239].Date.String() != "2025-01-31" {
		t.Errorf("--all --json: %d items, next %v", len(page.Items), page.NextCursor)
	}
	code, stdout, stderr = runCLI(t, t.Context(), "--url", api.URL(), "settlements", "list", "--from", "2026-01-01")
	wantCode(t, code, 0, stdout, stderr)
	if strings.TrimSpace(stdout) != "no settlements" {
		t.Errorf("stdout = %q", stdout)
	}
}

// TestJSONErrorsGoToStdout: with --json every error is one error object on
// stdout, the API's own or one of the CLI's codes, and the exit status is
// what it is without --json.
func TestJSONErrorsGoToStdout(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, jobState{status: client.JobCompleted, processed: 2, total: 2})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + l.Addr().String()
	l.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Bad Gateway", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)

	tests := []struct {
		name string
		args []string
		code int
		want string // the error code
	}{
		{"API error", []string{"--json", "--url", api.URL(), "jobs", "get", otherID.String()}, 1, "JOB_NOT_FOUND"},
		{"API conflict", []string{"--url", api.URL(), "jobs", "retry", fakeJobID.String(), "--json"}, 1, "JOB_NOT_RETRYABLE"},
		{"bad argument", []string{"--json", "--url", api.URL(), "jobs", "get", "42"}, 2, "USAGE"},
		{"unknown flag before --json", []string{"--url", api.URL(), "jobs", "list", "--bogus", "--json"}, 2, "USAGE"},
		{"unknown command", []string{"--json", "reports", "list"}, 2, "USAGE"},
		{"unreachable", []string{"--json", "--url", nobody, "settlements", "list"}, 1, "UNREACHABLE"},
		{"not the API", []string{"--json=true", "--url", proxy.URL, "jobs", "list"}, 1, "UNEXPECTED_RESPONSE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, t.Context(), tt.args...)
			wantCode(t, code, tt.code, stdout, stderr)
			var e errorObject
			decodeOne(t, stdout, &e)
			if e.Error.Code != tt.want || e.Error.Message == "" {
				t.Errorf("stdout = %s, want an error object with code %s", stdout, tt.want)
			}
			if stderr == "" {
				t.Error("stderr is empty; the human message belongs there too")
			}
		})
	}
	// Without --json (or with --json=false) stdout stays empty.
	for _, args := range [][]string{
		{"--url", api.URL(), "jobs", "get", otherID.String()},
		{"--json=false", "--url", api.URL(), "jobs", "get", otherID.String()},
	} {
		code, stdout, stderr := runCLI(t, t.Context(), args...)
		wantCode(t, code, 1, stdout, stderr)
		if stdout != "" {
			t.Errorf("%v: stdout = %q, want nothing", args, stdout)
		}
	}
}

// TestFailedJobWithJSONPrintsOnlyTheJob: a waited-for job that ends FAILED
// is told by its own JSON (exit 1), not by a second, error object.
func TestFailedJobWithJSONPrintsOnlyTheJob(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, jobState{status: client.JobQueued}, jobState{status: client.JobFailed, err: "settlement directory is not writable"})
	code, stdout, stderr := runCLI(t, t.Context(), "--json", "--url", api.URL(), "jobs", "create", "--from", "2025-01-01", "--to", "2025-01-02", "--wait")
	wantCode(t, code, 1, stdout, stderr)
	var job client.Job
	decodeOne(t, stdout, &job)
	if job.Status != client.JobFailed || job.Error == nil {
		t.Errorf("stdout = %s, want the FAILED job", stdout)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		code, stdout, stderr := runCLI(t, t.Context(), args...)
		wantCode(t, code, 0, stdout, stderr)
		if !strings.HasPrefix(stdout, "settle ") || !strings.HasSuffix(stdout, ", "+runtime.Version()+")\n") || stderr != "" {
			t.Errorf("%v: stdout %q, stderr %q; want settle VERSION (REVISION, %s)", args, stdout, stderr, runtime.Version())
		}
	}
}
