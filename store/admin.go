package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// CreateDatabase creates database name on the server that adminDSN points to
// (usually its "postgres" database), optionally as a copy of template. It
// returns created == false when the database already exists.
func CreateDatabase(ctx context.Context, adminDSN, name, template string) (created bool, err error) {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return false, fmt.Errorf("open admin connection: %w", err)
	}
	defer db.Close()
	stmt := "CREATE DATABASE " + pq.QuoteIdentifier(name)
	if template != "" {
		stmt += " TEMPLATE " + pq.QuoteIdentifier(template)
	}
	_, err = db.ExecContext(ctx, stmt)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // duplicate_database
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create database %s: %w", name, translate(err))
	}
	return true, nil
}

// DropDatabase drops database name, closing its other sessions first.
func DropDatabase(ctx context.Context, adminDSN, name string) error {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return fmt.Errorf("open admin connection: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, translate(err))
	}
	return nil
}
