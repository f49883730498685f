// Command server runs the ordersettle HTTP service.
//
// Configuration comes from the environment (`server -h` lists it; see also
// internal/config and the README). With no DATABASE_URL or DB_HOST it starts
// a private PostgreSQL cluster from the locally installed binaries, in
// LOCAL_PG_DIR (.pgdata). `server healthcheck` asks a running server whether
// it is ready, for container healthchecks.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ordersettle/ordersettle/internal/buildinfo"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/localdb"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// shutdownTimeout bounds the graceful shutdown of the HTTP server: requests
// in flight get this long to finish. (docker-compose.yml's stop_grace_period
// must be longer.)
const shutdownTimeout = 15 * time.Second

// purgeInterval is how often expired idempotency keys are deleted.
const purgeInterval = time.Hour

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// serve runs the service until SIGINT or SIGTERM and returns the exit code.
func serve() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context) error {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	// Lines logged with a request's context carry its request_id.
	log := slog.New(server.LogHandler(config.NewLogger(cfg, os.Stderr).Handler()))
	slog.SetDefault(log)

	st, closeDB, err := localdb.OpenStore(ctx, cfg, log, store.Options{MaxOpenConns: cfg.DBMaxConns})
	if err != nil {
		return err
	}
	defer closeDB()

	if cfg.Migrate {
		if err := migrations.Up(ctx, st.DB().DB); err != nil {
			return err
		}
		log.Info("database schema is up to date")
	}

	engine := settlement.New(st, settlement.Config{
		Workers:   cfg.Workers,
		BatchSize: cfg.BatchSize,
		Dir:       cfg.SettlementDir,
		Lease:     cfg.JobLease,
		Logger:    log,
	})

	orders := ordercommit.New(st, ordercommit.Config{
		Committers: cfg.OrderCommitters,
		MaxBatch:   cfg.OrderBatchSize,
		QueueSize:  cfg.OrderQueueSize,
		Logger:     log,
	})

	reg := prometheus.NewRegistry()
	srv, err := server.New(st, orders, engine, server.Config{
		Logger:         log,
		MaxInFlight:    cfg.MaxInFlight,
		RequestTimeout: cfg.RequestTimeout,
		Registry:       reg,
		Collectors: []prometheus.Collector{
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewDBStatsCollector(st.DB().DB, "ordersettle"),
			orders,
			engine.Metrics(),
		},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w (set PORT to a free port)", cfg.Port, err)
	}
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // CSV downloads stream for a while
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	base := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	build := buildinfo.Read()
	log.Info("ordersettle is serving", "api", base, "docs", base+"/docs/", "readyz", base+"/readyz",
		"version", build.Version, "revision", build.Revision)

	// The order committer stops after the HTTP server has shut down: the
	// orders of requests still being served are committed and answered,
	// and what is queued when it stops is committed before its Run returns.
	ordersCtx, stopOrders := context.WithCancel(context.Background())
	defer stopOrders()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Readiness turns 503 first; for SHUTDOWN_DELAY requests are still
		// served so that load balancers see it and stop sending traffic;
		// then the listener closes and requests in flight finish.
		srv.BeginShutdown()
		log.Info("shutting down", "shutdown_delay", cfg.ShutdownDelay)
		time.Sleep(cfg.ShutdownDelay)
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := httpServer.Shutdown(sctx)
		stopOrders()
		return err
	})
	g.Go(func() error { return orders.Run(ordersCtx) })
	g.Go(func() error {
		// Stops claiming on shutdown and hands running jobs back (QUEUED).
		return engine.Run(gctx)
	})
	g.Go(func() error {
		purgeIdempotencyKeys(gctx, st, log)
		return nil
	})
	g.Go(func() error {
		purgeExpiredResults(gctx, st, cfg.ResultRetention, log)
		return nil
	})
	return g.Wait()
}

// purgeIdempotencyKeys deletes expired idempotency keys every purgeInterval
// until ctx ends.
func purgeIdempotencyKeys(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(purgeInterval)
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
// at start and every purgeInterval until ctx ends; retention 0 keeps them
// forever.
func purgeExpiredResults(ctx context.Context, st *store.Store, retention time.Duration, log *slog.Logger) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(purgeInterval)
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
