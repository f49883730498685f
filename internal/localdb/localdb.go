// Package localdb gives the commands their database: the one the
// configuration names (DATABASE_URL or DB_HOST and friends), else a private,
// durable PostgreSQL cluster started from the locally installed binaries in
// LOCAL_PG_DIR, which the commands share while one of them runs it. It logs
// which database (or local data directory) it uses.
package localdb

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/pglocal"
	"github.com/ordersettle/ordersettle/store"
)

// Database returns the URL of the service's database. When none is
// configured it starts (or reuses, when another command of ours already runs
// it) a durable local PostgreSQL cluster in c.LocalPGDir and creates
// database c.DBName in it. Call stop on exit: it stops the cluster if this
// call started it.
func Database(ctx context.Context, c config.Config, log *slog.Logger) (dsn string, stop func(), err error) {
	if !c.UsesLocalDB() {
		dsn := c.ConfiguredDSN()
		log.Info("using the configured database", "database", redact(dsn))
		return dsn, func() {}, nil
	}
	dir, err := filepath.Abs(c.LocalPGDir)
	if err != nil {
		return "", nil, fmt.Errorf("local PostgreSQL directory %s: %w", c.LocalPGDir, err)
	}
	log.Info("no DATABASE_URL or DB_HOST set: using this installation's local PostgreSQL", "data_dir", dir)
	cluster, err := pglocal.Start(ctx, pglocal.Config{DataDir: dir, Durable: true, Logger: log})
	if err != nil {
		return "", nil, fmt.Errorf("start local PostgreSQL: %w (LOCAL_PG_DIR sets its directory; DATABASE_URL uses an existing server instead)", err)
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.Stop(ctx); err != nil {
			log.Error("stopping local PostgreSQL failed", "err", err)
		}
	}
	if _, err := store.CreateDatabase(ctx, cluster.URL("postgres"), c.DBName, ""); err != nil {
		stop()
		return "", nil, err
	}
	return cluster.URL(c.DBName), stop, nil
}

// OpenStore opens the service's database (see Database) with the pool
// options opt. closeFn closes the pool, then stops the local cluster if this
// call started it.
func OpenStore(ctx context.Context, c config.Config, log *slog.Logger, opt store.Options) (st *store.Store, closeFn func(), err error) {
	dsn, stopDB, err := Database(ctx, c, log)
	if err != nil {
		return nil, nil, err
	}
	st, err = store.Open(ctx, dsn, opt)
	if err != nil {
		stopDB()
		hint := "check DATABASE_URL / DB_* or unset them to use a local PostgreSQL"
		if c.UsesLocalDB() {
			hint = "the local PostgreSQL in " + c.LocalPGDir + " did not accept connections; see its postgresql.log"
		}
		return nil, nil, fmt.Errorf("%w (%s)", err, hint)
	}
	return st, func() { _ = st.Close(); stopDB() }, nil
}

// redact returns the database URL without its password, for the log; a
// key=value connection string is not shown at all.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(DATABASE_URL, a key=value connection string)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}
