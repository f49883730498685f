package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/pglocal"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/internal/testkit/testserver"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/store"
)

// placedOrder is an order answered 200.
type placedOrder struct {
	id        uuid.UUID
	productID int32
	quantity  int32
}

// buyUntil sends orders from clients goroutines, round robin over servers
// and products, quantities 1 and 2, a third of them with an Idempotency-Key,
// until stop is closed or a server stops answering. It returns the orders
// answered 200 and counts the 409 OUT_OF_STOCK answers; any other answer
// fails the test unless allowErrors.
func buyUntil(t *testing.T, stop <-chan struct{}, servers []string, token string, products []int32, clients, perClient int,
	allowErrors bool) (placed []placedOrder, outOfStock int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for c := range clients {
		httpClient := &http.Client{Timeout: 30 * time.Second}
		wg.Go(func() {
			<-start
			for i := range perClient {
				select {
				case <-stop:
					return
				default:
				}
				n := c*perClient + i
				api, err := client.NewClientWithResponses(servers[n%len(servers)], client.WithHTTPClient(httpClient),
					client.WithRequestEditorFn(bearer(token)))
				if err != nil {
					t.Error(err)
					return
				}
				order := client.NewOrder{ProductID: products[n%len(products)], Quantity: int32(1 + n%2), BuyerID: fmt.Sprint("buyer-", n)}
				var params *client.CreateOrderParams
				if n%3 == 0 {
					params = key(fmt.Sprint("key-", n))
				}
				resp, err := api.CreateOrderWithResponse(context.Background(), params, order)
				mu.Lock()
				switch {
				case err == nil && resp.JSON200 != nil:
					placed = append(placed, placedOrder{resp.JSON200.ID, order.ProductID, order.Quantity})
				case err == nil && resp.JSON409 != nil && resp.JSON409.Error.Code == client.CodeOutOfStock:
					outOfStock++
				case allowErrors:
					mu.Unlock()
					return // the server went away
				case err != nil:
					t.Errorf("order %d: %v", n, err)
				default:
					t.Errorf("order %d: status %d: %s", n, resp.StatusCode(), resp.Body)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return placed, outOfStock
}

// checkConserved checks every product's stock + units ordered = its initial
// stock, and returns the units ordered per product.
func checkConserved(t *testing.T, st *store.Store, initial map[int32]int32) map[int32]int64 {
	t.Helper()
	ordered := map[int32]int64{}
	for id, want := range initial {
		var stock int32
		var units int64
		if err := st.DB().QueryRow(`SELECT stock, (SELECT coalesce(sum(quantity), 0) FROM orders WHERE product_id = $1)
			FROM products WHERE id = $1`, id).Scan(&stock, &units); err != nil {
			t.Fatal(err)
		}
		if int64(stock)+units != int64(want) {
			t.Errorf("product %d: stock %d + units ordered %d != initial stock %d", id, stock, units, want)
		}
		ordered[id] = units
	}
	return ordered
}

// TestOrdersSurviveServerKill kills (SIGKILL) a server process while 32
// clients place orders through it: every order answered 200 exists once a
// new server process serves the same database, and stock + units ordered
// equals the initial stock for every product.
//
// What it proves: a 200 goes out only after the order's transaction
// committed, so killing the server (not the database) loses no answered
// order and leaves no half-placed batch. That the commit itself survives a
// crash of the machine is the database's fsync and synchronous_commit,
// which the test cluster runs without (for speed); the committer never
// turns synchronous_commit off for an order.
func TestOrdersSurviveServerKill(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // for its database and store
	initial := map[int32]int32{}
	var products []int32
	for range 3 {
		p := h.createProduct("kill", 1_000_000, 100)
		initial[p.ID] = p.Stock
		products = append(products, p.ID)
	}
	srv := testserver.StartProcess(t, h.dsn)

	stop := make(chan struct{})
	var placed []placedOrder
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		placed, _ = buyUntil(t, stop, []string{srv.URL}, h.token, products, 32, 1_000_000, true)
	}()
	waitForOrders(t, h, 300)
	srv.Kill(t)
	close(stop)
	<-loaded
	if len(placed) == 0 {
		t.Fatal("no order was answered 200 before the kill")
	}

	restarted := testserver.StartProcess(t, h.dsn)
	api, err := client.NewClientWithResponses(restarted.URL, client.WithHTTPClient(newValidatingDoer(t, http.DefaultClient).withToken(h.token)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range placed {
		resp, err := api.GetOrderWithResponse(context.Background(), o.id)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("order %s was answered 200 but is gone after the kill: %v, status %d", o.id, err, resp.StatusCode())
		}
		if resp.JSON200.ProductID != o.productID || resp.JSON200.Quantity != o.quantity {
			t.Errorf("order %s: %+v, want product %d quantity %d", o.id, *resp.JSON200, o.productID, o.quantity)
		}
	}
	checkConserved(t, h.store, initial)
	var rows int
	if err := h.store.DB().QueryRow(`SELECT count(*) FROM orders`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d orders answered 200 before the kill; %d orders in the database", len(placed), rows)
}

// waitForOrders waits until the harness's database holds n orders.
func waitForOrders(t *testing.T, h *harness, n int) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("%d orders", n), 30*time.Second, func() bool {
		var got int
		if err := h.store.DB().QueryRow(`SELECT count(*) FROM orders`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got >= n
	})
}

// TestTwoServers: two server processes on one database take concurrent
// orders for the same products, more than their stock: every product sells
// exactly its stock, and the orders answered 200 are exactly the order rows.
func TestTwoServers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	initial := map[int32]int32{}
	var products []int32
	for range 3 {
		p := h.createProduct("shared", 150, 100)
		initial[p.ID] = p.Stock
		products = append(products, p.ID)
	}
	a, b := testserver.StartProcess(t, h.dsn), testserver.StartProcess(t, h.dsn)

	// 900 orders of 1 or 2 units: 450 units asked per product, 150 in stock,
	// and at least 150 orders of 1 unit per product, so each sells out.
	placed, outOfStock := buyUntil(t, nil, []string{a.URL, b.URL}, h.token, products, 60, 15, false)
	sold := map[int32]int64{}
	for _, o := range placed {
		sold[o.productID] += int64(o.quantity)
	}
	ordered := checkConserved(t, h.store, initial)
	for id, want := range initial {
		if sold[id] != int64(want) || ordered[id] != int64(want) {
			t.Errorf("product %d: answered %d units sold, %d units in order rows; want both %d", id, sold[id], ordered[id], want)
		}
	}
	if len(placed)+outOfStock != 900 {
		t.Errorf("%d placed + %d out of stock != 900 orders", len(placed), outOfStock)
	}

	// A graceful stop (SIGTERM) of one server leaves the other serving.
	if code := a.Stop(t); code != 0 {
		t.Errorf("server exited %d after SIGTERM:\n%s", code, a.Stderr())
	}
	p := h.createProduct("after", 1, 1)
	resp := postOrder(t, b.URL, h.token, p.ID)
	if resp.JSON200 == nil {
		t.Errorf("the other server: status %d: %s", resp.StatusCode(), resp.Body)
	}
}

func postOrder(t *testing.T, url, token string, productID int32) *client.CreateOrderResponse {
	t.Helper()
	api, err := client.NewClientWithResponses(url, client.WithHTTPClient(newValidatingDoer(t, http.DefaultClient).withToken(token)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := api.CreateOrderWithResponse(context.Background(), nil, client.NewOrder{ProductID: productID, Quantity: 1, BuyerID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestOrdersSurviveDatabaseCrash crashes PostgreSQL itself (an immediate
// shutdown: every server process quits at once, nothing more is written,
// and the next start runs crash recovery) while 32 clients place orders, on
// a cluster of its own with durability on (fsync, synchronous_commit): every
// order answered 200 is there after recovery, and stock + units ordered
// equals the initial stock. A 200 sent before the order's commit record
// reached the WAL on disk would be lost here.
func TestOrdersSurviveDatabaseCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster of its own")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ordersettle-crash-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the cluster may run as another user
		t.Fatal(err)
	}
	cfg := pglocal.Config{DataDir: dir + "/data", Durable: true, Logger: testkit.Quiet, MaxConnections: 50}
	cluster, err := pglocal.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	cfg.Port = cluster.Port()
	dsn := cluster.URL("postgres")

	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(ctx, st.DB().DB); err != nil {
		t.Fatal(err)
	}
	h := newHarnessWithStore(t, st)
	h.store, h.dsn = st, dsn
	initial := map[int32]int32{}
	var products []int32
	for range 3 {
		p := h.createProduct("crash", 1_000_000, 100)
		initial[p.ID] = p.Stock
		products = append(products, p.ID)
	}

	stop := make(chan struct{})
	var placed []placedOrder
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		placed, _ = buyUntil(t, stop, []string{h.url}, h.token, products, 32, 1_000_000, true)
	}()
	waitForOrders(t, h, 300)
	crash(t, dir+"/data")
	close(stop)
	<-loaded
	_ = st.Close()
	if len(placed) == 0 {
		t.Fatal("no order was answered 200 before the crash")
	}

	restarted, err := pglocal.Start(ctx, cfg) // runs crash recovery
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restarted.Stop(context.Background()) })
	after, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = after.Close() })
	ids := make([]string, len(placed))
	for i, o := range placed {
		ids[i] = o.id.String()
	}
	var found int
	if err := after.DB().QueryRow(`SELECT count(*) FROM orders WHERE id = ANY($1::uuid[])`,
		"{"+strings.Join(ids, ",")+"}").Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found != len(placed) {
		t.Fatalf("%d of the %d orders answered 200 are gone after the crash", len(placed)-found, len(placed))
	}
	checkConserved(t, after, initial)
	t.Logf("%d orders answered 200 before the crash, all there after recovery", len(placed))
}

// crash makes the PostgreSQL serving dataDir quit at once, as in a crash:
// SIGQUIT to the postmaster is an immediate shutdown (every server process
// exits without writing anything more; the next start recovers from the
// WAL). It waits until the postmaster is gone.
func crash(t *testing.T, dataDir string) {
	t.Helper()
	pidFile, err := os.ReadFile(dataDir + "/postmaster.pid")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(pidFile), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("PostgreSQL did not quit after SIGQUIT")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
