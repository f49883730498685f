package ordercommit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
)

// hold keeps the only committer busy: it places an order on a product whose
// row lock the test holds, and returns once that batch waits for the lock.
// Orders placed afterwards queue up until release is called.
func hold(t *testing.T, st *store.Store, c *ordercommit.Committer) (release func(), blocker <-chan placed) {
	t.Helper()
	id := testkit.CreateProduct(t, st, "p", 1, 100).ID
	release = testkit.LockProduct(t, st, id)
	blocker = placeAsync(context.Background(), c, "", store.NewOrder{ProductID: id, Quantity: 1, BuyerID: "blocker"})
	testkit.Eventually(t, "the committer to wait for the held lock", 10*time.Second, func() bool {
		return c.QueueLen() == 0 && len(lockWaiters(t, st)) == 1
	})
	return release, blocker
}

// queue places orders one after the other, each once the previous one is
// queued, so that they queue in slice order.
func queue(t *testing.T, c *ordercommit.Committer, keys []string, orders ...store.NewOrder) []<-chan placed {
	t.Helper()
	out := make([]<-chan placed, len(orders))
	for i, o := range orders {
		key := ""
		if keys != nil {
			key = keys[i]
		}
		before := c.QueueLen()
		out[i] = placeAsync(context.Background(), c, key, o)
		testkit.Eventually(t, fmt.Sprintf("order %d to queue", i), 10*time.Second, func() bool { return c.QueueLen() == before+1 })
	}
	return out
}

// TestSequentialSemantics: stock 2; an order for 3 queued before two orders
// for 1, all committed in one batch: 409, 200, 200, as if they had run one at
// a time in arrival order.
func TestSequentialSemantics(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 1})
	p := testkit.CreateProduct(t, st, "p", 2, 100).ID

	release, blocker := hold(t, st, c)
	got := queue(t, c, nil,
		store.NewOrder{ProductID: p, Quantity: 3, BuyerID: "big"},
		store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "first"},
		store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "second"},
	)
	release()

	if b := <-blocker; b.err != nil {
		t.Fatal(b.err)
	}
	for i, want := range []error{domain.ErrOutOfStock, nil, nil} {
		if r := <-got[i]; !isErr(r.err, want) {
			t.Errorf("order %d: %v, want %v", i, r.err, want)
		}
	}
	if s := testkit.StockOf(t, st, p); s != 0 {
		t.Errorf("stock = %d, want 0", s)
	}
	sum, count := metric(t, c, "ordersettle_order_batch_size")
	if count != 2 || sum != 4 {
		t.Errorf("batches: %d holding %v orders; want 2 holding 4 (the blocker, then the three in one)", count, sum)
	}
}

// TestExactUnderContention: 300 concurrent buyers of quantities 1..3 on a
// product with 100 in stock, over 4 committers with small batches (so that
// batches contend for the row): exactly 100 units sold, stock 0, every other
// order OUT_OF_STOCK.
func TestExactUnderContention(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 4, MaxBatch: 8})
	p := testkit.CreateProduct(t, st, "p", 100, 100).ID

	var sold, refused atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 300 {
		qty := int32(1 + i%3)
		wg.Go(func() {
			<-start
			_, err := c.Place(context.Background(), "", store.NewOrder{ProductID: p, Quantity: qty, BuyerID: fmt.Sprint("b", i)})
			switch {
			case err == nil:
				sold.Add(int64(qty))
			case errors.Is(err, domain.ErrOutOfStock):
				refused.Add(1)
			default:
				t.Errorf("buyer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if sold.Load() != 100 || testkit.StockOf(t, st, p) != 0 {
		t.Fatalf("sold %d, stock %d; want 100, 0", sold.Load(), testkit.StockOf(t, st, p))
	}
	if _, units := orderRows(t, st, p); units != 100 {
		t.Errorf("order rows hold %d units, want 100", units)
	}
	placed, _ := metric(t, c, "ordersettle_orders_total", "outcome", "placed")
	outOfStock, _ := metric(t, c, "ordersettle_orders_total", "outcome", "out_of_stock")
	if int64(outOfStock) != refused.Load() || placed+outOfStock != 300 {
		t.Errorf("metrics: placed %v, out_of_stock %v; want %d refused of 300", placed, outOfStock, refused.Load())
	}
}

// TestQueueFull: beyond QueueSize waiting orders, Place fails at once with
// ErrQueueFull and frees the order's key; the queued orders are placed.
func TestQueueFull(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 1, QueueSize: 2})
	p := testkit.CreateProduct(t, st, "p", 10, 100).ID
	o := store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "b"}

	release, blocker := hold(t, st, c)
	queued := queue(t, c, nil, o, o)
	started := time.Now()
	if _, err := c.Place(context.Background(), "full", o); !errors.Is(err, ordercommit.ErrQueueFull) {
		t.Fatalf("a third order: %v, want ErrQueueFull", err)
	}
	if took := time.Since(started); took > 2*time.Second {
		t.Errorf("a full queue answered after %v; it must answer at once", took)
	}
	release()
	for _, ch := range append(queued, blocker) {
		if r := <-ch; r.err != nil {
			t.Errorf("queued order: %v", r.err)
		}
	}
	if _, err := c.Place(context.Background(), "full", o); err != nil {
		t.Errorf("the refused order's key must be free: %v", err)
	}
	if s := testkit.StockOf(t, st, p); s != 7 {
		t.Errorf("stock = %d, want 7", s)
	}
}

// TestShutdownDrains: orders still queued when Run's context ends are placed
// and answered before Run returns; afterwards Place fails with ErrClosed.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, stop := start(t, st, ordercommit.Config{Committers: 1})
	p := testkit.CreateProduct(t, st, "p", 10, 100).ID
	o := store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "b"}

	release, blocker := hold(t, st, c)
	queued := queue(t, c, []string{"", "drain-key", ""}, o, o, o)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned with orders still queued")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	<-stopped
	if s := testkit.StockOf(t, st, p); s != 7 {
		t.Errorf("stock = %d when Run returned, want 7: the queued orders are committed before", s)
	}
	for i, ch := range append(queued, blocker) {
		if r := <-ch; r.err != nil {
			t.Errorf("order %d: %v", i, r.err)
		}
	}
	if _, err := c.Place(context.Background(), "", o); !errors.Is(err, ordercommit.ErrClosed) {
		t.Errorf("Place after Run returned: %v, want ErrClosed", err)
	}
}

// TestRequesterLeaves: a requester that stops waiting never stalls the
// committer. An order whose context ended while queued is left out; a batch
// whose requesters have all left is cancelled, and the committer goes on
// with other orders while the lock that batch waited for is still held.
func TestRequesterLeaves(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 1})
	p := testkit.CreateProduct(t, st, "p", 10, 100).ID
	q := testkit.CreateProduct(t, st, "p", 10, 100).ID

	// Left while queued.
	release, blocker := hold(t, st, c)
	ctx, cancel := context.WithCancel(context.Background())
	queuedCh := placeAsync(ctx, c, "left-queued", store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "gone"})
	testkit.Eventually(t, "the order to queue", 10*time.Second, func() bool { return c.QueueLen() == 1 })
	cancel()
	if r := <-queuedCh; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("a requester that left: %v, want context.Canceled", r.err)
	}
	release()
	if b := <-blocker; b.err != nil {
		t.Fatal(b.err)
	}

	// Left while its batch waits for a lock.
	releaseP := testkit.LockProduct(t, st, p)
	ctx, cancel = context.WithCancel(context.Background())
	waiting := placeAsync(ctx, c, "left-in-batch", store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "gone"})
	testkit.Eventually(t, "the batch to wait for the lock", 10*time.Second, func() bool { return len(lockWaiters(t, st)) == 1 })
	cancel()
	if r := <-waiting; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("a requester that left: %v, want context.Canceled", r.err)
	}
	other, err := c.Place(context.Background(), "", store.NewOrder{ProductID: q, Quantity: 1, BuyerID: "other"})
	if err != nil || other.ProductID != q {
		t.Fatalf("an order after the abandoned batch: %+v, %v", other, err)
	}
	releaseP()

	if s := testkit.StockOf(t, st, p); s != 10 {
		t.Errorf("stock of p = %d: orders whose requesters left were placed", s)
	}
	for _, key := range []string{"left-queued", "left-in-batch"} {
		if _, err := c.Place(context.Background(), key, store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "gone"}); err != nil {
			t.Errorf("key %s of a requester that left must be free: %v", key, err)
		}
	}
	if cancelled, _ := metric(t, c, "ordersettle_orders_total", "outcome", "cancelled"); cancelled != 2 {
		t.Errorf("cancelled orders counted: %v, want 2", cancelled)
	}
}

// TestIdempotentBatches: 50 concurrent orders under one key place one
// order; every other answer is that order or ErrIdempotencyKeyInUse; the key
// with another request is ErrIdempotencyKeyReused; and keyed orders of many
// keys share batches.
func TestIdempotentBatches(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{})
	p := testkit.CreateProduct(t, st, "p", 1000, 100).ID
	o := store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "same"}

	var mu sync.Mutex
	ids := map[string]int{}
	inUse := 0
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			<-start
			got, err := c.Place(context.Background(), "one-key", o)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ids[got.ID.String()]++
			case errors.Is(err, domain.ErrIdempotencyKeyInUse):
				inUse++
			default:
				t.Error(err)
			}
		})
	}
	for i := range 100 {
		wg.Go(func() {
			<-start
			if _, err := c.Place(context.Background(), fmt.Sprint("key-", i), store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "many"}); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("answers named %d orders, want 1: %v", len(ids), ids)
	}
	if n, _ := orderRows(t, st, p); n != 101 {
		t.Errorf("%d orders, want 101", n)
	}
	if _, err := c.Place(context.Background(), "one-key", store.NewOrder{ProductID: p, Quantity: 2, BuyerID: "same"}); !errors.Is(err, domain.ErrIdempotencyKeyReused) {
		t.Errorf("reuse: %v, want ErrIdempotencyKeyReused", err)
	}
	sum, count := metric(t, c, "ordersettle_order_batch_size")
	t.Logf("one key: %d answers with the order, %d in use; %d batches, %.1f orders each", 50-inUse, inUse, count, sum/float64(count))
}
