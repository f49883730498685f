package server_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/server"
)

// TestDashboardIsServedFromTheBinary: /ui redirects to /ui/, which serves the
// page; its script and style sheet come from the binary with the right types,
// a policy that allows nothing from elsewhere, and X-Request-ID like every
// response; unknown files are the API's JSON 404.
func TestDashboardIsServedFromTheBinary(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := noRedirect.Get(h.url + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d, Location %q; want 301 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}

	for path, wantType := range map[string]string{
		"/ui/":           "text/html; charset=utf-8",
		"/ui/index.html": "text/html; charset=utf-8",
		"/ui/app.js":     "text/javascript; charset=utf-8",
		"/ui/style.css":  "text/css; charset=utf-8",
	} {
		r := getUnvalidated(t, h.url+path)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != wantType {
			t.Errorf("GET %s: %d, Content-Type %q; want 200 %s", path, r.status, r.header.Get("Content-Type"), wantType)
		}
		if r.header.Get("X-Request-ID") == "" {
			t.Errorf("GET %s: no X-Request-ID", path)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		// Nothing is loaded from elsewhere.
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(string(r.body)); m != "" {
			t.Errorf("GET %s refers to %q; the dashboard must work offline", path, m)
		}
		etag := r.header.Get("ETag")
		req, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
		req.Header.Set("If-None-Match", etag)
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if etag == "" || again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %q: %d, want 304", path, etag, again.StatusCode)
		}
	}
	page := getUnvalidated(t, h.url+"/ui/")
	for _, want := range []string{`<label for="from">`, `<label for="to">`, `<button type="submit"`, `id="load-more"`, `aria-live="polite"`, `src="app.js"`} {
		if !strings.Contains(string(page.body), want) {
			t.Errorf("the page lacks %s", want)
		}
	}

	for _, path := range []string{"/ui/nope.js", "/ui/../go.mod", "/ui/index.html/x"} {
		r := getUnvalidated(t, h.url+path)
		if r.status != http.StatusNotFound || !strings.Contains(string(r.body), string(client.CodeNotFound)) {
			t.Errorf("GET %s: %d %s; want the 404 NOT_FOUND JSON", path, r.status, r.body)
		}
	}
}

// TestDashboardCallsOnlyTheAPI: every request the script makes is an
// operation of the spec.
func TestDashboardCallsOnlyTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	script := string(getUnvalidated(t, h.url+"/ui/app.js").body)
	if n := strings.Count(script, "fetch("); n != 1 {
		t.Fatalf("app.js calls fetch %d times; every request must go through api()", n)
	}
	// What each call in the script requests, written out.
	id := "/jobs/5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a"
	known := map[string][]string{
		"api('GET', listPath(null))":                                                     {"GET /jobs?limit=20&status=FAILED"},
		"api('GET', listPath(nextCursor))":                                               {"GET /jobs?limit=20&cursor=abc"},
		"api('GET', '/jobs/' + encodeURIComponent(id))":                                  {"GET " + id},
		"api('POST', '/jobs/' + encodeURIComponent(id) + '/' + kind)":                    {"POST " + id + "/cancel", "POST " + id + "/retry"},
		"api('POST', '/jobs/settlement', { from, to })":                                  {"POST /jobs/settlement"},
		"api('GET', '/downloads/' + encodeURIComponent(id) + '.csv', undefined, 'blob')": {"GET /downloads/5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a.csv"},
	}
	calls := regexp.MustCompile(`api\('[A-Z]+', (listPath\([a-zA-Z]*\)|'[^']*'( \+ [a-zA-Z(]+\)?| \+ '[^']*')*(, \{[^}]*\}|, undefined, 'blob')?)\)`).FindAllString(script, -1)
	if n := strings.Count(script, "api('"); len(calls) != n || n < len(known) {
		t.Fatalf("app.js has %d API calls, of which this test reads %d: %q", n, len(calls), calls)
	}
	for _, c := range calls {
		requests, ok := known[c]
		if !ok {
			t.Errorf("app.js makes a request this test does not know: %s; add it to the table", c)
		}
		for _, r := range requests {
			method, target, _ := strings.Cut(r, " ")
			req, _ := http.NewRequest(method, h.url+target, nil)
			if _, _, err := h.http.router.FindRoute(req); err != nil {
				t.Errorf("app.js requests %s, which is not in the spec: %v", r, err)
			}
		}
	}
}

// TestDashboardIsNeverShed: with MaxInFlight 1 taken by an API request, the
// dashboard is still served (it is not an API route).
func TestDashboardIsNeverShed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *server.Config) { c.MaxInFlight = 1 })
	tx, err := h.store.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec(`LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h.client.ListJobsWithResponse(context.Background(), nil) // waits for the lock
	}()
	testkit.Eventually(t, "GET /jobs waits for the table lock", 30*time.Second, func() bool {
		var n int
		_ = h.store.DB().QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return n > 0
	})
	status, body := h.do(http.MethodGet, "/products", nil, nil)
	wantError(t, status, body, http.StatusServiceUnavailable, client.CodeUnavailable) // the API is at capacity
	if r := getUnvalidated(t, h.url+"/ui/"); r.status != http.StatusOK {
		t.Errorf("GET /ui/ while the API is at capacity: %d, want 200", r.status)
	}
	_ = tx.Rollback()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("GET /jobs did not finish after the lock was released")
	}
}
