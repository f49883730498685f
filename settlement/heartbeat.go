package settlement

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ordersettle/ordersettle/domain"
)

// progressEvery is how often at most a run's progress is written as its
// batches land (between heartbeats): a job of a few seconds polled every
// 200 ms shows its steps, and its row is written at most ten times a second.
const progressEvery = 100 * time.Millisecond

// startHeartbeat renews the run's lease and persists its progress every
// HeartbeatInterval, and its progress also when a batch lands (at most every
// progressEvery), until the returned stop is called (idempotent); it is the
// run's only writer of its progress. It cancels the run when a cancel was
// requested (ErrCancelled) or the claim was lost (domain.ErrJobLost),
// including when heartbeats have failed for a whole lease.
func (e *Engine) startHeartbeat(ctx context.Context, cancel context.CancelCauseFunc, r *run) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(e.cfg.HeartbeatInterval)
		defer t.Stop()
		lastOK := time.Now()
		var lastWrite time.Time
		var flush <-chan time.Time // a progress write put off to progressEvery
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
			case <-flush:
			case <-r.prog.changed:
				if wait := progressEvery - time.Since(lastWrite); wait > 0 {
					if flush == nil {
						flush = time.After(wait)
					}
					continue
				}
			}
			flush, lastWrite = nil, time.Now()
			cancelRequested, err := e.store.Heartbeat(ctx, r.claim, r.prog.report(), e.cfg.Lease)
			switch {
			case errors.Is(err, domain.ErrJobLost):
				cancel(domain.ErrJobLost)
				return
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				if time.Since(lastOK) > e.cfg.Lease {
					r.log.Error("heartbeats failed for a whole lease; giving the job up", "err", err)
					cancel(domain.ErrJobLost)
					return
				}
				r.log.Warn("heartbeat failed; retrying", "err", err)
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
