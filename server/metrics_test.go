package server_test

import (
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestMetricsMethodLabel: made-up methods add no label values; they are
// counted as OTHER (as 405 on a known path, 404 elsewhere).
func TestMetricsMethodLabel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, m := range []string{"BREW", "PROPFIND", "XYZZY" + strings.Repeat("Q", 100)} {
		for _, path := range []string{"/products", "/nope"} {
			if r := sendUnvalidated(t, h.newRequest(m, path, nil, nil)); r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound {
				t.Fatalf("%s %s: status %d", m, path, r.status)
			}
		}
	}
	if r := h.send(h.newRequest(http.MethodOptions, "/products", nil, nil)); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("OPTIONS /products: status %d", r.status)
	}

	exposition := string(h.scrape().body)
	for _, raw := range []string{"BREW", "PROPFIND", "XYZZY"} {
		if strings.Contains(exposition, raw) {
			t.Errorf("/metrics holds the raw method %s:\n%s", raw, grepLines(exposition, raw))
		}
	}
	counts := requestCounts(t, exposition)
	for key, want := range map[string]float64{
		"OTHER unmatched 405":   3, // no route has the method
		"OTHER unmatched 404":   3,
		"OPTIONS unmatched 405": 1,
	} {
		if got := counts[key]; got != want {
			t.Errorf("ordersettle_http_requests_total{%s} = %v, want %v (all: %v)", key, got, want, counts)
		}
	}
	allowed := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "OTHER": true}
	for key := range counts {
		if method := strings.Fields(key)[0]; !allowed[method] {
			t.Errorf("method label %q", method)
		}
	}
}

// TestBuildInfoMetric: ordersettle_build_info is 1, labelled with the
// version, revision and Go version of the build.
func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	exposition := string(h.scrape().body)
	line := regexp.MustCompile(`(?m)^ordersettle_build_info\{goversion="([^"]+)",revision="([^"]+)",version="([^"]+)"\} 1$`)
	m := line.FindStringSubmatch(exposition)
	if m == nil {
		t.Fatalf("no ordersettle_build_info{goversion,revision,version} 1 in:\n%s", grepLines(exposition, "build_info"))
	}
	if m[1] != runtime.Version() {
		t.Errorf("goversion = %q, want %q", m[1], runtime.Version())
	}
}
