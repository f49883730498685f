package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ordersettle/ordersettle/api"
	"github.com/ordersettle/ordersettle/gen/client"
)

// TestDocs: /docs redirects to /docs/, which serves Swagger UI from the
// binary: the page and the scripts it loads, none of them from a CDN.
func TestDocs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	redirect := getUnvalidated(t, h.url+"/docs")
	if redirect.status != http.StatusMovedPermanently || redirect.header.Get("Location") != "/docs/" {
		t.Fatalf("GET /docs: %d, Location %q; want 301 to /docs/", redirect.status, redirect.header.Get("Location"))
	}

	page := getUnvalidated(t, h.url+"/docs/")
	if page.status != http.StatusOK {
		t.Fatalf("GET /docs/: status %d", page.status)
	}
	if ct := page.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /docs/: Content-Type %q, want text/html", ct)
	}
	html := string(page.body)
	for _, want := range []string{"swagger-ui", "/openapi.yaml"} {
		if !strings.Contains(html, want) {
			t.Errorf("GET /docs/ does not mention %q:\n%s", want, html)
		}
	}

	scripts := regexp.MustCompile(`<script[^>]+src="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(scripts) == 0 {
		t.Fatalf("GET /docs/ loads no script:\n%s", html)
	}
	base, err := url.Parse(h.url + "/docs/")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range scripts {
		src, err := url.Parse(m[1])
		if err != nil {
			t.Fatalf("script src %q: %v", m[1], err)
		}
		asset := base.ResolveReference(src)
		if asset.Host != base.Host {
			t.Errorf("script %q is not served by the service (offline docs)", m[1])
			continue
		}
		resp := getUnvalidated(t, asset.String())
		if resp.status != http.StatusOK || len(resp.body) < 1000 {
			t.Errorf("GET %s: status %d, %d bytes; want 200 and the script", asset.Path, resp.status, len(resp.body))
		}
		if ct := resp.header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("GET %s: Content-Type %q, want JavaScript", asset.Path, ct)
		}
	}
}

// TestOpenAPIYAML: /openapi.yaml serves the embedded spec, which is a valid
// OpenAPI document.
func TestOpenAPIYAML(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	resp := getUnvalidated(t, h.url+"/openapi.yaml")
	if resp.status != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: status %d", resp.status)
	}
	if ct := resp.header.Get("Content-Type"); !strings.Contains(ct, "yaml") {
		t.Errorf("Content-Type %q, want YAML", ct)
	}
	if !bytes.Equal(resp.body, api.OpenAPIYAML) {
		t.Errorf("served %d bytes that differ from api/openapi.yaml (%d bytes)", len(resp.body), len(api.OpenAPIYAML))
	}
	doc, err := openapi3.NewLoader().LoadFromData(resp.body)
	if err != nil {
		t.Fatalf("load served spec: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served spec is invalid: %v", err)
	}
	for _, path := range []string{"/health", "/products", "/products/{id}", "/orders", "/orders/{id}"} {
		if doc.Paths.Find(path) == nil {
			t.Errorf("served spec has no %s", path)
		}
	}
}

// TestMetrics: /metrics counts requests by route template, never by raw
// path, and unknown paths as "unmatched".
func TestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("metered", 1, 1)
	for _, id := range []int32{p.ID, p.ID, p.ID + 100} {
		if _, err := h.client.GetProductWithResponse(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/nope", "/products/" + itoa(p.ID) + "/nope"} {
		if status, body := h.do(http.MethodGet, path, nil, nil); status != http.StatusNotFound {
			t.Fatalf("GET %s: status %d: %s", path, status, body)
		}
	}

	resp := h.scrape()
	if resp.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.status)
	}
	counts := requestCounts(t, string(resp.body))
	for key, want := range map[string]float64{
		"POST /products 201":    1,
		"GET /products/:id 200": 2,
		"GET /products/:id 404": 1,
		"GET unmatched 404":     2,
	} {
		if got := counts[key]; got != want {
			t.Errorf("ordersettle_http_requests_total{%s} = %v, want %v (all: %v)", key, got, want, counts)
		}
	}
	for key := range counts {
		if strings.ContainsAny(strings.Fields(key)[1], "0123456789") {
			t.Errorf("route label of %q holds a raw id, not the route template", key)
		}
	}
	if !strings.Contains(string(resp.body), "ordersettle_http_request_duration_seconds_bucket") {
		t.Error("no request duration histogram")
	}
}

// requestCounts reads ordersettle_http_requests_total from a Prometheus text
// exposition, keyed "METHOD route status".
func requestCounts(t *testing.T, exposition string) map[string]float64 {
	t.Helper()
	line := regexp.MustCompile(`^ordersettle_http_requests_total\{(.*)\} (\S+)$`)
	label := regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)
	counts := map[string]float64{}
	for l := range strings.SplitSeq(exposition, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, kv := range label.FindAllStringSubmatch(m[1], -1) {
			labels[kv[1]] = kv[2]
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		counts[labels["method"]+" "+labels["route"]+" "+labels["status"]] += v
	}
	if len(counts) == 0 {
		t.Fatalf("no ordersettle_http_requests_total in:\n%s", exposition)
	}
	return counts
}

// TestHealth: GET /health is 200 ok/ok while the database answers.
func TestHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	resp, err := h.client.GetHealthWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil ||
		resp.JSON200.Status != client.ReadinessOK || resp.JSON200.Database != client.DatabaseOK {
		t.Fatalf("GET /health: status %d: %s; want 200 ok/ok", resp.StatusCode(), resp.Body)
	}
}
