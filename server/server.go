package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// Store is what the HTTP layer needs of the data layer.
type Store interface {
	Ping(ctx context.Context) error
	CreateProduct(ctx context.Context, in domain.NewProduct) (domain.Product, error)
	GetProduct(ctx context.Context, id int32) (domain.Product, error)
	ListProducts(ctx context.Context, afterID int32, limit int) ([]domain.Product, bool, error)
	PatchProduct(ctx context.Context, id int32, patch store.ProductPatch) (domain.Product, error)
	RestockProduct(ctx context.Context, id int32, quantity int32) (domain.Product, error)
	// GetOrder returns the order with id; a non-empty buyerID is part of the
	// query (another buyer's order is domain.ErrOrderNotFound).
	GetOrder(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, error)
	ListOrders(ctx context.Context, q store.OrderQuery) ([]domain.Order, bool, error)
	ListSettlements(ctx context.Context, q store.SettlementQuery) ([]store.StoredSettlement, bool, error)
	// API keys: the key cache reads them (auth.KeySource), the /keys
	// operations manage them.
	auth.KeySource
	CreateAPIKey(ctx context.Context, in store.NewAPIKey) (auth.Key, error)
	ListAPIKeys(ctx context.Context, q store.APIKeyQuery) ([]auth.Key, bool, error)
	RevokeAPIKey(ctx context.Context, id uuid.UUID) (auth.Key, error)
	GetAPIKey(ctx context.Context, id uuid.UUID) (auth.Key, error)
	GetResult(ctx context.Context, id uuid.UUID) (store.Result, error)
	OpenResult(ctx context.Context, id uuid.UUID) (store.Result, *store.ResultReader, error)
}

// Orders places orders: the order committer (*ordercommit.Committer).
type Orders interface {
	// Place places in, under the Idempotency-Key key unless key is empty,
	// and returns the order once it is durable.
	Place(ctx context.Context, key string, in domain.NewOrder) (domain.Order, error)
	// Confirm completes a pending order before it expires; buyerID "" means
	// any buyer, another finds only that buyer's order.
	Confirm(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, error)
	// Cancel cancels a pending or completed order, its units back in stock
	// once; buyerID as for Confirm.
	Cancel(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, error)
}

// Jobs is what the HTTP layer needs of the settlement engine.
type Jobs interface {
	// SubmitBy queues a job; createdBy is the principal that queued it.
	SubmitBy(ctx context.Context, from, to time.Time, createdBy string) (domain.Job, error)
	Get(ctx context.Context, id uuid.UUID) (domain.Job, error)
	List(ctx context.Context, q store.JobQuery) ([]domain.Job, bool, error)
	Cancel(ctx context.Context, id uuid.UUID) (domain.Job, error)
	Retry(ctx context.Context, id uuid.UUID) (domain.Job, error)
}

// Config tunes the HTTP layer. Zero values get the defaults below.
type Config struct {
	// Logger receives the access log and request failures; nil means
	// slog.Default(). Its handler is wrapped with LogHandler, so that lines
	// logged while serving a request carry its request_id.
	Logger *slog.Logger
	// MaxInFlight caps the API requests served at once; more are answered
	// 503 UNAVAILABLE at once. Default 1024.
	MaxInFlight int
	// RequestTimeout bounds each API request, database waits included; a
	// request that runs out of time is answered 503 UNAVAILABLE. Default 10 s.
	RequestTimeout time.Duration
	// Registry receives the HTTP metrics and is served at /metrics, with
	// Collectors. nil means a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// Collectors are registered in Registry too (database pool, engine, …).
	Collectors []prometheus.Collector

	// Access control.

	// JWT verifies bearer tokens that are not API keys; nil refuses them.
	JWT *auth.JWTVerifier
	// RateLimit is the default rate limit of a credential, in requests per
	// second (an API key's own rate_limit wins): 0 means DefaultRateLimit,
	// a negative value no limit.
	RateLimit float64
	// KeyRefresh is how often the API key cache reads the keys changed in
	// the database (default auth.DefaultKeyRefresh): revocations reach this
	// server within about that long.
	KeyRefresh time.Duration
	// CORSAllowedOrigins are the origins whose browser requests are allowed
	// (CORS); empty turns CORS off.
	CORSAllowedOrigins []string
}

// Defaults of Config.
const (
	DefaultMaxInFlight    = 1024
	DefaultRequestTimeout = 10 * time.Second
	// DefaultRateLimit is a credential's rate limit (requests per second,
	// burst the same) unless the server or the key sets another.
	DefaultRateLimit = 1000
)

// Server implements the API.
type Server struct {
	store      Store
	orders     Orders
	jobs       Jobs
	log        *slog.Logger
	cfg        Config
	specRouter routers.Router
	metrics    *metrics
	inFlight   chan struct{} // a slot per API request in flight
	dbCheck    *dbCheck      // the probes' database check
	// shuttingDown is set by BeginShutdown; the probes then answer 503.
	shuttingDown atomic.Bool

	requirements map[string]requirement // by operation id, from the spec
	keys         *auth.KeyVerifier
	limiter      *auth.RateLimiter
	stop         context.CancelFunc // ends the background work (key cache, …)
	stopped      chan struct{}      // closed when it has ended
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New builds a Server over st, the order committer orders and the settlement
// engine jobs.
func New(st Store, orders Orders, jobs Jobs, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = slog.New(LogHandler(cfg.Logger.Handler()))
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	switch {
	case cfg.RateLimit == 0:
		cfg.RateLimit = DefaultRateLimit
	case cfg.RateLimit < 0:
		cfg.RateLimit = 0 // unlimited
	}
	specRouter, err := newSpecRouter()
	if err != nil {
		return nil, err
	}
	doc, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded OpenAPI spec: %w", err)
	}
	reqs, err := requirements(doc)
	if err != nil {
		return nil, err
	}
	keys := auth.NewKeyVerifier(st, auth.KeyVerifierOptions{Refresh: cfg.KeyRefresh, Logger: cfg.Logger})
	m, err := newMetrics(cfg.Registry, append(cfg.Collectors, authCollectors(keys)...))
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		store:      st,
		orders:     orders,
		jobs:       jobs,
		log:        cfg.Logger,
		cfg:        cfg,
		specRouter: specRouter,
		metrics:    m,
		inFlight:   make(chan struct{}, cfg.MaxInFlight),
		dbCheck:    &dbCheck{ping: st.Ping},

		requirements: reqs,
		keys:         keys,
		limiter:      auth.NewRateLimiter(cfg.RateLimit),
		stop:         stop,
		stopped:      make(chan struct{}),
	}
	go s.background(ctx)
	return s, nil
}

// background keeps the API key cache fresh and drops idle rate-limit
// buckets until ctx ends.
func (s *Server) background(ctx context.Context) {
	defer close(s.stopped)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.keys.Run(ctx)
	}()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case now := <-t.C:
			s.limiter.Evict(now.Add(-5 * time.Minute))
		}
	}
}

// Close stops the server's background work (the API key cache's refresh,
// which also writes the keys' last_used_at). It does not stop serving
// requests; call it after the HTTP server has shut down.
func (s *Server) Close() {
	s.stop()
	<-s.stopped
}

// requestContext returns the context a handler must use. The strict server
// hands handlers the *gin.Context itself, which Gin recycles for the next
// request as soon as the handler returns; database/sql may still watch the
// context a moment longer (Rows.awaitDone). The request's own context has no
// such afterlife, and carries the client's cancellation and our deadline.
func requestContext(ctx context.Context) context.Context {
	if c, ok := ctx.(*gin.Context); ok {
		return c.Request.Context()
	}
	return ctx
}
