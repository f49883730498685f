package settlement

import (
	"math"
	"sync"

	"github.com/ordersettle/ordersettle/store"
)

// progress tracks a run's progress as its batches land; the heartbeat
// persists its report. Progress is the share of the planned work done: for
// the block plan the share of its block batches, for the index plan the
// share of the range's rows. The range's row count is an estimate (from the
// plan's layout sample, then from what the batches found) until it is
// counted exactly. What it reports never goes back: neither processed nor
// progress decrease, and the total is never below processed.
type progress struct {
	mu         sync.Mutex
	byBlock    bool
	blocks     int64   // the block plan's blocks (the unit of its work)
	estimate   float64 // the range's rows, from the layout sample
	planRows   int64   // index plan: rows the planner has cut so far (at least)
	batchSize  int64
	exactRows  int64 // the range's exact row count; -1 until known
	doneBlocks int64 // blocks of the block batches in
	processed  int64 // rows aggregated
	last       float64
	// changed is signalled (without blocking) when a batch lands or the
	// total becomes exact; the heartbeat writes the progress then.
	changed chan struct{}
}

func newProgress() *progress { return &progress{exactRows: -1, changed: make(chan struct{}, 1)} }

// signal tells the heartbeat that there is progress to write.
func (p *progress) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// start records the plan: its unit of work and the sample's estimate.
func (p *progress) start(bp batchPlan, l store.Layout, batchSize int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byBlock = bp.byBlock
	for _, n := range bp.sizes {
		p.blocks += n
	}
	p.estimate = l.Share() * float64(l.Blocks) * l.RowsPerBlock()
	p.batchSize = int64(batchSize)
}

// planned records that the planner has cut n batches so far.
func (p *progress) planned(n int64) {
	p.mu.Lock()
	if !p.byBlock {
		p.planRows = max(p.planRows, (n-1)*p.batchSize) // the last one may still grow
	}
	p.mu.Unlock()
}

// exact records the range's exact row count.
func (p *progress) exact(total int64) {
	p.mu.Lock()
	p.exactRows = total
	p.mu.Unlock()
	p.signal()
}

// batchDone records a batch that came in with its rows and, for a block
// batch, its planned blocks.
func (p *progress) batchDone(rows, blocks int64) {
	p.mu.Lock()
	p.doneBlocks += blocks
	p.processed += rows
	p.mu.Unlock()
	p.signal()
}

// processedRows is the rows aggregated so far.
func (p *progress) processedRows() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.processed
}

// report is what the heartbeat stores. A total is reported exact only when
// the progress it implies (100 × processed / total) is not below what was
// already shown; until then the exact count is shown as an estimate.
func (p *progress) report() store.JobProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := p.totalLocked()
	if p.exactRows >= 0 {
		if total == 0 {
			return store.JobProgress{Processed: p.processed, Total: 0, Percent: p.last}
		}
		if pct := 100 * float64(p.processed) / float64(total); pct >= p.last {
			p.last = pct
			return store.JobProgress{Processed: p.processed, Total: total, Percent: pct}
		}
	}
	var share float64
	switch {
	case p.byBlock && p.blocks > 0:
		share = float64(p.doneBlocks) / float64(p.blocks)
	case total > 0:
		share = float64(p.processed) / float64(total)
	}
	// While running and estimated, stay below 100: the last batches and the
	// completion are still to come.
	pct := math.Min(100*share, 99)
	p.last = math.Max(p.last, pct)
	return store.JobProgress{Processed: p.processed, Total: total, TotalEstimated: true, Percent: p.last}
}

// totalLocked is the best total known: the exact count, else an estimate
// never below what was processed or planned.
func (p *progress) totalLocked() int64 {
	if p.exactRows >= 0 {
		return p.exactRows
	}
	est := p.estimate
	if p.byBlock && p.doneBlocks > 0 && p.blocks > 0 {
		// Extrapolate from the batches in: the rows of the range are spread
		// over the table as the sample saw them.
		est = float64(p.processed) * float64(p.blocks) / float64(p.doneBlocks)
	}
	return max(int64(math.Round(est)), p.processed, p.planRows)
}
