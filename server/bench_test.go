package server_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/internal/testkit/testserver"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/store"
)

const (
	benchClients    = 128 // keep-alive HTTP clients, as a buyer crowd
	benchSQLClients = 64  // goroutines driving the single-statement baseline
	benchProducts   = 1000
	benchDuration   = 10 * time.Second // per workload, in benchRounds slices
	benchRounds     = 5
	benchWarmup     = 2 * time.Second
)

// loadResult is what a closed-loop load run measured.
type loadResult struct {
	ok, failed int
	elapsed    time.Duration
	latencies  []time.Duration // of successful requests
	firstError error
}

func (r loadResult) perSecond() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

func (r loadResult) String() string {
	return fmt.Sprintf("%7.0f/s  p50 %-8v p99 %-8v (%d ok, %d failed)", r.perSecond(),
		r.percentile(0.50).Round(100*time.Microsecond), r.percentile(0.99).Round(100*time.Microsecond), r.ok, r.failed)
}

// runLoad runs do from clients goroutines in a closed loop for d; do
// reports whether its request succeeded (an error means it did not).
func runLoad(clients int, d time.Duration, do func(client int, rng *rand.Rand) error) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			lat := make([]time.Duration, 0, 4096)
			ok, failed := 0, 0
			var firstErr error
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := do(c, rng); err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				ok++
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.ok += ok
			res.failed += failed
			res.latencies = append(res.latencies, lat...)
			if res.firstError == nil {
				res.firstError = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	return res
}

// workload is a closed-loop load to measure.
type workload struct {
	clients int
	do      func(client int, rng *rand.Rand) error
}

// measured is what alternate measured of a workload.
type measured struct {
	loadResult
	meanBatch float64 // orders per committer batch during its slices
}

// alternate measures the workloads in turns: after a warm-up of each,
// benchRounds rounds in which each runs for its slice of benchDuration. All
// of them thus see the same machine (other processes come and go on a
// shared one), so their ratios hold even when the absolute figures move.
func alternate(b *testing.B, c benchClient, ws ...workload) []measured {
	b.Helper()
	return alternateFor(b, c, benchDuration/benchRounds, benchRounds, ws...)
}

// alternateFor is alternate with slices of slice, rounds times.
func alternateFor(b *testing.B, c benchClient, slice time.Duration, rounds int, ws ...workload) []measured {
	b.Helper()
	for _, w := range ws {
		runLoad(w.clients, min(benchWarmup, slice), w.do)
	}
	out := make([]measured, len(ws))
	orders, batches := make([]float64, len(ws)), make([]float64, len(ws))
	for range rounds {
		for i, w := range ws {
			o0, n0 := batchStats(b, c)
			r := runLoad(w.clients, slice, w.do)
			o1, n1 := batchStats(b, c)
			orders[i] += o1 - o0
			batches[i] += n1 - n0
			m := &out[i]
			m.ok += r.ok
			m.failed += r.failed
			m.elapsed += r.elapsed
			m.latencies = append(m.latencies, r.latencies...)
			if m.firstError == nil {
				m.firstError = r.firstError
			}
		}
	}
	for i := range out {
		sort.Slice(out[i].latencies, func(a, b int) bool { return out[i].latencies[a] < out[i].latencies[b] })
		out[i].meanBatch = orders[i] / max(batches[i], 1)
	}
	return out
}

// benchClient sends requests over keep-alive connections and checks only
// the status, so that the load generator, which shares the machine, costs
// as little as possible and the same for reads and orders.
type benchClient struct {
	base  string
	http  *http.Client
	token string // an API key sent as a bearer token; "" sends none
}

// withToken returns a copy of c that sends token.
func (c benchClient) withToken(token string) benchClient {
	c.token = token
	return c
}

func (c benchClient) do(method, path string, body []byte) error {
	return c.doWithKey(method, path, body, "")
}

// doWithKey is do with an Idempotency-Key header unless key is empty.
func (c benchClient) doWithKey(method, path string, body []byte, key string) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func orderBody(productID int32, client int) []byte {
	b := make([]byte, 0, 64)
	b = append(b, `{"product_id":`...)
	b = strconv.AppendInt(b, int64(productID), 10)
	b = append(b, `,"quantity":1,"buyer_id":"buyer-`...)
	b = strconv.AppendInt(b, int64(client), 10)
	return append(b, `"}`...)
}

// batchStats reads the order committer's batch histogram from /metrics.
func batchStats(b *testing.B, c benchClient) (orders, batches float64) {
	b.Helper()
	m := scrapeMetrics(b, c)
	return m["ordersettle_order_batch_size_sum"], m["ordersettle_order_batch_size_count"]
}

// scrapeMetrics reads the unlabelled samples of /metrics, with c's key.
func scrapeMetrics(b *testing.B, c benchClient) map[string]float64 {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), " ")
		v, _ := strconv.ParseFloat(value, 64)
		samples[name] = v
	}
	return samples
}

// benchKey creates the benchmark's API key: every scope, and a rate limit
// of its own high enough for 128 clients on one key.
func benchKey(b *testing.B, st *store.Store) string {
	b.Helper()
	token, hash, err := auth.NewToken()
	if err != nil {
		b.Fatal(err)
	}
	limit := int32(100000)
	if _, err := st.CreateAPIKey(context.Background(), store.NewAPIKey{
		Name: "bench", Hash: hash, Scopes: auth.AllScopes, RateLimit: &limit,
	}); err != nil {
		b.Fatal(err)
	}
	return token
}

// singleStatementOrder is the order path of the first release, the
// baseline: one guarded UPDATE and the INSERT in one statement, one durable
// commit per order.
func singleStatementOrder(ctx context.Context, db *sql.DB, productID int32, buyer string) error {
	var id string
	return db.QueryRowContext(ctx, `
		WITH taken AS (
			UPDATE products SET stock = stock - 1 WHERE id = $1 AND stock >= 1 RETURNING id, price_cents
		)
		INSERT INTO orders (product_id, buyer_id, quantity, total_amount_cents, status)
		SELECT id, $2, 1, price_cents, 'completed' FROM taken RETURNING id`, productID, buyer).Scan(&id)
}

// BenchmarkOrders measures POST /orders over HTTP with 128 keep-alive
// clients against the HTTP path's own ceiling, GET /products/{id} with the
// same clients: on one hot product (a flash sale) and spread over 1,000
// products; and orders on the hot product each under an Idempotency-Key of
// its own. It also runs the first release's single-statement order from
// 64 goroutines straight on the database, and reports the committer's mean
// batch size. The workloads compared run in turns (see alternate), so that
// their ratios hold on a machine shared with other work. Durability is on
// (fsync, synchronous_commit); stock is ample, so every request must
// succeed.
func BenchmarkOrders(b *testing.B) {
	for range b.N {
		dsn := dbtest.NewDSN(b)
		a := testserver.Start(b, dsn, os.Stderr)
		ctx := context.Background()
		db := a.Store.DB().DB
		var settings string
		if err := db.QueryRow(`SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')`).Scan(&settings); err != nil {
			b.Fatal(err)
		}
		if settings != "on/on" && !dbtest.External() {
			b.Fatalf("fsync/synchronous_commit = %s; benchmarks must run with durability on", settings)
		}
		ids := make([]int32, benchProducts)
		for i := range ids {
			ids[i] = testkit.CreateProduct(b, a.Store, fmt.Sprint("product-", i), 2147483647, 100).ID
		}
		hot := ids[0]
		reader := benchClient{base: a.URL(), http: &http.Client{Transport: &http.Transport{
			MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients,
		}}}
		c := reader.withToken(benchKey(b, a.Store)) // orders and /metrics need the key; reads are public

		baseDB, err := sql.Open("postgres", dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer baseDB.Close()
		baseDB.SetMaxOpenConns(benchSQLClients)
		baseDB.SetMaxIdleConns(benchSQLClients)
		baseProduct := testkit.CreateProduct(b, a.Store, "single statement", 2147483647, 100).ID

		hotPath := "/products/" + itoa(hot)
		var keys atomic.Int64
		hotRuns := alternate(b, c,
			workload{benchClients, func(int, *rand.Rand) error { return reader.do(http.MethodGet, hotPath, nil) }},
			workload{benchClients, func(client int, _ *rand.Rand) error {
				return c.do(http.MethodPost, "/orders", orderBody(hot, client))
			}},
			workload{benchClients, func(client int, _ *rand.Rand) error {
				return c.doWithKey(http.MethodPost, "/orders", orderBody(hot, client), "k-"+strconv.FormatInt(keys.Add(1), 10))
			}},
			workload{benchSQLClients, func(client int, _ *rand.Rand) error {
				return singleStatementOrder(ctx, baseDB, baseProduct, fmt.Sprint("buyer-", client))
			}},
		)
		readHot, orderHot, orderKeyed, baseline := hotRuns[0], hotRuns[1], hotRuns[2], hotRuns[3]
		spreadRuns := alternate(b, c,
			workload{benchClients, func(_ int, rng *rand.Rand) error {
				return reader.do(http.MethodGet, "/products/"+itoa(ids[rng.IntN(len(ids))]), nil)
			}},
			workload{benchClients, func(client int, rng *rand.Rand) error {
				return c.do(http.MethodPost, "/orders", orderBody(ids[rng.IntN(len(ids))], client))
			}},
		)
		readSpread, orderSpread := spreadRuns[0], spreadRuns[1]

		hotRatio := orderHot.perSecond() / readHot.perSecond()
		spreadRatio := orderSpread.perSecond() / readSpread.perSecond()
		fmt.Printf("\n%d keep-alive clients, %v per workload in %d turns, durability on (fsync/synchronous_commit %s)\n"+
			"  one hot product:\n"+
			"    GET /products/{id}  %s\n"+
			"    POST /orders        %s  mean batch %.1f\n"+
			"    orders / reads: %.2fx (goal >= 0.70x)\n"+
			"    POST /orders, each with its own Idempotency-Key:\n"+
			"                        %s  mean batch %.1f\n"+
			"    keyed orders / reads: %.2fx\n"+
			"  spread over %d products:\n"+
			"    GET /products/{id}  %s\n"+
			"    POST /orders        %s  mean batch %.1f\n"+
			"    orders / reads: %.2fx (goal >= 0.70x)\n"+
			"  single-statement order, %d goroutines on one row (SQL only):\n"+
			"                        %s\n"+
			"    hot POST /orders / single statement: %.1fx\n",
			benchClients, benchDuration, benchRounds, settings,
			readHot, orderHot, orderHot.meanBatch, hotRatio, orderKeyed, orderKeyed.meanBatch, orderKeyed.perSecond()/readHot.perSecond(),
			benchProducts, readSpread, orderSpread, orderSpread.meanBatch, spreadRatio,
			benchSQLClients, baseline, orderHot.perSecond()/baseline.perSecond())
		for name, r := range map[string]measured{
			"hot reads": readHot, "hot orders": orderHot, "hot keyed orders": orderKeyed, "spread reads": readSpread,
			"spread orders": orderSpread, "single statement": baseline,
		} {
			if r.failed > 0 {
				b.Errorf("%s: %d requests failed (first: %v)", name, r.failed, r.firstError)
			}
		}
		b.ReportMetric(orderHot.perSecond(), "hot-orders/s")
		b.ReportMetric(hotRatio, "hot-x-reads")
		b.ReportMetric(orderKeyed.perSecond(), "hot-keyed-orders/s")
		b.ReportMetric(orderSpread.perSecond(), "spread-orders/s")
		b.ReportMetric(spreadRatio, "spread-x-reads")
		b.ReportMetric(orderHot.perSecond()/baseline.perSecond(), "x-single-statement")
		b.ReportMetric(float64(orderHot.percentile(0.50).Microseconds()), "hot-p50-µs")
		b.ReportMetric(float64(orderHot.percentile(0.99).Microseconds()), "hot-p99-µs")
	}
}

// BenchmarkKeyedOrders is the short form of the comparison that access
// control must keep: POST /orders on one hot product, each request with an
// API key, against the public GET /products/{id} with the same 128 clients,
// in turns (1 s slices, 5 rounds). The key is verified from the in-process
// cache: ordersettle_auth_key_lookups_total must not move.
// Run: go test -run '^$' -bench BenchmarkKeyedOrders -benchtime 1x ./server/
func BenchmarkKeyedOrders(b *testing.B) {
	for range b.N {
		h := newHarness(b, func(c *server.Config) { c.RateLimit = 0 })
		hot := h.createProduct("hot", 2147483647, 100).ID
		reader := benchClient{base: h.url, http: &http.Client{Transport: &http.Transport{
			MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients,
		}}}
		c := reader.withToken(benchKey(b, h.store))
		hotPath := "/products/" + itoa(hot)
		before := scrapeMetrics(b, c)["ordersettle_auth_key_lookups_total"]
		runs := alternateFor(b, c, time.Second, 5,
			workload{benchClients, func(int, *rand.Rand) error { return reader.do(http.MethodGet, hotPath, nil) }},
			workload{benchClients, func(client int, _ *rand.Rand) error {
				return c.do(http.MethodPost, "/orders", orderBody(hot, client))
			}},
		)
		lookups := scrapeMetrics(b, c)["ordersettle_auth_key_lookups_total"] - before
		reads, orders := runs[0], runs[1]
		ratio := orders.perSecond() / reads.perSecond()
		fmt.Printf("\n%d keep-alive clients, one hot product, 5 x 1 s turns each:\n"+
			"    GET /products/{id} (public)     %s\n"+
			"    POST /orders with an API key    %s  mean batch %.1f\n"+
			"    keyed orders / public reads: %.2fx (goal >= 1.0x); credential look-ups in the database: %v\n",
			benchClients, reads, orders, orders.meanBatch, ratio, lookups)
		if reads.failed+orders.failed > 0 {
			b.Errorf("failed requests: reads %d (%v), orders %d (%v)", reads.failed, reads.firstError, orders.failed, orders.firstError)
		}
		if lookups != 0 {
			b.Errorf("%v credential look-ups during the run; a cached key must cost none", lookups)
		}
		b.ReportMetric(orders.perSecond(), "keyed-orders/s")
		b.ReportMetric(reads.perSecond(), "public-reads/s")
		b.ReportMetric(ratio, "keyed-orders-x-reads")
	}
}
