package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
)

// TestFlashSaleExact: 450 concurrent buyers of one product with 100 in
// stock, quantities 1 to 3 (150 of each, so demand is 600 units): the units
// sold are exactly the stock, the stock ends at 0, and every other answer is
// 409 OUT_OF_STOCK. (With at least 100 orders of one unit, any arrival order
// sells out.)
func TestFlashSaleExact(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("flash sale", 100, 999)

	var sold, refused atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 450 {
		qty := int32(1 + i%3)
		wg.Go(func() {
			<-start
			resp, err := h.client.CreateOrderWithResponse(context.Background(), nil,
				client.NewOrder{ProductID: p.ID, Quantity: qty, BuyerID: fmt.Sprint("buyer-", i)})
			switch {
			case err != nil:
				t.Errorf("buyer %d: %v", i, err)
			case resp.JSON200 != nil:
				if resp.JSON200.Quantity != qty || resp.JSON200.TotalAmountCents != int64(qty)*999 {
					t.Errorf("buyer %d: order %+v", i, *resp.JSON200)
				}
				sold.Add(int64(qty))
			case resp.JSON409 != nil && resp.JSON409.Error.Code == client.CodeOutOfStock:
				refused.Add(1)
			default:
				t.Errorf("buyer %d: status %d: %s", i, resp.StatusCode(), resp.Body)
			}
		})
	}
	close(start)
	wg.Wait()

	if sold.Load() != 100 {
		t.Fatalf("sold %d units, want exactly the stock, 100 (%d refused)", sold.Load(), refused.Load())
	}
	if stock := h.productStock(p.ID); stock != 0 {
		t.Errorf("stock = %d, want 0", stock)
	}
	if _, units := h.countOrders(p.ID); units != 100 {
		t.Errorf("order rows hold %d units, want 100", units)
	}
	metrics := string(h.scrape().body)
	for _, want := range []string{
		"ordersettle_order_batch_size_count ",
		`ordersettle_orders_total{outcome="placed"} `,
		fmt.Sprintf(`ordersettle_orders_total{outcome="out_of_stock"} %d`, refused.Load()),
		`ordersettle_orders_total{outcome="product_not_found"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(metrics, "ordersettle_order"))
		}
	}
}

// TestIdempotencyKeysInBatches: 50 concurrent requests under one key, in
// batches with 100 requests under keys of their own: one order for the
// shared key (every answer is that order or IDEMPOTENCY_KEY_IN_USE), one
// order per other key, and the shared key with another request is 422.
func TestIdempotencyKeysInBatches(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("keys", 1000, 10)
	shared := client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "same"}

	var mu sync.Mutex
	ids := map[string]bool{}
	inUse := 0
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 150 {
		wg.Go(func() {
			<-start
			k, order := "shared", shared
			if i >= 50 {
				k, order = fmt.Sprint("own-", i), client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: fmt.Sprint("b", i)}
			}
			resp, err := h.client.CreateOrderWithResponse(ctx, key(k), order)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case resp.JSON200 != nil && k == "shared":
				ids[resp.JSON200.ID.String()] = true
			case resp.JSON200 != nil:
			case resp.JSON409 != nil && resp.JSON409.Error.Code == client.CodeIdempotencyKeyInUse && k == "shared":
				inUse++
			default:
				t.Errorf("key %s: status %d: %s", k, resp.StatusCode(), resp.Body)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("the shared key's answers named %d orders, want 1", len(ids))
	}
	if n, _ := h.countOrders(p.ID); n != 101 {
		t.Errorf("%d orders, want 101", n)
	}
	resp, err := h.client.CreateOrderWithResponse(ctx, key("shared"), client.NewOrder{ProductID: p.ID, Quantity: 2, BuyerID: "same"})
	if err != nil || resp.JSON422 == nil {
		t.Fatalf("reuse: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	t.Logf("shared key: %d answers with the order, %d IDEMPOTENCY_KEY_IN_USE", 50-inUse, inUse)
}

// TestOrderQueueFull: with the order queue full, POST /orders is answered
// 503 UNAVAILABLE with Retry-After at once; the queued orders complete.
func TestOrderQueueFull(t *testing.T) {
	t.Parallel()
	h := newHarnessWithCommitter(t, ordercommit.Config{Committers: 1, QueueSize: 1})
	ctx := context.Background()
	held := h.createProduct("held", 5, 100)
	p := h.createProduct("queued", 5, 100)

	release := testkit.LockProduct(t, h.store, held.ID)
	answers := make(chan *client.CreateOrderResponse, 2)
	order := func(id int32) {
		resp, err := h.client.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: id, Quantity: 1, BuyerID: "b"})
		if err != nil {
			t.Error(err)
		}
		answers <- resp
	}
	go order(held.ID) // the committer waits for the held row
	waitForLockWait(t, h)
	go order(p.ID) // queued
	waitForMetric(t, h, "ordersettle_order_queue_length 1")

	started := time.Now()
	resp := h.send(h.newRequest(http.MethodPost, "/orders",
		strings.NewReader(`{"product_id":`+itoa(p.ID)+`,"quantity":1,"buyer_id":"c"}`),
		map[string]string{"Content-Type": "application/json"}))
	wantUnavailable(t, resp)
	if took := time.Since(started); took > time.Second {
		t.Errorf("a full queue answered after %v; it must answer at once", took)
	}
	release()
	for range 2 {
		if r := <-answers; r == nil || r.JSON200 == nil {
			t.Errorf("a queued order did not complete: %+v", r)
		}
	}
	if stock := h.productStock(p.ID); stock != 4 {
		t.Errorf("stock = %d, want 4", stock)
	}
}

// waitForMetric waits until /metrics has a line starting with line.
func waitForMetric(t *testing.T, h *harness, line string) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("/metrics to show %q", line), 5*time.Second, func() bool {
		for l := range strings.SplitSeq(string(h.scrape().body), "\n") {
			if strings.HasPrefix(l, line) {
				return true
			}
		}
		return false
	})
}
