package server_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/gen/client"
)

// specPaths lists the spec's paths with their methods, each path made
// concrete: {id} of a product is productID, other ids are a fresh UUID.
func specPaths(t *testing.T, productID int32) map[string][]string {
	t.Helper()
	doc, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string][]string{}
	for tmpl, item := range doc.Paths.Map() {
		p := tmpl
		if strings.HasPrefix(p, "/products/") {
			p = strings.Replace(p, "{id}", itoa(productID), 1)
		}
		p = regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(p, uuid.NewString())
		for m := range item.Operations() {
			paths[p] = append(paths[p], m)
		}
	}
	return paths
}

// headDropped are the headers that may differ between two answers to the
// same request.
var headDropped = []string{"Date", "X-Request-Id"}

// TestHeadAnswersLikeGet: every GET route (the spec's, and /openapi.yaml,
// /docs, /metrics, /ui) answers HEAD with the GET's status and headers and
// no body.
func TestHeadAnswersLikeGet(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("head", 1, 1)
	var gets []string
	for path, methods := range specPaths(t, p.ID) {
		if slices.Contains(methods, http.MethodGet) {
			gets = append(gets, path)
		}
	}
	gets = append(gets, "/products?limit=1", "/openapi.yaml", "/docs", "/docs/", "/ui", "/ui/", "/ui/app.js", "/metrics")
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(t *testing.T, method, path string) (*http.Response, []byte) {
		resp, err := plain.Do(h.newRequest(method, path, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, path := range gets {
		t.Run(path, func(t *testing.T) {
			get, _ := fetch(t, http.MethodGet, path)
			head, body := fetch(t, http.MethodHead, path)
			if head.StatusCode != get.StatusCode {
				t.Errorf("HEAD %d, GET %d", head.StatusCode, get.StatusCode)
			}
			if len(body) != 0 {
				t.Errorf("HEAD answered a body: %q", body)
			}
			for _, h := range []http.Header{get.Header, head.Header} {
				for _, k := range headDropped {
					h.Del(k)
				}
				if path == "/metrics" {
					h.Del("Content-Length") // the metrics move between the two requests
				}
			}
			if fmt.Sprint(head.Header) != fmt.Sprint(get.Header) {
				t.Errorf("headers differ:\nHEAD %v\nGET  %v", head.Header, get.Header)
			}
		})
	}
}

// TestAllowListsThePathsMethods: on every path of the spec, every method it
// does not have is 405 METHOD_NOT_ALLOWED with Allow listing exactly the
// methods it has (HEAD with GET), in the usual order.
func TestAllowListsThePathsMethods(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("allow", 1, 1)
	order := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	for path := range specPaths(t, p.ID) {
		// The methods of the URL: those the spec routes for it (with
		// /jobs/settlement, GET goes to /jobs/{id}), and HEAD with GET.
		var methods []string
		for _, m := range order {
			probe := h.newRequest(m, path, nil, nil)
			if m == http.MethodHead {
				probe.Method = http.MethodGet
			}
			if _, _, err := h.http.router.FindRoute(probe); err == nil {
				methods = append(methods, m)
			}
		}
		var want []string
		for _, m := range order {
			if slices.Contains(methods, m) {
				want = append(want, m)
			}
		}
		for _, m := range append(order, http.MethodOptions) {
			if slices.Contains(methods, m) {
				continue
			}
			t.Run(m+" "+path, func(t *testing.T) {
				h := h.forTest(t)
				resp := h.send(h.newRequest(m, path, nil, nil))
				if m == http.MethodHead { // no body
					if resp.status != http.StatusMethodNotAllowed {
						t.Errorf("HEAD %s: %d, want 405", path, resp.status)
					}
				} else {
					wantMessage(t, resp, http.StatusMethodNotAllowed, client.CodeMethodNotAllowed, m)
				}
				if got := resp.header.Get("Allow"); got != strings.Join(want, ", ") {
					t.Errorf("Allow = %q, want %q", got, strings.Join(want, ", "))
				}
			})
		}
	}
}

// TestUnsupportedMediaType: a body of any media type but JSON, or one sent
// without a Content-Type, is 415 UNSUPPORTED_MEDIA_TYPE on every operation
// that takes a body, and changes nothing.
func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("media", 5, 1)
	pid := itoa(p.ID)
	// Every operation that takes a body, by "METHOD template": the URL
	// and a body that would be accepted as JSON.
	type call struct{ path, body string }
	bodies := map[string]call{
		"POST /products":              {"/products", `{"name":"n","stock":1,"price_cents":1}`},
		"PATCH /products/{id}":        {"/products/" + pid, `{"name":"renamed"}`},
		"POST /products/{id}/restock": {"/products/" + pid + "/restock", `{"quantity":1}`},
		"POST /orders":                {"/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":"b"}`, p.ID)},
		"POST /jobs/settlement":       {"/jobs/settlement", `{"from":"2025-01-01","to":"2025-01-02"}`},
		"POST /keys":                  {"/keys", `{"name":"k","scopes":["jobs:read"]}`},
	}
	doc, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for tmpl, item := range doc.Paths.Map() {
		for m, op := range item.Operations() {
			if _, ok := bodies[m+" "+tmpl]; op.RequestBody != nil && !ok {
				t.Errorf("%s %s takes a body; add it to this test", m, tmpl)
			}
		}
	}
	for op, c := range bodies {
		method, _, _ := strings.Cut(op, " ")
		for _, ct := range []string{"text/plain", "application/xml", "application/x-www-form-urlencoded", "text/json", ""} {
			t.Run(op+" "+ct, func(t *testing.T) {
				h := h.forTest(t)
				resp := h.send(h.newRequest(method, c.path, strings.NewReader(c.body), map[string]string{"Content-Type": ct}))
				wantMessage(t, resp, http.StatusUnsupportedMediaType, client.CodeUnsupportedMediaType, "application/json")
			})
		}
	}
	if stock := h.productStock(p.ID); stock != 5 {
		t.Errorf("stock = %d, want 5", stock)
	}
	if page := h.listProducts(nil); len(page.Items) != 1 {
		t.Errorf("%d products, want 1", len(page.Items))
	}
}

// TestHygieneMessages: numbers out of range name the field without Go's
// type names; "not blank" is ECMA-262's \S (U+FEFF is white space, U+0085
// is not); dates before 0001-01-01 are out of range; NUL is refused.
func TestHygieneMessages(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("hygiene", 100, 1)
	order := func(product, quantity, buyer string) string {
		return fmt.Sprintf(`{"product_id":%s,"quantity":%s,"buyer_id":%s}`, product, quantity, buyer)
	}
	pid := itoa(p.ID)
	for _, tc := range []struct {
		name, path, body string
		status           int
		mention          string
	}{
		{"quantity 1e400", "/orders", order(pid, "1e400", `"b"`), 400, "request body: quantity: number 1e400 is out of range"},
		{"product_id -1e400", "/orders", order("-1e400", "1", `"b"`), 400, "request body: product_id: number -1e400 is out of range"},
		{"stock 1e400", "/products", `{"name":"n","stock":1e400,"price_cents":1}`, 400, "request body: stock: number 1e400 is out of range"},
		{"buyer_id U+FEFF", "/orders", order(pid, "1", `"\ufeff"`), 400, "request body: buyer_id: must not be blank"},
		{"buyer_id U+FEFF raw", "/orders", order(pid, "1", "\"\ufeff\u3000\u2028\""), 400, "request body: buyer_id: must not be blank"},
		{"buyer_id spaces", "/orders", order(pid, "1", `" \t "`), 400, "request body: buyer_id: must not be blank"},
		{"name U+FEFF", "/products", `{"name":"\ufeff\u00a0","stock":1,"price_cents":1}`, 400, "request body: name: must not be blank"},
		{"buyer_id U+0085 is not blank", "/orders", order(pid, "1", `"\u0085"`), 200, ""},
		{"buyer_id NUL", "/orders", order(pid, "1", `"a\u0000b"`), 400, "request body: buyer_id: NUL characters (U+0000) are not allowed"},
		{"name NUL", "/products", `{"name":"\u0000","stock":1,"price_cents":1}`, 400, "request body: name: NUL characters"},
		{"from 0000-01-01", "/jobs/settlement", `{"from":"0000-01-01","to":"2025-01-02"}`, 400, "date 0000-01-01 is out of range"},
		{"to 0000-12-31", "/jobs/settlement", `{"from":"0000-01-01","to":"0000-12-31"}`, 400, "out of range"},
		{"from 2025-02-30", "/jobs/settlement", `{"from":"2025-02-30","to":"2025-03-01"}`, 400, "2025-02-30 is not a day of the calendar"},
		{"from 0001-01-01", "/jobs/settlement", `{"from":"0001-01-01","to":"0001-01-02"}`, 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.forTest(t)
			resp := h.send(h.newRequest(http.MethodPost, tc.path, strings.NewReader(tc.body), jsonHeader))
			if tc.mention == "" {
				if resp.status != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
				}
				return
			}
			wantMessage(t, resp, tc.status, client.CodeBadRequest, tc.mention)
			for _, goWord := range []string{"float64", "int32", "int64", "Go value", "strconv", "json:"} {
				if strings.Contains(string(resp.body), goWord) {
					t.Errorf("the message speaks Go (%s): %s", goWord, resp.body)
				}
			}
		})
	}
	for _, q := range []string{"from=0000-01-01", "to=0000-06-30"} {
		t.Run("GET /settlements?"+q, func(t *testing.T) {
			h := h.forTest(t)
			resp := h.send(h.newRequest(http.MethodGet, "/settlements?"+q, nil, nil))
			wantMessage(t, resp, http.StatusBadRequest, client.CodeBadRequest, "is out of range")
		})
	}
	if n := h.productStock(p.ID); n != 99 {
		t.Errorf("stock = %d, want 99: only the U+0085 order is placed", n)
	}
}
