// Package settlement is the engine that runs settlement jobs: per merchant and
// UTC day, the sum of PAID transactions minus fees, stored in the
// settlements table and published as a CSV file. It knows nothing of HTTP.
//
// # Durability
//
// The jobs table is the truth. Submit inserts a QUEUED job; an Engine's Run
// loop claims QUEUED jobs (FOR UPDATE SKIP LOCKED, so each claim goes to
// exactly one of several engines sharing the database) and runs them. While a
// job runs, its engine renews a lease every HeartbeatInterval and persists the
// progress; a job whose lease expires (its process died) is queued again from
// scratch by any engine, or FAILED after MaxAttempts claims. Graceful shutdown
// hands running jobs back as QUEUED.
//
// # Pipeline
//
// A job opens a database snapshot, counts its transactions and splits them
// into batches of about BatchSize rows along the paid_at index (one pass, no
// OFFSET). The batches go through a channel to a pool of Workers goroutines,
// each aggregating its batch in PostgreSQL (GROUP BY merchant, day) in the
// same snapshot; the job merges the partial sums, so memory grows with
// merchants × days, never with rows.
//
// # Atomic results
//
// The CSV is written to a temporary file in Dir and renamed into place inside
// the completion transaction, which upserts the settlements, deletes the rows
// of the range that the run did not produce and marks the job COMPLETED. If
// the commit fails the file is removed. A cancelled or failed job leaves no
// settlements of its own and no CSV.
//
// # Cancellation
//
// Cancel on a QUEUED job cancels it at once. On a RUNNING job it records the
// request; the engine running it (this process or another) notices at its
// next heartbeat, or at once when it runs here, and cancels the job's context
// with ErrCancelled as the cause, which stops in-flight SQL.
package settlement
