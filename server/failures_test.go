package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// apiOperation calls one API operation through the generated client.
type apiOperation struct {
	name string
	call func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error)
}

func responseOf(resp *http.Response, body []byte) rawResponse {
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// apiOperations are every operation of the API but /health, with valid
// requests: a healthy server answers each with a 2xx or a 404.
func apiOperations() []apiOperation {
	return []apiOperation{
		{"POST /products", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.CreateProductWithResponse(ctx, client.NewProduct{Name: "p", Stock: 1, PriceCents: 1})
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"GET /products/{id}", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.GetProductWithResponse(ctx, 1)
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"GET /products", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.ListProductsWithResponse(ctx, nil)
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"POST /orders", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: 1, Quantity: 1, BuyerID: "b"})
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"POST /orders with an Idempotency-Key", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.CreateOrderWithResponse(ctx, key("k-"+uuid.NewString()), client.NewOrder{ProductID: 1, Quantity: 1, BuyerID: "b"})
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"GET /orders/{id}", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.GetOrderWithResponse(ctx, uuid.New())
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"PATCH /products/{id}", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			name := "patched"
			r, err := c.PatchProductWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, 1, client.ProductPatch{Name: &name})
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"POST /products/{id}/restock", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.RestockProductWithResponse(ctx, 1, client.Restock{Quantity: 1})
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"GET /orders", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.ListOrdersWithResponse(ctx, nil)
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"POST /orders/{id}/confirm", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.ConfirmOrderWithResponse(ctx, uuid.New())
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
		{"POST /orders/{id}/cancel", func(ctx context.Context, c *client.ClientWithResponses) (rawResponse, error) {
			r, err := c.CancelOrderWithResponse(ctx, uuid.New())
			if err != nil {
				return rawResponse{}, err
			}
			return responseOf(r.HTTPResponse, r.Body), nil
		}},
	}
}

// wantUnavailable asserts 503 UNAVAILABLE with a Retry-After of whole seconds.
func wantUnavailable(t *testing.T, o rawResponse) {
	t.Helper()
	wantError(t, o.status, o.body, http.StatusServiceUnavailable, client.CodeUnavailable)
	ra := o.header.Get("Retry-After")
	if secs, err := strconv.Atoi(ra); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want a positive number of seconds", ra)
	}
}

// TestDatabaseUnreachable: with nothing listening where the database should
// be, every operation answers 503 UNAVAILABLE with Retry-After, quickly;
// /readyz and /health answer 503 in their own shape, and /livez, which never
// touches the database, 200.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1 on the loopback refuses connections. The "postgres" driver is
	// registered by the store package.
	db := sqlx.MustOpen("postgres", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	t.Cleanup(func() { _ = db.Close() })
	h := newHarnessWithStore(t, store.New(db))
	ctx := context.Background()

	health, err := h.client.GetHealthWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if health.StatusCode() != http.StatusServiceUnavailable || health.JSON503 == nil ||
		health.JSON503.Status != client.ReadinessUnavailable || health.JSON503.Database != client.DatabaseUnreachable {
		t.Errorf("GET /health: status %d: %s; want 503 unavailable/unreachable", health.StatusCode(), health.Body)
	}
	ready, err := h.client.GetReadinessWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ready.StatusCode() != http.StatusServiceUnavailable || ready.JSON503 == nil ||
		ready.JSON503.Status != client.ReadinessUnavailable || ready.JSON503.Database != client.DatabaseUnreachable {
		t.Errorf("GET /readyz: status %d: %s; want 503 unavailable/unreachable", ready.StatusCode(), ready.Body)
	}
	live, err := h.client.GetLivenessWithResponse(ctx)
	if err != nil || live.JSON200 == nil || live.JSON200.Status != client.LivenessOK {
		t.Errorf("GET /livez: %v, status %d: %s; want 200 ok", err, live.StatusCode(), live.Body)
	}

	for _, op := range apiOperations() {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			h := h.forTest(t)
			started := time.Now()
			o, err := op.call(ctx, h.client)
			if err != nil {
				t.Fatal(err)
			}
			wantUnavailable(t, o)
			if took := time.Since(started); took > 3*time.Second {
				t.Errorf("took %v; a refused connection must be answered at once", took)
			}
		})
	}
}

// TestInternalErrorsLeakNothing: when the database answers with an error the
// store does not expect (here: the tables are gone), every operation answers
// 500 INTERNAL with a fixed message; the details go to the log only.
func TestInternalErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	var log testkit.SyncBuffer
	h := newHarness(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	ctx := context.Background()
	if _, err := h.store.DB().Exec(`DROP TABLE idempotency_keys, orders, products CASCADE`); err != nil {
		t.Fatal(err)
	}

	for _, op := range apiOperations() {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			h := h.forTest(t)
			o, err := op.call(ctx, h.client) // the doer checks the 5xx for leaks
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, o.status, o.body, http.StatusInternalServerError, client.CodeInternal)
			for _, leak := range []string{"products", "orders", "idempotency", "does not exist", "42P01"} {
				if strings.Contains(strings.ToLower(string(o.body)), leak) {
					t.Errorf("500 body leaks %q: %s", leak, o.body)
				}
			}
		})
	}
	t.Cleanup(func() {
		// After the subtests: the details are in the log.
		if logged := log.String(); !strings.Contains(logged, "does not exist") {
			t.Errorf("the log does not hold the database's error:\n%s", logged)
		}
	})

	// The database itself still answers.
	health, err := h.client.GetHealthWithResponse(ctx)
	if err != nil || health.JSON200 == nil {
		t.Fatalf("GET /health: %v, status %d: %s; want 200", err, health.StatusCode(), health.Body)
	}
}

// TestLoadShedding: with MaxInFlight 1 and one order in flight (waiting for
// its product's row lock), another API request is answered 503 UNAVAILABLE at
// once, while /health still answers 200; once the order completes, requests
// are served again.
func TestLoadShedding(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *server.Config) { c.MaxInFlight = 1 })
	ctx := context.Background()
	p := h.createProduct("hot", 5, 100)

	release := testkit.LockProduct(t, h.store, p.ID)
	firstDone := make(chan *client.CreateOrderResponse, 1)
	go func() {
		resp, err := h.client.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "first"})
		if err != nil {
			t.Error(err)
		}
		firstDone <- resp
	}()
	waitForLockWait(t, h)

	for _, op := range apiOperations() {
		started := time.Now()
		o, err := op.call(ctx, h.client)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(op.name, func(t *testing.T) { wantUnavailable(t, o) })
		if took := time.Since(started); took > time.Second {
			t.Errorf("%s: shedding took %v; it must answer at once", op.name, took)
		}
	}
	wantProbesOK(t, h)
	metrics := h.scrape()
	if !strings.Contains(string(metrics.body), "ordersettle_http_requests_shed_total "+strconv.Itoa(len(apiOperations()))) {
		t.Errorf("shed counter is not %d:\n%s", len(apiOperations()), grepLines(string(metrics.body), "shed"))
	}

	release()
	first := <-firstDone
	if first == nil || first.JSON200 == nil {
		t.Fatalf("the order in flight did not complete with 200: %+v", first)
	}
	if stock := h.productStock(p.ID); stock != 4 {
		t.Errorf("stock = %d, want 4: only the first order may have been placed", stock)
	}
}

// waitForLockWait waits until a statement of the harness's database waits
// for a lock: the order is in flight.
func waitForLockWait(t *testing.T, h *harness) {
	t.Helper()
	testkit.Eventually(t, "a statement waiting for the product's row lock", 5*time.Second, func() bool {
		var n int
		if err := h.store.DB().QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
}

// grepLines returns the lines of s that contain substr.
func grepLines(s, substr string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPanicIsA500 runs the server over a store without a pool, so that
// every database call panics: the recovery middleware must answer 500
// INTERNAL in the contract's shape without leaking the panic, and the
// server must go on serving. The readiness check pings in a goroutine of its
// own; its panic must still become the probe's 500, not a crash.
func TestPanicIsA500(t *testing.T) {
	t.Parallel()
	broken := store.New(nil)
	srv, err := server.New(broken, ordercommit.New(broken, ordercommit.Config{Logger: testkit.Quiet}),
		settlement.New(broken, settlement.Config{Dir: t.TempDir(), Logger: testkit.Quiet}), server.Config{Logger: testkit.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	doer := newValidatingDoer(t, ts.Client())
	for _, path := range []string{"/health", "/readyz", "/health", "/readyz"} { // the later answers prove the server survived
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		resp, err := doer.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp.StatusCode, body, http.StatusInternalServerError, client.CodeInternal)
	}
}
