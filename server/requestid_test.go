package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// generatedID is what the server makes up: 128 random bits in hex.
var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: every response carries X-Request-ID, whoever answers (a
// handler, validation, Gin's 404 and 405, the probes, /metrics, /docs): the
// client's own id when it is valid, else a new one per request.
func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("with an id", 1, 1)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		inSpec                   bool // validated against the spec on the way
	}{
		{"200", http.MethodGet, "/products/" + itoa(p.ID), "", http.StatusOK, true},
		{"201", http.MethodPost, "/products", `{"name":"n","stock":1,"price_cents":1}`, http.StatusCreated, true},
		{"400", http.MethodPost, "/products", `{"name":""}`, http.StatusBadRequest, true},
		{"404 of the API", http.MethodGet, "/products/999999", "", http.StatusNotFound, true},
		{"404 unknown path", http.MethodGet, "/nope", "", http.StatusNotFound, true},
		{"405", http.MethodDelete, "/products", "", http.StatusMethodNotAllowed, true},
		{"livez", http.MethodGet, "/livez", "", http.StatusOK, true},
		{"readyz", http.MethodGet, "/readyz", "", http.StatusOK, true},
		{"health", http.MethodGet, "/health", "", http.StatusOK, true},
		{"metrics", http.MethodGet, "/metrics", "", http.StatusOK, false},
		{"docs redirect", http.MethodGet, "/docs", "", http.StatusMovedPermanently, false},
		{"docs", http.MethodGet, "/docs/", "", http.StatusOK, false},
		{"openapi.yaml", http.MethodGet, "/openapi.yaml", "", http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.forTest(t)
			send := func(id string) string {
				t.Helper()
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				req := h.newRequest(tc.method, tc.path, body, jsonHeader)
				if id != "" {
					req.Header.Set("X-Request-ID", id)
				}
				var r rawResponse
				if tc.inSpec {
					r = h.send(req)
				} else {
					r = sendUnvalidated(t, req)
				}
				if r.status != tc.status {
					t.Fatalf("%s %s: status %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
				}
				if got := r.header.Values("X-Request-ID"); len(got) != 1 {
					t.Fatalf("%s %s with id %q: X-Request-ID %q, want one value", tc.method, tc.path, id, got)
				}
				return r.header.Get("X-Request-ID")
			}

			for _, id := range []string{"abc", "A-Za-z0-9._:-", "trace:5f0e.1_2-3", strings.Repeat("x", 128)} {
				if got := send(id); got != id {
					t.Errorf("valid id %q came back as %q", id, got)
				}
			}
			seen := map[string]bool{}
			for _, id := range []string{"", "has space", "naïve", "a/b", "<script>", strings.Repeat("x", 129)} {
				got := send(id)
				if !generatedID.MatchString(got) {
					t.Errorf("invalid id %q: got %q, want a generated one", id, got)
				}
				if seen[got] {
					t.Errorf("generated id %q twice", got)
				}
				seen[got] = true
			}
		})
	}
}

// sendUnvalidated sends req with a plain client, not following redirects:
// for /metrics, /docs and /openapi.yaml, which are not in the spec.
func sendUnvalidated(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}
