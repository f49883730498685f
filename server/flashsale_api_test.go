package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/server"
)

// decode unmarshals a raw response's body into v, failing the test if it
// does not parse.
func decode[T any](t *testing.T, r rawResponse) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("status %d, body %s: %v", r.status, r.body, err)
	}
	return v
}

// TestPatchProductMergeSemantics: PATCH /products/{id} is a JSON merge
// patch, as application/merge-patch+json or application/json: fields sent
// are set, fields absent kept, null removes a limit; bad values are 400,
// an unknown product 404.
func TestPatchProductMergeSemantics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("patched", 10, 500)
	path := fmt.Sprintf("/products/%d", p.ID)
	merge := map[string]string{"Content-Type": "application/merge-patch+json"}
	patch := func(header map[string]string, body string) rawResponse {
		return h.send(h.newRequest(http.MethodPatch, path, strings.NewReader(body), header))
	}

	r := patch(merge, `{"max_per_buyer": 2, "hold_seconds": 600}`)
	got := decode[client.Product](t, r)
	if r.status != http.StatusOK || got.MaxPerBuyer == nil || *got.MaxPerBuyer != 2 || got.HoldSeconds == nil ||
		*got.HoldSeconds != 600 || got.Name != "patched" || got.PriceCents != 500 || got.Stock != 10 {
		t.Fatalf("set both limits: %d %s", r.status, r.body)
	}
	r = patch(jsonHeader, `{"name": "renamed", "hold_seconds": null}`)
	got = decode[client.Product](t, r)
	if r.status != http.StatusOK || got.HoldSeconds != nil || got.MaxPerBuyer == nil || *got.MaxPerBuyer != 2 || got.Name != "renamed" {
		t.Fatalf("null removes hold_seconds, absent keeps max_per_buyer: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "hold_seconds") {
		t.Errorf("a removed limit is absent from the product: %s", r.body)
	}
	r = patch(merge, `{"max_per_buyer": null, "price_cents": 7}`)
	got = decode[client.Product](t, r)
	if r.status != http.StatusOK || got.MaxPerBuyer != nil || got.PriceCents != 7 {
		t.Fatalf("null removes max_per_buyer: %d %s", r.status, r.body)
	}
	if r := patch(merge, `{}`); r.status != http.StatusOK {
		t.Errorf("an empty patch: %d %s", r.status, r.body)
	}
	// The product as read matches.
	read, err := h.client.GetProductWithResponse(context.Background(), p.ID)
	if err != nil || read.JSON200 == nil || read.JSON200.Name != "renamed" || read.JSON200.PriceCents != 7 ||
		read.JSON200.MaxPerBuyer != nil || read.JSON200.HoldSeconds != nil {
		t.Errorf("GET after the patches: %v %s", err, read.Body)
	}

	for name, body := range map[string]string{
		"limit 0":            `{"max_per_buyer": 0}`,
		"limit over 10000":   `{"max_per_buyer": 10001}`,
		"hold over a day":    `{"hold_seconds": 86401}`,
		"blank name":         `{"name": "  "}`,
		"null name":          `{"name": null}`,
		"unknown field":      `{"stock": 5}`,
		"duplicate key":      `{"hold_seconds": 1, "hold_seconds": 2}`,
		"not an object":      `[1]`,
		"merge, bad value":   `{"max_per_buyer": "two"}`,
		"trailing document":  `{"name": "x"} {"name": "y"}`,
		"negative price":     `{"price_cents": -1}`,
		"hold seconds float": `{"hold_seconds": 1.5}`,
	} {
		for _, header := range []map[string]string{merge, jsonHeader} {
			if r := patch(header, body); r.status != http.StatusBadRequest {
				t.Errorf("%s (%s): status %d, want 400: %s", name, header["Content-Type"], r.status, r.body)
			}
		}
	}
	r = h.send(h.newRequest(http.MethodPatch, "/products/999999", strings.NewReader(`{"name":"x"}`), merge))
	wantError(t, r.status, r.body, http.StatusNotFound, client.CodeProductNotFound)
	big := `{"name":"x"}` + strings.Repeat(" ", server.MaxBodyBytes)
	r = patch(merge, big)
	wantError(t, r.status, r.body, http.StatusRequestEntityTooLarge, client.CodePayloadTooLarge)
}

// TestRestockAPI: restock raises the stock; past 2^31-1 units in all it is
// 409 STOCK_OVERFLOW and changes nothing; an unknown product is 404; a
// quantity out of range 400.
func TestRestockAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("restocked", 5, 1)
	r, err := h.client.RestockProductWithResponse(ctx, p.ID, client.Restock{Quantity: 7})
	if err != nil || r.JSON200 == nil || r.JSON200.Stock != 12 {
		t.Fatalf("restock: %v %s", err, r.Body)
	}
	r, err = h.client.RestockProductWithResponse(ctx, p.ID, client.Restock{Quantity: 2147483647})
	if err != nil || r.JSON409 == nil || r.JSON409.Error.Code != client.CodeStockOverflow {
		t.Fatalf("overflow: %v, status %d: %s", err, r.StatusCode(), r.Body)
	}
	if s := h.productStock(p.ID); s != 12 {
		t.Errorf("stock = %d after a refused restock, want 12", s)
	}
	r, err = h.client.RestockProductWithResponse(ctx, p.ID, client.Restock{Quantity: 2147483647 - 12})
	if err != nil || r.JSON200 == nil || r.JSON200.Stock != 2147483647 {
		t.Fatalf("restock to the top: %v %s", err, r.Body)
	}
	r, err = h.client.RestockProductWithResponse(ctx, 999999, client.Restock{Quantity: 1})
	if err != nil || r.JSON404 == nil {
		t.Fatalf("unknown product: %v, status %d", err, r.StatusCode())
	}
	for _, body := range []string{`{"quantity": 0}`, `{"quantity": 2147483648}`, `{}`, `{"quantity": 1, "x": 1}`} {
		resp := h.send(h.newRequest(http.MethodPost, fmt.Sprintf("/products/%d/restock", p.ID), strings.NewReader(body), jsonHeader))
		if resp.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, resp.status)
		}
	}
}

// TestHoldsOverHTTP: a hold product's order is pending with expires_at;
// confirm and cancel answer as the contract says, including their 409s and
// 404s; the sequential limit (stock 2, max_per_buyer 2: orders of 1, 1, 1 →
// 200, 200, 409 BUYER_LIMIT_EXCEEDED); an Idempotency-Key replay answers
// the first answer after a confirm; the metrics count it all.
func TestHoldsOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	hold, maxTwo := int32(1), int32(2)
	created, err := h.client.CreateProductWithResponse(ctx, client.NewProduct{Name: "drop", Stock: 2, PriceCents: 100,
		MaxPerBuyer: &maxTwo, HoldSeconds: &hold})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create: %v %s", err, created.Body)
	}
	p := created.JSON201
	one := client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "fan"}
	var orders []client.Order
	for i, want := range []int{200, 200, 409} {
		params := (*client.CreateOrderParams)(nil)
		if i == 0 {
			params = key("first-hold")
		}
		r, err := h.client.CreateOrderWithResponse(ctx, params, one)
		if err != nil || r.StatusCode() != want {
			t.Fatalf("order %d: %v, status %d, want %d: %s", i, err, r.StatusCode(), want, r.Body)
		}
		if want == 409 {
			if r.JSON409.Error.Code != client.CodeBuyerLimitExceeded {
				t.Fatalf("order %d: %s, want BUYER_LIMIT_EXCEEDED", i, r.Body)
			}
			continue
		}
		o := *r.JSON200
		if o.Status != client.OrderPending || o.ExpiresAt == nil || !o.ExpiresAt.Equal(o.CreatedAt.Add(time.Second)) ||
			!o.UpdatedAt.Equal(o.CreatedAt) {
			t.Fatalf("a hold: %s", r.Body)
		}
		orders = append(orders, o)
	}

	c, err := h.client.ConfirmOrderWithResponse(ctx, orders[0].ID)
	if err != nil || c.JSON200 == nil || c.JSON200.Status != client.OrderCompleted {
		t.Fatalf("confirm: %v %s", err, c.Body)
	}
	if c, _ := h.client.ConfirmOrderWithResponse(ctx, orders[0].ID); c.JSON200 == nil {
		t.Errorf("confirm again: %s", c.Body)
	}
	x, err := h.client.CancelOrderWithResponse(ctx, orders[1].ID)
	if err != nil || x.JSON200 == nil || x.JSON200.Status != client.OrderCancelled {
		t.Fatalf("cancel: %v %s", err, x.Body)
	}
	if x, _ := h.client.CancelOrderWithResponse(ctx, orders[1].ID); x.JSON200 == nil {
		t.Errorf("cancel again: %s", x.Body)
	}
	if c, _ := h.client.ConfirmOrderWithResponse(ctx, orders[1].ID); c.JSON409 == nil || c.JSON409.Error.Code != client.CodeOrderNotPending {
		t.Errorf("confirm a cancelled order: %s", c.Body)
	}
	if s := h.productStock(p.ID); s != 1 {
		t.Errorf("stock = %d, want 1", s)
	}
	// The cancelled unit no longer counts: the buyer may take it again.
	again, err := h.client.CreateOrderWithResponse(ctx, nil, one)
	if err != nil || again.JSON200 == nil {
		t.Fatalf("order after a cancel: %v %s", err, again.Body)
	}
	time.Sleep(time.Until(again.JSON200.ExpiresAt.Add(50 * time.Millisecond)))
	if c, _ := h.client.ConfirmOrderWithResponse(ctx, again.JSON200.ID); c.JSON409 == nil || c.JSON409.Error.Code != client.CodeOrderExpired {
		t.Errorf("confirm an expired hold: %s", c.Body)
	}
	if x, _ := h.client.CancelOrderWithResponse(ctx, again.JSON200.ID); x.JSON409 == nil || x.JSON409.Error.Code != client.CodeOrderExpired {
		t.Errorf("cancel an expired hold: %s", x.Body)
	}
	if g, _ := h.client.GetOrderWithResponse(ctx, again.JSON200.ID); g.JSON200 == nil || g.JSON200.Status != client.OrderExpired {
		t.Errorf("GET an expired hold: %s", g.Body)
	}
	replay, err := h.client.CreateOrderWithResponse(ctx, key("first-hold"), one)
	if err != nil || replay.JSON200 == nil || replay.JSON200.Status != client.OrderPending || replay.JSON200.ID != orders[0].ID {
		t.Errorf("replay after a confirm: %v %s; want the first answer (pending)", err, replay.Body)
	}
	waitFor(t, "the sweep to return the expired unit", func() bool { return h.productStock(p.ID) == 1 })

	for _, id := range []uuid.UUID{uuid.New()} {
		if c, _ := h.client.ConfirmOrderWithResponse(ctx, id); c.JSON404 == nil {
			t.Errorf("confirm an unknown order: %s", c.Body)
		}
		if x, _ := h.client.CancelOrderWithResponse(ctx, id); x.JSON404 == nil {
			t.Errorf("cancel an unknown order: %s", x.Body)
		}
	}
	for _, path := range []string{"/orders/nope/confirm", "/orders/nope/cancel"} {
		r := h.send(h.newRequest(http.MethodPost, path, nil, nil))
		wantError(t, r.status, r.body, http.StatusBadRequest, client.CodeBadRequest)
	}
	waitForMetric(t, h, `ordersettle_orders_total{outcome="buyer_limit"} 1`)
	waitForMetric(t, h, `ordersettle_order_transitions_total{to="completed"} 1`)
	waitForMetric(t, h, `ordersettle_order_transitions_total{to="cancelled"} 1`)
	waitForMetric(t, h, `ordersettle_order_transitions_total{to="expired"} 1`)
	waitForMetric(t, h, `ordersettle_order_holds 0`)
}

// waitFor polls cond until it holds, or fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListOrdersAPI: GET /orders pages newest first with an opaque cursor;
// a walk sees every order once; filters apply; a bad cursor is 400.
func TestListOrdersAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("listed", 100, 1)
	q := h.createProduct("other", 100, 1)
	for i := range 25 {
		product := p.ID
		if i%5 == 0 {
			product = q.ID
		}
		if r, err := h.client.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: product, Quantity: 1, BuyerID: fmt.Sprint("b", i%3)}); err != nil || r.JSON200 == nil {
			t.Fatalf("order %d: %v", i, err)
		}
	}
	walk := func(params client.ListOrdersParams) int {
		seen := map[uuid.UUID]bool{}
		var last *client.Order
		for pages := 0; ; pages++ {
			r, err := h.client.ListOrdersWithResponse(ctx, &params)
			if err != nil || r.JSON200 == nil {
				t.Fatalf("list %+v: %v %s", params, err, r.Body)
			}
			for _, o := range r.JSON200.Items {
				if seen[o.ID] {
					t.Fatalf("order %s twice", o.ID)
				}
				seen[o.ID] = true
				if params.BuyerID != nil && o.BuyerID != *params.BuyerID || params.ProductID != nil && o.ProductID != *params.ProductID {
					t.Fatalf("order %+v does not match the filters", o)
				}
				if last != nil && o.CreatedAt.After(last.CreatedAt) {
					t.Fatalf("not newest first")
				}
				last = &o
			}
			if r.JSON200.NextCursor == nil {
				return len(seen)
			}
			params.Cursor = r.JSON200.NextCursor
		}
	}
	limit := int32(4)
	buyer := "b1"
	status := client.OrderCompleted
	pending := client.OrderPending
	for name, tc := range map[string]struct {
		params client.ListOrdersParams
		want   int
	}{
		"all, default page":  {client.ListOrdersParams{}, 25},
		"all, pages of 4":    {client.ListOrdersParams{Limit: &limit}, 25},
		"one product":        {client.ListOrdersParams{Limit: &limit, ProductID: &q.ID}, 5},
		"one buyer":          {client.ListOrdersParams{Limit: &limit, BuyerID: &buyer}, 8},
		"completed":          {client.ListOrdersParams{Status: &status}, 25},
		"pending: none here": {client.ListOrdersParams{Status: &pending}, 0},
	} {
		if got := walk(tc.params); got != tc.want {
			t.Errorf("%s: %d orders, want %d", name, got, tc.want)
		}
	}
	for _, bad := range []string{"nope", "AAAA", encodeForeignCursor()} {
		r := h.send(h.newRequest(http.MethodGet, "/orders?cursor="+bad, nil, nil))
		wantError(t, r.status, r.body, http.StatusBadRequest, client.CodeBadRequest)
	}
	for _, q := range []string{"limit=0", "limit=101", "status=paid", "product_id=0"} {
		r := h.send(h.newRequest(http.MethodGet, "/orders?"+q, nil, nil))
		wantError(t, r.status, r.body, http.StatusBadRequest, client.CodeBadRequest)
	}
}

// encodeForeignCursor is a cursor of GET /jobs, which GET /orders refuses.
func encodeForeignCursor() string {
	return "ag" + strings.Repeat("A", 31)
}

// TestKeyedOrderWithinRequestTimeout: a keyed order stuck behind a row lock
// is answered 503 within REQUEST_TIMEOUT, its key's release included (the
// handler's work stops short of the timeout by the cleanup reserve); a
// retry once the lock is gone is served.
func TestKeyedOrderWithinRequestTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	h := newHarness(t, func(c *server.Config) { c.RequestTimeout = timeout })
	p := h.createProduct("locked", 5, 1)
	release := testkit.LockProduct(t, h.store, p.ID)
	body := fmt.Sprintf(`{"product_id":%d,"quantity":1,"buyer_id":"b"}`, p.ID)
	header := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "bounded"}

	started := time.Now()
	r := h.send(h.newRequest(http.MethodPost, "/orders", strings.NewReader(body), header))
	took := time.Since(started)
	wantUnavailable(t, r)
	if took >= timeout {
		t.Errorf("answered after %v; REQUEST_TIMEOUT is %v, end to end", took, timeout)
	}
	release()
	r = h.send(h.newRequest(http.MethodPost, "/orders", strings.NewReader(body), header))
	if r.status != http.StatusOK {
		t.Errorf("retry after the 503: status %d: %s", r.status, r.body)
	}
}
