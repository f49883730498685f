package settlement

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/store"
)

// plannedBatchBuffer is how many planned batches may wait for a worker
// before the planner waits too (about 40 million rows at the default batch size).
const plannedBatchBuffer = 4096

// finishTimeout bounds the database updates that record how a run ended; they
// run even when the job's context was cancelled.
const finishTimeout = 30 * time.Second

// batch is one slice [lo, hi) of a job's range, sent to a worker.
type batch struct {
	ctx      context.Context // the job's batch context; cancelled when the job stops
	snapshot string          // exported snapshot the aggregation runs in
	lo, hi   time.Time
	results  chan<- batchResult // the job's collector
}

// batchResult is a worker's answer for one batch.
type batchResult struct {
	totals []store.DailyTotal
	err    error
}

// work aggregates batches until the batches channel is closed.
func (e *Engine) work() {
	for b := range e.batches {
		totals, err := e.store.AggregateBatch(b.ctx, b.snapshot, b.lo, b.hi)
		select {
		case b.results <- batchResult{totals: totals, err: err}:
		case <-b.ctx.Done():
		}
	}
}

// run runs one claimed job to its end and records how it ended.
func (e *Engine) run(parent context.Context, job store.Job) {
	log := e.log.With("job", job.ID, "from", job.From.Format(time.DateOnly), "to", job.To.Format(time.DateOnly), "attempt", job.Attempts)
	log.Info("settlement job started")
	started := time.Now()

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	e.mu.Lock()
	e.running[job.ID] = cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, job.ID)
		e.mu.Unlock()
	}()

	var processed atomic.Int64
	stopHeartbeat := e.startHeartbeat(ctx, cancel, job.ID, &processed, log)
	stats, err := e.execute(ctx, job, &processed, stopHeartbeat)
	stopHeartbeat()

	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer fcancel()
	cause := context.Cause(ctx)
	switch {
	case err == nil:
		log.Info("settlement job completed", "rows", processed.Load(), "settlements", stats.settlements,
			"took", time.Since(started).Round(time.Millisecond), "aggregate", stats.aggregate.Round(time.Millisecond),
			"write_csv", stats.write.Round(time.Millisecond), "commit", stats.complete.Round(time.Millisecond))
	case errors.Is(err, store.ErrCancelRequested) || errors.Is(cause, ErrCancelled):
		if err := e.store.CancelRunningJob(fctx, job.ID, e.cfg.Owner); err != nil {
			log.Error("recording the cancel failed; the job is reaped when its lease expires", "err", err)
			return
		}
		log.Info("settlement job cancelled", "took", time.Since(started).Round(time.Millisecond))
	case errors.Is(err, store.ErrJobLost) || errors.Is(cause, store.ErrJobLost):
		log.Warn("settlement job was taken away from this engine (lease expired); another run will finish it")
	case parent.Err() != nil:
		if err := e.store.ReleaseJob(fctx, job.ID, e.cfg.Owner); err != nil {
			log.Error("handing the job back failed; it is reaped when its lease expires", "err", err)
			return
		}
		log.Info("settlement job handed back for another run (shutdown)")
	default:
		msg := publicError(err)
		if ferr := e.store.FailJob(fctx, job.ID, e.cfg.Owner, msg, e.cfg.MaxAttempts, e.cfg.RetryBackoff); ferr != nil {
			log.Error("recording the failure failed; the job is reaped when its lease expires", "err", ferr, "cause", err)
			return
		}
		log.Error("settlement job attempt failed", "err", err, "attempts", job.Attempts, "max_attempts", e.cfg.MaxAttempts)
	}
}

// execute computes the job's settlements and completes it.
func (e *Engine) execute(ctx context.Context, job store.Job, processed *atomic.Int64, stopHeartbeat func()) (stats runStats, err error) {
	from := job.From.UTC()
	end := job.To.UTC().AddDate(0, 0, 1) // exclusive: the day after the last day, 00:00

	t0 := time.Now()
	totals, err := e.aggregate(ctx, job.ID, from, end, processed)
	if err != nil {
		return stats, err
	}
	stats.settlements = totals.len()
	rows := totals.sorted() // sorted once; the CSV and the completion both read it
	t1 := time.Now()
	stats.aggregate = t1.Sub(t0)

	tmp, err := writeTempCSV(e.cfg.Dir, job.ID, rows)
	if err != nil {
		return stats, err
	}
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := ctx.Err(); err != nil {
		return stats, context.Cause(ctx)
	}
	t2 := time.Now()
	stats.write = t2.Sub(t1)

	// The heartbeat must not touch the job row while the completion holds it.
	stopHeartbeat()
	// Completion is short; a shutdown that starts now waits for it rather
	// than throwing the finished work away.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	err = e.complete(cctx, job.ID, rows, tmp)
	stats.complete = time.Since(t2)
	return stats, err
}

// runStats describe a finished run, for the log.
type runStats struct {
	settlements int
	aggregate   time.Duration // planning and aggregation, overlapped
	write       time.Duration // the CSV file
	complete    time.Duration // the completion transaction
}

// aggregate plans and aggregates the job's transactions in one snapshot.
// The planner walks the range and hands each batch to the worker pool as
// soon as it is cut, so aggregation runs while planning goes on; the results
// are merged here as they arrive.
func (e *Engine) aggregate(ctx context.Context, id uuid.UUID, from, end time.Time, processed *atomic.Int64) (*dailyTotals, error) {
	snap, err := e.store.OpenSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer snap.Close()

	type plan struct {
		total, batches int64
		err            error
	}
	bctx, stop := context.WithCancel(ctx)
	results := make(chan batchResult, e.cfg.Workers)
	// The planner queues batches here without waiting for the workers, so
	// that the total (and with it the progress) is known early; the feeder
	// passes them on to the shared worker pool.
	queue := make(chan batch, plannedBatchBuffer)
	planCh := make(chan plan, 1)
	planned := planCh // set to nil once received
	go func() {
		defer close(queue)
		var batches int64
		total, err := snap.PlanBatches(bctx, from, end, e.cfg.BatchSize, func(lo, hi time.Time) error {
			select {
			case queue <- batch{ctx: bctx, snapshot: snap.ID, lo: lo, hi: hi, results: results}:
				batches++
				return nil
			case <-bctx.Done():
				return bctx.Err()
			}
		})
		planCh <- plan{total: total, batches: batches, err: err}
	}()
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for b := range queue {
			select {
			case e.batches <- b:
			case <-bctx.Done():
			}
		}
	}()
	// The planner and the feeder must be gone before the job ends (Run
	// closes the batches channel once every job has ended) and before the
	// snapshot closes.
	defer func() {
		stop()
		if planned != nil {
			<-planned
		}
		<-fed
	}()

	totals := newDailyTotals()
	var (
		total    int64
		expected int64 = -1 // batches to wait for; unknown until planning ends
		received int64
	)
	for expected < 0 || received < expected {
		select {
		case p := <-planned:
			planned = nil
			if p.err != nil {
				if ctx.Err() != nil {
					return nil, context.Cause(ctx)
				}
				return nil, p.err
			}
			total, expected = p.total, p.batches
			if err := e.store.SetJobTotal(ctx, id, e.cfg.Owner, total); err != nil {
				return nil, err
			}
		case r := <-results:
			if r.err != nil {
				if ctx.Err() != nil {
					return nil, context.Cause(ctx)
				}
				return nil, r.err
			}
			received++
			processed.Add(totals.add(r.totals))
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	if got := processed.Load(); got != total {
		return nil, fmt.Errorf("aggregated %d transactions but counted %d in the same snapshot", got, total)
	}
	return totals, nil
}

// complete stores the settlements and marks the job COMPLETED in one
// transaction, publishing the CSV (rename) just before the commit; if the
// commit fails the file is removed again.
func (e *Engine) complete(ctx context.Context, id uuid.UUID, rows iter.Seq[store.Settlement], tmp string) error {
	c, err := e.store.BeginCompletion(ctx, id, e.cfg.Owner)
	if err != nil {
		return err
	}
	defer c.Rollback()
	final := e.Path(id)
	if err := c.Settle(ctx, rows, final); err != nil {
		return err
	}
	if err := publish(tmp, final); err != nil {
		return err
	}
	if err := c.Commit(); err != nil {
		_ = os.Remove(final)
		return err
	}
	return nil
}

// startHeartbeat renews the job's lease and persists its progress every
// HeartbeatInterval until the returned stop is called (idempotent). It cancels
// the job when a cancel was requested (ErrCancelled) or the job was lost
// (store.ErrJobLost), including when heartbeats have failed for a whole lease.
func (e *Engine) startHeartbeat(ctx context.Context, cancel context.CancelCauseFunc, id uuid.UUID, processed *atomic.Int64, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(e.cfg.HeartbeatInterval)
		defer t.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
			}
			cancelRequested, err := e.store.Heartbeat(ctx, id, e.cfg.Owner, processed.Load(), e.cfg.Lease)
			switch {
			case errors.Is(err, store.ErrJobLost):
				cancel(store.ErrJobLost)
				return
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				if time.Since(lastOK) > e.cfg.Lease {
					log.Error("heartbeats failed for a whole lease; giving the job up", "err", err)
					cancel(store.ErrJobLost)
					return
				}
				log.Warn("heartbeat failed; retrying", "err", err)
			case cancelRequested:
				cancel(ErrCancelled)
				return
			default:
				lastOK = time.Now()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-stopped
		})
	}
}

// publicError is the text a FAILED job shows: what went wrong and what to do,
// without driver or SQL details (those are in the server log).
func publicError(err error) string {
	var pathErr *os.PathError
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return "the database was unavailable during the run; the server log has the details"
	case errors.As(err, &pathErr):
		return fmt.Sprintf("writing the settlement file failed: %s %s: %v; check SETTLEMENT_DIR", pathErr.Op, pathErr.Path, pathErr.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return "the run timed out; the server log has the details"
	default:
		return "the run failed unexpectedly; the server log has the details"
	}
}
