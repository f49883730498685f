package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/store"
)

func order(productID, quantity int32, buyer string) store.BatchOrder {
	return store.BatchOrder{NewOrder: store.NewOrder{ProductID: productID, Quantity: quantity, BuyerID: buyer}}
}

// TestPlaceOrdersInArrivalOrder: within one batch each order gets what it
// would get if the orders ran one at a time in slice order; a big order that
// does not fit does not block the smaller ones behind it.
func TestPlaceOrdersInArrivalOrder(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	p := testkit.CreateProduct(t, st, "p", 2, 150)
	q := testkit.CreateProduct(t, st, "p", 1, 7)

	got, err := st.PlaceOrders(ctx, []store.BatchOrder{
		order(p.ID, 3, "big"),      // 2 left: refused
		order(p.ID, 1, "a"),        // 1 left
		order(q.ID+100, 1, "lost"), // no such product
		order(q.ID, 1, "q"),        // q: 0 left
		order(p.ID, 1, "b"),        // 0 left
		order(p.ID, 1, "late"),     // refused
		order(p.ID, 1, "nul\x00"),  // the database cannot store it: refused alone
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []error{store.ErrOutOfStock, nil, store.ErrProductNotFound, nil, nil, store.ErrOutOfStock, store.ErrInvalidInput}
	for i, w := range want {
		if !errors.Is(got[i].Err, w) || (w == nil) != (got[i].Err == nil) {
			t.Errorf("order %d: %v, want %v", i, got[i].Err, w)
		}
	}
	a := got[1].Order
	if a.ProductID != p.ID || a.Quantity != 1 || a.BuyerID != "a" || a.TotalAmountCents != 150 ||
		a.Status != store.OrderStatusCompleted || a.CreatedAt.IsZero() {
		t.Errorf("placed order = %+v", a)
	}
	if !got[3].Order.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("orders of one batch have different created_at: %v, %v", got[3].Order.CreatedAt, a.CreatedAt)
	}
	for _, i := range []int{1, 3, 4} {
		stored, err := st.GetOrder(ctx, got[i].Order.ID, "")
		if err != nil {
			t.Fatalf("order %d was not stored: %v", i, err)
		}
		if stored != got[i].Order {
			t.Errorf("stored order %+v, returned %+v", stored, got[i].Order)
		}
	}
	if s := testkit.StockOf(t, st, p.ID); s != 0 {
		t.Errorf("stock of p = %d, want 0", s)
	}
	if s := testkit.StockOf(t, st, q.ID); s != 0 {
		t.Errorf("stock of q = %d, want 0", s)
	}
}

// TestPlaceOrdersManyProducts: one batch over many products keeps every
// product's stock + units ordered equal to its initial stock.
func TestPlaceOrdersManyProducts(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	const products = 40
	ids := make([]int32, products)
	for i := range ids {
		ids[i] = testkit.CreateProduct(t, st, "p", int32(5+i%7), 10).ID
	}
	var batch []store.BatchOrder
	for i := range 400 {
		// Descending ids and every quantity from 1 to 4, so that each
		// product sees refusals followed by orders that still fit.
		batch = append(batch, order(ids[products-1-i%products], int32(1+(i/products)%4), fmt.Sprint("buyer-", i)))
	}
	got, err := st.PlaceOrders(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	ordered := map[int32]int32{}
	for i, p := range got {
		switch {
		case p.Err == nil:
			ordered[batch[i].ProductID] += batch[i].Quantity
		case !errors.Is(p.Err, store.ErrOutOfStock):
			t.Fatalf("order %d: %v", i, p.Err)
		}
	}
	for i, id := range ids {
		initial := int32(5 + i%7)
		if s := testkit.StockOf(t, st, id); s+ordered[id] != initial {
			t.Errorf("product %d: stock %d + ordered %d != initial %d", id, s, ordered[id], initial)
		}
		var rows int32
		if err := st.DB().QueryRow(`SELECT coalesce(sum(quantity), 0) FROM orders WHERE product_id = $1`, id).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != ordered[id] {
			t.Errorf("product %d: order rows hold %d units, the batch reported %d", id, rows, ordered[id])
		}
	}
}

// TestPlaceOrdersWithKeys: outcomes are recorded under the keys in the
// batch's transaction and replayed; an order whose claim is gone is left out.
func TestPlaceOrdersWithKeys(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	p := testkit.CreateProduct(t, st, "p", 1, 100)

	claim := func(key string, in store.NewOrder) *store.Claim {
		t.Helper()
		c, replayed, err := claimKey(ctx, st, key, in)
		if err != nil || c == nil || replayed != nil {
			t.Fatalf("claim %s: %v, %v, %v", key, c, replayed, err)
		}
		return c
	}
	first := store.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "a"}
	second := store.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "b"}
	missing := store.NewOrder{ProductID: p.ID + 1, Quantity: 1, BuyerID: "c"}
	released := store.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "d"}
	gone := claim("k-released", released)
	if err := st.ReleaseClaim(ctx, *gone); err != nil {
		t.Fatal(err)
	}
	got, err := st.PlaceOrders(ctx, []store.BatchOrder{
		{NewOrder: released, Claim: gone},
		{NewOrder: first, Claim: claim("k-first", first)},
		{NewOrder: second, Claim: claim("k-second", second)},
		{NewOrder: missing, Claim: claim("k-missing", missing)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(got[0].Err, store.ErrIdempotencyKeyInUse) || got[1].Err != nil ||
		!errors.Is(got[2].Err, store.ErrOutOfStock) || !errors.Is(got[3].Err, store.ErrProductNotFound) {
		t.Fatalf("outcomes: %v, %v, %v, %v", got[0].Err, got[1].Err, got[2].Err, got[3].Err)
	}

	if _, replayed, err := claimKey(ctx, st, "k-first", first); err != nil || replayed == nil || *replayed != got[1].Order {
		t.Errorf("replay of k-first: %+v, %v; want %+v", replayed, err, got[1].Order)
	}
	if _, _, err := claimKey(ctx, st, "k-second", second); !errors.Is(err, store.ErrOutOfStock) {
		t.Errorf("replay of k-second: %v, want ErrOutOfStock", err)
	}
	if _, _, err := claimKey(ctx, st, "k-missing", missing); !errors.Is(err, store.ErrProductNotFound) {
		t.Errorf("replay of k-missing: %v, want ErrProductNotFound", err)
	}
	if _, _, err := claimKey(ctx, st, "k-first", second); !errors.Is(err, store.ErrIdempotencyKeyReused) {
		t.Errorf("k-first with another request: %v, want ErrIdempotencyKeyReused", err)
	}
	if c, _, err := claimKey(ctx, st, "k-released", released); err != nil || c == nil {
		t.Errorf("a released key must be free: %v, %v", c, err)
	}
	if _, _, err := claimKey(ctx, st, "k-released", released); !errors.Is(err, store.ErrIdempotencyKeyInUse) {
		t.Errorf("a key claimed and in flight: %v, want ErrIdempotencyKeyInUse", err)
	}
	if _, _, err := claimKey(ctx, st, "k-\x00", first); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("a key with NUL: %v, want ErrInvalidInput", err)
	}
}

// TestPlaceOrdersAbandoned: an order whose requester has left by the time
// the batch holds its locks is left out, and changes nothing.
func TestPlaceOrdersAbandoned(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	p := testkit.CreateProduct(t, st, "p", 5, 1)
	left := make(chan struct{})
	close(left)
	got, err := st.PlaceOrders(context.Background(), []store.BatchOrder{
		{NewOrder: store.NewOrder{ProductID: p.ID, Quantity: 2, BuyerID: "gone"}, Abandoned: left},
		order(p.ID, 1, "here"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(got[0].Err, store.ErrAbandoned) || got[1].Err != nil {
		t.Fatalf("outcomes: %v, %v", got[0].Err, got[1].Err)
	}
	if s := testkit.StockOf(t, st, p.ID); s != 4 {
		t.Errorf("stock = %d, want 4", s)
	}
}

// TestPlaceOrdersRefusedBatch: when the database refuses the batch, none of
// it is placed, and the error says it is not worth retrying as is.
func TestPlaceOrdersRefusedBatch(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	p := testkit.CreateProduct(t, st, "p", 5, 1)
	if _, err := st.DB().Exec(`ALTER TABLE orders ADD CONSTRAINT no_poison CHECK (buyer_id <> 'poison')`); err != nil {
		t.Fatal(err)
	}
	_, err := st.PlaceOrders(context.Background(), []store.BatchOrder{order(p.ID, 1, "fine"), order(p.ID, 1, "poison")})
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want the database's refusal", err)
	}
	if s := testkit.StockOf(t, st, p.ID); s != 5 {
		t.Errorf("stock = %d after a refused batch, want 5", s)
	}
}

// claimKey claims key for in the way the order committer does: a claim, or
// else what ResolveIdempotencyKey says.
func claimKey(ctx context.Context, st *store.Store, key string, in store.NewOrder) (*store.Claim, *store.Order, error) {
	claims, err := st.ClaimIdempotencyKeys(ctx, []store.KeyedOrder{{Key: key, NewOrder: in}})
	if err != nil || claims[0] != nil {
		return claims[0], nil, err
	}
	return st.ResolveIdempotencyKey(ctx, key, in)
}

// TestClaimIdempotencyKeys: one statement claims the free keys of a batch;
// the first order of a key shared within the batch gets the claim; keys
// held already and orders that cannot be stored get none, and
// ResolveIdempotencyKey says why.
func TestClaimIdempotencyKeys(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	a := store.NewOrder{ProductID: 1, Quantity: 1, BuyerID: "a"}
	b := store.NewOrder{ProductID: 1, Quantity: 2, BuyerID: "b"}
	held, _, err := claimKey(ctx, st, "held", a)
	if err != nil || held == nil {
		t.Fatal(held, err)
	}

	claims, err := st.ClaimIdempotencyKeys(ctx, []store.KeyedOrder{
		{Key: "z-new", NewOrder: a},
		{Key: "shared", NewOrder: a},
		{Key: "held", NewOrder: a},
		{Key: "shared", NewOrder: b},
		{Key: "bad\x00", NewOrder: a},
		{Key: "a-new", NewOrder: b},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false, false, false, true} {
		if (claims[i] != nil) != want {
			t.Errorf("order %d: claim %v, want one: %v", i, claims[i], want)
		}
	}
	for _, tc := range []struct {
		key  string
		in   store.NewOrder
		want error
	}{
		{"held", a, store.ErrIdempotencyKeyInUse},
		{"shared", b, store.ErrIdempotencyKeyReused},
		{"bad\x00", a, store.ErrInvalidInput},
	} {
		if _, _, err := st.ResolveIdempotencyKey(ctx, tc.key, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("resolve %q: %v, want %v", tc.key, err, tc.want)
		}
	}
	if err := st.ReleaseClaim(ctx, *held); err != nil {
		t.Fatal(err)
	}
	if c, _, err := st.ResolveIdempotencyKey(ctx, "held", a); err != nil || c == nil {
		t.Errorf("resolving a released key claims it: %v, %v", c, err)
	}
}
