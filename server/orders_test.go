package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

// TestConcurrentOrders places 500 concurrent orders of one unit over real
// HTTP on a product with 100 in stock: exactly 100 succeed, 400 are
// OUT_OF_STOCK, and the stock ends at 0 with exactly 100 order rows.
func TestConcurrentOrders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("flash sale", 100, 2500)

	const buyers = 500
	var ok, outOfStock, other atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h.client.CreateOrderWithResponse(context.Background(), nil,
				client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: fmt.Sprintf("buyer-%d", i)})
			switch {
			case err != nil:
				t.Errorf("buyer %d: %v", i, err)
				other.Add(1)
			case resp.JSON200 != nil:
				ok.Add(1)
			case resp.JSON409 != nil && resp.JSON409.Error.Code == client.CodeOutOfStock:
				outOfStock.Add(1)
			default:
				t.Errorf("buyer %d: status %d: %s", i, resp.StatusCode(), resp.Body)
				other.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()

	if ok.Load() != 100 || outOfStock.Load() != 400 || other.Load() != 0 {
		t.Fatalf("got %d orders, %d OUT_OF_STOCK, %d other; want 100, 400, 0", ok.Load(), outOfStock.Load(), other.Load())
	}
	if stock := h.productStock(p.ID); stock != 0 {
		t.Errorf("final stock = %d, want 0", stock)
	}
	if n, q := h.countOrders(p.ID); n != 100 || q != 100 {
		t.Errorf("order rows = %d (quantity %d), want 100 (100)", n, q)
	}
}

// TestConcurrentOrdersMixedQuantities places 300 concurrent orders of random
// quantities on a product with 1000 in stock: what was sold plus what is left
// is exactly 1000, and every rejected order asked for more than was left.
func TestConcurrentOrdersMixedQuantities(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("mixed", 1000, 199)

	var sold, rejected atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 300 {
		qty := int32(1 + rand.IntN(10))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h.client.CreateOrderWithResponse(context.Background(), nil,
				client.NewOrder{ProductID: p.ID, Quantity: qty, BuyerID: fmt.Sprintf("buyer-%d", i)})
			switch {
			case err != nil:
				t.Errorf("order %d: %v", i, err)
			case resp.JSON200 != nil:
				if resp.JSON200.Quantity != qty || resp.JSON200.TotalAmountCents != int64(qty)*199 {
					t.Errorf("order %d: %+v, want quantity %d and total %d", i, *resp.JSON200, qty, int64(qty)*199)
				}
				sold.Add(int64(qty))
			case resp.JSON409 != nil && resp.JSON409.Error.Code == client.CodeOutOfStock:
				rejected.Add(1)
			default:
				t.Errorf("order %d: status %d: %s", i, resp.StatusCode(), resp.Body)
			}
		}()
	}
	close(start)
	wg.Wait()

	stock := h.productStock(p.ID)
	if sold.Load()+int64(stock) != 1000 {
		t.Fatalf("sold %d + stock %d = %d, want 1000", sold.Load(), stock, sold.Load()+int64(stock))
	}
	if _, q := h.countOrders(p.ID); q != sold.Load() {
		t.Errorf("order rows hold quantity %d, the API reported %d sold", q, sold.Load())
	}
	if rejected.Load() > 0 && stock >= 10 {
		t.Errorf("%d orders were rejected while %d units (>= the largest quantity) remain", rejected.Load(), stock)
	}
}

// TestCreateAndGetOrder checks the order body, the BIGINT total and the
// round trip through GET /orders/{id}.
func TestCreateAndGetOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	// 10000 × (2^31-1) overflows a 32-bit total.
	p := h.createProduct("expensive", 20000, 2147483647)

	resp, err := h.client.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 10000, BuyerID: "whale"})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("create order: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	o := *resp.JSON200
	if o.TotalAmountCents != 10000*2147483647 || o.Status != client.OrderCompleted || o.BuyerID != "whale" ||
		o.ProductID != p.ID || o.Quantity != 10000 || o.CreatedAt.Location().String() != "UTC" {
		t.Errorf("order = %+v", o)
	}
	if stock := h.productStock(p.ID); stock != 10000 {
		t.Errorf("stock = %d, want 10000", stock)
	}

	got, err := h.client.GetOrderWithResponse(ctx, o.ID)
	if err != nil || got.JSON200 == nil {
		t.Fatalf("get order: %v, status %d: %s", err, got.StatusCode(), got.Body)
	}
	if !got.JSON200.CreatedAt.Equal(o.CreatedAt) || got.JSON200.ID != o.ID || got.JSON200.TotalAmountCents != o.TotalAmountCents {
		t.Errorf("GET /orders/{id} = %+v, want %+v", *got.JSON200, o)
	}
}

// TestRejectedOrderChangesNothing: a 409 or 404 leaves stock and orders alone.
func TestRejectedOrderChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("few", 2, 100)

	resp, err := h.client.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 3, BuyerID: "b"})
	if err != nil || resp.StatusCode() != http.StatusConflict {
		t.Fatalf("over-order: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	resp, err = h.client.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID + 1000, Quantity: 1, BuyerID: "b"})
	if err != nil || resp.JSON404 == nil || resp.JSON404.Error.Code != client.CodeProductNotFound {
		t.Fatalf("unknown product: %v, status %d: %s", err, resp.StatusCode(), resp.Body)
	}
	if stock := h.productStock(p.ID); stock != 2 {
		t.Errorf("stock = %d, want 2", stock)
	}
	if n, _ := h.countOrders(p.ID); n != 0 {
		t.Errorf("%d orders recorded, want 0", n)
	}
}
