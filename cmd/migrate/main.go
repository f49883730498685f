// Command migrate applies or reverts the database schema (the embedded
// migrations/ files) on the service's database: DATABASE_URL, DB_*, or the
// local PostgreSQL in LOCAL_PG_DIR.
//
//	migrate up       apply every pending migration
//	migrate down     revert every migration (drops all tables; asks for -yes)
//	migrate version  print the applied version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/localdb"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/store"
)

const usage = `usage: migrate up | down -yes | version

  up       apply every pending migration
  down     revert every migration: drops all tables and their data (needs -yes)
  version  print the version of the last applied migration

The database is DATABASE_URL, else DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME,
else the local PostgreSQL cluster in LOCAL_PG_DIR (default .pgdata).`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	yes := fs.Bool("yes", false, "confirm 'down'")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage) }
	if len(args) == 0 {
		fs.Usage()
		return errors.New("missing command")
	}
	cmd := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch cmd {
	case "up", "version":
	case "down":
		if !*yes {
			return errors.New("'down' drops every table and its data; run 'migrate down -yes' to confirm")
		}
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}

	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := config.NewLogger(cfg, os.Stderr)
	st, closeDB, err := localdb.OpenStore(ctx, cfg, log, store.Options{MaxOpenConns: 2})
	if err != nil {
		return err
	}
	defer closeDB()

	switch cmd {
	case "up":
		if err := migrations.Up(ctx, st.DB().DB); err != nil {
			return err
		}
	case "down":
		if err := migrations.Down(ctx, st.DB().DB); err != nil {
			return err
		}
	}
	v, dirty, err := migrations.Version(ctx, st.DB().DB)
	if err != nil {
		return err
	}
	state := "clean"
	if dirty {
		state = "dirty: a migration failed half-way; fix the database, then force the version with the golang-migrate CLI"
	}
	fmt.Printf("schema version %d (%s)\n", v, state)
	return nil
}
