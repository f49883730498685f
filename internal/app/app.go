// Package app is the service's one composition root: it wires the
// configuration, the database, the stores, the order committer, the
// settlement engine and the HTTP server, and runs them until shutdown.
// cmd/server, the process tests and the benchmarks all start the service
// through it, so the wiring is written once.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/internal/buildinfo"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/localdb"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// ShutdownTimeout bounds the graceful shutdown of the HTTP server: requests
// in flight get this long to finish. (docker-compose.yml's stop_grace_period
// must be longer.)
const ShutdownTimeout = 15 * time.Second

// PurgeInterval is how often expired idempotency keys are deleted.
const PurgeInterval = time.Hour

// ClaimLeaseMargin is how much longer than REQUEST_TIMEOUT an
// Idempotency-Key claim lasts when its request could not release it.
const ClaimLeaseMargin = 2 * time.Second

// NewLogger returns the service's logger on w, as configured by c
// (LOG_LEVEL, LOG_FORMAT); lines logged with a request's context carry its
// request_id.
func NewLogger(c config.Config, w io.Writer) *slog.Logger {
	return slog.New(server.LogHandler(config.NewLogger(c, w).Handler()))
}

// App is the wired service. Create it with New, then call Run once.
type App struct {
	// Config is the configuration it was built from.
	Config config.Config
	// Log is the service's logger.
	Log *slog.Logger
	// Store is the data layer, on the configured database.
	Store *store.Store
	// Orders places orders by group commit.
	Orders *ordercommit.Committer
	// Engine runs settlement jobs.
	Engine *settlement.Engine
	// Server is the HTTP layer.
	Server *server.Server

	closeDB  func()
	listener net.Listener
}

// New opens the configured database (starting the local PostgreSQL when
// none is configured), applies the migrations when cfg.Migrate, and wires
// the committer, the engine and the HTTP server. Nothing runs yet; Run
// serves. On error everything New opened is closed again.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	requestTimeout := cfg.RequestTimeout
	if requestTimeout <= 0 {
		requestTimeout = server.DefaultRequestTimeout
	}
	st, closeDB, err := localdb.OpenStore(ctx, cfg, log, store.Options{
		MaxOpenConns: cfg.DBMaxConns,
		// A request runs REQUEST_TIMEOUT at most: an Idempotency-Key whose
		// release failed frees itself this long after it was claimed.
		ClaimLease: requestTimeout + ClaimLeaseMargin,
	})
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, Store: st, closeDB: closeDB}
	if cfg.Migrate {
		if err := migrations.Up(ctx, st.DB().DB); err != nil {
			a.Close()
			return nil, err
		}
		log.Info("database schema is up to date")
	}
	if err := bootstrapAdminKey(ctx, st, cfg, log); err != nil {
		a.Close()
		return nil, err
	}
	var jwtVerifier *auth.JWTVerifier
	if cfg.AuthJWKSURL != "" {
		jwtVerifier, err = auth.NewJWTVerifier(ctx, auth.JWTOptions{
			JWKSURL: cfg.AuthJWKSURL, Issuer: cfg.AuthJWTIssuer, Audience: cfg.AuthJWTAudience, Logger: log,
		})
		if err != nil {
			a.Close()
			return nil, err
		}
		log.Info("JWTs are accepted", "jwks_url", cfg.AuthJWKSURL, "issuer", cfg.AuthJWTIssuer, "audience", cfg.AuthJWTAudience)
	}
	var rateLimit float64 // 0: the server's default
	switch {
	case cfg.RateLimit == 0:
		rateLimit = -1 // RATE_LIMIT=0: no limit
	case cfg.RateLimit > 0:
		rateLimit = float64(cfg.RateLimit)
	}

	a.Engine = settlement.New(st, settlement.Config{
		Workers:   cfg.Workers,
		BatchSize: cfg.BatchSize,
		Dir:       cfg.SettlementDir,
		Lease:     cfg.JobLease,
		Logger:    log,
	})
	a.Orders = ordercommit.New(st, ordercommit.Config{
		Committers: cfg.OrderCommitters,
		MaxBatch:   cfg.OrderBatchSize,
		QueueSize:  cfg.OrderQueueSize,
		Logger:     log,
		// A keyed order's cleanup fits in what its request keeps for it.
		CleanupTimeout: server.CleanupReserve(requestTimeout),
	})
	a.Server, err = server.New(st, a.Orders, a.Engine, server.Config{
		Logger:             log,
		MaxInFlight:        cfg.MaxInFlight,
		RequestTimeout:     cfg.RequestTimeout,
		Registry:           prometheus.NewRegistry(),
		JWT:                jwtVerifier,
		RateLimit:          rateLimit,
		CORSAllowedOrigins: cfg.CORSOrigins(),
		Collectors: []prometheus.Collector{
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewDBStatsCollector(st.DB().DB, "ordersettle"),
			a.Orders,
			a.Engine.Metrics(),
		},
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Listen opens the HTTP listener on addr (":8080", "127.0.0.1:0", …). Run
// listens on cfg.Port of every interface unless Listen was called first.
func (a *App) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set PORT to a free port)", addr, err)
	}
	a.listener = ln
	return nil
}

// URL is the base URL of the listener ("http://host:port"); empty before
// Listen or Run.
func (a *App) URL() string {
	if a.listener == nil {
		return ""
	}
	addr := a.listener.Addr().(*net.TCPAddr)
	host := "localhost"
	if !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// Close releases what New opened (the pool, and the local PostgreSQL if New
// started it). Run closes it itself; call Close only when Run is not called.
func (a *App) Close() {
	if a.Server != nil {
		a.Server.Close() // writes the keys' last_used_at; safe to repeat
	}
	if a.listener != nil {
		_ = a.listener.Close()
	}
	if a.closeDB != nil {
		a.closeDB()
		a.closeDB = nil
	}
}

// Run serves until ctx is done, then shuts down gracefully: readiness turns
// 503, requests in flight get ShutdownTimeout to finish, the order
// committer commits what is queued, and the engine hands running jobs back
// to the queue. It closes the App when it returns.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	if a.listener == nil {
		if err := a.Listen(":" + strconv.Itoa(a.Config.Port)); err != nil {
			return err
		}
	}
	log := a.Log
	httpServer := &http.Server{
		Handler:           a.Server.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // CSV downloads stream for a while
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	base := a.URL()
	build := buildinfo.Read()
	log.Info("ordersettle is serving", "api", base, "docs", base+"/docs/", "readyz", base+"/readyz",
		"version", build.Version, "revision", build.Revision)

	// The order committer stops after the HTTP server has shut down: the
	// orders of requests still being served are committed and answered,
	// and what is queued when it stops is committed before its Run returns.
	ordersCtx, stopOrders := context.WithCancel(context.Background())
	defer stopOrders()
	g, gctx := errgroup.WithContext(ctx)
	ln := a.listener
	g.Go(func() error {
		if err := httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Readiness turns 503 first, so that load balancers stop sending
		// traffic, then requests in flight finish.
		// Readiness turns 503 first; for SHUTDOWN_DELAY requests are still
		// served so that load balancers see it and stop sending traffic;
		// then the listener closes and requests in flight finish.
		a.Server.BeginShutdown()
		log.Info("shutting down", "shutdown_delay", a.Config.ShutdownDelay)
		time.Sleep(a.Config.ShutdownDelay)
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		err := httpServer.Shutdown(sctx)
		stopOrders()
		return err
	})
	g.Go(func() error { return a.Orders.Run(ordersCtx) })
	g.Go(func() error {
		// Every instance sweeps expired holds (flash-sale orders past
		// their expires_at), returning their units.
		return a.Orders.RunExpiry(gctx)
	})
	g.Go(func() error {
		// Stops claiming on shutdown and hands running jobs back (QUEUED).
		return a.Engine.Run(gctx)
	})
	g.Go(func() error {
		purgeIdempotencyKeys(gctx, a.Store, log)
		return nil
	})
	g.Go(func() error {
		purgeExpiredResults(gctx, a.Store, a.Config.ResultRetention, log)
		return nil
	})
	return g.Wait()
}

// purgeIdempotencyKeys deletes expired idempotency keys every PurgeInterval
// until ctx ends.
func purgeIdempotencyKeys(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := st.PurgeIdempotencyKeys(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("purging expired idempotency keys failed", "err", err)
			} else if n > 0 {
				log.Info("purged expired idempotency keys", "count", n)
			}
		}
	}
}

// purgeExpiredResults removes the settlement results older than retention
// at start and every PurgeInterval until ctx ends; retention 0 keeps them
// forever.
func purgeExpiredResults(ctx context.Context, st *store.Store, retention time.Duration, log *slog.Logger) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(PurgeInterval)
	defer t.Stop()
	for {
		n, err := st.PurgeResults(ctx, retention)
		if err != nil && ctx.Err() == nil {
			log.Warn("purging expired settlement results failed", "err", err)
		} else if n > 0 {
			log.Info("purged settlement results past RESULT_RETENTION", "count", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
