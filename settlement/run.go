package settlement

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/store"
)

// finishTimeout bounds the database updates that record how a run ended; they
// run even when the job's context was cancelled.
const finishTimeout = 30 * time.Second

// plannedBatchBuffer is how many planned batches may wait for a worker
// before the planner waits too (about 40 million rows at the default batch size).
const plannedBatchBuffer = 4096

// run is one claim of a job in this engine. Its life: plan the batches, feed
// them to the shared workers and collect their answers (three steps under one
// errgroup), complete the job in one transaction, then decide the outcome
// from how that went and record it with one guarded store transition.
type run struct {
	e     *Engine
	job   domain.Job
	claim store.JobClaim // fences every write of this run
	log   *slog.Logger
	prog  *progress
	stats runStats
}

// runStats describe a finished run, for the log.
type runStats struct {
	plan        string // "index" or "blocks"
	batches     int64
	settlements int
	aggregate   time.Duration // planning and aggregation, overlapped
	write       time.Duration // the CSV
	complete    time.Duration // the completion transaction
}

// planned is what the plan step ends with.
type planned struct {
	total   int64 // the range's rows; -1 when the batches' rows add up to it
	batches int64
}

// execute plans and aggregates the job's transactions and completes it.
func (r *run) execute(ctx context.Context, stopHeartbeat func()) error {
	from := r.job.From.UTC()
	end := r.job.To.UTC().AddDate(0, 0, 1) // exclusive: the day after the last day, 00:00

	t0 := time.Now()
	totals, total, err := r.aggregate(ctx, from, end)
	if err != nil {
		return err
	}
	r.stats.settlements = totals.len()
	rows := totals.sorted() // sorted once; the CSV and the completion both read it
	t1 := time.Now()
	r.stats.aggregate = t1.Sub(t0)

	// The CSV's size grows with merchants × days, never with rows.
	var csv bytes.Buffer
	if err := WriteCSV(bufio.NewWriter(&csv), rows); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	t2 := time.Now()
	r.stats.write = t2.Sub(t1)

	// The heartbeat must not touch the job row while the completion holds it.
	stopHeartbeat()
	// Completion is short; a shutdown that starts now waits for it rather
	// than throwing the finished work away.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	err = r.complete(cctx, rows, total, csv.Bytes())
	r.stats.complete = time.Since(t2)
	return err
}

// aggregate runs the plan, feed and collect steps in one snapshot and
// returns the merged sums and the range's row count.
func (r *run) aggregate(ctx context.Context, from, end time.Time) (*dailyTotals, int64, error) {
	e := r.e
	snap, err := e.store.OpenSnapshot(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer snap.Close()

	layout, err := snap.Layout(ctx, from, end, layoutSampleBlocks)
	if err != nil {
		return nil, 0, err
	}
	// As many batches at once as the database runs at full speed (all the
	// workers for the plan of before progress moved, as it ran then).
	atOnce := e.cfg.Workers
	if progressSteps.Load() > 0 {
		atOnce = e.batchesAtOnce(ctx)
	}
	bp := choosePlan(e.cfg.Plan, e.cfg.BatchSize, atOnce, layout)
	r.log.Debug("settlement plan", "by_block", bp.byBlock, "batches", bp.batches(), "at_once", atOnce, "batch_blocks", bp.sizes,
		"table_blocks", layout.Blocks, "share", layout.Share(), "correlation", layout.Correlation,
		"index_cost", bp.indexCost, "block_cost", bp.blockCost)
	r.stats.plan = string(PlanIndex)
	if bp.byBlock {
		r.stats.plan = string(PlanBlocks)
	}
	r.prog.start(bp, layout, e.cfg.BatchSize)

	g, gctx := errgroup.WithContext(ctx)
	totals := newDailyTotals()
	results := make(chan batchResult, e.cfg.Workers)
	// The planner queues batches here without waiting for the workers, so
	// that the total (and with it the progress) is known early; the feeder
	// passes them on to the shared worker pool.
	queue := make(chan batch, plannedBatchBuffer)
	planCh := make(chan planned, 1)
	// A slot per batch in the workers: the feeder takes one, the collector
	// gives it back when the batch's answer is in.
	slots := make(chan struct{}, atOnce)
	g.Go(func() error {
		return r.plan(gctx, snap, bp, from, end, batchSink{ctx: gctx, queue: queue, totals: totals, results: results, snap: snap.ID}, planCh)
	})
	g.Go(func() error { return r.feed(gctx, queue, slots) })
	var total int64
	g.Go(func() (err error) {
		total, err = r.collect(gctx, planCh, results, slots)
		return err
	})
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, 0, context.Cause(ctx)
		}
		return nil, 0, err
	}
	return totals, total, nil
}

// batchSink is where the plan step sends the batches it cuts.
type batchSink struct {
	ctx     context.Context
	queue   chan<- batch
	snap    string
	totals  *dailyTotals
	results chan<- batchResult
}

func (s batchSink) send(rows store.Batch, blocks int64) error {
	select {
	case s.queue <- batch{ctx: s.ctx, snapshot: s.snap, rows: rows, blocks: blocks, totals: s.totals, results: s.results}:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// plan cuts the range into batches and sends them to sink, then closes its
// queue and reports the plan's row count and batches on out.
func (r *run) plan(ctx context.Context, snap *store.Snapshot, bp batchPlan, from, end time.Time, sink batchSink, out chan<- planned) error {
	defer close(sink.queue)
	var p planned
	send := func(b store.Batch, blocks int64) error {
		if err := sink.send(b, blocks); err != nil {
			return err
		}
		p.batches++
		r.prog.planned(p.batches)
		return nil
	}
	var err error
	if bp.byBlock {
		err = bp.blockBatches(func(first, endBlock, blocks int64) error {
			return send(store.Batch{From: from, To: end, ByBlock: true, FirstBlock: first, EndBlock: endBlock}, blocks)
		})
		// Every block is read once: the batches' rows add up to the
		// range's rows. (A count of its own, an index-only scan next to
		// the batches, cost a third of a job over rows in time order.)
		p.total = -1
	} else {
		p.total, err = snap.PlanBatches(ctx, from, end, r.e.cfg.BatchSize, func(lo, hi time.Time) error {
			return send(store.Batch{From: lo, To: hi}, 0)
		})
	}
	if err != nil {
		return err
	}
	out <- p
	return nil
}

// feed passes the planned batches on to the engine's workers, no more at
// once than slots has room for.
func (r *run) feed(ctx context.Context, queue <-chan batch, slots chan<- struct{}) error {
	stop := func() error {
		// Drain so that the planner is never stuck on a full queue.
		for range queue {
		}
		return ctx.Err()
	}
	for b := range queue {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return stop()
		}
		select {
		case r.e.batches <- b:
		case <-ctx.Done():
			return stop()
		}
	}
	return nil
}

// collect counts the workers' answers until every planned batch is in,
// freeing the batch's slot for the feeder, and returns the range's row
// count.
func (r *run) collect(ctx context.Context, planCh <-chan planned, results <-chan batchResult, slots <-chan struct{}) (int64, error) {
	var (
		total    int64 = -1
		expected int64 = -1 // batches to wait for; unknown until planning ends
		received int64
	)
	for expected < 0 || received < expected {
		select {
		case p := <-planCh:
			planCh = nil
			total, expected = p.total, p.batches
			r.stats.batches = p.batches
			if total >= 0 {
				r.prog.exact(total)
			}
		case res := <-results:
			if res.err != nil {
				return 0, res.err
			}
			received++
			<-slots
			r.prog.batchDone(res.scanned, res.blocks)
			r.e.metrics.rowsProcessed.Add(float64(res.scanned))
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	processed := r.prog.processedRows()
	if total < 0 {
		// Every block of the table was read once: the batches' rows are
		// the range's rows.
		total = processed
	}
	if processed != total {
		return 0, fmt.Errorf("aggregated %d transactions but counted %d in the same snapshot", processed, total)
	}
	return total, nil
}

// complete stores the settlements and the CSV and marks the job COMPLETED in
// one transaction guarded by the run's claim. When the COMMIT's answer is
// lost, the job is read again: what it says is the truth (COMPLETED with its
// result, or still this run's and not completed).
func (r *run) complete(ctx context.Context, rows iter.Seq[store.Settlement], total int64, csv []byte) error {
	c, err := r.e.store.BeginCompletion(ctx, r.claim)
	if err != nil {
		return err
	}
	defer c.Rollback()
	if err := c.Settle(ctx, rows, total, csv); err != nil {
		return err
	}
	err = c.Commit()
	if !errors.Is(err, domain.ErrCommitUnknown) {
		return err
	}
	return r.afterLostCommit(ctx, err)
}

// afterLostCommit learns whether a completion whose COMMIT answer was lost
// committed: nil when the job is COMPLETED by this claim (its result with
// it), ErrJobLost when another claim has it, else the commit's error (the
// job is still this run's, not completed).
func (r *run) afterLostCommit(ctx context.Context, commitErr error) error {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		j, err := r.e.store.GetJob(ctx, r.claim.ID)
		switch {
		case err == nil && j.ClaimToken != r.claim.Token:
			return domain.ErrJobLost
		case err == nil && j.Status == domain.JobCompleted:
			r.log.Warn("the completion's commit answer was lost; the job is COMPLETED (read back)")
			return nil
		case err == nil:
			r.log.Warn("the completion's commit answer was lost; it did not commit (read back)", "status", j.Status)
			return commitErr
		case errors.Is(err, domain.ErrJobNotFound):
			return domain.ErrJobLost
		}
		select {
		case <-ctx.Done():
			return commitErr
		case <-time.After(wait):
		}
	}
}
