package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
	"github.com/ordersettle/ordersettle/store/storetest"
)

// contract records which (operation, status) pairs the HTTP tests saw, so
// that TestMain can insist every documented response was exercised.
var contract = &contractRecorder{seen: map[string]map[int]bool{}}

func TestMain(m *testing.M) {
	if dsn := os.Getenv(serverChildEnv); dsn != "" {
		runServerChild(dsn) // a server process of the process tests
		return
	}
	code := storetest.Run(m)
	if code == 0 && fullRun() {
		code = contract.check()
	}
	os.Exit(code)
}

// fullRun reports whether the whole test suite ran (no -run filter, not -short).
func fullRun() bool {
	run := flag.Lookup("test.run")
	return run != nil && run.Value.String() == "" && !testing.Short()
}

// harness is one server on its own database, reached over real HTTP through
// the generated client, with every response checked against the spec.
type harness struct {
	t      testing.TB
	store  *store.Store
	dsn    string // of store's database
	url    string
	http   *validatingDoer // raw requests, still validated
	client *client.ClientWithResponses
	engine *settlement.Engine
	// stopEngine stops the engine (handing its running jobs back); the
	// server keeps serving. Idempotent; the test's end calls it too.
	stopEngine func()
	server     *server.Server
}

// newHarness starts a server and a settlement engine on a fresh database.
// opts adjust the server's config.
func newHarness(t testing.TB, opts ...func(*server.Config)) *harness {
	t.Helper()
	dsn := storetest.NewDSN(t)
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := newHarnessWithStore(t, st, opts...)
	h.store, h.dsn = st, dsn
	return h
}

// newHarnessWithStore starts a server, an order committer and a settlement
// engine over st.
func newHarnessWithStore(t testing.TB, st *store.Store, opts ...func(*server.Config)) *harness {
	t.Helper()
	return newHarnessWithOrders(t, st, startCommitter(t, st, ordercommit.Config{}), opts...)
}

// newHarnessWithOrders starts a server and a settlement engine over st, with
// orders placed by orders.
func newHarnessWithOrders(t testing.TB, st *store.Store, orders server.Orders, opts ...func(*server.Config)) *harness {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := server.Config{Logger: quiet}
	if c, ok := orders.(prometheus.Collector); ok {
		cfg.Collectors = append(cfg.Collectors, c) // the committer's metrics
	}
	for _, o := range opts {
		o(&cfg)
	}
	eng := settlement.New(st, settlement.Config{
		Workers: 4, BatchSize: 500, Logger: quiet,
		HeartbeatInterval: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond,
	})
	ctx, stop := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(ctx) }()
	var stopOnce sync.Once
	stopEngine := func() {
		stopOnce.Do(func() {
			stop()
			if err := <-engineDone; err != nil {
				t.Errorf("engine: %v", err)
			}
		})
	}
	t.Cleanup(stopEngine)

	srv, err := server.New(st, orders, eng, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	doer := newValidatingDoer(t, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 600}})
	api, err := client.NewClientWithResponses(ts.URL, client.WithHTTPClient(doer))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, url: ts.URL, http: doer, client: api, engine: eng, stopEngine: stopEngine, server: srv}
}

// do sends a raw request (through the validating doer) and returns the status
// and body.
func (h *harness) do(method, path string, body io.Reader, header map[string]string) (int, []byte) {
	h.t.Helper()
	r := h.send(h.newRequest(method, path, body, header))
	return r.status, r.body
}

// createProduct makes a product through the API.
func (h *harness) createProduct(name string, stock, price int32) client.Product {
	h.t.Helper()
	resp, err := h.client.CreateProductWithResponse(context.Background(),
		client.NewProduct{Name: name, Stock: stock, PriceCents: price})
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.JSON201 == nil {
		h.t.Fatalf("create product: status %d: %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// productStock reads the product's stock through the API.
func (h *harness) productStock(id int32) int32 {
	h.t.Helper()
	resp, err := h.client.GetProductWithResponse(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.JSON200 == nil {
		h.t.Fatalf("get product: status %d: %s", resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Stock
}

// countOrders counts the order rows of a product, straight from the database.
func (h *harness) countOrders(productID int32) (orders int, quantity int64) {
	h.t.Helper()
	row := h.store.DB().QueryRow(`SELECT count(*), coalesce(sum(quantity), 0) FROM orders WHERE product_id = $1`, productID)
	if err := row.Scan(&orders, &quantity); err != nil {
		h.t.Fatal(err)
	}
	return orders, quantity
}

// validatingDoer is a client.HttpRequestDoer that checks every response against
// api/openapi.yaml: status declared for the operation, headers and body
// matching their schemas, and the error shape on every 4xx/5xx.
type validatingDoer struct {
	t      testing.TB
	client *http.Client
	router routers.Router
}

func newValidatingDoer(t testing.TB, client *http.Client) *validatingDoer {
	doc, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &validatingDoer{t: t, client: client, router: router}
}

func (d *validatingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	d.validate(req, resp, body)
	return resp, nil
}

func (d *validatingDoer) validate(req *http.Request, resp *http.Response, body []byte) {
	route, params, err := d.router.FindRoute(req)
	if err != nil {
		// Not an operation of the spec (unknown path or method): the answer
		// must still be an error in the contract's shape.
		if resp.StatusCode < 400 {
			d.t.Errorf("%s %s is not in the spec but answered %d", req.Method, req.URL.Path, resp.StatusCode)
		}
		checkErrorShape(d.t, req, resp, body)
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		d.t.Errorf("%s %s answered %d, which breaks the contract: %v\nbody: %s",
			req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	op := route.Operation.OperationID
	probeNotReady := (op == "getHealth" || op == "getReadiness") && resp.StatusCode == http.StatusServiceUnavailable
	if resp.StatusCode >= 400 && !probeNotReady && req.Method != http.MethodHead { // the probes' 503 keeps its own shape (checked by the spec)
		checkErrorShape(d.t, req, resp, body)
	}
	contract.record(op, resp.StatusCode)
}

// checkErrorShape insists on {"error":{"code":"UPPER_SNAKE","message":"…"}}
// and on 5xx bodies that leak nothing of SQL or the driver.
func checkErrorShape(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s %s answered %d without the error shape: %s", req.Method, req.URL.Path, resp.StatusCode, body)
		return
	}
	if !client.ErrorCode(e.Error.Code).Valid() {
		t.Errorf("%s %s: unknown error code %q", req.Method, req.URL.Path, e.Error.Code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: error with Content-Type %q", req.Method, req.URL.Path, ct)
	}
	if resp.StatusCode >= 500 {
		lower := strings.ToLower(e.Error.Message)
		for _, leak := range []string{"pq:", "sql", "relation", "select", "insert", "update ", "goroutine", "panic", ".go:"} {
			if strings.Contains(lower, leak) {
				t.Errorf("%s %s: %d leaks internals (%q): %s", req.Method, req.URL.Path, resp.StatusCode, leak, body)
			}
		}
	}
}

// wantError asserts an error response's status and code.
func wantError(t testing.TB, status int, body []byte, wantStatus int, wantCode client.ErrorCode) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status = %d, want %d; body: %s", status, wantStatus, body)
	}
	var e client.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if e.Error.Code != wantCode {
		t.Fatalf("code = %s, want %s; message: %s", e.Error.Code, wantCode, e.Error.Message)
	}
}

type contractRecorder struct {
	mu   sync.Mutex
	seen map[string]map[int]bool
}

func (c *contractRecorder) record(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][status] = true
}

// unexercisable are the documented responses that no honest test can
// provoke, with the reason.
var unexercisable = map[string]map[int]string{
	// GET /livez answers a constant and touches nothing; only a panic in the
	// middleware could make it a 500. That path (recovery → 500 INTERNAL in
	// the error shape) is the same for every route and is exercised on
	// /health and /readyz by TestPanicIsA500.
	"getLiveness": {http.StatusInternalServerError: "only a panic; see TestPanicIsA500"},
}

// check reports every documented (operation, status) that no test exercised.
func (c *contractRecorder) check() int {
	doc, err := gen.GetSpec()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					continue
				}
				if _, ok := unexercisable[op.OperationID][status]; !ok && !c.seen[op.OperationID][status] {
					missing = append(missing, fmt.Sprintf("%s %s (%s) %d", method, path, op.OperationID, status))
				}
			}
		}
	}
	if len(missing) == 0 {
		return 0
	}
	sort.Strings(missing)
	fmt.Fprintf(os.Stderr, "contract coverage: %d documented responses were never exercised:\n  %s\n",
		len(missing), strings.Join(missing, "\n  "))
	return 1
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
