// Package settlement is the engine that runs settlement jobs: per merchant and
// UTC day, the sum of PAID transactions minus fees, stored in the
// settlements table and published as a CSV file. It knows nothing of HTTP.
//
// The files hold: engine.go the Engine, its Config and its public surface
// (New, Run, Submit, Cancel, Get, List, Path); job.go the life of one run
// (claimed → completed, cancelled, handed back or failed); pipeline.go the
// batches and the worker pool; plan.go how a job cuts its range into
// batches; heartbeat.go the lease; csv.go and tempfiles.go the file;
// totals.go the merge; metrics.go the Prometheus collector.
//
// # Durability
//
// The jobs table is the truth. Submit inserts a QUEUED job; an Engine's Run
// loop claims QUEUED jobs (FOR UPDATE SKIP LOCKED, so each claim goes to
// exactly one of several engines sharing the database) and runs them. While a
// job runs, its engine renews a lease every HeartbeatInterval and persists the
// progress; a job whose lease expires (its process died) is queued again from
// scratch by any engine, or FAILED after MaxAttempts claims. Graceful shutdown
// hands running jobs back as QUEUED. A job queued again shows processed,
// total and progress 0.
//
// # Pipeline
//
// A job opens one database snapshot (exported, and imported by every batch
// query, so the count, the plan and the aggregation see the same rows) that
// also holds an ACCESS SHARE lock on transactions: the table cannot be
// rewritten under the job, so block numbers stay valid. It cuts its range
// into batches (see Plans) and sends them through a channel to a pool of
// Workers goroutines, each aggregating its batch in PostgreSQL (GROUP BY
// merchant, day); the job merges the partial sums, so memory grows with
// merchants × days, never with rows. Planning, counting and aggregating
// overlap. The rows the batches scanned must add up to the count, when
// there is one.
//
// # Plans
//
// The cost of a job must grow with the rows in its range whatever the
// physical order of transactions. Walking the range along the paid_at
// index is cheap when the range's rows are stored in time order (as
// inserts write them), but when they are not (late arrivals, status
// updates that write a new tuple version elsewhere, bulk loads and restores
// in another order) each batch's index scan touches pages all over the
// table; once the table outgrows shared_buffers, every page is read again
// by many batches. So a job picks one of two plans:
//
//   - PlanIndex: the paid_at index is walked once with a cursor that
//     skips rows (MOVE), cutting paid_at intervals of about BatchSize rows
//     (this walk is also the count); each batch is an index range scan.
//   - PlanBlocks: the table's heap blocks are cut into ranges, each batch a
//     TID range scan (ctid >= '(lo,0)' AND ctid < '(hi,0)', PostgreSQL 14+)
//     filtered by paid_at; the last range has no upper bound, so no block
//     that can hold a tuple the snapshot sees is missed, whatever the
//     table's size when it was measured. Every block is read once, in
//     physical order. A batch covers at least 32 × merchants × days rows
//     of the range (a block range meets every group of the range, and a
//     batch's answer has a row per group) and at least BatchSize, but no
//     more than a Workers-th of the table while that still holds BatchSize
//     rows of the range, so every worker has work. When the range's rows
//     are in time order (|c| >= 0.7), an index-only count runs on the
//     snapshot's connection alongside the batches, so total and progress
//     show early. For scattered rows that count would visit the visibility
//     map in random order (a third of the job's time, and done only near
//     its end), so the total is the sum of the batches' rows, set when the
//     last batch is in: total and progress stay 0 until then.
//
// PlanAuto chooses per job from a sample of about 300 blocks read in the
// snapshot (TABLESAMPLE SYSTEM, the same blocks every time): the range's
// share s of the table and the correlation c between block number and
// paid_at of the range's sampled rows. Database CPU time (summed over every
// PostgreSQL process; wall time was too noisy on the busy 2-core machine
// these ran on) for 10,000,000 rows, 31 days, 1,000 merchants, durability
// on, a 730 MB table next to shared_buffers of 256 MB:
//
//	                              time order   shuffled
//	raw-SQL floor, whole range      4.3 s       4.1–5.8 s
//	PlanIndex, whole range         12.7 s      70 s
//	PlanBlocks, whole range         8.8–10 s   12.3–14.5 s
//	PlanIndex, 3 days (0.97M rows)             8.0–9.5 s
//	PlanBlocks, 3 days (0.97M rows)            3.5 s
//
// From these, in microseconds per row: the index costs 1.3 per row of the
// range in time order and about 8 when scattered (1.3 + 7 × (1 − c²)); the
// blocks 0.3 per row of the table (read and filtered) plus 0.6 per row of
// the range (aggregated). The job takes the blocks when they are cheaper:
// from about 4 % of the table for a range whose rows are scattered, from
// about 43 % for one in time order. Either way the cost is a few
// microseconds per row of the range at most: linear whatever the layout.
// The engine's parallel batches use every core, the floor's single INSERT
// … SELECT one, so a job's wall time stays near the floor's (README,
// "Scaling"). Time-range partitions were the other candidate: they bound
// the reading to the partitions a range touches, but need the partition
// key in the primary key, partitions created ahead of the data and a
// rewrite of the table; they remain the tool for retention (README).
//
// # Atomic results
//
// The CSV is written to a temporary file in Dir and renamed into place inside
// the completion transaction, which upserts the settlements, deletes the rows
// of the range that the run did not produce and marks the job COMPLETED. If
// the commit fails the file is removed. A cancelled or failed job leaves no
// settlements of its own and no CSV. A job's file is always
// <Dir>/<job_id>.csv (Path); temporary files are named after their job, so
// the leftovers of a killed process are removed when the job runs again or,
// for jobs that are not running, when an engine starts (see tempfiles.go).
// A FAILED job's error says what went wrong in words for the API (no path,
// SQL or driver text; the log has those).
//
// # Cancellation
//
// Cancel on a QUEUED job cancels it at once. On a RUNNING job it records the
// request; the engine running it (this process or another) notices at its
// next heartbeat, or at once when it runs here, and cancels the job's context
// with ErrCancelled as the cause, which stops in-flight SQL.
package settlement
