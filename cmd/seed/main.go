// Command seed loads demo data into the service's database: a few products
// with stock (when there are none) and N payment transactions (default
// 1,000,000) loaded with COPY, with a progress bar. The same flags give the
// same rows; -order shuffled stores the same rows in an order unrelated to
// paid_at (as late arrivals or bulk loads from other systems do), to try
// settlement on both physical layouts. It uses the same database as the
// server: DATABASE_URL, DB_*, or the local PostgreSQL in LOCAL_PG_DIR
// (started for the duration if the server is not running).
//
// -h, --help and help print the usage; --version and version print the
// version. Wrong flags or arguments exit with status 2, doing nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ordersettle/ordersettle/internal/buildinfo"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/localdb"
	"github.com/ordersettle/ordersettle/internal/seed"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2) // run printed the problem and the usage
	case err != nil:
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

// errUsage reports wrong arguments, after run printed the problem and the
// usage on stderr: exit status 2, nothing done.
var errUsage = errors.New("wrong arguments")

const usageText = `usage: seed [flags]

Loads demo data into the service's database (DATABASE_URL, else DB_HOST and
friends, else the local PostgreSQL in LOCAL_PG_DIR): five products with
stock when there are none, and N payment transactions, replacing the
existing ones unless -append is given. The same flags give the same rows.

  seed help     print this help (also -h, --help)
  seed version  print the version (also --version)

Flags:
`

// usage prints the help text and the flags of fs to w.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageText)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// badUsage prints problem and the usage on stderr and returns errUsage.
func badUsage(fs *flag.FlagSet, problem string) error {
	fmt.Fprintf(os.Stderr, "seed: %s\n\n", problem)
	usage(os.Stderr, fs)
	return errUsage
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int64("n", 1_000_000, "number of transactions")
	fromFlag := fs.String("from", "2025-01-01", "first day of paid_at (YYYY-MM-DD, UTC)")
	toFlag := fs.String("to", "2025-01-31", "last day of paid_at, included (YYYY-MM-DD, UTC)")
	merchants := fs.Int("merchants", 1000, "number of merchants (ids 1..merchants)")
	seedValue := fs.Uint64("seed", 42, "random seed; the same flags give the same rows")
	keep := fs.Bool("append", false, "keep existing transactions (default: replace them)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	orderFlag := fs.String("order", string(seed.ByTime), "physical order of the rows: time (paid_at order) or shuffled (unrelated to paid_at; the same rows)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(io.Discard) // problems and the usage are printed below
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(os.Stdout, fs)
			return nil
		}
		return badUsage(fs, err.Error())
	}
	switch {
	case fs.NArg() == 1 && len(args) == 1 && fs.Arg(0) == "help":
		usage(os.Stdout, fs)
		return nil
	case fs.NArg() == 1 && len(args) == 1 && fs.Arg(0) == "version",
		fs.NArg() == 0 && *version:
		fmt.Println(buildinfo.Read().String("seed"))
		return nil
	case fs.NArg() > 0:
		return badUsage(fs, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	from, err := time.Parse(time.DateOnly, *fromFlag)
	if err != nil {
		return badUsage(fs, fmt.Sprintf("-from %q: want YYYY-MM-DD", *fromFlag))
	}
	to, err := time.Parse(time.DateOnly, *toFlag)
	if err != nil {
		return badUsage(fs, fmt.Sprintf("-to %q: want YYYY-MM-DD", *toFlag))
	}
	order, err := seed.ParseOrder(*orderFlag)
	if err != nil {
		return badUsage(fs, "-order: "+err.Error())
	}
	switch {
	case to.Before(from):
		return badUsage(fs, "-to must not be before -from")
	case *n < 0:
		return badUsage(fs, "-n must not be negative")
	case *merchants < 1:
		return badUsage(fs, "-merchants must be at least 1")
	}

	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := config.NewLogger(cfg, os.Stderr)
	st, closeDB, err := localdb.OpenStore(ctx, cfg, log, store.Options{MaxOpenConns: 4})
	if err != nil {
		return err
	}
	defer closeDB()
	if err := migrations.Up(ctx, st.DB().DB); err != nil {
		return err
	}

	if err := seedProducts(ctx, st, log); err != nil {
		return err
	}
	gen := seed.New(seed.Config{N: *n, From: from, To: to, Merchants: *merchants, Seed: *seedValue, Order: order})
	bar := progressbar.NewOptions64(*n,
		progressbar.OptionSetDescription("transactions"),
		progressbar.OptionSetVisibility(!*quiet),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
	)
	start := time.Now()
	load := st.ReplaceTransactions // one transaction: the old rows stay until it commits
	if *keep {
		load = st.CopyTransactions
	}
	var sent sync.Once
	loaded, err := load(ctx, gen.Next, func(done int64) {
		_ = bar.Set64(done)
		if done == *n && !*keep {
			sent.Do(func() { fmt.Fprint(os.Stderr, "\nbuilding indexes…") })
		}
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted; nothing was loaded")
		}
		if *keep {
			return fmt.Errorf("%w (with -append, rows from an earlier run with the same -seed collide: use another -seed)", err)
		}
		return err
	}
	_ = bar.Finish()
	fmt.Fprintln(os.Stderr)
	loadTime := time.Since(start)

	fmt.Fprintln(os.Stderr, "analyzing transactions…")
	if err := st.AnalyzeTransactions(ctx); err != nil {
		return err
	}
	fmt.Printf("loaded %d transactions (%s..%s, %d merchants, seed %d, %s order) in %s (%.0f rows/s), ready in %s\n",
		loaded, from.Format(time.DateOnly), to.Format(time.DateOnly), *merchants, *seedValue, order,
		loadTime.Round(time.Millisecond), float64(loaded)/loadTime.Seconds(), time.Since(start).Round(time.Millisecond))
	return nil
}

// seedProducts creates a few products with stock when there are none.
func seedProducts(ctx context.Context, st *store.Store, log *slog.Logger) error {
	existing, _, err := st.ListProducts(ctx, 0, 1)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	for _, p := range []store.NewProduct{
		{Name: "Limited sneaker", Stock: 100, PriceCents: 12999},
		{Name: "Concert ticket", Stock: 500, PriceCents: 7500},
		{Name: "Signed vinyl", Stock: 25, PriceCents: 4999},
		{Name: "Game console", Stock: 50, PriceCents: 49999},
		{Name: "Coffee beans 1kg", Stock: 1000, PriceCents: 2400},
	} {
		if _, err := st.CreateProduct(ctx, p); err != nil {
			return err
		}
	}
	log.Info("created 5 demo products")
	return nil
}
