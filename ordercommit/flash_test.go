package ordercommit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
)

// newFlashProduct makes a product with the given limits (0: none).
func newFlashProduct(t *testing.T, st *store.Store, stock, maxPerBuyer, holdSeconds int32) int32 {
	t.Helper()
	in := store.NewProduct{Name: "flash", Stock: stock, PriceCents: 100}
	if maxPerBuyer > 0 {
		in.MaxPerBuyer = &maxPerBuyer
	}
	if holdSeconds > 0 {
		in.HoldSeconds = &holdSeconds
	}
	p, err := st.CreateProduct(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// invariant checks stock + Σ quantity of pending and completed orders =
// initial stock + Σ restocks, from the tables.
func invariant(t *testing.T, st *store.Store, id, initial int32) {
	t.Helper()
	var stock, restocked, outstanding int64
	if err := st.DB().QueryRow(`SELECT p.stock, p.restocked,
			(SELECT coalesce(sum(quantity), 0) FROM orders WHERE product_id = p.id AND status IN ('pending', 'completed'))
		FROM products p WHERE p.id = $1`, id).Scan(&stock, &restocked, &outstanding); err != nil {
		t.Fatal(err)
	}
	if stock+outstanding != int64(initial)+restocked {
		t.Errorf("product %d: stock %d + outstanding %d != initial %d + restocked %d", id, stock, outstanding, initial, restocked)
	}
}

// TestSequentialBuyerLimit: stock 2, max_per_buyer 2; one buyer's orders
// for 1, 1, 1 in one batch: 200, 200, BUYER_LIMIT_EXCEEDED (the limit is
// checked before the stock, which is also gone). Then, across batches: the
// buyer is still at the limit; another buyer is not limited by the first
// one's units; a cancelled order no longer counts.
func TestSequentialBuyerLimit(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 1})
	p := newFlashProduct(t, st, 2, 2, 0)
	one := store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "buyer"}

	release, blocker := hold(t, st, c)
	got := queue(t, c, []string{"", "", "limited-key"}, one, one, one)
	release()
	if b := <-blocker; b.err != nil {
		t.Fatal(b.err)
	}
	var first store.Order
	for i, want := range []error{nil, nil, domain.ErrBuyerLimitExceeded} {
		r := <-got[i]
		if !isErr(r.err, want) {
			t.Errorf("order %d: %v, want %v", i, r.err, want)
		}
		if i == 0 {
			first = r.order
		}
	}
	if first.Status != domain.OrderStatusCompleted || first.ExpiresAt != nil {
		t.Errorf("an order without hold_seconds: %+v, want completed without expires_at", first)
	}
	// The refusal is recorded under its key and replayed.
	if _, err := c.Place(context.Background(), "limited-key", one); !errors.Is(err, domain.ErrBuyerLimitExceeded) {
		t.Errorf("replay of a buyer-limit refusal: %v", err)
	}
	if v, _ := metric(t, c, "ordersettle_orders_total", "outcome", "buyer_limit"); v != 1 {
		t.Errorf("buyer_limit outcomes = %v, want 1", v)
	}

	if _, err := st.RestockProduct(context.Background(), p, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Place(context.Background(), "", one); !errors.Is(err, domain.ErrBuyerLimitExceeded) {
		t.Errorf("at the limit, in a later batch: %v", err)
	}
	if _, err := c.Place(context.Background(), "", store.NewOrder{ProductID: p, Quantity: 2, BuyerID: "other"}); err != nil {
		t.Errorf("another buyer: %v", err)
	}
	if _, err := c.Cancel(context.Background(), first.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Place(context.Background(), "", one); err != nil {
		t.Errorf("after a cancel frees a unit of the limit: %v", err)
	}
	invariant(t, st, p, 2)
}

// TestHoldLifecycle: orders of a product with hold_seconds are pending with
// expires_at = created_at + hold_seconds and take their units at once;
// confirm, cancel and the sweep move them as the contract says, the units
// coming back exactly once; a replay under the key answers the first
// answer whatever happened since.
func TestHoldLifecycle(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{})
	ctx := context.Background()
	p := newFlashProduct(t, st, 10, 0, 1)
	in := store.NewOrder{ProductID: p, Quantity: 2, BuyerID: "b"}

	confirmed, err := c.Place(ctx, "hold-key", in)
	if err != nil {
		t.Fatal(err)
	}
	if confirmed.Status != domain.OrderStatusPending || confirmed.ExpiresAt == nil ||
		!confirmed.ExpiresAt.Equal(confirmed.CreatedAt.Add(time.Second)) || !confirmed.UpdatedAt.Equal(confirmed.CreatedAt) {
		t.Fatalf("a hold: %+v", confirmed)
	}
	cancelled, _ := c.Place(ctx, "", in)
	expiring, _ := c.Place(ctx, "", in)
	if s := testkit.StockOf(t, st, p); s != 4 {
		t.Fatalf("stock = %d after three holds of 2, want 4", s)
	}

	o, err := c.Confirm(ctx, confirmed.ID, "")
	if err != nil || o.Status != domain.OrderStatusCompleted || !o.UpdatedAt.After(o.CreatedAt) {
		t.Fatalf("confirm: %+v, %v", o, err)
	}
	if o, err := c.Confirm(ctx, confirmed.ID, ""); err != nil || o.Status != domain.OrderStatusCompleted {
		t.Errorf("confirm again: %+v, %v", o, err)
	}
	if _, err := c.Confirm(ctx, confirmed.ID, "someone-else"); !errors.Is(err, domain.ErrOrderNotFound) {
		t.Errorf("confirm of another buyer's order: %v, want ErrOrderNotFound", err)
	}
	if o, err := c.Cancel(ctx, cancelled.ID, ""); err != nil || o.Status != domain.OrderStatusCancelled {
		t.Fatalf("cancel: %+v, %v", o, err)
	}
	if _, err := c.Cancel(ctx, cancelled.ID, ""); err != nil {
		t.Errorf("cancel again: %v", err)
	}
	if _, err := c.Confirm(ctx, cancelled.ID, ""); !errors.Is(err, domain.ErrOrderNotPending) {
		t.Errorf("confirm a cancelled order: %v, want ErrOrderNotPending", err)
	}
	if s := testkit.StockOf(t, st, p); s != 6 {
		t.Fatalf("stock = %d after one cancel, want 6", s)
	}

	// Past expires_at, before any sweep: reads say expired, and neither
	// confirm nor cancel moves it.
	time.Sleep(time.Until(expiring.ExpiresAt.Add(50 * time.Millisecond)))
	if o, err := st.GetOrder(ctx, expiring.ID, ""); err != nil || o.Status != domain.OrderStatusExpired || !o.UpdatedAt.Equal(*o.ExpiresAt) {
		t.Errorf("an unswept hold past expires_at reads %+v, %v; want expired", o, err)
	}
	if _, err := c.Confirm(ctx, expiring.ID, ""); !errors.Is(err, domain.ErrOrderExpired) {
		t.Errorf("confirm after expires_at: %v, want ErrOrderExpired", err)
	}
	if _, err := c.Cancel(ctx, expiring.ID, ""); !errors.Is(err, domain.ErrOrderExpired) {
		t.Errorf("cancel after expires_at: %v, want ErrOrderExpired", err)
	}
	invariant(t, st, p, 10)

	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan error, 1)
	go func() { swept <- c.RunExpiry(sweepCtx) }()
	testkit.Eventually(t, "the sweep to give the expired hold's units back", 10*time.Second, func() bool { return testkit.StockOf(t, st, p) == 8 })
	stopSweep()
	if err := <-swept; err != nil {
		t.Fatal(err)
	}
	if v, _ := metric(t, c, "ordersettle_order_transitions_total", "to", "expired"); v != 1 {
		t.Errorf("expired transitions = %v, want 1", v)
	}
	if v, _ := metric(t, c, "ordersettle_order_holds"); v != 0 {
		t.Errorf("holds gauge = %v, want 0", v)
	}
	if n, err := st.ExpireHolds(ctx, 100); err != nil || n != 0 {
		t.Errorf("a second sweep expired %d more (%v)", n, err)
	}
	invariant(t, st, p, 10)

	// Cancel of a completed order gives its units back once.
	if _, err := c.Cancel(ctx, confirmed.ID, ""); err != nil {
		t.Fatal(err)
	}
	if s := testkit.StockOf(t, st, p); s != 10 {
		t.Errorf("stock = %d after cancelling the confirmed order, want 10", s)
	}
	invariant(t, st, p, 10)

	// The replay answers the first answer: pending, as first sent.
	replayed, err := c.Place(ctx, "hold-key", in)
	if err != nil || !sameOrder(replayed, confirmed) {
		t.Errorf("replay after confirm and cancel:\n got  %+v, %v\n want %+v", replayed, err, confirmed)
	}
	for to, want := range map[string]float64{"completed": 1, "cancelled": 2} {
		if v, _ := metric(t, c, "ordersettle_order_transitions_total", "to", to); v != want {
			t.Errorf("transitions to %s = %v, want %v", to, v, want)
		}
	}
}

// sameOrder compares orders field by field, times by Equal.
func sameOrder(a, b store.Order) bool {
	sameExpiry := (a.ExpiresAt == nil) == (b.ExpiresAt == nil) && (a.ExpiresAt == nil || a.ExpiresAt.Equal(*b.ExpiresAt))
	a.ExpiresAt, b.ExpiresAt = nil, nil
	sameTimes := a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
	a.CreatedAt, b.CreatedAt, a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return sameExpiry && sameTimes && a == b
}
