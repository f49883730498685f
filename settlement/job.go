package settlement

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/store"
)

// runJob runs one claimed job to its end: it executes the run, decides the
// outcome from how it went (decide, pure) and records it with one guarded
// store transition (end).
func (e *Engine) runJob(parent context.Context, job domain.Job) {
	r := &run{
		e:     e,
		job:   job,
		claim: store.ClaimOf(job),
		log:   e.log.With("job", job.ID, "from", job.From.Format(time.DateOnly), "to", job.To.Format(time.DateOnly), "attempt", job.Attempts),
		prog:  newProgress(),
	}
	r.log.Info("settlement job started")
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

	stopHeartbeat := e.startHeartbeat(ctx, cancel, r)
	err := r.execute(ctx, stopHeartbeat)
	stopHeartbeat()

	out := decide(err, context.Cause(ctx), parent.Err() != nil)
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer fcancel()
	r.end(fctx, out, time.Since(started))
}

// outcomeKind is how a run ended.
type outcomeKind int

const (
	// outcomeCompleted: the completion committed; nothing is left to record.
	outcomeCompleted outcomeKind = iota
	// outcomeCancelled: a user cancelled the job.
	outcomeCancelled
	// outcomeLost: the claim was taken over (lease expired); this run must
	// write nothing more.
	outcomeLost
	// outcomeShutdown: the engine is stopping; the job is handed back
	// without counting the attempt.
	outcomeShutdown
	// outcomeFault: the database connection failed; the job is handed back
	// without counting the attempt, to run again after the retry backoff.
	outcomeFault
	// outcomeFailed: the attempt failed; it counts.
	outcomeFailed
)

// outcome is what decide makes of a run's end.
type outcome struct {
	kind outcomeKind
	err  error // the run's error (the log's)
}

// decide says how a run ended from its error, its context's cause and
// whether the engine is shutting down. It is pure: recording the outcome is
// end's job.
func decide(err, cause error, shuttingDown bool) outcome {
	switch {
	case err == nil:
		return outcome{kind: outcomeCompleted}
	case errors.Is(err, domain.ErrCancelRequested), errors.Is(cause, ErrCancelled):
		return outcome{kind: outcomeCancelled, err: err}
	case errors.Is(err, domain.ErrJobLost), errors.Is(cause, domain.ErrJobLost):
		return outcome{kind: outcomeLost, err: err}
	case shuttingDown:
		return outcome{kind: outcomeShutdown, err: err}
	case errors.Is(err, domain.ErrUnavailable):
		return outcome{kind: outcomeFault, err: err}
	default:
		return outcome{kind: outcomeFailed, err: err}
	}
}

// Backoff of end's retries when the database is unreachable: from
// endRetryFirst, doubling up to endRetryMax, until finishTimeout.
const (
	endRetryFirst = 50 * time.Millisecond
	endRetryMax   = 2 * time.Second
)

// end records the outcome with one store transition guarded by the run's
// claim, retried with backoff while the database is unreachable (so a
// transient fault costs the backoff, not the lease), and logs it.
func (r *run) end(ctx context.Context, out outcome, took time.Duration) {
	e, log := r.e, r.log
	var (
		kind    store.RunEnd
		backoff time.Duration
		msg     string
	)
	switch out.kind {
	case outcomeCompleted:
		e.metrics.finished(domain.JobCompleted)
		e.metrics.duration.Observe(took.Seconds())
		s := r.stats
		log.Info("settlement job completed", "rows", r.prog.processedRows(), "settlements", s.settlements,
			"plan", s.plan, "batches", s.batches, "took", took.Round(time.Millisecond),
			"aggregate", s.aggregate.Round(time.Millisecond), "write_csv", s.write.Round(time.Millisecond),
			"commit", s.complete.Round(time.Millisecond))
		return
	case outcomeLost:
		log.Warn("settlement job was taken away from this engine (lease expired); another run will finish it")
		return
	case outcomeCancelled:
		kind = store.EndCancelled
	case outcomeShutdown:
		kind = store.EndReleased
	case outcomeFault:
		kind, backoff = store.EndReleased, e.cfg.RetryBackoff
	case outcomeFailed:
		kind, backoff, msg = store.EndFailed, e.cfg.RetryBackoff, publicError(out.err)
	}
	status, err := r.endRun(ctx, kind, msg, backoff)
	switch {
	case errors.Is(err, domain.ErrJobLost):
		log.Warn("settlement job was taken away from this engine before its end was recorded", "cause", out.err)
		return
	case err != nil:
		log.Error("recording the job's end failed; the job is reaped when its lease expires", "err", err, "cause", out.err)
		return
	}
	e.metrics.finished(status)
	switch out.kind {
	case outcomeCancelled:
		log.Info("settlement job cancelled", "took", took.Round(time.Millisecond), "now", status)
	case outcomeShutdown:
		log.Info("settlement job handed back for another run (shutdown)", "now", status)
	case outcomeFault:
		log.Warn("settlement job handed back for another run (database fault; the attempt does not count)", "err", out.err, "now", status)
	default:
		log.Error("settlement job attempt failed", "err", out.err, "attempts", r.job.Attempts, "max_attempts", e.cfg.MaxAttempts, "now", status)
	}
}

// endRun is store.EndRun for this run's claim, retried with backoff while
// the database is unreachable.
func (r *run) endRun(ctx context.Context, kind store.RunEnd, msg string, backoff time.Duration) (domain.JobStatus, error) {
	wait := endRetryFirst
	for {
		status, err := r.e.store.EndRun(ctx, r.claim, kind, msg, r.e.cfg.MaxAttempts, backoff)
		if !errors.Is(err, domain.ErrUnavailable) {
			return status, err
		}
		r.log.Warn("recording the job's end failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(wait):
		}
		wait = min(2*wait, endRetryMax)
	}
}

// publicError is the text a FAILED job shows: what went wrong and what to do,
// without file paths, SQL or driver details (the server log has those).
func publicError(err error) string {
	var pathErr *os.PathError
	switch {
	case errors.Is(err, domain.ErrUnavailable):
		return "the database was unavailable during the run; the server log has the details"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "no space left for the settlement result"
	case errors.Is(err, fs.ErrPermission), errors.As(err, &pathErr):
		return "reading or writing a settlement file failed; the server log has the details"
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
