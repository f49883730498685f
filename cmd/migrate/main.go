// Command migrate applies or reverts the database schema (the embedded
// migrations/ files) on the service's database: DATABASE_URL, DB_*, or the
// local PostgreSQL in LOCAL_PG_DIR.
//
//	migrate up       apply every pending migration
//	migrate down     revert every migration (drops all tables; asks for -yes)
//	migrate version  print the applied version
//
// -h, --help and help print the usage; --version prints the program's
// version. Wrong arguments exit with status 2, doing nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ordersettle/ordersettle/internal/buildinfo"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/localdb"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/store"
)

const usage = `usage: migrate up | down -yes | version

  up       apply every pending migration
  down     revert every migration: drops all tables and their data (needs -yes)
  version  print the version of the last applied migration (the schema's;
           --version prints this program's)
  help     print this help (also -h, --help)

The database is DATABASE_URL, else DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME,
else this installation's local PostgreSQL cluster in LOCAL_PG_DIR ("server -h"
shows its default; make migrate uses .pgdata in the repository).`

// usageError reports wrong arguments: exit status 2, with the usage on
// stderr.
type usageError string

func (e usageError) Error() string { return string(e) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	var usageErr usageError
	switch {
	case errors.As(err, &usageErr):
		fmt.Fprintf(os.Stderr, "migrate: %v\n\n%s\n", err, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// command parses args: the command (up, down, version, help, or "" for
// --version) and whether -yes was given. Flags may come before or after
// the command.
func command(args []string) (cmd string, yes bool, err error) {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by main
	fs.BoolVar(&yes, "yes", false, "confirm 'down'")
	version := fs.Bool("version", false, "print the program's version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "help", false, nil
		}
		return "", false, usageError(err.Error())
	}
	if rest := fs.Args(); len(rest) > 0 {
		cmd = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "help", false, nil
			}
			return "", false, usageError(err.Error())
		}
		if fs.NArg() > 0 {
			return "", false, usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		}
	}
	switch {
	case *version && cmd != "":
		return "", false, usageError("--version takes no command")
	case *version:
		return "--version", false, nil
	case cmd == "":
		return "", false, usageError("missing command")
	}
	switch cmd {
	case "up", "down", "version", "help":
		return cmd, yes, nil
	}
	return "", false, usageError(fmt.Sprintf("unknown command %q", cmd))
}

func run(ctx context.Context, args []string) error {
	cmd, yes, err := command(args)
	if err != nil {
		return err
	}
	switch cmd {
	case "help":
		fmt.Println(usage)
		return nil
	case "--version":
		fmt.Println(buildinfo.Read().String("migrate"))
		return nil
	case "down":
		if !yes {
			return errors.New("'down' drops every table and its data; run 'migrate down -yes' to confirm")
		}
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
