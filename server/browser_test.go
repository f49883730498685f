package server_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen/client"
)

// browserEnv names a Chrome or Chromium binary to use instead of the one on
// PATH.
const browserEnv = "CHROMIUM"

// findBrowser returns the path of a Chromium (or Chrome) binary. Without one
// the test skips, saying how to install it; in CI (CI set) it fails instead,
// since CI installs Chromium and must never skip the browser tests.
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(browserEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found on PATH: install it to run the dashboard's browser tests " +
		"(Debian/Ubuntu: sudo apt-get install chromium), or set " + browserEnv + " to a Chrome or Chromium binary"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is a headless Chromium tab with the page's script errors collected.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string // uncaught exceptions and console.error calls of the page
}

// newBrowser starts a headless Chromium for t, with a fresh profile and
// without any of the browser's own network traffic; it stops when t ends.
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findBrowser(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; its context must not time out.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	b.ctx = ctx
	return b
}

func (b *browser) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "uncaught: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		msg = "console.error: " + strings.Join(parts, " ")
	default:
		return
	}
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// checkNoErrors fails the test if the page threw or logged an error.
func (b *browser) checkNoErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("the page: %s", e)
	}
}

// do runs steps, each bounded by a generous timeout for a loaded machine.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it holds (60 s at most).
func (b *browser) waitFor(what, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 70*time.Second)
	defer cancel()
	// A predicate that throws (a row not there yet) counts as false.
	safe := `(() => { try { return !!(` + predicate + `); } catch (e) { return false; } })()`
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](safe,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		state := eval[string](b, `JSON.stringify({
			rows: [...document.querySelectorAll('#job-rows tr')].map(r => r.dataset.jobId.slice(0, 8) + ' ' + r.dataset.status),
			error: document.getElementById('api-error').textContent,
			summary: document.getElementById('summary').textContent })`)
		b.t.Fatalf("waiting until %s: %v\npage: %s\npredicate: %s", what, err, state, predicate)
	}
}

// shown is a JavaScript predicate: the element with this id is displayed.
func shown(id string) string {
	return `(getComputedStyle(document.getElementById('` + id + `')).display !== 'none')`
}

// row is the JavaScript expression of a job's table row.
func row(id uuid.UUID) string {
	return fmt.Sprintf(`document.querySelector('#job-rows tr[data-job-id="%s"]')`, id)
}

// rowIDs lists the job ids of the table's rows, top to bottom.
func (b *browser) rowIDs() []uuid.UUID {
	b.t.Helper()
	var ids []uuid.UUID
	for _, s := range eval[[]string](b, `[...document.querySelectorAll('#job-rows tr')].map(r => r.dataset.jobId)`) {
		ids = append(ids, uuid.MustParse(s))
	}
	return ids
}

// queueThroughForm fills in the form, submits it and returns the id of the
// job that appears at the top of the table.
func (b *browser) queueThroughForm(from, to string) uuid.UUID {
	b.t.Helper()
	before := map[uuid.UUID]bool{}
	for _, id := range b.rowIDs() {
		before[id] = true
	}
	b.do("fill in and submit the form",
		chromedp.SetValue(chromedp.ID("from"), from),
		chromedp.SetValue(chromedp.ID("to"), to),
		chromedp.Click(chromedp.ID("queue")),
	)
	b.waitFor("the queued job's row appears", fmt.Sprintf(
		`document.querySelector('#job-rows tr') && !%s.includes(document.querySelector('#job-rows tr').dataset.jobId)`,
		mustJSON(b.t, keys(before))))
	top := b.rowIDs()[0]
	if msg := eval[string](b, `document.getElementById('form-message').textContent`); !strings.Contains(msg, top.String()[:8]) {
		b.t.Errorf("the form says %q, not that job %s is queued", msg, top)
	}
	return top
}

// enterToken types token into the dashboard's token form and submits it.
func (b *browser) enterToken(token string) {
	b.t.Helper()
	b.waitFor("the token form is shown", shown("token-form"))
	b.do("enter the token",
		chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("use-token")),
	)
}

// authProxy stands between the browser and the server. It records the
// Authorization header of every API request (under /jobs and /downloads, the
// dashboard's calls) and holds them to the contract's credential rules: no
// or another token → 401 UNAUTHENTICATED, the read-only token on a POST →
// 403 FORBIDDEN naming the scope (as the server behind it does too). It
// proves that the page sends the token on every call.
type authProxy struct {
	url      string
	token    string // may do everything
	readOnly string // lacks jobs:write

	mu   sync.Mutex
	seen []string // "METHOD /path|Authorization", in order
}

func newAuthProxy(t *testing.T, h *harness) *authProxy {
	t.Helper()
	u, err := url.Parse(h.url)
	if err != nil {
		t.Fatal(err)
	}
	// Real keys of the server behind: every scope, and jobs:read only.
	p := &authProxy{token: h.token, readOnly: h.keys.make(storeKey{name: "dashboard read-only", scopes: auth.NewScopeSet(auth.ScopeJobsRead)})}
	forward := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/jobs") && !strings.HasPrefix(r.URL.Path, "/downloads/") {
			forward.ServeHTTP(w, r) // the page's own files and the docs
			return
		}
		auth := r.Header.Get("Authorization")
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path+"|"+auth)
		p.mu.Unlock()
		switch auth {
		case "Bearer " + p.token:
			forward.ServeHTTP(w, r)
		case "Bearer " + p.readOnly:
			if r.Method != http.MethodGet {
				writeProblem(w, http.StatusForbidden, "FORBIDDEN", "this operation needs the scope jobs:write, which the credential does not have")
				return
			}
			forward.ServeHTTP(w, r)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="ordersettle", error="invalid_token"`)
			writeProblem(w, http.StatusUnauthorized, "UNAUTHENTICATED", "the API key is unknown, revoked or expired; send Authorization: Bearer <token> with a valid key")
		}
	}))
	t.Cleanup(ts.Close)
	p.url = ts.URL
	return p
}

// requests returns the API requests seen so far, as "METHOD /path|Authorization".
func (p *authProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func writeProblem(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// allowDownloads makes the browser save downloads into dir under the names
// the page gives them, and report their progress.
func (b *browser) allowDownloads(dir string) {
	b.t.Helper()
	b.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		events := true
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: &events,
		})
		return err
	}))
}

// download runs click and waits until the download it starts is complete
// (allowDownloads first).
func (b *browser) download(what string, click chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	b.do(what, click)
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("%s: waiting for the download: %v", what, err)
		}
		switch ev.State {
		case cdpbrowser.DownloadProgressStateCompleted:
			return
		case cdpbrowser.DownloadProgressStateCanceled:
			b.t.Fatalf("%s: the download was cancelled", what)
		}
	}
	b.t.Fatalf("%s: no download completed", what)
}

func keys(m map[uuid.UUID]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k.String())
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDashboardInABrowser drives the dashboard in headless Chromium: it asks
// for a token, says when the token is refused (401) or lacks a scope (403),
// forgets it on request and sends it on every API call; a job queued through
// the form climbs to 100 % and gets its Download button without a reload
// (the CSV comes with the token); a running job is cancelled with its button,
// retried from the keyboard, and completes; jobs queued elsewhere appear on
// their own; older jobs come with Load more, each once.
func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedTransactions(t, h)
	proxy := newAuthProxy(t, h)
	b := newBrowser(t, 1280, 900)
	downloads := t.TempDir()
	b.allowDownloads(downloads)

	// 0. Without a token the page asks for one and calls no API.
	b.do("open the dashboard", chromedp.Navigate(proxy.url+"/ui"), chromedp.WaitVisible(chromedp.ID("queue")))
	if bg := eval[string](b, `getComputedStyle(document.documentElement).backgroundColor`); bg != "rgb(245, 246, 248)" {
		t.Errorf("page background = %s: style.css did not apply", bg)
	}
	b.waitFor("the token form is shown and the list asks for a token", shown("token-form")+` && !`+shown("token-set")+` &&
		document.getElementById('empty').textContent.includes('Enter a token')`)
	if n := len(proxy.requests()); n != 0 {
		t.Errorf("the page made %d API requests without a token: %v", n, proxy.requests())
	}

	// A refused token (401): the form says so, keeps asking, takes focus.
	b.enterToken("os_" + strings.Repeat("x", 40))
	b.waitFor("the 401 is explained", shown("token-message")+` && document.getElementById('token-message').textContent.includes('refused the token')`)
	if state := eval[map[string]any](b, `({ form: `+shown("token-form")+`, focus: document.activeElement.id,
		stored: sessionStorage.getItem('ordersettle.token'), role: document.getElementById('token-message').getAttribute('role') })`); state["form"] != true || state["focus"] != "token" || state["stored"] != nil || state["role"] != "alert" {
		t.Errorf("after a 401: %v; want the form shown and focused, no token stored, the message an alert", state)
	}

	// A token without jobs:write (403): the list loads, queueing shows the
	// server's message naming the scope.
	b.enterToken(proxy.readOnly)
	b.waitFor("the token is accepted", shown("token-set")+` && !`+shown("token-form")+` && !`+shown("token-message")+` && `+shown("empty"))
	b.do("queue with the read-only token",
		chromedp.SetValue(chromedp.ID("from"), "2025-01-01"),
		chromedp.SetValue(chromedp.ID("to"), "2025-01-03"),
		chromedp.Click(chromedp.ID("queue")),
	)
	b.waitFor("the 403 is shown with the missing scope", `document.getElementById('form-message').textContent.includes('Not allowed with this token: this operation needs the scope jobs:write')`)

	// Forget token: stored no more, the form is back and focused.
	b.do("press Forget token", chromedp.Click(chromedp.ID("forget-token")))
	b.waitFor("the token is forgotten", shown("token-form")+` && sessionStorage.getItem('ordersettle.token') === null && document.activeElement.id === 'token'`)

	// The token with every scope.
	b.enterToken(proxy.token)
	b.waitFor("the empty list says so", shown("token-set")+` && `+shown("empty")+` && !`+shown("load-more")+` &&
		document.getElementById('empty').textContent.includes('No jobs yet')`)
	withToken := len(proxy.requests())

	// 1. Queue a job through the form; watch it complete.
	first := b.queueThroughForm("2025-01-01", "2025-01-03")
	b.waitFor("the job completes with its bar at 100 % and a Download button", row(first)+`.dataset.status === 'COMPLETED' &&
		`+row(first)+`.querySelector('[role=progressbar]').getAttribute('aria-valuenow') === '100' &&
		`+row(first)+`.querySelector('button[data-action=download]') !== null`)
	b.download("press Download CSV", chromedp.Click(chromedp.CSS(`#job-rows tr[data-job-id="`+first.String()+`"] button[data-action=download]`)))
	csv, err := os.ReadFile(filepath.Join(downloads, "settlement-"+first.String()+".csv"))
	if err != nil {
		entries, _ := os.ReadDir(downloads)
		t.Fatalf("the CSV is not where the page named it: %v; the download directory holds %v", err, entries)
	}
	if want := "merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n1,2025-01-01,3000,90,2910,2\n2,2025-01-02,500,15,485,1\n3,2025-01-03,900,25,875,1\n"; string(csv) != want {
		t.Errorf("the downloaded CSV =\n%s\nwant\n%s", csv, want)
	}
	cells := eval[map[string]string](b, `(() => { const r = `+row(first)+`; return {
		counts: r.querySelector('.counts').textContent, attempts: r.querySelector('.attempts').textContent,
		detail: r.querySelector('.detail').textContent, duration: r.querySelector('.duration').textContent }; })()`)
	if cells["counts"] != "5 / 5" || cells["attempts"] != "1" || cells["detail"] != "3 settlements" || !strings.HasSuffix(cells["duration"], " s") {
		t.Errorf("the completed row shows %v", cells)
	}

	// 2. Cancel a running job with its button. The job blocks on a lock
	// until released, so it is RUNNING when the button is pressed.
	lock, err := h.store.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback() }()
	if _, err := lock.Exec(`LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	second := b.queueThroughForm("2025-01-02", "2025-01-03")
	b.waitFor("the job runs, with a Cancel button", row(second)+`.dataset.status === 'RUNNING' && `+row(second)+`.querySelector('button[data-action=cancel]')`)
	b.do("press Cancel", chromedp.Click(chromedp.CSS(`#job-rows tr[data-job-id="`+second.String()+`"] button[data-action=cancel]`)))
	b.waitFor("the job is CANCELLED, with a Retry button", row(second)+`.dataset.status === 'CANCELLED' && `+row(second)+`.querySelector('button[data-action=retry]')`)
	if j := getJob(t, h, second); j.Status != client.JobCancelled {
		t.Fatalf("the API says the cancelled job is %s", j.Status)
	}
	if focused := eval[string](b, `document.activeElement.dataset.action || document.activeElement.id`); focused != "retry" {
		t.Errorf("focus is on %q after the cancel, want the Retry button that replaced Cancel", focused)
	}

	// 3. Retry it from the keyboard (Enter on the focused Retry button).
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	b.do("press Enter on Retry", chromedp.KeyEvent("\r"))
	b.waitFor("the retried job completes with a Download button", row(second)+`.dataset.status === 'COMPLETED' && `+row(second)+`.querySelector('button[data-action=download]')`)
	if attempts := eval[string](b, row(second)+`.querySelector('.attempts').textContent`); attempts != "1" {
		t.Errorf("the retried job shows %s attempts, want 1 (attempts restart with the retry)", attempts)
	}
	if j := getJob(t, h, second); j.Status != client.JobCompleted || j.Attempts != 1 {
		t.Errorf("the API says the retried job is %s after %d attempts", j.Status, j.Attempts)
	}

	// 4. Jobs queued elsewhere show up at the top without a reload. Opened
	// afresh, the page shows the newest 20; older ones come with Load more,
	// each once.
	var elsewhere []uuid.UUID
	for i := range 25 {
		elsewhere = append(elsewhere, createJob(t, h, fmt.Sprintf("2032-01-%02d", i+1), fmt.Sprintf("2032-01-%02d", i+1)).JobID)
	}
	newest := elsewhere[len(elsewhere)-1]
	b.waitFor("the newest job queued elsewhere is at the top", `document.querySelector('#job-rows tr').dataset.jobId === '`+newest.String()+`'`)
	b.do("open the dashboard again", chromedp.Navigate(proxy.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("queue")))
	// The token is kept for the tab's session: no form this time.
	b.waitFor("Load more is offered", `document.querySelectorAll('#job-rows tr').length > 0 && `+shown("load-more")+` && !`+shown("token-form"))
	if n := len(b.rowIDs()); n != 20 {
		t.Errorf("%d rows before Load more, want a page of 20", n)
	}
	b.do("press Load more", chromedp.Click(chromedp.ID("load-more")))
	b.waitFor("every job is listed and Load more is gone", `document.querySelectorAll('#job-rows tr').length === 27 && !`+shown("load-more"))
	want := append([]uuid.UUID{}, elsewhere...)
	for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
		want[i], want[j] = want[j], want[i]
	}
	want = append(want, second, first)
	if got := b.rowIDs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows after Load more =\n%v\nwant every job once, newest first:\n%v", got, want)
	}

	// 5. The status filter lists only that status.
	b.do("choose COMPLETED", chromedp.SetValue(chromedp.ID("status-filter"), "COMPLETED"))
	eval[bool](b, `document.getElementById('status-filter').dispatchEvent(new Event('change'))`)
	b.waitFor("only COMPLETED jobs are listed", `(() => { const rows = [...document.querySelectorAll('#job-rows tr')];
		return rows.length > 0 && rows.every(r => r.dataset.status === 'COMPLETED'); })()`)

	// Every API call since the token was entered carried it, the download
	// included.
	seen := map[string]bool{}
	for _, r := range proxy.requests()[withToken:] {
		call, auth, _ := strings.Cut(r, "|")
		if auth != "Bearer "+proxy.token {
			t.Errorf("%s carried Authorization %q, want the token", call, auth)
		}
		seen[call] = true
	}
	for _, call := range []string{"GET /jobs", "POST /jobs/settlement", "POST /jobs/" + second.String() + "/cancel",
		"POST /jobs/" + second.String() + "/retry", "GET /downloads/" + first.String() + ".csv"} {
		if !seen[call] {
			t.Errorf("the proxy never saw %s; it saw %v", call, seen)
		}
	}

	b.checkNoErrors()
}

// screenshotPath, when set, makes TestDashboardScreenshot write a PNG of the
// dashboard there (make screenshot updates docs/dashboard.png).
var screenshotPath = flag.String("screenshot", "", "write a PNG of the dashboard with sample jobs to this `file`")

// TestDashboardScreenshot takes the README's picture of the dashboard: a
// few jobs in every state, one of them running on another engine.
func TestDashboardScreenshot(t *testing.T) {
	if *screenshotPath == "" {
		t.Skip("run with -screenshot FILE to take the dashboard's picture")
	}
	h := newHarness(t)
	_, err := h.store.DB().Exec(`
		INSERT INTO jobs (job_id, from_date, to_date, status, attempts, error, started_at, finished_at,
			processed_count, total_count, progress, settlement_count, owner, lease_expires_at, run_after, created_at, updated_at)
		VALUES
		('1f0c2a6e-4b7d-4c1e-9a55-0c2b7f1d9e01', '2025-02-01', '2025-02-28', 'QUEUED', 0, NULL, NULL, NULL,
			0, 0, 0, NULL, NULL, NULL, now() + interval '1 hour', now() - interval '5 seconds', now()),
		('7a3e9d40-2c61-4f0b-8e7a-5d4c3b2a1f02', '2025-01-01', '2025-01-31', 'RUNNING', 1, NULL, now() - interval '3 seconds', NULL,
			630000, 1000000, 63, NULL, 'engine-b', now() + interval '1 hour', now(), now() - interval '4 seconds', now()),
		('c5b1e8f2-9d3a-4e6c-b7f0-1a2b3c4d5e03', '2024-12-01', '2024-12-31', 'COMPLETED', 1, NULL, now() - interval '95 seconds', now() - interval '93.7 seconds',
			1000000, 1000000, 100, 31000, NULL, NULL, now(), now() - interval '96 seconds', now()),
		('e2d4f6a8-1b3c-4d5e-8f70-9a1b2c3d4e04', '2024-11-01', '2024-11-30', 'FAILED', 3, 'settlement directory is not writable', now() - interval '4 minutes', now() - interval '239 seconds',
			0, 980000, 0, NULL, NULL, NULL, now(), now() - interval '9 minutes', now()),
		('0b9c8d7e-6f5a-4b3c-a2d1-e0f9a8b7c605', '2024-10-01', '2024-10-31', 'CANCELLED', 1, NULL, now() - interval '12 minutes', now() - interval '719 seconds',
			412000, 1010000, 40.79, NULL, NULL, NULL, now(), now() - interval '12 minutes', now()),
		('9f8e7d6c-5b4a-4392-8170-6e5d4c3b2a06', '2024-09-01', '2024-09-30', 'COMPLETED', 1, NULL, now() - interval '31 minutes', now() - interval '1858.8 seconds',
			990000, 990000, 100, 30000, NULL, NULL, now(), now() - interval '31 minutes', now())`)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newAuthProxy(t, h)
	b := newBrowser(t, 1400, 820)
	b.do("open the dashboard", chromedp.Navigate(proxy.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("queue")))
	b.enterToken(proxy.token)
	b.do("fill in the form", chromedp.SetValue(chromedp.ID("from"), "2025-03-01"), chromedp.SetValue(chromedp.ID("to"), "2025-03-31"))
	b.waitFor("the jobs are listed", `document.querySelectorAll('#job-rows tr').length === 6`)
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*screenshotPath, png, 0o644); err != nil {
		t.Fatal(err)
	}
	b.checkNoErrors()
}

// TestSwaggerUIAuthorizes: /docs (Swagger UI from the binary, with no
// network) offers Authorize for the bearer scheme; the token entered there
// goes with "Try it out", and is kept across a reload.
func TestSwaggerUIAuthorizes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	proxy := newAuthProxy(t, h)
	b := newBrowser(t, 1280, 900)

	b.do("open the docs", chromedp.Navigate(proxy.url+"/docs/"), chromedp.WaitVisible(chromedp.CSS("button.authorize")))
	b.do("press Authorize", chromedp.Click(chromedp.CSS("button.authorize")))
	b.waitFor("the dialog offers bearerAuth", `document.querySelector('.auth-container') &&
		document.querySelector('.auth-container').textContent.includes('bearerAuth')`)
	b.do("enter the token and authorize",
		chromedp.SendKeys(chromedp.CSS(".auth-container input"), proxy.token),
		chromedp.Click(chromedp.CSS(".auth-container button.authorize")),
		chromedp.Click(chromedp.CSS("button.btn-done")),
	)

	// Try GET /jobs out.
	op := `.opblock[id$="-listJobs"]` // operations-<tag>-<operationId>
	b.do("open GET /jobs", chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")))
	b.do("try it out", chromedp.Click(chromedp.CSS(op+" button.try-out__btn")))
	b.do("execute", chromedp.Click(chromedp.CSS(op+" button.execute")))
	b.waitFor("the answer is shown", `document.querySelector('`+op+` .live-responses-table') &&
		document.querySelector('`+op+` .live-responses-table').innerText.includes('"items"')`)
	var sent bool
	for _, r := range proxy.requests() {
		call, auth, _ := strings.Cut(r, "|")
		if strings.HasPrefix(call, "GET /jobs") {
			sent = true
			if auth != "Bearer "+proxy.token {
				t.Errorf("%s carried Authorization %q, want the token", call, auth)
			}
		}
	}
	if !sent {
		t.Errorf("Try it out sent no GET /jobs: %v", proxy.requests())
	}

	// persistAuthorization: after a reload the scheme is still authorized.
	b.do("reload the docs", chromedp.Navigate(proxy.url+"/docs/"), chromedp.WaitVisible(chromedp.CSS("button.authorize")))
	b.waitFor("the token is kept", `document.querySelector('button.authorize').classList.contains('locked')`)
	b.checkNoErrors()
}
