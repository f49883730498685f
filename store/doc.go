// Package store is the service's data access layer: sqlx over lib/pq, one file
// per aggregate (products, orders, idempotency keys, transactions,
// settlements, jobs, job results).
//
// Methods take and return plain structs. Driver errors never leave this
// package: sql.ErrNoRows and *pq.Error codes are translated into the sentinel
// errors of errors.go (ErrProductNotFound, ErrOutOfStock, ErrUnavailable, …),
// so that callers decide with errors.Is and nothing above store imports lib/pq.
//
// Every connection runs with TimeZone=UTC: TIMESTAMP columns hold UTC
// wall-clock time.
package store
