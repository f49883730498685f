package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/server"
)

func key(k string) *client.CreateOrderParams { return &client.CreateOrderParams{IdempotencyKey: &k} }

// TestIdempotentReplay: a retry with the same key and request returns the
// same order and moves stock once; the same key with another request is 422.
func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("idem", 10, 300)
	order := client.NewOrder{ProductID: p.ID, Quantity: 2, BuyerID: "alice"}

	first, err := h.client.CreateOrderWithResponse(ctx, key("k-1"), order)
	if err != nil || first.JSON200 == nil {
		t.Fatalf("first: %v, status %d: %s", err, first.StatusCode(), first.Body)
	}
	for range 3 {
		again, err := h.client.CreateOrderWithResponse(ctx, key("k-1"), order)
		if err != nil || again.JSON200 == nil {
			t.Fatalf("replay: %v, status %d: %s", err, again.StatusCode(), again.Body)
		}
		if string(again.Body) != string(first.Body) {
			t.Errorf("replay body %s, want %s", again.Body, first.Body)
		}
	}
	if stock := h.productStock(p.ID); stock != 8 {
		t.Errorf("stock = %d, want 8 (moved once)", stock)
	}

	for _, changed := range []client.NewOrder{
		{ProductID: p.ID, Quantity: 3, BuyerID: "alice"},
		{ProductID: p.ID, Quantity: 2, BuyerID: "bob"},
	} {
		resp, err := h.client.CreateOrderWithResponse(ctx, key("k-1"), changed)
		if err != nil || resp.JSON422 == nil || resp.JSON422.Error.Code != client.CodeIdempotencyKeyReused {
			t.Fatalf("reuse with %+v: %v, status %d: %s", changed, err, resp.StatusCode(), resp.Body)
		}
	}
	if n, _ := h.countOrders(p.ID); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// TestIdempotentReplayOfRejections: a 409 or 404 outcome is replayed as is,
// even after the stock or the product changed.
func TestIdempotentReplayOfRejections(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("scarce", 1, 300)

	over := client.NewOrder{ProductID: p.ID, Quantity: 5, BuyerID: "carol"}
	first, err := h.client.CreateOrderWithResponse(ctx, key("k-409"), over)
	if err != nil || first.StatusCode() != http.StatusConflict {
		t.Fatalf("first: %v, status %d: %s", err, first.StatusCode(), first.Body)
	}
	if _, err := h.store.DB().Exec(`UPDATE products SET stock = 100 WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	again, err := h.client.CreateOrderWithResponse(ctx, key("k-409"), over)
	if err != nil || again.StatusCode() != http.StatusConflict || string(again.Body) != string(first.Body) {
		t.Fatalf("replay: %v, status %d: %s; want 409 %s", err, again.StatusCode(), again.Body, first.Body)
	}

	missing := client.NewOrder{ProductID: p.ID + 1, Quantity: 1, BuyerID: "carol"}
	first, err = h.client.CreateOrderWithResponse(ctx, key("k-404"), missing)
	if err != nil || first.StatusCode() != http.StatusNotFound {
		t.Fatalf("first: %v, status %d: %s", err, first.StatusCode(), first.Body)
	}
	h.createProduct("now it exists", 5, 1) // gets id p.ID+1
	again, err = h.client.CreateOrderWithResponse(ctx, key("k-404"), missing)
	if err != nil || again.StatusCode() != http.StatusNotFound || string(again.Body) != string(first.Body) {
		t.Fatalf("replay: %v, status %d: %s; want 404 %s", err, again.StatusCode(), again.Body, first.Body)
	}
}

// TestIdempotentConcurrentSameKey: 20 concurrent requests with one key create
// exactly one order; each answer is that order or IDEMPOTENCY_KEY_IN_USE.
func TestIdempotentConcurrentSameKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("race", 50, 100)
	order := client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "dave"}

	var mu sync.Mutex
	ids := map[string]int{}
	inUse := 0
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h.client.CreateOrderWithResponse(ctx, key("same"), order)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case resp.JSON200 != nil:
				ids[resp.JSON200.ID.String()]++
			case resp.JSON409 != nil && resp.JSON409.Error.Code == client.CodeIdempotencyKeyInUse:
				inUse++
			default:
				t.Errorf("status %d: %s", resp.StatusCode(), resp.Body)
			}
		}()
	}
	close(start)
	wg.Wait()

	if len(ids) != 1 {
		t.Fatalf("answers named %d different orders (%v), want 1", len(ids), ids)
	}
	if n, _ := h.countOrders(p.ID); n != 1 {
		t.Fatalf("%d orders created, want 1", n)
	}
	if stock := h.productStock(p.ID); stock != 49 {
		t.Errorf("stock = %d, want 49", stock)
	}
	t.Logf("%d answers with the order, %d IDEMPOTENCY_KEY_IN_USE", 20-inUse, inUse)
}

// waitForClaim waits until the key is claimed (in flight) in the database.
func waitForClaim(t *testing.T, h *harness, k string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := h.store.DB().QueryRow(`SELECT count(*) FROM idempotency_keys WHERE key = $1 AND outcome IS NULL`, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("key %q was never claimed", k)
}

// TestIdempotencyKeyInFlight: while the first request is in flight, the same
// request is 409 IDEMPOTENCY_KEY_IN_USE at once and a different one is 422;
// the first then completes normally.
func TestIdempotencyKeyInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("slow", 5, 100)
	order := client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "erin"}

	release := testkit.LockProduct(t, h.store, p.ID)
	firstDone := make(chan *client.CreateOrderResponse, 1)
	go func() {
		resp, err := h.client.CreateOrderWithResponse(ctx, key("in-flight"), order)
		if err != nil {
			t.Error(err)
		}
		firstDone <- resp
	}()
	waitForClaim(t, h, "in-flight")

	started := time.Now()
	resp, err := h.client.CreateOrderWithResponse(ctx, key("in-flight"), order)
	if err != nil || resp.JSON409 == nil || resp.JSON409.Error.Code != client.CodeIdempotencyKeyInUse {
		t.Fatalf("same request in flight: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	if waited := time.Since(started); waited > time.Second {
		t.Errorf("IDEMPOTENCY_KEY_IN_USE took %v; it must answer at once", waited)
	}
	resp, err = h.client.CreateOrderWithResponse(ctx, key("in-flight"), client.NewOrder{ProductID: p.ID, Quantity: 2, BuyerID: "erin"})
	if err != nil || resp.JSON422 == nil {
		t.Fatalf("different request in flight: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}

	release()
	first := <-firstDone
	if first == nil || first.JSON200 == nil {
		t.Fatalf("first request did not complete with 200: %+v", first)
	}
	again, err := h.client.CreateOrderWithResponse(ctx, key("in-flight"), order)
	if err != nil || again.JSON200 == nil || again.JSON200.ID != first.JSON200.ID {
		t.Fatalf("replay after completion: %v, status %d: %s", err, again.StatusCode(), again.Body)
	}
}

// TestIdempotencyKeyFreedAfterFailure: a request that fails with a 5xx
// (here: it runs out of time waiting for the product's row lock) frees its
// key, and a retry places the order exactly once.
func TestIdempotencyKeyFreedAfterFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *server.Config) { c.RequestTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	p := h.createProduct("timeout", 5, 100)
	order := client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "frank"}

	release := testkit.LockProduct(t, h.store, p.ID)
	resp, err := h.client.CreateOrderWithResponse(ctx, key("freed"), order)
	if err != nil || resp.StatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("locked: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	if ra := resp.HTTPResponse.Header.Get("Retry-After"); ra == "" {
		t.Error("503 without Retry-After")
	}
	release()

	resp, err = h.client.CreateOrderWithResponse(ctx, key("freed"), order)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("retry: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	if n, _ := h.countOrders(p.ID); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// TestIdempotencyKeyBadValues: an empty or over-long key is 400 and is not
// recorded.
func TestIdempotencyKeyBadValues(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("keys", 5, 100)
	body := `{"product_id":` + itoa(p.ID) + `,"quantity":1,"buyer_id":"gus"}`
	for name, k := range map[string]string{"empty": "", "256 chars": strings.Repeat("k", 256)} {
		status, b := h.do(http.MethodPost, "/orders", strings.NewReader(body),
			map[string]string{"Content-Type": "application/json", "Idempotency-Key": k})
		t.Run(name, func(t *testing.T) { wantError(t, status, b, http.StatusBadRequest, client.CodeBadRequest) })
	}
	// 255 multi-byte characters are fine: lengths count characters.
	status, b := h.do(http.MethodPost, "/orders", strings.NewReader(body),
		map[string]string{"Content-Type": "application/json", "Idempotency-Key": strings.Repeat("é", 255)})
	if status != http.StatusOK {
		t.Fatalf("255-character key: status %d: %s", status, b)
	}
	var n int
	if err := h.store.DB().QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("recorded keys = %d (%v), want 1", n, err)
	}
}
