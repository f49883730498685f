package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit/testserver"
	"github.com/ordersettle/ordersettle/store"
)

// TestBuyerLimitAcrossServers: 200 concurrent orders of one buyer, one
// unit each, split over two server processes, against max_per_buyer 3:
// exactly 3 are placed, every other one is 409 BUYER_LIMIT_EXCEEDED, and
// the order rows hold exactly 3 units.
func TestBuyerLimitAcrossServers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	three := int32(3)
	created, err := h.client.CreateProductWithResponse(context.Background(),
		client.NewProduct{Name: "one per fan", Stock: 1000, PriceCents: 1, MaxPerBuyer: &three})
	if err != nil || created.JSON201 == nil {
		t.Fatal(err)
	}
	p := created.JSON201.ID
	servers := []*testserver.Process{testserver.StartProcess(t, h.dsn), testserver.StartProcess(t, h.dsn)}

	var placed, limited atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 200 {
		api, err := client.NewClientWithResponses(servers[i%2].URL, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
			client.WithRequestEditorFn(bearer(h.token)))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			r, err := api.CreateOrderWithResponse(context.Background(), nil, client.NewOrder{ProductID: p, Quantity: 1, BuyerID: "bot"})
			switch {
			case err != nil:
				t.Errorf("order %d: %v", i, err)
			case r.JSON200 != nil:
				placed.Add(1)
			case r.JSON409 != nil && r.JSON409.Error.Code == client.CodeBuyerLimitExceeded:
				limited.Add(1)
			default:
				t.Errorf("order %d: status %d: %s", i, r.StatusCode(), r.Body)
			}
		})
	}
	close(start)
	wg.Wait()
	if placed.Load() != 3 || limited.Load() != 197 {
		t.Errorf("%d placed, %d BUYER_LIMIT_EXCEEDED; want 3 and 197", placed.Load(), limited.Load())
	}
	if _, units := h.countOrders(p); units != 3 {
		t.Errorf("order rows hold %d units, want 3", units)
	}
	if s := h.productStock(p); s != 997 {
		t.Errorf("stock = %d, want 997", s)
	}
}

// flashAudit reads, in one statement (one snapshot), per product: stock +
// units of pending and completed orders - (initial + restocked), which the
// invariant says is 0; and the pending orders more than 5 s past their
// expires_at.
func flashAudit(t *testing.T, st *store.Store, initial map[int32]int32) (broken map[int32]int64, overdue int) {
	t.Helper()
	broken = map[int32]int64{}
	rows, err := st.DB().Query(`SELECT p.id, p.stock - p.restocked +
			(SELECT coalesce(sum(quantity), 0) FROM orders WHERE product_id = p.id AND status IN ('pending', 'completed')),
			(SELECT count(*) FROM orders WHERE status = 'pending' AND expires_at < localtimestamp - interval '5 seconds')
		FROM products p`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int32
		var units int64
		if err := rows.Scan(&id, &units, &overdue); err != nil {
			t.Fatal(err)
		}
		if want, ok := initial[id]; ok && units != int64(want) {
			broken[id] = units - int64(want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return broken, overdue
}

// TestFlashSaleStorm: a storm on two server processes — holds of 1 s, each
// then confirmed, cancelled or left to expire at random, restocks, a
// per-buyer limit — with one server killed (SIGKILL) in the middle. Checked
// all along, in single snapshots: stock + units of pending and completed
// orders = initial stock + restocks for every product, and no pending order
// is more than 5 s past its expires_at. At the end every hold has been
// settled (none pending) and the invariant still holds.
func TestFlashSaleStorm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	hold, five := int32(1), int32(5)
	initial := map[int32]int32{}
	var products []int32
	for i := range 3 {
		np := client.NewProduct{Name: fmt.Sprint("storm-", i), Stock: 60, PriceCents: 10, HoldSeconds: &hold}
		if i == 0 {
			np.MaxPerBuyer = &five
		}
		r, err := h.client.CreateProductWithResponse(ctx, np)
		if err != nil || r.JSON201 == nil {
			t.Fatal(err)
		}
		initial[r.JSON201.ID] = np.Stock
		products = append(products, r.JSON201.ID)
	}
	victim, survivor := testserver.StartProcess(t, h.dsn), testserver.StartProcess(t, h.dsn)
	apiOf := func(url string) *client.ClientWithResponses {
		api, err := client.NewClientWithResponses(url, client.WithHTTPClient(&http.Client{Timeout: 15 * time.Second}),
			client.WithRequestEditorFn(bearer(h.token)))
		if err != nil {
			t.Fatal(err)
		}
		return api
	}
	apis := []*client.ClientWithResponses{apiOf(victim.URL), apiOf(survivor.URL)}
	var killed atomic.Bool

	stop := make(chan struct{})
	var placed, confirmed, cancelled, expired, restocked atomic.Int64
	var wg sync.WaitGroup
	for c := range 24 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				api := apis[rng.IntN(2)]
				if killed.Load() {
					api = apis[1]
				}
				p := products[rng.IntN(len(products))]
				r, err := api.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p, Quantity: int32(1 + rng.IntN(3)), BuyerID: fmt.Sprint("buyer-", rng.IntN(10))})
				if err != nil || r.JSON200 == nil {
					continue // refused (stock, limit), or the server was killed
				}
				placed.Add(1)
				id := r.JSON200.ID
				time.Sleep(time.Duration(rng.IntN(1200)) * time.Millisecond)
				switch rng.IntN(3) {
				case 0:
					if c, err := api.ConfirmOrderWithResponse(ctx, id); err == nil && c.JSON200 != nil {
						confirmed.Add(1)
						if rng.IntN(4) == 0 { // some completed orders are cancelled later
							if x, err := api.CancelOrderWithResponse(ctx, id); err == nil && x.JSON200 != nil {
								cancelled.Add(1)
							}
						}
					}
				case 1:
					if x, err := api.CancelOrderWithResponse(ctx, id); err == nil && x.JSON200 != nil {
						cancelled.Add(1)
					}
				default:
					expired.Add(1) // left to expire
				}
			}
		})
	}
	wg.Go(func() { // restocks
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, p := range products {
				if r, err := apis[1].RestockProductWithResponse(ctx, p, client.Restock{Quantity: 5}); err == nil && r.JSON200 != nil {
					restocked.Add(5)
				}
			}
		}
	})
	audits := 0
	auditUntil := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			broken, overdue := flashAudit(t, h.store, initial)
			audits++
			if len(broken) > 0 || overdue > 0 {
				t.Fatalf("invariant broken %v (units off per product), %d holds more than 5 s overdue", broken, overdue)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	auditUntil(2 * time.Second)
	killed.Store(true)
	victim.Kill(t)
	auditUntil(2500 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Every hold is settled within a few seconds of its expiry.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pending int
		if err := h.store.DB().QueryRow(`SELECT count(*) FROM orders WHERE status = 'pending'`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		broken, overdue := flashAudit(t, h.store, initial)
		if len(broken) > 0 || overdue > 0 {
			t.Fatalf("after the storm: invariant broken %v, %d holds overdue", broken, overdue)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d holds still pending 10 s after the storm", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var off int
	if err := h.store.DB().QueryRow(`
		SELECT count(*) FROM (
			SELECT o.product_id, o.buyer_id, sum(o.quantity) AS units
			FROM orders o JOIN products p ON p.id = o.product_id
			WHERE p.max_per_buyer IS NOT NULL AND o.status IN ('pending', 'completed')
			GROUP BY o.product_id, o.buyer_id
		) o FULL JOIN buyer_units b USING (product_id, buyer_id)
		WHERE coalesce(o.units, 0) <> coalesce(b.units, 0)`).Scan(&off); err != nil || off != 0 {
		t.Errorf("%d buyers' counted units differ from their orders (%v)", off, err)
	}
	if placed.Load() == 0 || confirmed.Load() == 0 || cancelled.Load() == 0 || expired.Load() == 0 {
		t.Errorf("the storm did not exercise everything: placed %d, confirmed %d, cancelled %d, left to expire %d",
			placed.Load(), confirmed.Load(), cancelled.Load(), expired.Load())
	}
	var statuses string
	if err := h.store.DB().QueryRow(`SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM
		(SELECT status, count(*) n FROM orders GROUP BY status) s`).Scan(&statuses); err != nil {
		t.Fatal(err)
	}
	t.Logf("storm: %d orders placed, %d confirmed, %d cancelled, %d left to expire, %d units restocked; %d audits; rows: %s",
		placed.Load(), confirmed.Load(), cancelled.Load(), expired.Load(), restocked.Load(), audits, statuses)
}
