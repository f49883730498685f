package settlement

import (
	"context"

	"github.com/ordersettle/ordersettle/store"
)

// batch is one slice of a job's transactions, sent to a worker.
type batch struct {
	ctx      context.Context // the job's batch context; cancelled when the job stops
	snapshot string          // exported snapshot the aggregation runs in
	rows     store.Batch
	blocks   int64              // a block batch's planned blocks: its share of the work
	totals   *dailyTotals       // the job's sums; the worker merges into them
	results  chan<- batchResult // the job's collector
}

// batchResult is a worker's answer for one batch: the rows it scanned (its
// sums are already merged), or why it failed.
type batchResult struct {
	scanned int64
	blocks  int64 // the batch's planned blocks
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
		case b.results <- batchResult{scanned: scanned, blocks: b.blocks, err: err}:
		case <-b.ctx.Done():
		}
	}
}
