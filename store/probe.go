package store

import (
	"context"
	"database/sql"
	"fmt"
)

// openProbe opens the pool behind Ping: one connection of its own, kept
// open, next to the pool that serves requests. A server whose request pool
// is saturated (every connection busy, more work queued for one) must
// still answer its readiness probe at once, and a probe that queued behind
// API work would report a healthy database as unreachable. sql.Open does
// not connect; the connection is made by the first Ping and made again
// after it breaks.
func openProbe(dsn string) (*sql.DB, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0) // keep it: reconnecting is what a probe must not wait for
	return db, nil
}

// Ping checks that the database answers. A Store made by Open pings over a
// connection of its own, so Ping never waits for the request pool; pings
// that overlap wait for each other (the server's readiness check runs one
// at a time). The context bounds the wait.
func (s *Store) Ping(ctx context.Context) error {
	if s.probe == nil {
		return translate(s.db.PingContext(ctx))
	}
	return translate(s.probe.PingContext(ctx))
}
