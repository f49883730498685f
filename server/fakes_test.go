package server_test

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/store"
)

// fakeBackend is an in-memory server.Store, server.Orders and server.Jobs:
// enough for the tests of what the HTTP layer decides on its own (bad
// input, strict edges, methods, media types), which then need no database.
// Orders are placed one at a time under a mutex (no group commit, no
// idempotency records); jobs stay as submitted (no engine runs them).
type fakeBackend struct {
	mu       sync.Mutex
	products []domain.Product // by id
	orders   map[uuid.UUID]domain.Order
	jobs     []domain.Job // in creation order
}

var (
	_ server.Store  = (*fakeBackend)(nil)
	_ server.Orders = fakeOrders{}
	_ server.Jobs   = (*fakeBackend)(nil)
)

func (f *fakeBackend) Ping(context.Context) error { return nil }

func (f *fakeBackend) CreateProduct(_ context.Context, in domain.NewProduct) (domain.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := domain.Product{ID: int32(len(f.products) + 1), Name: in.Name, Stock: in.Stock, PriceCents: in.PriceCents,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	f.products = append(f.products, p)
	return p, nil
}

func (f *fakeBackend) GetProduct(_ context.Context, id int32) (domain.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.products) {
		return domain.Product{}, domain.ErrProductNotFound
	}
	return f.products[id-1], nil
}

func (f *fakeBackend) ListProducts(_ context.Context, afterID int32, limit int) ([]domain.Product, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	page := []domain.Product{}
	for _, p := range f.products {
		if p.ID > afterID {
			page = append(page, p)
		}
	}
	if len(page) > limit {
		return page[:limit], true, nil
	}
	return page, false, nil
}

func (f *fakeBackend) GetOrder(_ context.Context, id uuid.UUID, buyerID string) (domain.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[id]
	if !ok || buyerID != "" && o.BuyerID != buyerID {
		return domain.Order{}, domain.ErrOrderNotFound
	}
	return o, nil
}

// PatchProduct changes the name and price; the fake keeps no limits.
func (f *fakeBackend) PatchProduct(_ context.Context, id int32, patch store.ProductPatch) (domain.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.products) {
		return domain.Product{}, domain.ErrProductNotFound
	}
	p := &f.products[id-1]
	if patch.Name != nil {
		p.Name = *patch.Name
	}
	if patch.PriceCents != nil {
		p.PriceCents = *patch.PriceCents
	}
	return *p, nil
}

func (f *fakeBackend) RestockProduct(_ context.Context, id int32, quantity int32) (domain.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.products) {
		return domain.Product{}, domain.ErrProductNotFound
	}
	p := &f.products[id-1]
	if int64(p.Stock)+int64(quantity) > math.MaxInt32 {
		return domain.Product{}, domain.ErrStockOverflow
	}
	p.Stock += quantity
	return *p, nil
}

// ListOrders lists nothing: the fake's tests do not page orders.
func (f *fakeBackend) ListOrders(context.Context, store.OrderQuery) ([]domain.Order, bool, error) {
	return []domain.Order{}, false, nil
}

// fakeOrders is the fake's server.Orders (its Cancel is not the jobs').
type fakeOrders struct{ *fakeBackend }

// Confirm and Cancel find the order only; the fake holds no holds.
func (f fakeOrders) Confirm(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, error) {
	return f.GetOrder(ctx, id, buyerID)
}

func (f fakeOrders) Cancel(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, error) {
	return f.GetOrder(ctx, id, buyerID)
}

// The fake has no stored keys: newFakeHarness puts its key in the server's
// cache.
func (f *fakeBackend) APIKeysChangedSince(context.Context, time.Time) ([]auth.Key, error) {
	return nil, nil
}

func (f *fakeBackend) APIKeyByHash(context.Context, []byte) (auth.Key, bool, error) {
	return auth.Key{}, false, nil
}

func (f *fakeBackend) TouchAPIKeys(context.Context, map[uuid.UUID]time.Time) error { return nil }

func (f *fakeBackend) CreateAPIKey(context.Context, store.NewAPIKey) (auth.Key, error) {
	return auth.Key{}, domain.ErrUnavailable
}

func (f *fakeBackend) ListAPIKeys(context.Context, store.APIKeyQuery) ([]auth.Key, bool, error) {
	return []auth.Key{}, false, nil
}

func (f *fakeBackend) RevokeAPIKey(context.Context, uuid.UUID) (auth.Key, error) {
	return auth.Key{}, store.ErrKeyNotFound
}

func (f *fakeBackend) GetAPIKey(context.Context, uuid.UUID) (auth.Key, error) {
	return auth.Key{}, store.ErrKeyNotFound
}

func (f *fakeBackend) ListSettlements(context.Context, store.SettlementQuery) ([]store.StoredSettlement, bool, error) {
	return []store.StoredSettlement{}, false, nil
}

// Place places the order at once, or refuses it as the store would.
func (f fakeOrders) Place(ctx context.Context, key string, in domain.NewOrder) (domain.Order, error) {
	if err := store.CheckOrder(key, in); err != nil {
		return domain.Order{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.ProductID < 1 || int(in.ProductID) > len(f.products) {
		return domain.Order{}, domain.ErrProductNotFound
	}
	p := &f.products[in.ProductID-1]
	if p.Stock < in.Quantity {
		return domain.Order{}, domain.ErrOutOfStock
	}
	p.Stock -= in.Quantity
	o := domain.Order{ID: uuid.New(), ProductID: p.ID, Quantity: in.Quantity, BuyerID: in.BuyerID,
		TotalAmountCents: int64(in.Quantity) * int64(p.PriceCents), Status: domain.OrderStatusCompleted,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if f.orders == nil {
		f.orders = map[uuid.UUID]domain.Order{}
	}
	f.orders[o.ID] = o
	return o, nil
}

func (f *fakeBackend) SubmitBy(_ context.Context, from, to time.Time, createdBy string) (domain.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now().UTC().Truncate(time.Microsecond)
	j := domain.Job{ID: uuid.New(), From: from, To: to, Status: domain.JobQueued, CreatedAt: now, UpdatedAt: now}
	if createdBy != "" {
		j.CreatedBy = &createdBy
	}
	f.jobs = append(f.jobs, j)
	return j, nil
}

func (f *fakeBackend) job(id uuid.UUID) *domain.Job {
	for i := range f.jobs {
		if f.jobs[i].ID == id {
			return &f.jobs[i]
		}
	}
	return nil
}

func (f *fakeBackend) Get(_ context.Context, id uuid.UUID) (domain.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.job(id); j != nil {
		return *j, nil
	}
	return domain.Job{}, domain.ErrJobNotFound
}

func (f *fakeBackend) List(_ context.Context, q store.JobQuery) ([]domain.Job, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	page := []domain.Job{}
	for _, j := range slices.Backward(f.jobs) { // newest first
		if q.Status != "" && j.Status != q.Status {
			continue
		}
		if q.After != nil && cmp.Or(j.CreatedAt.Compare(q.After.CreatedAt), cmp.Compare(j.ID.String(), q.After.ID.String())) >= 0 {
			continue
		}
		page = append(page, j)
	}
	if len(page) > q.Limit {
		return page[:q.Limit], true, nil
	}
	return page, false, nil
}

func (f *fakeBackend) Cancel(_ context.Context, id uuid.UUID) (domain.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.job(id)
	switch {
	case j == nil:
		return domain.Job{}, domain.ErrJobNotFound
	case j.Status == domain.JobCompleted || j.Status == domain.JobFailed:
		return *j, domain.ErrJobNotCancellable
	}
	j.Status = domain.JobCancelled
	return *j, nil
}

func (f *fakeBackend) Retry(_ context.Context, id uuid.UUID) (domain.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.job(id)
	switch {
	case j == nil:
		return domain.Job{}, domain.ErrJobNotFound
	case !j.Status.Retryable():
		return *j, domain.ErrJobNotRetryable
	}
	j.Status = domain.JobQueued
	return *j, nil
}

// GetResult and OpenResult find no result: the fake's jobs never complete.
func (f *fakeBackend) GetResult(context.Context, uuid.UUID) (store.Result, error) {
	return store.Result{}, store.ErrResultNotFound
}

func (f *fakeBackend) OpenResult(context.Context, uuid.UUID) (store.Result, *store.ResultReader, error) {
	return store.Result{}, nil, store.ErrResultNotFound
}

// newFakeHarness starts a server over an in-memory backend (no database),
// reached over real HTTP through the validating client like newHarness's.
// Its store, engine and dsn are unset.
func newFakeHarness(t testing.TB, opts ...func(*server.Config)) *harness {
	t.Helper()
	f := &fakeBackend{}
	cfg := server.Config{Logger: testkit.Quiet, RateLimit: -1}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(f, fakeOrders{f}, f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	token := rememberedKey(t, srv)
	doer := newValidatingDoer(t, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}})
	doer.token = token
	api, err := client.NewClientWithResponses(ts.URL, client.WithHTTPClient(doer))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, url: ts.URL, http: doer, client: api, server: srv, token: token}
}
