// Package dbtest gives tests a real PostgreSQL database of their own.
//
// A test package calls Main from its TestMain: it starts one private
// PostgreSQL cluster for the test binary (fsync off; durable when benchmarks
// run) or uses the server at TEST_DATABASE_URL, and builds a migrated
// template database. Each New(t) then creates a fresh database from that
// template, so tests can run in parallel without seeing each other's rows,
// and drops it when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/pglocal"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/store"
)

// serverURL builds the URL of one database on the test server.
var serverURL func(dbname string) string

// template is the migrated database every test database is copied from.
var template string

// Main runs the tests of a package against a real PostgreSQL. Use it as
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Tests is what Run runs: a *testing.M, or a wrapper whose Run sets
// something up (with NewDatabase, say) before it calls m.Run.
type Tests interface {
	Run() int
}

// Run is Main without the exit: it returns m.Run's exit code, so that a
// TestMain can check more after the tests.
func Run(m Tests) int {
	flag.Parse()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	if ext := os.Getenv("TEST_DATABASE_URL"); ext != "" {
		u, err := url.Parse(ext)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dbtest: TEST_DATABASE_URL:", err)
			return 1
		}
		serverURL = func(db string) string { v := *u; v.Path = "/" + db; return v.String() }
	} else {
		dir, err := os.MkdirTemp("", "ordersettle-test-pg-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		// The cluster may run as another user (when tests run as root): let it in.
		if err := os.Chmod(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
			return 1
		}
		cluster, err := pglocal.Start(ctx, pglocal.Config{
			DataDir: dir + "/data",
			Durable: benchmarking(), // benchmarks measure with durability on
			Logger:  log,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "dbtest: start PostgreSQL:", err)
			return 1
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = cluster.Stop(ctx)
		}()
		serverURL = cluster.URL
	}

	template = "ordersettle_template_" + randomSuffix()
	if err := buildTemplate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		return 1
	}
	defer func() { _ = store.DropDatabase(context.Background(), serverURL("postgres"), template) }()

	return m.Run()
}

// External reports whether the tests run on the server at TEST_DATABASE_URL
// rather than on a cluster of their own (whose settings they control).
func External() bool { return os.Getenv("TEST_DATABASE_URL") != "" }

// benchmarking reports whether the test binary was asked to run benchmarks.
func benchmarking() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}

func buildTemplate(ctx context.Context) error {
	if _, err := store.CreateDatabase(ctx, serverURL("postgres"), template, ""); err != nil {
		return err
	}
	st, err := store.Open(ctx, serverURL(template), store.Options{MaxOpenConns: 2})
	if err != nil {
		return err
	}
	defer st.Close()
	return migrations.Up(ctx, st.DB().DB)
}

// NewDSN creates a fresh, migrated database for t and returns its URL. The
// database is dropped when t ends.
func NewDSN(t testing.TB) string {
	t.Helper()
	dsn, drop, err := NewDatabase(context.Background())
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("dbtest: %v", err)
		}
	})
	return dsn
}

// NewDatabase creates a fresh, migrated database outside of any one test
// (for what a TestMain sets up for a package's examples, say) and returns
// its URL and the func that drops it. Call it from within Run.
func NewDatabase(ctx context.Context) (dsn string, drop func() error, err error) {
	if serverURL == nil {
		return "", nil, fmt.Errorf("call dbtest.Main or dbtest.Run from the package's TestMain first")
	}
	name := "test_" + randomSuffix()
	if _, err := store.CreateDatabase(ctx, serverURL("postgres"), name, template); err != nil {
		return "", nil, err
	}
	drop = func() error { return store.DropDatabase(context.Background(), serverURL("postgres"), name) }
	return serverURL(name), drop, nil
}

// New returns a Store on a fresh, migrated database of t's own. Its pool is
// closed, and the database dropped, when t ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	dsn := NewDSN(t)
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() }) // registered after the drop, so it runs before it
	return st
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
