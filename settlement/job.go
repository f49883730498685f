package settlement

import (
	"context"
	"errors"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/store"
)

// finishTimeout bounds the database updates that record how a run ended; they
// run even when the job's context was cancelled.
const finishTimeout = 30 * time.Second

// run runs one claimed job to its end and records how it ended.
func (e *Engine) run(parent context.Context, job domain.Job) {
	log := e.log.With("job", job.ID, "from", job.From.Format(time.DateOnly), "to", job.To.Format(time.DateOnly), "attempt", job.Attempts)
	log.Info("settlement job started")
	started := time.Now()

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	// The entry is this run's own: if the job is cancelled, retried and
	// claimed here again before this run has returned, the next run's entry
	// must survive this one's cleanup.
	self := &runningJob{cancel: cancel}
	e.mu.Lock()
	e.running[job.ID] = self
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if e.running[job.ID] == self {
			delete(e.running, job.ID)
		}
		e.mu.Unlock()
	}()

	// This engine owns the job now: a temporary file of an earlier run of
	// it (a crashed or lost one) can go.
	removeJobTemps(e.cfg.Dir, job.ID, log)

	var processed atomic.Int64
	stopHeartbeat := e.startHeartbeat(ctx, cancel, job.ID, &processed, log)
	stats, err := e.execute(ctx, log, job, &processed, stopHeartbeat)
	stopHeartbeat()

	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer fcancel()
	cause := context.Cause(ctx)
	took := time.Since(started)
	switch {
	case err == nil:
		e.metrics.finished(domain.JobCompleted)
		e.metrics.duration.Observe(took.Seconds())
		log.Info("settlement job completed", "rows", processed.Load(), "settlements", stats.settlements,
			"plan", stats.plan, "batches", stats.batches, "took", took.Round(time.Millisecond),
			"aggregate", stats.aggregate.Round(time.Millisecond), "write_csv", stats.write.Round(time.Millisecond),
			"commit", stats.complete.Round(time.Millisecond))
	case errors.Is(err, domain.ErrCancelRequested) || errors.Is(cause, ErrCancelled):
		if err := e.store.CancelRunningJob(fctx, job.ID, e.cfg.Owner); err != nil {
			log.Error("recording the cancel failed; the job is reaped when its lease expires", "err", err)
			return
		}
		e.metrics.finished(domain.JobCancelled)
		log.Info("settlement job cancelled", "took", took.Round(time.Millisecond))
	case errors.Is(err, domain.ErrJobLost) || errors.Is(cause, domain.ErrJobLost):
		log.Warn("settlement job was taken away from this engine (lease expired); another run will finish it")
	case parent.Err() != nil:
		status, err := e.store.ReleaseJob(fctx, job.ID, e.cfg.Owner)
		if err != nil {
			log.Error("handing the job back failed; it is reaped when its lease expires", "err", err)
			return
		}
		e.metrics.finished(status)
		log.Info("settlement job handed back for another run (shutdown)", "now", status)
	default:
		msg := publicError(err)
		status, ferr := e.store.FailJob(fctx, job.ID, e.cfg.Owner, msg, e.cfg.MaxAttempts, e.cfg.RetryBackoff)
		if ferr != nil {
			log.Error("recording the failure failed; the job is reaped when its lease expires", "err", ferr, "cause", err)
			return
		}
		e.metrics.finished(status)
		log.Error("settlement job attempt failed", "err", err, "attempts", job.Attempts, "max_attempts", e.cfg.MaxAttempts, "now", status)
	}
}

// execute computes the job's settlements and completes it.
func (e *Engine) execute(ctx context.Context, log *slog.Logger, job domain.Job, processed *atomic.Int64, stopHeartbeat func()) (stats runStats, err error) {
	from := job.From.UTC()
	end := job.To.UTC().AddDate(0, 0, 1) // exclusive: the day after the last day, 00:00

	t0 := time.Now()
	totals, err := e.aggregate(ctx, log, job.ID, from, end, processed, &stats)
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
	plan        string // "index" or "blocks"
	batches     int64
	settlements int
	aggregate   time.Duration // planning and aggregation, overlapped
	write       time.Duration // the CSV file
	complete    time.Duration // the completion transaction
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
	if err := c.Settle(ctx, rows); err != nil {
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

// publicError is the text a FAILED job shows: what went wrong and what to do,
// without file paths, SQL or driver details (the server log has those).
func publicError(err error) string {
	var pathErr *os.PathError
	var linkErr *os.LinkError
	switch {
	case errors.Is(err, domain.ErrUnavailable):
		return "the database was unavailable during the run; the server log has the details"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "no space left in the settlement directory (SETTLEMENT_DIR)"
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return "the settlement directory (SETTLEMENT_DIR) is not writable"
	case errors.As(err, &pathErr), errors.As(err, &linkErr):
		return "writing the settlement file failed; check SETTLEMENT_DIR; the server log has the details"
	case errors.Is(err, context.DeadlineExceeded):
		return "the run timed out; the server log has the details"
	default:
		return "the run failed unexpectedly; the server log has the details"
	}
}

// runningJob is a run of a job in this engine, as Cancel finds it.
type runningJob struct {
	cancel context.CancelCauseFunc // stops the run; the cause says why
}
