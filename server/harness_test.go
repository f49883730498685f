package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/internal/testkit/testserver"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// contract records which (operation, status) pairs the HTTP tests saw, so
// that TestMain can insist every documented response was exercised.
var contract = &contractRecorder{seen: map[string]map[int]bool{}}

func TestMain(m *testing.M) {
	testserver.RunChildIfAsked() // a server process of the process tests
	code := dbtest.Run(m)
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
	// token is an API key with every scope, created for the test; every
	// request through http (and client) carries it unless it sets its own
	// Authorization header.
	token string
	keys  keyMaker
}

// newHarness starts a server and a settlement engine on a fresh database.
// opts adjust the server's config.
func newHarness(t testing.TB, opts ...func(*server.Config)) *harness {
	t.Helper()
	dsn := dbtest.NewDSN(t)
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
	// Tests send many requests on one key: no rate limit unless they ask.
	cfg := server.Config{Logger: testkit.Quiet, RateLimit: -1}
	if c, ok := orders.(prometheus.Collector); ok {
		cfg.Collectors = append(cfg.Collectors, c) // the committer's metrics
	}
	for _, o := range opts {
		o(&cfg)
	}
	eng := settlement.New(st, settlement.Config{
		Workers: 4, BatchSize: 500, Logger: testkit.Quiet,
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
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	keys := keyMaker{t: t, st: st, srv: srv}
	token, err := keys.create(storeKey{name: "test admin", scopes: auth.AllScopes})
	if errors.Is(err, store.ErrUnavailable) {
		// Tests of an unreachable database: a server that was running when
		// the database went away still has its keys in its cache.
		token = rememberedKey(t, srv)
	} else if err != nil {
		t.Fatal(err)
	}
	doer := newValidatingDoer(t, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 600}})
	doer.token = token
	api, err := client.NewClientWithResponses(ts.URL, client.WithHTTPClient(doer))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, url: ts.URL, http: doer, client: api, engine: eng, stopEngine: stopEngine, server: srv, token: token, keys: keys}
}

// storeKey describes an API key to create straight in the database.
type storeKey struct {
	name       string
	scopes     auth.ScopeSet
	merchantID *int32
	buyerID    *string
	rateLimit  *int32
	expiresAt  *time.Time
}

// keyMaker creates API keys in a test's database, and in its server's
// cache as POST /keys does (a key created elsewhere reaches the cache within
// a refresh; until then each costs a rate-limited look-up).
type keyMaker struct {
	t   testing.TB
	st  *store.Store
	srv *server.Server
}

// make creates the key and returns its token.
func (m keyMaker) make(k storeKey) string {
	m.t.Helper()
	token, err := m.create(k)
	if err != nil {
		m.t.Fatal(err)
	}
	return token
}

// create creates the key and returns its token.
func (m keyMaker) create(k storeKey) (string, error) {
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	key, err := m.st.CreateAPIKey(context.Background(), store.NewAPIKey{
		Name: k.name, Hash: hash, Scopes: k.scopes, MerchantID: k.merchantID, BuyerID: k.buyerID,
		RateLimit: k.rateLimit, ExpiresAt: k.expiresAt,
	})
	if err == nil && m.srv != nil {
		m.srv.RememberKey(key)
	}
	return token, err
}

// rememberedKey puts an all-scope key in srv's cache only, and returns its
// token.
func rememberedKey(t testing.TB, srv *server.Server) string {
	t.Helper()
	token, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	srv.RememberKey(auth.Key{ID: uuid.New(), Name: "cached", Hash: hash, Scopes: auth.AllScopes,
		CreatedAt: time.Now(), UpdatedAt: time.Now()})
	return token
}

// bearer is the request editor that sends token as a bearer token: the way
// an SDK user authenticates.
func bearer(token string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// scrape reads /metrics with the harness's key.
func (h *harness) scrape() rawResponse {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+"/metrics", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /metrics: %d %s %v", resp.StatusCode, b, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
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
	token  string // sent as a bearer token on requests without Authorization; "" sends none
}

// withToken returns a copy of d that sends token ("" for none).
func (d *validatingDoer) withToken(token string) *validatingDoer {
	c := *d
	c.token = token
	return &c
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
	if d.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
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
	if req.Method == http.MethodHead {
		// No body to check; TestHeadAnswersLikeGet compares HEAD with GET.
		// An operation of its own in the spec (the CSV download's) is
		// recorded for the contract's coverage.
		if route, _, err := d.router.FindRoute(req); err == nil && strings.EqualFold(route.Method, http.MethodHead) {
			contract.record(route.Operation.OperationID, resp.StatusCode)
		}
		return
	}
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
