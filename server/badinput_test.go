package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/server"
)

// badRequest is a request the API must refuse.
type badRequest struct {
	name   string
	method string
	path   string
	body   string
	header map[string]string // nil: Content-Type application/json on a POST; a "" value: no such header
	status int
	code   client.ErrorCode
	// mention must appear in the message: the field or parameter at fault.
	// Empty only where the message cannot name one.
	mention string
}

// TestBadInput sends malformed, incomplete and out-of-range requests to every
// operation: each is refused with the status and code of the contract, in the
// error shape, and a 400 names the field or parameter at fault.
func TestBadInput(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("target", 1_000_000, 1)

	validOrder := fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":"b"}`, p.ID)
	withBuyer := func(buyerJSON string) string {
		return fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":%s}`, p.ID, buyerJSON)
	}
	withOrder := func(productID, quantity string) string {
		return fmt.Sprintf(`{"product_id":%s,"quantity":%s,"buyer_id":"b"}`, productID, quantity)
	}
	withName := func(nameJSON string) string {
		return fmt.Sprintf(`{"name":%s,"stock":1,"price_cents":1}`, nameJSON)
	}
	withNumbers := func(stock, price string) string {
		return fmt.Sprintf(`{"name":"n","stock":%s,"price_cents":%s}`, stock, price)
	}
	quote := func(s string) string {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const (
		bad  = http.StatusBadRequest
		code = client.CodeBadRequest
	)
	ideographicSpaces := strings.Repeat("\u3000", 3)
	postOrder := func(name, body, mention string) badRequest {
		return badRequest{name: "POST /orders: " + name, method: http.MethodPost, path: "/orders",
			body: body, status: bad, code: code, mention: mention}
	}
	postProduct := func(name, body, mention string) badRequest {
		return badRequest{name: "POST /products: " + name, method: http.MethodPost, path: "/products",
			body: body, status: bad, code: code, mention: mention}
	}

	var cases []badRequest
	for _, op := range []struct {
		path   string
		valid  string
		fields []string
	}{
		{"/orders", validOrder, []string{"product_id", "quantity", "buyer_id"}},
		{"/products", withName(`"n"`), []string{"name", "stock", "price_cents"}},
	} {
		post := func(name, body string, header map[string]string, mention string) badRequest {
			return badRequest{name: "POST " + op.path + ": " + name, method: http.MethodPost, path: op.path,
				body: body, header: header, status: bad, code: code, mention: mention}
		}
		cases = append(cases,
			post("malformed JSON", `{"product_id":`, nil, "body"),
			post("trailing comma", strings.TrimSuffix(op.valid, "}")+",}", nil, "body"),
			post("two documents", op.valid+op.valid, nil, "body"),
			post("trailing garbage", op.valid+" x", nil, "body"),
			post("trailing comma after the object", op.valid+",", nil, "body"),
			post("array", "[]", nil, "body"),
			post("null", "null", nil, "body"),
			post("string", `"hello"`, nil, "body"),
			post("empty body", "", nil, "body"),
			post("empty object", "{}", nil, op.fields[0]),
			post("unknown field", strings.TrimSuffix(op.valid, "}")+`,"coupon":"FREE"}`, nil, "coupon"),
			post("field in the wrong case", strings.Replace(op.valid, `"`+op.fields[0]+`"`, `"`+strings.ToUpper(op.fields[0])+`"`, 1), nil, strings.ToUpper(op.fields[0])),
		)
		for _, f := range op.fields {
			var obj map[string]any
			if err := json.Unmarshal([]byte(op.valid), &obj); err != nil {
				t.Fatal(err)
			}
			delete(obj, f)
			b, _ := json.Marshal(obj)
			cases = append(cases, post("missing "+f, string(b), nil, f))
		}
	}

	cases = append(cases,
		// POST /orders: types and ranges.
		postOrder("product_id as a string", withOrder(`"1"`, "1"), "product_id"),
		postOrder("product_id 1.5", withOrder("1.5", "1"), "product_id"),
		postOrder("product_id 0", withOrder("0", "1"), "product_id"),
		postOrder("product_id -1", withOrder("-1", "1"), "product_id"),
		postOrder("product_id 2147483648", withOrder("2147483648", "1"), "product_id"),
		postOrder("product_id 1e400", withOrder("1e400", "1"), "product_id"),
		postOrder("product_id null", withOrder("null", "1"), "product_id"),
		postOrder("quantity as a string", withOrder(itoa(p.ID), `"1"`), "quantity"),
		postOrder("quantity 1.5", withOrder(itoa(p.ID), "1.5"), "quantity"),
		// JSON Schema draft 4, which OpenAPI 3.0 builds on: an integer has no
		// fraction part, so 1.0 is not one.
		postOrder("quantity 1.0", withOrder(itoa(p.ID), "1.0"), "quantity"),
		postOrder("quantity 0", withOrder(itoa(p.ID), "0"), "quantity"),
		postOrder("quantity -1", withOrder(itoa(p.ID), "-1"), "quantity"),
		postOrder("quantity 10001", withOrder(itoa(p.ID), "10001"), "quantity"),
		postOrder("quantity true", withOrder(itoa(p.ID), "true"), "quantity"),
		postOrder("buyer_id a number", withBuyer("123"), "buyer_id"),
		postOrder("buyer_id empty", withBuyer(`""`), "buyer_id"),
		postOrder("buyer_id spaces", withBuyer(`"   "`), "buyer_id"),
		postOrder("buyer_id tab and newline", withBuyer(`"\t\n"`), "buyer_id"),
		postOrder("buyer_id ideographic spaces", withBuyer(quote(ideographicSpaces)), "buyer_id"),
		postOrder("buyer_id escaped ideographic spaces", withBuyer(`"\u3000\u3000"`), "buyer_id"),
		postOrder("buyer_id no-break and em spaces", withBuyer(`"\u00a0\u2003\u2029"`), "buyer_id"),
		postOrder("buyer_id 256 ASCII", withBuyer(quote(strings.Repeat("b", 256))), "buyer_id"),
		postOrder("buyer_id 256 multi-byte", withBuyer(quote(strings.Repeat("é", 256))), "buyer_id"),
		postOrder("buyer_id 256 four-byte", withBuyer(quote(strings.Repeat("🎉", 256))), "buyer_id"),
		// The database refuses NUL; the answer is still a clean 400, but it
		// comes from the store and cannot name the field.
		postOrder("buyer_id with NUL", withBuyer(`"a\u0000b"`), ""),
		withHeader(postOrder("buyer_id with NUL and an Idempotency-Key", withBuyer(`"a\u0000b"`), ""),
			map[string]string{"Content-Type": "application/json", "Idempotency-Key": "nul-key"}),
	)

	cases = append(cases,
		// POST /products: types and ranges.
		postProduct("name a number", withName("5"), "name"),
		postProduct("name empty", withName(`""`), "name"),
		postProduct("name spaces", withName(`"   "`), "name"),
		postProduct("name tab and newline", withName(`"\t\n"`), "name"),
		postProduct("name ideographic spaces", withName(quote(ideographicSpaces)), "name"),
		postProduct("name 256 ASCII", withName(quote(strings.Repeat("n", 256))), "name"),
		postProduct("name 256 multi-byte", withName(quote(strings.Repeat("é", 256))), "name"),
		postProduct("name with NUL", withName(`"a\u0000b"`), ""),
		postProduct("stock as a string", withNumbers(`"1"`, "1"), "stock"),
		postProduct("stock -1", withNumbers("-1", "1"), "stock"),
		postProduct("stock 2147483648", withNumbers("2147483648", "1"), "stock"),
		postProduct("stock 1.5", withNumbers("1.5", "1"), "stock"),
		postProduct("price_cents -1", withNumbers("1", "-1"), "price_cents"),
		postProduct("price_cents 2147483648", withNumbers("1", "2147483648"), "price_cents"),
		postProduct("price_cents 0.5", withNumbers("1", "0.5"), "price_cents"),
	)

	get := func(path string, status int, code client.ErrorCode, mention string) badRequest {
		return badRequest{name: "GET " + path, method: http.MethodGet, path: path, status: status, code: code, mention: mention}
	}
	cases = append(cases,
		get("/products/abc", bad, code, "id"),
		get("/products/0", bad, code, "id"),
		get("/products/-1", bad, code, "id"),
		get("/products/2147483648", bad, code, "id"),
		get("/products/99999999999999999999", bad, code, "id"),
		get("/products/1.5", bad, code, "id"),
		get("/products/1e3", bad, code, "id"),
		get("/orders/not-a-uuid", bad, code, "id"),
		get("/orders/"+strings.ReplaceAll(uuid.NewString(), "-", ""), bad, code, "id"), // no dashes
		get("/orders/"+uuid.NewString()+"0", bad, code, "id"),
		get("/orders/123", bad, code, "id"),
		get("/products?limit=0", bad, code, "limit"),
		get("/products?limit=501", bad, code, "limit"),
		get("/products?limit=-1", bad, code, "limit"),
		get("/products?limit=abc", bad, code, "limit"),
		get("/products?limit=1.5", bad, code, "limit"),
		get("/products?limit=", bad, code, "limit"),
		get("/products?after_id=-1", bad, code, "after_id"),
		get("/products?after_id=abc", bad, code, "after_id"),
		get("/products?after_id=2147483648", bad, code, "after_id"),
		get("/orders/"+uuid.NewString(), http.StatusNotFound, client.CodeOrderNotFound, "not found"),
		get("/nope", http.StatusNotFound, client.CodeNotFound, "/nope"),
		get("/products/1/extra", http.StatusNotFound, client.CodeNotFound, "/products/1/extra"),
		get("/order", http.StatusNotFound, client.CodeNotFound, "/order"),
	)

	// The group returns once its parallel subtests are done, so that the
	// checks below see what they did.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				h := h.forTest(t)
				header := tc.header
				if header == nil && tc.method == http.MethodPost {
					header = jsonHeader
				}
				var body io.Reader
				if tc.method != http.MethodGet {
					body = strings.NewReader(tc.body)
				}
				req := h.newRequest(tc.method, tc.path, body, header)
				if ct, ok := header["Content-Type"]; ok && ct == "" {
					req.Header.Del("Content-Type")
				}
				wantMessage(t, h.send(req), tc.status, tc.code, tc.mention)
			})
		}
	})

	// Nothing above may have placed an order or created a product.
	if stock := h.productStock(p.ID); stock != 1_000_000 {
		t.Errorf("stock = %d: refused requests placed orders", stock)
	}
	if page := h.listProducts(nil); len(page.Items) != 1 {
		t.Errorf("%d products, want 1: refused requests created products", len(page.Items))
	}
}

func withHeader(r badRequest, header map[string]string) badRequest {
	r.header = header
	return r
}

// wantMessage asserts the status, the code and that the message mentions
// mention.
func wantMessage(t *testing.T, resp rawResponse, status int, code client.ErrorCode, mention string) {
	t.Helper()
	wantError(t, resp.status, resp.body, status, code)
	var e client.Error
	if err := json.Unmarshal(resp.body, &e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Error.Message, mention) {
		t.Errorf("message %q does not mention %q", e.Error.Message, mention)
	}
}

// TestBadInputAcceptedEdges: the values right inside the limits are
// accepted, so the limits above are where the spec puts them.
func TestBadInputAcceptedEdges(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("edges", 1_000_000, 1)

	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"buyer_id 255 multi-byte", "/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":%q}`, p.ID, strings.Repeat("é", 255)), http.StatusOK},
		{"buyer_id 255 ASCII", "/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":%q}`, p.ID, strings.Repeat("b", 255)), http.StatusOK},
		{"buyer_id one character among spaces", "/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":"\u3000x\u3000"}`, p.ID), http.StatusOK},
		{"quantity 10000", "/orders", fmt.Sprintf(`{"product_id":%d,"quantity":10000,"buyer_id":"b"}`, p.ID), http.StatusOK},
		{"Content-Type with charset", "/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":"b"}`, p.ID), http.StatusOK},
		{"name 255 multi-byte", "/products", fmt.Sprintf(`{"name":%q,"stock":0,"price_cents":0}`, strings.Repeat("é", 255)), http.StatusCreated},
		{"stock and price at 2^31-1", "/products", `{"name":"n","stock":2147483647,"price_cents":2147483647}`, http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.forTest(t)
			header := map[string]string{"Content-Type": "application/json; charset=utf-8"}
			resp := h.send(h.newRequest(http.MethodPost, tc.path, strings.NewReader(tc.body), header))
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
		})
	}
}

// TestMethodNotAllowed: a known path with a method it does not have is 405
// METHOD_NOT_ALLOWED with an Allow header listing the methods it has.
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodDelete, "/products", "GET, HEAD, POST"},
		{http.MethodPut, "/orders", "GET, HEAD, POST"},
		{http.MethodDelete, "/orders/" + uuid.NewString(), "GET, HEAD"},
		{http.MethodGet, "/orders/" + uuid.NewString() + "/cancel", "POST"},
		{http.MethodPut, "/products/1", "GET, HEAD, PATCH"},
		{http.MethodGet, "/products/1/restock", "POST"},
		{http.MethodPost, "/health", "GET, HEAD"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			h := h.forTest(t)
			resp := h.send(h.newRequest(tc.method, tc.path, nil, nil))
			wantMessage(t, resp, http.StatusMethodNotAllowed, client.CodeMethodNotAllowed, tc.method)
			if got := normalizeAllow(resp.header.Get("Allow")); got != tc.allow {
				t.Errorf("Allow = %q, want %q", resp.header.Get("Allow"), tc.allow)
			}
		})
	}
}

// normalizeAllow sorts the methods of an Allow header.
func normalizeAllow(allow string) string {
	var methods []string
	for m := range strings.SplitSeq(allow, ",") {
		if m = strings.TrimSpace(m); m != "" {
			methods = append(methods, m)
		}
	}
	for i := range methods { // a tiny insertion sort: a handful of methods
		for j := i; j > 0 && methods[j] < methods[j-1]; j-- {
			methods[j], methods[j-1] = methods[j-1], methods[j]
		}
	}
	return strings.Join(methods, ", ")
}

// TestBodyLimit: a body over 1 MiB is 413 PAYLOAD_TOO_LARGE on both POST
// operations, with a Content-Length and chunked; a valid body of exactly
// 1 MiB is accepted either way.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	p := h.createProduct("big bodies", 1_000_000, 1)

	restock := fmt.Sprintf("/products/%d/restock", p.ID)
	bodies := map[string]string{
		"/orders":   fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":"padded"}`, p.ID),
		"/products": `{"name":"padded","stock":1,"price_cents":1}`,
		restock:     `{"quantity":1}`,
	}
	accepted := map[string]int{"/orders": http.StatusOK, "/products": http.StatusCreated, restock: http.StatusOK}
	for path, valid := range bodies {
		for _, tc := range []struct {
			name string
			size int
		}{
			{"1 MiB + 1 byte", server.MaxBodyBytes + 1},
			{"4 MiB", 4 * server.MaxBodyBytes},
			{"exactly 1 MiB", server.MaxBodyBytes},
			{"1 MiB - 1 byte", server.MaxBodyBytes - 1},
		} {
			// Valid JSON padded with white space to the size: only the size can
			// make it fail.
			body := []byte(valid + strings.Repeat(" ", tc.size-len(valid)))
			for _, encoding := range []string{"Content-Length", "chunked"} {
				t.Run(fmt.Sprintf("POST %s %s %s", strings.TrimPrefix(path, "/"), tc.name, encoding), func(t *testing.T) {
					t.Parallel()
					h := h.forTest(t)
					var req *http.Request
					if encoding == "chunked" {
						req = h.newRequest(http.MethodPost, path, chunked(body), jsonHeader)
						req.ContentLength = -1
					} else {
						req = h.newRequest(http.MethodPost, path, bytes.NewReader(body), jsonHeader)
						if req.ContentLength != int64(len(body)) {
							t.Fatalf("ContentLength = %d, want %d", req.ContentLength, len(body))
						}
					}
					resp := h.send(req)
					if tc.size > server.MaxBodyBytes {
						wantMessage(t, resp, http.StatusRequestEntityTooLarge, client.CodePayloadTooLarge, fmt.Sprint(server.MaxBodyBytes))
						return
					}
					if resp.status != accepted[path] {
						t.Fatalf("status %d, want %d: %s", resp.status, accepted[path], resp.body)
					}
				})
			}
		}
	}
}

// TestBadInputMessages pins a few messages word for word: the spec's own
// example, a reason that is not repeated, and trailing data after the JSON
// value.
func TestBadInputMessages(t *testing.T) {
	t.Parallel()
	h := newFakeHarness(t)
	for _, tc := range []struct {
		method, path, body, want string
	}{
		{http.MethodPost, "/orders", `{"product_id":1,"quantity":0,"buyer_id":"b"}`,
			"request body: quantity: number must be at least 1"},
		{http.MethodGet, "/products?limit=", "",
			`query parameter "limit": empty value is not allowed`},
		{http.MethodPost, "/products", `{"name":"n","stock":1,"price_cents":1} {}`,
			"request body is not valid JSON: invalid character '{' after top-level value"},
		{http.MethodPost, "/orders", `{"product_id":1,"quantity":1,"buyer_id":" "}`,
			"request body: buyer_id: must not be blank"},
		{http.MethodPost, "/orders", `{"product_id":1,"quantity":1,"buyer_id":"` + "\u3000" + `"}`,
			"request body: buyer_id: must not be blank"},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			h := h.forTest(t)
			var body io.Reader
			if tc.method == http.MethodPost {
				body = strings.NewReader(tc.body)
			}
			resp := h.send(h.newRequest(tc.method, tc.path, body, jsonHeader))
			var e client.Error
			if err := json.Unmarshal(resp.body, &e); err != nil || resp.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s (%v); want 400", resp.status, resp.body, err)
			}
			if e.Error.Message != tc.want {
				t.Errorf("message %q, want %q", e.Error.Message, tc.want)
			}
		})
	}
}
