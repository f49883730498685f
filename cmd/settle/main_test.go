package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

// runCLI runs the command line args and returns its exit status and output.
func runCLI(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// wantCode fails the test if the exit status is not want, showing the output.
func wantCode(t *testing.T, got, want int, stdout, stderr string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, stdout, stderr)
	}
}

// completing is a job that runs to completion: QUEUED → RUNNING 50% → COMPLETED.
var completing = []jobState{
	{status: client.JobQueued},
	{status: client.JobRunning, processed: 500_000, total: 1_000_000},
	{status: client.JobCompleted, processed: 1_000_000, total: 1_000_000},
}

func TestJobsCreateWithoutWaitPrintsTheJob(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "create", "--url", api.URL(), "--from", "2025-01-01", "--to", "2025-01-31")
	wantCode(t, code, 0, stdout, stderr)
	for _, want := range []string{"job_id:", fakeJobID.String(), "status:", "QUEUED", "from:", "2025-01-01", "to:", "2025-01-31"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if got := api.Calls(); len(got) != 1 || got[0] != "POST /jobs/settlement" {
		t.Errorf("calls = %v, want one POST /jobs/settlement", got)
	}
	var body map[string]string
	if err := json.Unmarshal(api.bodies["POST /jobs/settlement"], &body); err != nil || body["from"] != "2025-01-01" || body["to"] != "2025-01-31" {
		t.Errorf("request body = %s (%v), want from 2025-01-01 and to 2025-01-31", api.bodies["POST /jobs/settlement"], err)
	}
}

func TestJobsCreateWaitOutWritesTheCSV(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, completing...)
	dir := t.TempDir()
	file := filepath.Join(dir, "january.csv")
	code, stdout, stderr := runCLI(t, t.Context(), "--url", api.URL(),
		"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31", "--out", file)
	wantCode(t, code, 0, stdout, stderr)

	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != fakeCSV {
		t.Errorf("file = %q, want %q", got, fakeCSV)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only january.csv (no temp file left)", names)
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode = %v, want 0644", fi.Mode().Perm())
	}
	for _, want := range []string{"COMPLETED: 1,000,000 rows in", "wrote " + file + " (" + itoa(len(fakeCSV)) + " bytes)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	// stderr is not a terminal here: progress comes as plain lines.
	for _, want := range []string{"QUEUED 0.0% 0/0", "COMPLETED 100.0% 1000000/1000000"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks progress line %q:\n%s", want, stderr)
		}
	}
	if n := api.called("GET /jobs/" + fakeJobID.String()); n != 3 {
		t.Errorf("polled %d times, want 3 (QUEUED, RUNNING, COMPLETED)", n)
	}
}

func TestJobsCreateOutDashWritesOnlyTheCSVToStdout(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, completing...)
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "create", "--url", api.URL(),
		"--from", "2025-01-01", "--to", "2025-01-31", "--out", "-")
	wantCode(t, code, 0, stdout, stderr)
	if stdout != fakeCSV {
		t.Errorf("stdout = %q, want exactly the CSV", stdout)
	}
	if !strings.Contains(stderr, "COMPLETED") {
		t.Errorf("stderr lacks the summary:\n%s", stderr)
	}
}

func TestJobsCreateWaitFailedJobExits1WithItsError(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t,
		jobState{status: client.JobQueued},
		jobState{status: client.JobRunning, processed: 10, total: 100},
		jobState{status: client.JobFailed, processed: 10, total: 100, err: "settlement directory is not writable"},
	)
	file := filepath.Join(t.TempDir(), "out.csv")
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "create", "--url", api.URL(),
		"--from", "2025-01-01", "--to", "2025-01-31", "--out", file)
	wantCode(t, code, 1, stdout, stderr)
	if !strings.Contains(stderr, "FAILED: settlement directory is not writable") {
		t.Errorf("stderr lacks the job's error:\n%s", stderr)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed job left %s (err %v)", file, err)
	}
	if n := api.called("GET /downloads/" + fakeJobID.String() + ".csv"); n != 0 {
		t.Errorf("downloaded %d times after the job failed", n)
	}
}

func TestJobsCreateWaitCancelledJobExits1(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, jobState{status: client.JobQueued}, jobState{status: client.JobCancelled})
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "create", "--url", api.URL(),
		"--from", "2025-01-01", "--to", "2025-01-31", "--wait")
	wantCode(t, code, 1, stdout, stderr)
	if !strings.Contains(stderr, "was CANCELLED") {
		t.Errorf("stderr does not say the job was cancelled:\n%s", stderr)
	}
}

func TestWaitRidesOutAnUnavailableServer(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, completing...)
	api.unavailable = 2
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "create", "--url", api.URL(),
		"--from", "2025-01-01", "--to", "2025-01-31", "--wait")
	wantCode(t, code, 0, stdout, stderr)
	if n := api.called("GET /jobs/" + fakeJobID.String()); n != 5 {
		t.Errorf("polled %d times, want 5 (two 503s, then QUEUED, RUNNING, COMPLETED)", n)
	}
}

func TestAPIErrorsPrintCodeMessageAndStatus(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, jobState{status: client.JobRunning, processed: 1, total: 2})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"jobs", "get", otherID.String()}, "JOB_NOT_FOUND: job " + otherID.String() + " not found (HTTP 404)"},
		{[]string{"jobs", "cancel", otherID.String()}, "JOB_NOT_FOUND: job " + otherID.String() + " not found (HTTP 404)"},
		{[]string{"jobs", "download", fakeJobID.String(), "--out", "-"}, "FILE_NOT_READY: job " + fakeJobID.String() + " is RUNNING; the file is ready when it is COMPLETED (HTTP 404)"},
		{[]string{"orders", "get", otherID.String()}, "ORDER_NOT_FOUND: order " + otherID.String() + " not found (HTTP 404)"},
		{[]string{"orders", "create", "--product", "99", "--quantity", "1", "--buyer", "b"}, "PRODUCT_NOT_FOUND: product 99 not found (HTTP 404)"},
		{[]string{"orders", "create", "--product", "2", "--quantity", "3", "--buyer", "b"}, "OUT_OF_STOCK: product 2 has not enough stock for quantity 3 (HTTP 409)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], "_"), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, t.Context(), append(tt.args, "--url", api.URL())...)
			wantCode(t, code, 1, stdout, stderr)
			if strings.TrimSpace(stderr) != tt.want {
				t.Errorf("stderr = %q, want the one line %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestUnreachableServerSaysHowToStartIt(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there now

	for _, args := range [][]string{
		{"jobs", "list"},
		{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-02", "--wait"},
	} {
		code, stdout, stderr := runCLI(t, t.Context(), append(args, "--url", url)...)
		wantCode(t, code, 1, stdout, stderr)
		for _, want := range []string{"not reachable at " + url, "make run", "--url", "ORDERSETTLE_URL"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, stderr)
			}
		}
		if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
			t.Errorf("%v: stderr has %d lines, want one:\n%s", args, n+1, stderr)
		}
	}
}

func TestUsageErrorsExit2BeforeAnyRequest(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad date", []string{"jobs", "create", "--from", "2025-13-01", "--to", "2025-01-31"}, `--from "2025-13-01" is not a date`},
		{"missing date", []string{"jobs", "create", "--from", "2025-01-01"}, "--to is required"},
		{"to before from", []string{"jobs", "create", "--from", "2025-02-01", "--to", "2025-01-31"}, "is before --from"},
		{"out dir missing", []string{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31", "--out", "/nonexistent/dir/x.csv"}, "does not exist"},
		{"json and out dash", []string{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31", "--out", "-", "--json"}, "both write to stdout"},
		{"bad job uuid", []string{"jobs", "get", "not-a-uuid"}, `job ID "not-a-uuid" is not a UUID`},
		{"bad cancel uuid", []string{"jobs", "cancel", "42"}, "is not a UUID"},
		{"bad download uuid", []string{"jobs", "download", "42"}, "is not a UUID"},
		{"bad order uuid", []string{"orders", "get", "42"}, `order ID "42" is not a UUID`},
		{"missing id", []string{"jobs", "get"}, "missing the job ID"},
		{"two ids", []string{"jobs", "get", fakeJobID.String(), otherID.String()}, "want one job ID"},
		{"zero quantity", []string{"orders", "create", "--product", "1", "--quantity", "0", "--buyer", "b"}, "--quantity 0 is out of range"},
		{"negative product", []string{"orders", "create", "--product", "-1", "--quantity", "1", "--buyer", "b"}, "--product -1 is out of range"},
		{"blank buyer", []string{"orders", "create", "--product", "1", "--quantity", "1", "--buyer", "  "}, "--buyer is required and must not be blank"},
		{"empty idempotency key", []string{"orders", "create", "--product", "1", "--quantity", "1", "--buyer", "b", "--idempotency-key", ""}, "--idempotency-key must have 1..255"},
		{"bad status", []string{"jobs", "list", "--status", "DONE"}, `--status "DONE" is not one of`},
		{"non-integer limit", []string{"jobs", "list", "--limit", "ten"}, `invalid value "ten" for flag -limit`},
		{"unknown flag", []string{"jobs", "get", "--verbose", fakeJobID.String()}, "flag provided but not defined: -verbose"},
		{"unknown command", []string{"products", "list"}, `unknown command "products"`},
		{"unknown verb", []string{"jobs", "delete"}, `unknown command "jobs delete"`},
		{"group alone", []string{"orders"}, "orders needs a command: create, get"},
		{"bad url", []string{"jobs", "list", "--url", "localhost:8080"}, "is not an http(s) base URL"},
		{"bad retry uuid", []string{"jobs", "retry", "42"}, `job ID "42" is not a UUID`},
		{"all and limit", []string{"jobs", "list", "--all", "--limit", "5"}, "--all and --limit contradict"},
		{"jobs limit 0", []string{"jobs", "list", "--limit", "0"}, "--limit 0 must be at least 1"},
		{"settlements limit 0", []string{"settlements", "list", "--limit", "0"}, "--limit 0 must be at least 1"},
		{"settlements to before from", []string{"settlements", "list", "--from", "2025-02-01", "--to", "2025-01-31"}, "--to 2025-01-31 is before --from 2025-02-01"},
		{"settlements bad date", []string{"settlements", "list", "--from", "yesterday"}, `--from "yesterday" is not a date`},
		{"settlements bad merchant", []string{"settlements", "list", "--merchant", "0"}, "--merchant 0 is out of range"},
		{"settlements argument", []string{"settlements", "list", "17"}, `unexpected argument "17"`},
		{"unknown top flag", []string{"--verbose", "jobs", "list"}, "flag provided but not defined: -verbose"},
		{"version argument", []string{"version", "now"}, `unexpected argument "now" after version`},
		{"no command", []string{}, "no command given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--url", api.URL()}, tt.args...)
			code, stdout, stderr := runCLI(t, t.Context(), args...)
			wantCode(t, code, 2, stdout, stderr)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
			if !strings.Contains(stderr, "Usage:") {
				t.Errorf("stderr does not show the usage:\n%s", stderr)
			}
		})
	}
	if calls := api.Calls(); len(calls) != 0 {
		t.Errorf("usage errors sent requests: %v", calls)
	}
}

func TestInterruptWhileWaitingCancelsTheJob(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t,
		jobState{status: client.JobQueued},
		jobState{status: client.JobRunning, processed: 100, total: 1000},
	)
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	api.onGet = func(n int) {
		if n == 2 { // the job is RUNNING: press Ctrl-C
			interrupt()
		}
	}
	code, stdout, stderr := runCLI(t, ctx, "jobs", "create", "--url", api.URL(),
		"--from", "2025-01-01", "--to", "2025-01-31", "--out", filepath.Join(t.TempDir(), "x.csv"))
	wantCode(t, code, 130, stdout, stderr)
	if n := api.called("POST /jobs/" + fakeJobID.String() + "/cancel"); n != 1 {
		t.Errorf("cancel endpoint called %d times, want 1; calls: %v", n, api.Calls())
	}
	for _, want := range []string{"interrupted: cancelling job " + fakeJobID.String(), "job " + fakeJobID.String() + " CANCELLED"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestInterruptAfterTheJobFinishedReportsThe409(t *testing.T) {
	t.Parallel()
	// The job completes between the last poll and the cancel.
	api := newFakeAPI(t, jobState{status: client.JobQueued}, jobState{status: client.JobQueued}, jobState{status: client.JobCompleted})
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	api.onGet = func(n int) {
		if n == 1 {
			interrupt()
		}
	}
	code, stdout, stderr := runCLI(t, ctx, "jobs", "create", "--url", api.URL(),
		"--from", "2025-01-01", "--to", "2025-01-31", "--wait")
	wantCode(t, code, 130, stdout, stderr)
	if !strings.Contains(stderr, "JOB_NOT_CANCELLABLE: job "+fakeJobID.String()+" is COMPLETED and can no longer be cancelled (HTTP 409)") {
		t.Errorf("stderr lacks the 409:\n%s", stderr)
	}
}

func TestJSONOutputIsOneJSONObject(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, completing...)
	dir := t.TempDir()
	tests := [][]string{
		{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31"},
		{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31", "--wait"},
		{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31", "--out", filepath.Join(dir, "a.csv")},
		{"jobs", "get", fakeJobID.String()},
		{"jobs", "list", "--status", "completed", "--limit", "5"},
		{"jobs", "download", fakeJobID.String(), "--out", filepath.Join(dir, "b.csv")},
		{"orders", "create", "--product", "1", "--quantity", "3", "--buyer", "user-123", "--idempotency-key", "k-1"},
		{"orders", "get", fakeOrderID.String()},
		{"jobs", "cancel", fakeJobID.String(), "--url", newFakeAPI(t).URL()}, // a QUEUED job
	}
	for _, args := range tests {
		// --json works before the command and after it.
		for _, full := range [][]string{
			append([]string{"--json", "--url", api.URL()}, args...),
			append([]string{"--url", api.URL()}, append(args, "--json")...),
		} {
			code, stdout, stderr := runCLI(t, t.Context(), full...)
			wantCode(t, code, 0, stdout, stderr)
			dec := json.NewDecoder(strings.NewReader(stdout))
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				t.Errorf("%v: stdout is not a JSON object: %v\n%s", full, err, stdout)
				continue
			}
			if _, err := dec.Token(); err != io.EOF {
				t.Errorf("%v: stdout holds more than one JSON value:\n%s", full, stdout)
			}
			if !strings.Contains(stdout, "\n  \"") {
				t.Errorf("%v: JSON is not indented:\n%s", full, stdout)
			}
		}
	}
}

func TestOrdersCreateSendsTheIdempotencyKey(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, t.Context(), "orders", "create", "--url", api.URL(),
		"--product", "1", "--quantity", "3", "--buyer", "user-123", "--idempotency-key", "retry-me")
	wantCode(t, code, 0, stdout, stderr)
	if got := api.headers["POST /orders"].Get("Idempotency-Key"); got != "retry-me" {
		t.Errorf("Idempotency-Key = %q, want retry-me", got)
	}
	for _, want := range []string{"id:", fakeOrderID.String(), "quantity:", "total_amount_cents:", "38997", "completed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestJobsListPrintsATable(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, completing...)
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "list", "--url", api.URL())
	wantCode(t, code, 0, stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and one row:\n%s", stdout)
	}
	header := strings.Fields(lines[0])
	if strings.Join(header, " ") != "JOB ID STATUS PROGRESS FROM TO ATTEMPTS CREATED" {
		t.Errorf("header = %q", lines[0])
	}
	row := strings.Fields(lines[1])
	want := []string{fakeJobID.String(), "COMPLETED", "100.0%", "2025-01-01", "2025-01-31", "1", "2025-02-01T00:00:00Z"}
	if strings.Join(row, " ") != strings.Join(want, " ") {
		t.Errorf("row = %q, want %q", row, want)
	}
	if strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "COMPLETED") {
		t.Errorf("columns are not aligned:\n%s", stdout)
	}
}

func TestJobsDownloadDefaultsToTheServersFileName(t *testing.T) {
	api := newFakeAPI(t, jobState{status: client.JobCompleted, processed: 3, total: 3})
	t.Chdir(t.TempDir())
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "download", fakeJobID.String(), "--url", api.URL())
	wantCode(t, code, 0, stdout, stderr)
	name := "settlement-" + fakeJobID.String() + ".csv"
	got, err := os.ReadFile(name)
	if err != nil || string(got) != fakeCSV {
		t.Errorf("%s = %q (%v), want the CSV", name, got, err)
	}
	if want := "wrote " + name + " (" + itoa(len(fakeCSV)) + " bytes)\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
}

func TestBrokenDownloadLeavesTheOldFileAndNoTempFile(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, jobState{status: client.JobCompleted, processed: 3, total: 3})
	api.truncateCSV = true
	dir := t.TempDir()
	file := filepath.Join(dir, "keep.csv")
	if err := os.WriteFile(file, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "download", fakeJobID.String(), "--out", file, "--url", api.URL())
	wantCode(t, code, 1, stdout, stderr)
	if !strings.Contains(stderr, "download of job "+fakeJobID.String()+" failed") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr)
	}
	if got, _ := os.ReadFile(file); string(got) != "old\n" {
		t.Errorf("the existing file changed to %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only keep.csv", len(entries))
	}
}

func TestURLComesFromTheEnvironment(t *testing.T) {
	api := newFakeAPI(t)
	t.Setenv(urlEnv, api.URL())
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "get", fakeJobID.String())
	wantCode(t, code, 0, stdout, stderr)
	if !strings.Contains(stdout, fakeJobID.String()) {
		t.Errorf("stdout lacks the job:\n%s", stdout)
	}
	// --url wins over the environment.
	code, stdout, stderr = runCLI(t, t.Context(), "jobs", "get", fakeJobID.String(), "--url", "http://127.0.0.1:1")
	wantCode(t, code, 1, stdout, stderr)
}

func TestHelpListsEveryCommandWithAnExample(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, stdout, stderr := runCLI(t, t.Context(), args...)
		wantCode(t, code, 0, stdout, stderr)
		for _, c := range commands {
			if !strings.Contains(stdout, c.name) || !strings.Contains(stdout, "e.g. "+c.example) {
				t.Errorf("%v: usage lacks %q or its example:\n%s", args, c.name, stdout)
			}
		}
	}
	for _, c := range commands {
		words := strings.Fields(c.name)
		for _, args := range [][]string{append(words, "-h"), append([]string{"help"}, words...)} {
			code, stdout, stderr := runCLI(t, t.Context(), args...)
			wantCode(t, code, 0, stdout, stderr)
			if !strings.Contains(stdout, "Usage: settle "+c.name) || !strings.Contains(stdout, "-url") {
				t.Errorf("%v: usage is incomplete:\n%s", args, stdout)
			}
		}
	}
	code, stdout, stderr := runCLI(t, t.Context())
	wantCode(t, code, 2, stdout, stderr)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestAnswersOutsideTheContractAreReportedPlainly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"proxy error page", http.StatusBadGateway, "unexpected response: <html><body>Bad Gateway</body></html> (HTTP 502)"},
		{"some other server", http.StatusOK, "is --url the ordersettle API?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, "<html><body>Bad Gateway</body></html>\n")
			}))
			defer srv.Close()
			code, stdout, stderr := runCLI(t, t.Context(), "jobs", "get", fakeJobID.String(), "--url", srv.URL)
			wantCode(t, code, 1, stdout, stderr)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
		})
	}
}
