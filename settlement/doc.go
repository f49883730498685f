// Package settlement is the engine that runs settlement jobs: per merchant and
// UTC day, the sum of PAID transactions minus fees, stored in the
// settlements table, with the job's CSV stored in the database next to it.
// It knows nothing of HTTP.
//
// The files hold: engine.go the Engine, its Config and its public surface
// (New, Run, Submit, Cancel, Get, List, Retry); job.go the life of one run
// (execute, then decide the outcome, then record it); run.go the run itself
// (plan, feed and collect under one errgroup, then the completion);
// progress.go what a run reports of its progress; pipeline.go the batches
// and the worker pool; plan.go how a job cuts its range into batches;
// heartbeat.go the lease; csv.go the CSV format; files.go the import of CSV
// files of earlier versions; totals.go the merge; metrics.go the
// Prometheus collector.
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
// # Fencing
//
// Every claim increments the job's claim_token, and the run keeps the
// token of its claim (store.JobClaim). Every write of a running job names it
// — heartbeat and progress, the completion, and the one transition that
// ends a run (store.EndRun: failed, cancelled or handed back) — as
// WHERE job_id = $1 AND claim_token = $2 AND status = 'RUNNING'. A run
// whose process was paused past its lease, and whose job was meanwhile
// reaped and claimed again (by another engine, or by this one under the
// same owner name), finds no row: domain.ErrJobLost. It then writes nothing
// more: no settlements, result, progress or status.
//
// # Outcomes
//
// A run ends as River's executor ends a job: decide (pure) makes an outcome
// of the run's error, its context's cause and whether the engine is
// stopping, and one guarded store transition records it. The outcomes:
// completed (the completion committed: nothing left to record), cancelled,
// lost (the claim was taken over: record nothing), shutdown (handed back;
// the attempt does not count), fault and failed. A fault is a run that
// failed because the database connection failed (domain.ErrUnavailable): it
// is handed back without counting an attempt, to run again after
// RetryBackoff, so transient connection faults never use up a job's
// attempts (and a database that stays down keeps the job queued, not
// FAILED). Any other error is a failed attempt: queued again after
// RetryBackoff × attempts, or FAILED after MaxAttempts. The transition
// itself is retried with backoff (50 ms doubling to 2 s, for up to 30 s)
// while the database is unreachable, so a transient fault costs the backoff,
// not the lease; only when the database stays away longer is the job left
// RUNNING until its lease expires and any engine reaps it. Claims are not
// cancelled by a shutdown in flight: a claim whose statement was cancelled
// could still commit, leaving a RUNNING job that no run knows.
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
// overlap. The rows the batches scanned must add up to the index plan's
// count.
//
// A job has at most as many batches in the workers at once as the database
// runs queries at once at full speed: the engine measures that at its first
// job (busy queries timed alone and Workers at once; kept 10 minutes, see
// parallelism.go), or takes Config.Parallelism. More batches at once than
// the database has free cores finish no sooner, thrash its caches and
// make progress lag (see Progress): on 2 cores, 8 at once took 1.3× as long
// as 2. Workers stays the pool's size, shared by the jobs of the engine.
//
// # Progress
//
// A run's progress is the share of its planned work done: for the block
// plan the share of its block batches that are in, for the index plan the
// share of the range's rows aggregated. processed is the rows aggregated
// so far (batch by batch). total is exact once counted (the index plan's
// walk; the block plan's last batch), else an estimate: the layout
// sample's share × the table's rows, then, once batches are in, their rows
// extrapolated to every batch; never below processed (total_estimated says
// which). Neither processed nor progress ever decreases; a total is shown
// as exact only when 100 × processed / total is not below the progress
// already shown (until then the count is shown as an estimate), so that
// progress = 100 × processed / total holds whenever total_estimated is
// false. While running, an estimated progress stays below 100.
//
// Progress counts batches that are in; the work in flight shows only when
// it lands. So the block plan cuts about 24 full batches (progressCut), in
// a shape that makes them land one at a time: the batches at once all
// start together and share the database alike, so the first wave grows
// (1/k, 2/k, … of a full batch for k at once) and the workers keep that
// lag; the last wave is of smaller batches, because the work in flight
// drains faster once no batch is left to start. Never batches of fewer
// rows than the range's groups (a batch answers a row per merchant and
// day), nor fewer than BatchSize. The cut before progress moved (11
// batches for 10M rows, 8 at once) went from 0 to 100 in two or three
// steps; the extra batches' answers cost less than running 8 at once on a
// 2-core database did (BenchmarkSettlementProgress).
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
//     physical order. A batch covers about 32 × merchants × days rows
//     of the range (a block range meets every group of the range, and a
//     batch's answer has a row per group) and at least BatchSize, but no
//     more than about a 24th of the table while that still holds as many
//     rows as groups, so that progress moves (see Progress). Every block
//     is read once, so the exact total is the sum of the batches' rows,
//     known when the last batch is in; until then total is an estimate
//     (see Progress). An index-only count next to the batches would show
//     it early, but cost a third of a job over rows in time order (1.1 s
//     of CPU for 10M rows; a job took 2.17 s with it, 1.44 s without,
//     medians of 6) and more for scattered rows, whose visibility-map
//     lookups land all over.
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
// The completion is one transaction, guarded by the run's claim: it upserts
// the settlements, deletes the rows of the range that the run did not
// produce, stores the CSV (store.Completion.Settle: the job_results table,
// in chunks of 1 MiB, with its SHA-256 for a strong ETag) and marks the job
// COMPLETED with its exact total. Settlements, result and status commit
// together, so every server instance serves the same bytes and no instance
// needs a directory: a cancelled or failed job leaves no settlements of its
// own and no result. When the COMMIT's answer is lost (the connection broke
// after COMMIT was sent, domain.ErrCommitUnknown), the run reads the job
// back and acts on the truth: COMPLETED by its claim means the commit
// happened (result included); still RUNNING under its claim means it did
// not (a fault: the job runs again); another claim means the run was lost.
// A committed result is never removed by the run. Results older than the
// server's RESULT_RETENTION are purged (store.PurgeResults); their jobs stay
// COMPLETED and downloads answer 410.
//
// Dir (SETTLEMENT_DIR) is optional: when set, Run imports the
// <job_id>.csv files found there (written by earlier versions, which
// published results as files) as the results of their COMPLETED jobs that
// have none, and leaves the files in place. A FAILED job's error says what
// went wrong in words for the API (no path, SQL or driver text; the log has
// those).

// # Cancellation
//
// Cancel on a QUEUED job cancels it at once. On a RUNNING job it records the
// request; the engine running it (this process or another) notices at its
// next heartbeat, or at once when it runs here, and cancels the job's context
// with ErrCancelled as the cause, which stops in-flight SQL.
package settlement
