package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// Store is what the HTTP layer needs of the data layer.
type Store interface {
	Ping(ctx context.Context) error
	CreateProduct(ctx context.Context, in store.NewProduct) (store.Product, error)
	GetProduct(ctx context.Context, id int32) (store.Product, error)
	ListProducts(ctx context.Context, afterID int32, limit int) ([]store.Product, bool, error)
	GetOrder(ctx context.Context, id uuid.UUID) (store.Order, error)
	ListSettlements(ctx context.Context, q store.SettlementQuery) ([]store.StoredSettlement, bool, error)
	GetResult(ctx context.Context, id uuid.UUID) (store.Result, error)
	OpenResult(ctx context.Context, id uuid.UUID) (store.Result, *store.ResultReader, error)
}

// Orders places orders: the order committer (*ordercommit.Committer).
type Orders interface {
	// Place places in, under the Idempotency-Key key unless key is empty,
	// and returns the order once it is durable.
	Place(ctx context.Context, key string, in store.NewOrder) (store.Order, error)
}

// Jobs is what the HTTP layer needs of the settlement engine.
type Jobs interface {
	Submit(ctx context.Context, from, to time.Time) (store.Job, error)
	Get(ctx context.Context, id uuid.UUID) (store.Job, error)
	List(ctx context.Context, q store.JobQuery) ([]store.Job, bool, error)
	Cancel(ctx context.Context, id uuid.UUID) (store.Job, error)
	Retry(ctx context.Context, id uuid.UUID) (store.Job, error)
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
}

// Defaults of Config.
const (
	DefaultMaxInFlight    = 1024
	DefaultRequestTimeout = 10 * time.Second
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
	specRouter, err := newSpecRouter()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry, cfg.Collectors)
	if err != nil {
		return nil, err
	}
	return &Server{
		store:      st,
		orders:     orders,
		jobs:       jobs,
		log:        cfg.Logger,
		cfg:        cfg,
		specRouter: specRouter,
		metrics:    m,
		inFlight:   make(chan struct{}, cfg.MaxInFlight),
		dbCheck:    &dbCheck{ping: st.Ping},
	}, nil
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
