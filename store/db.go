package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the "postgres" database/sql driver
)

// Options size the connection pool.
type Options struct {
	// MaxOpenConns caps the connections this process opens (default 32). Work
	// beyond it waits for a free connection until its context ends, so load
	// spikes queue here instead of exhausting the server's max_connections.
	MaxOpenConns int
	// MaxIdleConns is how many idle connections are kept (default MaxOpenConns).
	MaxIdleConns int
	// ConnMaxIdleTime closes connections idle for longer (default 5 minutes).
	ConnMaxIdleTime time.Duration
	// ClaimLease is how long an Idempotency-Key claim with no outcome stays
	// in flight before a retry of the same request may take it over as
	// abandoned (default DefaultClaimLease). Set it a little longer than the
	// longest a request may run (REQUEST_TIMEOUT): a request whose key
	// could not be released after a failure then frees it seconds later.
	ClaimLease time.Duration
}

// DefaultMaxOpenConns is the pool size when Options.MaxOpenConns is 0.
const DefaultMaxOpenConns = 32

// DefaultClaimLease is Options.ClaimLease when it is 0: the server's
// default request timeout (10 s) plus a margin.
const DefaultClaimLease = 12 * time.Second

// Store is the data access layer. It is safe for concurrent use.
type Store struct {
	db         *sqlx.DB
	probe      *sql.DB       // Ping's connection of its own; nil: Ping uses db
	claimLease time.Duration // see Options.ClaimLease
}

// Open connects to the PostgreSQL database at dsn (a postgres:// URL or a
// key=value string), forces TimeZone=UTC on every connection and checks that
// the database answers.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	dsn, err := withSessionDefaults(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if opt.MaxOpenConns <= 0 {
		opt.MaxOpenConns = DefaultMaxOpenConns
	}
	if opt.MaxIdleConns <= 0 || opt.MaxIdleConns > opt.MaxOpenConns {
		opt.MaxIdleConns = opt.MaxOpenConns
	}
	if opt.ConnMaxIdleTime <= 0 {
		opt.ConnMaxIdleTime = 5 * time.Minute
	}
	if opt.ClaimLease <= 0 {
		opt.ClaimLease = DefaultClaimLease
	}
	db.SetMaxOpenConns(opt.MaxOpenConns)
	db.SetMaxIdleConns(opt.MaxIdleConns)
	db.SetConnMaxIdleTime(opt.ConnMaxIdleTime)

	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to database: %w", translate(err))
	}
	probe, err := openProbe(dsn)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Store{db: db, probe: probe, claimLease: opt.ClaimLease}, nil
}

// New wraps an open pool. The pool's connections must run with TimeZone=UTC.
// Its Ping shares the pool (there is no DSN to open a connection of its
// own): fine for tools and tests, not for a server's readiness probe.
func New(db *sqlx.DB) *Store { return &Store{db: db, claimLease: DefaultClaimLease} }

// DB returns the underlying pool, for migrations, health metrics and tests.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close closes the pool and Ping's connection.
func (s *Store) Close() error {
	if s.probe != nil {
		_ = s.probe.Close()
	}
	return s.db.Close()
}

// withSessionDefaults adds the session settings the service relies on to dsn
// unless dsn sets them: TimeZone=UTC, a connect timeout and an application
// name.
func withSessionDefaults(dsn string) (string, error) {
	defaults := [][2]string{
		{"timezone", "UTC"},
		{"connect_timeout", "5"},
		{"application_name", "ordersettle"},
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse database URL: %w", err)
		}
		q := u.Query()
		for _, kv := range defaults {
			if q.Get(kv[0]) == "" {
				q.Set(kv[0], kv[1])
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	for _, kv := range defaults {
		if !strings.Contains(dsn, kv[0]+"=") {
			dsn = strings.TrimSpace(dsn + " " + kv[0] + "=" + kv[1])
		}
	}
	return dsn, nil
}
