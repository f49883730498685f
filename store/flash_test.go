package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/store"
)

func limit(n int32) *int32 { return &n }

// checkBuyerUnits insists that buyer_units holds, for every product with
// max_per_buyer, each buyer's units in pending and completed orders.
func checkBuyerUnits(t *testing.T, st *store.Store) {
	t.Helper()
	var off int
	if err := st.DB().QueryRow(`
		SELECT count(*) FROM (
			SELECT o.product_id, o.buyer_id, sum(o.quantity) AS units
			FROM orders o JOIN products p ON p.id = o.product_id
			WHERE p.max_per_buyer IS NOT NULL AND o.status IN ('pending', 'completed')
			GROUP BY o.product_id, o.buyer_id
		) o FULL JOIN buyer_units b USING (product_id, buyer_id)
		WHERE coalesce(o.units, 0) <> coalesce(b.units, 0)`).Scan(&off); err != nil {
		t.Fatal(err)
	}
	if off != 0 {
		t.Errorf("%d buyers' units in buyer_units differ from their orders", off)
	}
}

// TestLimitSetLater: max_per_buyer set on a product with orders counts the
// orders placed before; removed and set again, it counts them again.
func TestLimitSetLater(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	p := testkit.CreateProduct(t, st, "p", 100, 1)
	place := func(qty int32) error {
		out, err := st.PlaceOrders(ctx, []store.BatchOrder{order(p.ID, qty, "b")})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Err
	}
	if err := place(3); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := st.PatchProduct(ctx, p.ID, store.ProductPatch{SetMaxPerBuyer: true, MaxPerBuyer: limit(4)}); err != nil {
			t.Fatal(err)
		}
		checkBuyerUnits(t, st)
		if err := place(2); !errors.Is(err, store.ErrBuyerLimitExceeded) {
			t.Errorf("3 + 2 units against a limit of 4: %v", err)
		}
		if _, err := st.PatchProduct(ctx, p.ID, store.ProductPatch{SetMaxPerBuyer: true}); err != nil {
			t.Fatal(err)
		}
		checkBuyerUnits(t, st)
	}
	if _, err := st.PatchProduct(ctx, p.ID, store.ProductPatch{SetMaxPerBuyer: true, MaxPerBuyer: limit(4)}); err != nil {
		t.Fatal(err)
	}
	if err := place(1); err != nil {
		t.Errorf("3 + 1 units against a limit of 4: %v", err)
	}
	checkBuyerUnits(t, st)
}

// TestResolveKeyClaimFails: when the claim ResolveIdempotencyKey makes for
// a freed key fails in the database, it returns the error (translated:
// the database is unavailable), instead of indexing the claims it did not
// get.
func TestResolveKeyClaimFails(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	p := testkit.CreateProduct(t, st, "p", 5, 1)
	// The claim's INSERT fails as if the connection broke.
	if _, err := st.DB().Exec(`
		CREATE FUNCTION refuse_claims() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'no claims today' USING ERRCODE = '08006'; END $$;
		CREATE TRIGGER refuse_claims BEFORE INSERT ON idempotency_keys
			FOR EACH ROW EXECUTE FUNCTION refuse_claims();`); err != nil {
		t.Fatal(err)
	}
	var claim *store.Claim
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("ResolveIdempotencyKey panicked: %v", v)
			}
		}()
		claim, _, err = st.ResolveIdempotencyKey(context.Background(), "k", store.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "b"})
	}()
	if claim != nil || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("claim %v, err %v; want no claim and ErrUnavailable", claim, err)
	}
}

// TestRestock: a restock raises the stock and records the units; one that
// would take the product's units (stock plus pending and completed orders)
// past 2^31-1 is ErrStockOverflow and changes nothing.
func TestRestock(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	p := testkit.CreateProduct(t, st, "p", 10, 1)
	if _, err := st.PlaceOrders(ctx, []store.BatchOrder{order(p.ID, 4, "b")}); err != nil {
		t.Fatal(err)
	}
	got, err := st.RestockProduct(ctx, p.ID, 5)
	if err != nil || got.Stock != 11 {
		t.Fatalf("restock: %+v, %v; want stock 11", got, err)
	}
	// Units in all: 11 in stock + 4 ordered = 15.
	if _, err := st.RestockProduct(ctx, p.ID, math.MaxInt32-14); !errors.Is(err, store.ErrStockOverflow) {
		t.Errorf("restock past 2^31-1 in all: %v, want ErrStockOverflow", err)
	}
	got, err = st.RestockProduct(ctx, p.ID, math.MaxInt32-15)
	if err != nil || got.Stock != math.MaxInt32-4 {
		t.Fatalf("restock to exactly 2^31-1 in all: %+v, %v", got, err)
	}
	if _, err := st.RestockProduct(ctx, 999999, 1); !errors.Is(err, store.ErrProductNotFound) {
		t.Errorf("restock of no product: %v", err)
	}
}

// TestPatchProduct: fields set are changed, absent ones kept, a limit set
// to nil removed.
func TestPatchProduct(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	p, err := st.CreateProduct(ctx, store.NewProduct{Name: "p", Stock: 1, PriceCents: 5, MaxPerBuyer: limit(2), HoldSeconds: limit(60)})
	if err != nil {
		t.Fatal(err)
	}
	name := "renamed"
	got, err := st.PatchProduct(ctx, p.ID, store.ProductPatch{Name: &name, SetHoldSeconds: true})
	if err != nil || got.Name != "renamed" || got.PriceCents != 5 || got.HoldSeconds != nil ||
		got.MaxPerBuyer == nil || *got.MaxPerBuyer != 2 {
		t.Fatalf("patch: %+v, %v", got, err)
	}
	got, err = st.PatchProduct(ctx, p.ID, store.ProductPatch{SetMaxPerBuyer: true, MaxPerBuyer: limit(7)})
	if err != nil || *got.MaxPerBuyer != 7 || got.Name != "renamed" {
		t.Fatalf("patch: %+v, %v", got, err)
	}
	if _, err := st.PatchProduct(ctx, 999999, store.ProductPatch{}); !errors.Is(err, store.ErrProductNotFound) {
		t.Errorf("patch of no product: %v", err)
	}
}

// TestTransitionsRace: on holds of one product, concurrent confirms,
// cancels and sweeps (several sweepers at once) give every order's units
// back at most once: after the dust settles, stock + units of pending and
// completed orders = the initial stock.
func TestTransitionsRace(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	p, err := st.CreateProduct(ctx, store.NewProduct{Name: "p", Stock: 1000, PriceCents: 1, HoldSeconds: limit(1), MaxPerBuyer: limit(10000)})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]store.BatchOrder, 200)
	for i := range batch {
		batch[i] = order(p.ID, 1+int32(i%3), fmt.Sprint("b", i%7))
	}
	placed, err := st.PlaceOrders(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, len(placed))
	for i, pl := range placed {
		if pl.Err != nil || pl.Order.Status != store.OrderStatusPending {
			t.Fatalf("order %d: %+v", i, pl)
		}
		ids[i] = pl.Order.ID
	}
	// Wait until just before the holds expire, so transitions race the
	// expiry itself.
	time.Sleep(time.Until(placed[0].Order.ExpiresAt.Add(-150 * time.Millisecond)))
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i, id := range ids {
				var err error
				switch (i + w) % 3 {
				case 0:
					_, _, err = st.ConfirmOrder(ctx, id, "")
				case 1:
					_, _, err = st.CancelOrder(ctx, id, "")
				default:
					_, err = st.ExpireHolds(ctx, 50)
				}
				if err != nil && !errors.Is(err, store.ErrOrderExpired) && !errors.Is(err, store.ErrOrderNotPending) {
					t.Errorf("worker %d, order %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(time.Until(placed[0].Order.ExpiresAt.Add(10 * time.Millisecond)))
	for {
		n, err := st.ExpireHolds(ctx, 50)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	var stock, outstanding int64
	var pending int
	if err := st.DB().QueryRow(`SELECT p.stock,
			(SELECT coalesce(sum(quantity), 0) FROM orders WHERE product_id = p.id AND status IN ('pending', 'completed')),
			(SELECT count(*) FROM orders WHERE product_id = p.id AND status = 'pending')
		FROM products p WHERE id = $1`, p.ID).Scan(&stock, &outstanding, &pending); err != nil {
		t.Fatal(err)
	}
	if stock+outstanding != 1000 || pending != 0 {
		t.Errorf("stock %d + outstanding %d != 1000, or %d still pending", stock, outstanding, pending)
	}
	checkBuyerUnits(t, st)
}

// TestListOrders: newest first, filters, and a cursor walk that sees every
// order once, also across orders of one batch (same created_at).
func TestListOrders(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	p := testkit.CreateProduct(t, st, "p", 100, 1)
	q := testkit.CreateProduct(t, st, "p", 100, 1)
	var want int
	for range 3 {
		var batch []store.BatchOrder
		for i := range 7 {
			batch = append(batch, order(p.ID, 1, fmt.Sprint("b", i%2)), order(q.ID, 1, "b0"))
		}
		if _, err := st.PlaceOrders(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want += len(batch)
	}
	for _, tc := range []struct {
		name  string
		q     store.OrderQuery
		count int
	}{
		{"all", store.OrderQuery{}, want},
		{"product", store.OrderQuery{ProductID: p.ID}, 21},
		{"buyer", store.OrderQuery{BuyerID: "b1"}, 9},
		{"buyer and product", store.OrderQuery{BuyerID: "b0", ProductID: q.ID}, 21},
		{"status", store.OrderQuery{Status: store.OrderStatusCompleted}, want},
		{"no such status", store.OrderQuery{Status: store.OrderStatusPending}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[uuid.UUID]bool{}
			var last *store.Order
			query := tc.q
			query.Limit = 4
			for {
				page, more, err := st.ListOrders(ctx, query)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range page {
					if seen[o.ID] {
						t.Fatalf("order %s twice", o.ID)
					}
					seen[o.ID] = true
					if last != nil && (o.CreatedAt.After(last.CreatedAt) ||
						o.CreatedAt.Equal(last.CreatedAt) && o.ID.String() > last.ID.String()) {
						t.Fatalf("order %s after %s: not newest first", o.ID, last.ID)
					}
					last = &o
				}
				if !more {
					break
				}
				k := page[len(page)-1].Key()
				query.After = &k
			}
			if len(seen) != tc.count {
				t.Errorf("%d orders, want %d", len(seen), tc.count)
			}
		})
	}
}
