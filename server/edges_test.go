package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
)

// TestNoRedirects: a path with a trailing slash (or another case) is an
// unknown path: 404 NOT_FOUND in the error shape, never a redirect, and a
// POST to it changes nothing.
func TestNoRedirects(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("no redirect", 5, 100)
	order := `{"product_id":` + itoa(p.ID) + `,"quantity":1,"buyer_id":"b"}`
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/products/", ""},
		{http.MethodGet, "/products/" + itoa(p.ID) + "/", ""},
		{http.MethodGet, "/PRODUCTS", ""},
		{http.MethodGet, "/jobs/", ""},
		{http.MethodGet, "/readyz/", ""},
		{http.MethodGet, "/metrics/", ""},
		{http.MethodPost, "/orders/", order},
		{http.MethodPost, "/products/", `{"name":"n","stock":1,"price_cents":1}`},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		// The validating doer follows redirects; it also insists that a path
		// outside the spec is answered with an error in the contract's shape.
		status, resp := h.do(tc.method, tc.path, body, jsonHeader)
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			wantError(t, status, resp, http.StatusNotFound, client.CodeNotFound)
		})
	}
	if stock := h.productStock(p.ID); stock != 5 {
		t.Errorf("stock = %d after POST /orders/, want 5", stock)
	}
	if page := h.listProducts(nil); len(page.Items) != 1 {
		t.Errorf("%d products after POST /products/, want 1", len(page.Items))
	}
	// /docs still sends humans to /docs/ (TestDocs).
}

// TestQueryThatDoesNotParse: a query string that does not parse is a 400
// naming the query, not a request with some parameters silently dropped.
func TestQueryThatDoesNotParse(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	for _, path := range []string{
		"/jobs?status=bogus;x",
		"/jobs?limit=5;status=COMPLETED",
		"/products?limit=2;after_id=1",
		"/products?limit=%zz",
		"/products/1?x=%",
	} {
		status, body := h.do(http.MethodGet, path, nil, nil)
		t.Run(path, func(t *testing.T) {
			wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest)
			if !strings.Contains(string(body), "query") {
				t.Errorf("the message does not name the query: %s", body)
			}
		})
	}
	// The ones that parse are served.
	if status, body := h.do(http.MethodGet, "/jobs?status=COMPLETED&limit=5", nil, nil); status != http.StatusOK {
		t.Errorf("GET /jobs?status=COMPLETED&limit=5: %d: %s", status, body)
	}
}

// TestStrictJSON: bodies with invalid UTF-8, lone UTF-16 surrogates or a
// duplicate key (at any depth) are refused with 400 naming the problem, and
// change nothing.
func TestStrictJSON(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("strict", 5, 100)
	pid := itoa(p.ID)
	for _, tc := range []struct {
		name, path, body, mention string
	}{
		{"invalid UTF-8 in name", "/products", "{\"name\":\"caf\xe9\",\"stock\":1,\"price_cents\":1}", "UTF-8"},
		{"invalid UTF-8 in buyer_id", "/orders", `{"product_id":` + pid + ",\"quantity\":1,\"buyer_id\":\"\xff\xfe\"}", "UTF-8"},
		{"a lone surrogate", "/products", `{"name":"x\ud800","stock":1,"price_cents":1}`, `name: \\uD800 is half a UTF-16 surrogate pair`},
		{"duplicate quantity", "/orders", `{"product_id":` + pid + `,"quantity":1,"quantity":2,"buyer_id":"b"}`, `duplicate key \"quantity\"`},
		{"duplicate escaped key", "/orders", `{"product_id":` + pid + `,"quantity":1,"buyer_id":"b","buyer_\u0069d":"c"}`, `duplicate key \"buyer_id\"`},
		{"duplicate name", "/products", `{"name":"a","stock":1,"price_cents":1,"name":"b"}`, `duplicate key \"name\"`},
		{"duplicate nested key", "/products", `{"name":"a","stock":1,"price_cents":1,"x":[{"k":1,"k":2}]}`, `x.0: duplicate key \"k\"`},
		{"duplicate from", "/jobs/settlement", `{"from":"2025-01-01","to":"2025-01-02","from":"2025-01-02"}`, `duplicate key \"from\"`},
	} {
		status, body := h.do(http.MethodPost, tc.path, strings.NewReader(tc.body), jsonHeader)
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest)
			if !strings.Contains(string(body), tc.mention) {
				t.Errorf("the message does not say %s: %s", tc.mention, body)
			}
		})
	}
	if stock := h.productStock(p.ID); stock != 5 {
		t.Errorf("stock = %d, want 5: no order may have been placed", stock)
	}
	if page := h.listProducts(nil); len(page.Items) != 1 {
		t.Errorf("%d products, want 1: none may have been created", len(page.Items))
	}
	jobs, err := h.client.ListJobsWithResponse(context.Background(), nil)
	if err != nil || jobs.JSON200 == nil || len(jobs.JSON200.Items) != 0 {
		t.Errorf("jobs after the refused request: %v, %s", err, jobs.Body)
	}
	// Valid non-ASCII text and surrogate pairs are kept as sent.
	resp, err := h.client.CreateProductWithBodyWithResponse(context.Background(), "application/json",
		strings.NewReader(`{"name":"caf\u00e9 \ud83d\ude00 ü","stock":1,"price_cents":1}`))
	if err != nil || resp.JSON201 == nil || resp.JSON201.Name != "café 😀 ü" {
		t.Errorf("valid Unicode: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
}

// stalledBody sends prefix, then nothing until release is closed: a client
// whose request body stops arriving.
type stalledBody struct {
	prefix  []byte
	release <-chan struct{}
}

func (b *stalledBody) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	<-b.release
	return 0, io.EOF
}

// TestSlowBodyIs408: a request body that does not arrive before the
// server's ReadTimeout is answered 408 REQUEST_TIMEOUT in the error shape,
// without the socket addresses of the read error, on every operation with a
// body.
func TestSlowBodyIs408(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	ts := httptest.NewUnstartedServer(h.server.Handler())
	ts.Config.ReadTimeout = time.Second
	ts.Start()
	t.Cleanup(ts.Close)
	api, err := client.NewClientWithResponses(ts.URL, client.WithHTTPClient(h.http))
	if err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ctx := context.Background()
	stalled := func(prefix string) io.Reader { return &stalledBody{prefix: []byte(prefix), release: release} }
	calls := map[string]func() (*http.Response, []byte, error){
		"POST /products": func() (*http.Response, []byte, error) {
			r, err := api.CreateProductWithBodyWithResponse(ctx, "application/json", stalled(`{"name":"slow",`))
			if err != nil {
				return nil, nil, err
			}
			return r.HTTPResponse, r.Body, nil
		},
		"POST /orders": func() (*http.Response, []byte, error) {
			r, err := api.CreateOrderWithBodyWithResponse(ctx, nil, "application/json", stalled(`{"product_id":1,`))
			if err != nil {
				return nil, nil, err
			}
			return r.HTTPResponse, r.Body, nil
		},
		"PATCH /products/{id}": func() (*http.Response, []byte, error) {
			r, err := api.PatchProductWithBodyWithResponse(ctx, 1, "application/merge-patch+json", stalled(`{"name":`))
			if err != nil {
				return nil, nil, err
			}
			return r.HTTPResponse, r.Body, nil
		},
		"POST /products/{id}/restock": func() (*http.Response, []byte, error) {
			r, err := api.RestockProductWithBodyWithResponse(ctx, 1, "application/json", stalled(`{"quantity":`))
			if err != nil {
				return nil, nil, err
			}
			return r.HTTPResponse, r.Body, nil
		},
		"POST /jobs/settlement": func() (*http.Response, []byte, error) {
			r, err := api.CreateSettlementJobWithBodyWithResponse(ctx, "application/json", stalled(`{"from":`))
			if err != nil {
				return nil, nil, err
			}
			return r.HTTPResponse, r.Body, nil
		},
	}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			resp, body, err := call()
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("%s: status %d, want 408: %s", name, resp.StatusCode, body)
				return
			}
			wantError(t, resp.StatusCode, body, http.StatusRequestTimeout, client.CodeRequestTimeout)
			for _, leak := range []string{"127.0.0.1", "tcp", "i/o timeout", "->"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("%s: the 408 message leaks %q: %s", name, leak, body)
				}
			}
		})
	}
	wg.Wait()
}
