// Command server runs the ordersettle HTTP service.
//
// Configuration comes from the environment (`server -h` lists it; see also
// internal/config and the README). With no DATABASE_URL or DB_HOST it starts
// a private PostgreSQL cluster from the locally installed binaries, in
// LOCAL_PG_DIR. `server healthcheck` asks a running server whether
// it is ready, for container healthchecks.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ordersettle/ordersettle/internal/app"
	"github.com/ordersettle/ordersettle/internal/config"
)

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

// run reads the configuration and runs the service (internal/app) until ctx
// is done.
func run(ctx context.Context) error {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, os.Stderr)
	slog.SetDefault(log)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
