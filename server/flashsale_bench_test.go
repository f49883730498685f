package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/dbtest"
)

// benchExpiredHolds is how many holds the sweep benchmark expires at once.
const benchExpiredHolds = 20_000

// BenchmarkFlashSale measures, in the same run and in turns (see
// alternate), POST /orders from 128 keep-alive clients on one hot product
// of each kind: plain (orders complete at once), with hold_seconds (every
// order a pending hold), and with max_per_buyer (every client its own
// buyer, so every order is checked against the buyer's units under the
// batch's lock). Goals: holds >= 0.9x plain, limited >= 0.8x plain. Then
// it gives 20,000 pending holds one common expires_at and measures how
// long after it the sweep has returned all their units (goal: within 10 s).
// Durability is on (fsync, synchronous_commit).
func BenchmarkFlashSale(b *testing.B) {
	for range b.N {
		h := newHarness(b)
		ctx := context.Background()
		db := h.store.DB()
		var settings string
		if err := db.QueryRow(`SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')`).Scan(&settings); err != nil {
			b.Fatal(err)
		}
		if settings != "on/on" && !dbtest.External() {
			b.Fatalf("fsync/synchronous_commit = %s; benchmarks must run with durability on", settings)
		}
		day, limit := int32(86400), int32(10000)
		product := func(name string, np client.NewProduct) int32 {
			np.Name, np.Stock, np.PriceCents = name, 2147483647, 100
			r, err := h.client.CreateProductWithResponse(ctx, np)
			if err != nil || r.JSON201 == nil {
				b.Fatalf("create %s: %v", name, err)
			}
			return r.JSON201.ID
		}
		plain := product("plain", client.NewProduct{})
		held := product("held", client.NewProduct{HoldSeconds: &day})
		limited := product("limited", client.NewProduct{MaxPerBuyer: &limit})
		c := benchClient{base: h.url, http: &http.Client{Transport: &http.Transport{
			MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients,
		}}}.withToken(benchKey(b, h.store)) // orders are sent with an API key
		on := func(id int32) workload {
			return workload{benchClients, func(client int, _ *rand.Rand) error {
				return c.do(http.MethodPost, "/orders", orderBody(id, client))
			}}
		}
		runs := alternate(b, c, on(plain), on(held), on(limited))
		plainRun, heldRun, limitedRun := runs[0], runs[1], runs[2]
		for name, r := range map[string]measured{"plain": plainRun, "hold": heldRun, "limited": limitedRun} {
			if r.failed > 0 {
				b.Errorf("%s: %d requests failed (first: %v)", name, r.failed, r.firstError)
			}
		}

		// 20,000 holds expiring at one instant, 2 s from now.
		sweepProduct := product("swept", client.NewProduct{HoldSeconds: &day})
		var expiresAt time.Time
		if err := db.QueryRow(`SELECT date_trunc('milliseconds', localtimestamp) + interval '2 seconds'`).Scan(&expiresAt); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(`
			WITH placed AS (
				INSERT INTO orders (product_id, buyer_id, quantity, total_amount_cents, status, expires_at)
				SELECT $1, 'sweep-' || i, 1, 100, 'pending', $2 FROM generate_series(1, $3) i
			)
			UPDATE products SET stock = stock - $3 WHERE id = $1`, sweepProduct, expiresAt, benchExpiredHolds); err != nil {
			b.Fatal(err)
		}
		var swept time.Duration
		for {
			var pending int
			var lag float64
			if err := db.QueryRow(`SELECT count(*) FILTER (WHERE status = 'pending'),
					extract(epoch FROM localtimestamp - $2::timestamp)
				FROM orders WHERE product_id = $1`, sweepProduct, expiresAt).Scan(&pending, &lag); err != nil {
				b.Fatal(err)
			}
			if pending == 0 {
				swept = time.Duration(lag * float64(time.Second))
				break
			}
			if lag > 30 {
				b.Fatalf("%d holds still pending 30 s after their expires_at", pending)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if s := h.productStock(sweepProduct); s != 2147483647 {
			b.Errorf("stock after the sweep = %d, want every unit back", s)
		}

		heldRatio := heldRun.perSecond() / plainRun.perSecond()
		limitedRatio := limitedRun.perSecond() / plainRun.perSecond()
		fmt.Printf("\n%d keep-alive clients, one hot product each, %v per workload in %d turns, durability on (%s)\n"+
			"  POST /orders, plain          %s  mean batch %.1f\n"+
			"  POST /orders, hold_seconds   %s  mean batch %.1f\n"+
			"    holds / plain: %.2fx (goal >= 0.90x)\n"+
			"  POST /orders, max_per_buyer  %s  mean batch %.1f\n"+
			"    limited / plain: %.2fx (goal >= 0.80x)\n"+
			"  sweep: %d holds with one expires_at all expired, units back, %v after it (goal <= 10 s)\n",
			benchClients, benchDuration, benchRounds, settings,
			plainRun, plainRun.meanBatch, heldRun, heldRun.meanBatch, heldRatio,
			limitedRun, limitedRun.meanBatch, limitedRatio,
			benchExpiredHolds, swept.Round(time.Millisecond))
		b.ReportMetric(plainRun.perSecond(), "plain-orders/s")
		b.ReportMetric(heldRatio, "hold-x-plain")
		b.ReportMetric(limitedRatio, "limited-x-plain")
		b.ReportMetric(swept.Seconds(), "sweep-20k-s")
	}
}
