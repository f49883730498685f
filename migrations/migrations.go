// Package migrations holds the database schema as golang-migrate SQL files
// (NNNNNN_name.up.sql / .down.sql), embedded in the binary, and applies them.
//
// The server applies them at start (unless told not to) and cmd/migrate
// applies them on request. Concurrent runs are safe: golang-migrate holds a
// PostgreSQL advisory lock while it migrates.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed *.sql
var files embed.FS

// Up applies every migration not yet applied. It is a no-op on an up-to-date
// database.
func Up(ctx context.Context, db *sql.DB) error {
	return run(ctx, db, func(m *migrate.Migrate) error { return m.Up() })
}

// Down reverts every applied migration, dropping all of the service's tables.
func Down(ctx context.Context, db *sql.DB) error {
	return run(ctx, db, func(m *migrate.Migrate) error { return m.Down() })
}

// Goto migrates up or down to version, applying or reverting the
// migrations in between.
func Goto(ctx context.Context, db *sql.DB, version uint) error {
	return run(ctx, db, func(m *migrate.Migrate) error { return m.Migrate(version) })
}

// Version reports the version of the last applied migration (0 when none) and
// whether a failed migration left the database dirty.
func Version(ctx context.Context, db *sql.DB) (version uint, dirty bool, err error) {
	err = run(ctx, db, func(m *migrate.Migrate) error {
		var verr error
		version, dirty, verr = m.Version()
		if errors.Is(verr, migrate.ErrNilVersion) {
			return nil
		}
		return verr
	})
	return version, dirty, err
}

// run opens a migrator on a dedicated connection of db, so that closing the
// migrator returns that connection instead of closing the caller's pool.
func run(ctx context.Context, db *sql.DB, do func(*migrate.Migrate) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrations: get a connection: %w", err)
	}
	driver, err := postgres.WithConnection(ctx, conn, &postgres.Config{})
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("migrations: open database driver: %w", err)
	}
	src, err := iofs.New(files, ".")
	if err != nil {
		_ = driver.Close()
		return fmt.Errorf("migrations: read embedded files: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", driver)
	if err != nil {
		_ = src.Close()
		_ = driver.Close()
		return fmt.Errorf("migrations: %w", err)
	}
	defer m.Close()

	// golang-migrate takes no context; ask it to stop between migrations when
	// ctx ends.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			select {
			case m.GracefulStop <- true:
			default:
			}
		case <-done:
		}
	}()

	if err := do(m); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations: %w", err)
	}
	return ctx.Err()
}
