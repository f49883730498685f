package server_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/store/storetest"
)

const (
	benchClients  = 64
	benchDuration = 10 * time.Second
	benchWarmup   = 2 * time.Second
)

// loadResult is what a closed-loop load run measured.
type loadResult struct {
	ok, rejected, errors int
	elapsed              time.Duration
	latencies            []time.Duration // of successful orders
	firstError           error
}

func (r loadResult) perSecond() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

func (r loadResult) String() string {
	return fmt.Sprintf("%8.0f orders/s  p50 %-9v p99 %-9v  (%d ok, %d out of stock, %d errors)",
		r.perSecond(), r.percentile(0.50).Round(10*time.Microsecond), r.percentile(0.99).Round(10*time.Microsecond),
		r.ok, r.rejected, r.errors)
}

// runLoad runs order() from benchClients goroutines in a closed loop for d.
// order returns (true, nil) for an order, (false, nil) for out of stock.
func runLoad(d time.Duration, order func(client int) (bool, error)) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for c := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, rejected, errs := 0, 0, 0
			var firstErr error
			for time.Now().Before(deadline) {
				t0 := time.Now()
				placed, err := order(c)
				switch {
				case err != nil:
					errs++
					if firstErr == nil {
						firstErr = err
					}
				case placed:
					ok++
					lat = append(lat, time.Since(t0))
				default:
					rejected++
				}
			}
			mu.Lock()
			res.ok += ok
			res.rejected += rejected
			res.errors += errs
			res.latencies = append(res.latencies, lat...)
			if res.firstError == nil {
				res.firstError = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	return res
}

// textbookOrder is the baseline: the classic locking transaction, one round
// trip per statement.
func textbookOrder(ctx context.Context, db *sql.DB, productID int32, buyer string) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck
	var stock, price int64
	if err := tx.QueryRowContext(ctx, `SELECT stock, price_cents FROM products WHERE id = $1 FOR UPDATE`, productID).Scan(&stock, &price); err != nil {
		return false, err
	}
	if stock < 1 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE products SET stock = stock - 1 WHERE id = $1`, productID); err != nil {
		return false, err
	}
	var id string
	if err := tx.QueryRowContext(ctx, `INSERT INTO orders (product_id, buyer_id, quantity, total_amount_cents, status)
		VALUES ($1, $2, 1, $3, 'completed') RETURNING id`, productID, buyer, price).Scan(&id); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// BenchmarkOrders measures POST /orders over HTTP (the full stack: Gin,
// validation, the one-statement order) with 64 concurrent clients on one
// product, against the textbook transaction (BEGIN; SELECT … FOR UPDATE;
// UPDATE; INSERT; COMMIT) driven by 64 goroutines straight on the same
// database. Durability is on (fsync, synchronous_commit).
func BenchmarkOrders(b *testing.B) {
	for range b.N {
		h := newHarness(b)
		ctx := context.Background()
		db := h.store.DB().DB
		var settings string
		if err := db.QueryRow(`SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')`).Scan(&settings); err != nil {
			b.Fatal(err)
		}
		if settings != "on/on" && !storetest.External() {
			b.Fatalf("fsync/synchronous_commit = %s; benchmarks must run with durability on", settings)
		}

		// Baseline on its own product, over its own 64-connection pool.
		base := h.createProduct("baseline", 2147483647, 100)
		baseDB, err := sql.Open("postgres", h.dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer baseDB.Close()
		baseDB.SetMaxOpenConns(benchClients)
		baseDB.SetMaxIdleConns(benchClients)
		textbook := func(c int) (bool, error) { return textbookOrder(ctx, baseDB, base.ID, fmt.Sprintf("buyer-%d", c)) }
		runLoad(benchWarmup, textbook)
		baseline := runLoad(benchDuration, textbook)

		// The service over HTTP: a plain client (no response validation).
		p := h.createProduct("flash", 2147483647, 100)
		api, err := client.NewClientWithResponses(h.url, client.WithHTTPClient(&http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: benchClients},
		}))
		if err != nil {
			b.Fatal(err)
		}
		viaHTTP := func(c int) (bool, error) {
			resp, err := api.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: fmt.Sprintf("buyer-%d", c)})
			switch {
			case err != nil:
				return false, err
			case resp.JSON200 != nil:
				return true, nil
			case resp.JSON409 != nil && resp.JSON409.Error.Code == client.CodeOutOfStock:
				return false, nil
			default:
				return false, errors.New(resp.Status() + ": " + string(resp.Body))
			}
		}
		runLoad(benchWarmup, viaHTTP)
		service := runLoad(benchDuration, viaHTTP)

		ratio := service.perSecond() / baseline.perSecond()
		fmt.Printf("\n%d clients, %v each, durability on (fsync/synchronous_commit %s)\n"+
			"  textbook transaction (SQL): %s\n"+
			"  POST /orders over HTTP:     %s\n"+
			"  ratio HTTP / textbook: %.2fx (target >= 1.50x)\n",
			benchClients, benchDuration, settings, baseline, service, ratio)
		if service.errors > 0 || baseline.errors > 0 {
			b.Errorf("errors other than OUT_OF_STOCK: service %d (first: %v), baseline %d (first: %v)",
				service.errors, service.firstError, baseline.errors, baseline.firstError)
		}
		b.ReportMetric(service.perSecond(), "orders/s")
		b.ReportMetric(baseline.perSecond(), "textbook-orders/s")
		b.ReportMetric(ratio, "x-textbook")
		b.ReportMetric(float64(service.percentile(0.50).Microseconds()), "p50-µs")
		b.ReportMetric(float64(service.percentile(0.99).Microseconds()), "p99-µs")
	}
}
