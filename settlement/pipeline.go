package settlement

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/store"
)

// plannedBatchBuffer is how many planned batches may wait for a worker
// before the planner waits too (about 40 million rows at the default batch size).
const plannedBatchBuffer = 4096

// batch is one slice of a job's transactions, sent to a worker.
type batch struct {
	ctx      context.Context // the job's batch context; cancelled when the job stops
	snapshot string          // exported snapshot the aggregation runs in
	rows     store.Batch
	totals   *dailyTotals       // the job's sums; the worker merges into them
	results  chan<- batchResult // the job's collector
}

// batchResult is a worker's answer for one batch: the rows it scanned (its
// sums are already merged), or why it failed.
type batchResult struct {
	scanned int64
	err     error
}

// work aggregates batches until the batches channel is closed, merging
// each group into the job's totals as it arrives: a batch's answer (up to
// merchants × days groups) is never held whole.
func (e *Engine) work() {
	for b := range e.batches {
		var scanned int64
		err := e.store.AggregateBatch(b.ctx, b.snapshot, b.rows, func(t store.DailyTotal) {
			scanned += t.Scanned
			b.totals.add(t)
		})
		select {
		case b.results <- batchResult{scanned: scanned, err: err}:
		case <-b.ctx.Done():
		}
	}
}

// aggregate plans and aggregates the job's transactions in one snapshot.
// The planner hands each batch to the worker pool as soon as it is cut and
// counts the range's rows, so aggregation runs while planning and counting
// go on; the results are merged here as they arrive.
func (e *Engine) aggregate(ctx context.Context, log *slog.Logger, id uuid.UUID, from, end time.Time, processed *atomic.Int64, stats *runStats) (*dailyTotals, error) {
	snap, err := e.store.OpenSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer snap.Close()

	layout, err := snap.Layout(ctx, from, end, layoutSampleBlocks)
	if err != nil {
		return nil, err
	}
	bp := choosePlan(e.cfg.Plan, e.cfg.BatchSize, e.cfg.Workers, layout)
	log.Debug("settlement plan", "by_block", bp.byBlock, "batches", bp.batches, "blocks_per_batch", bp.blocksPerPlan,
		"count_early", bp.countEarly || !bp.byBlock,
		"table_blocks", layout.Blocks, "share", layout.Share(), "correlation", layout.Correlation,
		"index_cost", bp.indexCost, "block_cost", bp.blockCost)

	stats.plan = string(PlanIndex)
	if bp.byBlock {
		stats.plan = string(PlanBlocks)
	}

	type plan struct {
		total, batches int64 // total -1: known when every batch is in
		err            error
	}
	bctx, stop := context.WithCancel(ctx)
	totals := newDailyTotals()
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
		send := func(rows store.Batch) error {
			select {
			case queue <- batch{ctx: bctx, snapshot: snap.ID, rows: rows, totals: totals, results: results}:
				batches++
				return nil
			case <-bctx.Done():
				return bctx.Err()
			}
		}
		var total int64
		var err error
		if bp.byBlock {
			err = bp.blockBatches(func(first, endBlock int64) error {
				return send(store.Batch{From: from, To: end, ByBlock: true, FirstBlock: first, EndBlock: endBlock})
			})
			switch {
			case err != nil:
			case bp.countEarly:
				total, err = snap.Count(bctx, from, end)
			default:
				total = -1 // the batches' rows add up to it
			}
		} else {
			total, err = snap.PlanBatches(bctx, from, end, e.cfg.BatchSize, func(lo, hi time.Time) error {
				return send(store.Batch{From: lo, To: hi})
			})
		}
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
			stats.batches = p.batches
			if total >= 0 {
				if err := e.store.SetJobTotal(ctx, id, e.cfg.Owner, total); err != nil {
					return nil, err
				}
			}
		case r := <-results:
			if r.err != nil {
				if ctx.Err() != nil {
					return nil, context.Cause(ctx)
				}
				return nil, r.err
			}
			received++
			processed.Add(r.scanned)
			e.metrics.rowsProcessed.Add(float64(r.scanned))
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	if total < 0 {
		// Every block of the table was read once: the batches' rows are
		// the range's rows.
		total = processed.Load()
		if err := e.store.SetJobTotal(ctx, id, e.cfg.Owner, total); err != nil {
			return nil, err
		}
	}
	if got := processed.Load(); got != total {
		return nil, fmt.Errorf("aggregated %d transactions but counted %d in the same snapshot", got, total)
	}
	return totals, nil
}
