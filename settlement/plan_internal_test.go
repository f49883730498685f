package settlement

import (
	"testing"

	"github.com/ordersettle/ordersettle/store"
)

// layoutOf describes a table of blocks×100 rows of which share lie in the
// range, with the given correlation, 1000 merchants and 31 days.
func layoutOf(blocks int64, share, corr float64) store.Layout {
	sampled := min(blocks, layoutSampleBlocks)
	return store.Layout{
		Blocks: blocks, SampledBlocks: sampled, SampledRows: sampled * 100,
		InRange: int64(share * float64(sampled*100)), Correlation: corr, Merchants: 1000, Days: 31,
	}
}

func TestChoosePlan(t *testing.T) {
	for _, tc := range []struct {
		name        string
		share, corr float64
		forced      Plan
		wantBlocks  bool
	}{
		{"time order, whole table", 1, 1, PlanAuto, true},
		{"time order, a third of the table", 0.33, 1, PlanAuto, false},
		{"time order, a day of a year", 1.0 / 365, 0.99, PlanAuto, false},
		{"shuffled, whole table", 1, 0, PlanAuto, true},
		{"shuffled, a third of the table", 0.33, 0.01, PlanAuto, true},
		{"shuffled, a tenth of the table", 0.1, 0, PlanAuto, true},
		{"time order, half the table", 0.5, 1, PlanAuto, true},
		{"shuffled, a day of a year", 1.0 / 365, 0, PlanAuto, false},
		{"mostly in order (late arrivals), half the table", 0.5, 0.9, PlanAuto, true},
		{"forced index", 1, 0, PlanIndex, false},
		{"forced blocks", 0.001, 1, PlanBlocks, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := choosePlan(tc.forced, DefaultBatchSize, DefaultWorkers, layoutOf(100_000, tc.share, tc.corr))
			if p.byBlock != tc.wantBlocks {
				t.Fatalf("byBlock = %v (index cost %.3g, block cost %.3g), want %v", p.byBlock, p.indexCost, p.blockCost, tc.wantBlocks)
			}
		})
	}
	if p := choosePlan(PlanAuto, DefaultBatchSize, DefaultWorkers, store.Layout{}); p.byBlock {
		t.Error("an empty table got the block plan")
	}
	// The block plan counts early only where the count is cheap (rows in
	// time order); for scattered rows the total comes with the last batch.
	if p := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(100_000, 1, 0.99)); !p.countEarly {
		t.Error("rows in time order: no early count")
	}
	if p := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(100_000, 1, 0.05)); p.countEarly {
		t.Error("scattered rows: an early count")
	}
}

// TestBlockBatchSize: a block batch covers enough of the range's rows that
// its groups are few next to its rows, at least BatchSize, and the table is
// split at least once per worker when it is big enough.
func TestBlockBatchSize(t *testing.T) {
	// 10M rows, all in range, 31,000 groups: batches of 32 × 31,000 rows
	// would be 10 batches; for progress to move, 6 per worker (48) of
	// 208,300 rows, still far more rows than groups.
	p := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(100_000, 1, 0))
	if p.batches < defaultProgressWaves*DefaultWorkers || p.blocksPerPlan*100 < 31_000 {
		t.Errorf("%d batches of %d rows, want at least %d of more than 31,000", p.batches, p.blocksPerPlan*100, defaultProgressWaves*DefaultWorkers)
	}
	// 1M rows: progress's batches stop at as many rows as groups (32).
	mid := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(10_000, 1, 0))
	if mid.blocksPerPlan*100 < 31_000 || mid.batches < 30 {
		t.Errorf("%d batches of %d rows for 31,000 groups, want about 32", mid.batches, mid.blocksPerPlan*100)
	}
	// A tenth of the table in range: the batch covers ten times more blocks.
	p10 := choosePlan(PlanBlocks, DefaultBatchSize, 1, layoutOf(1_000_000, 0.1, 0))
	if got := float64(p10.blocksPerPlan*100) * 0.1; got < 32*31_000 || got > 33*31_000 {
		t.Errorf("batch covers %.0f rows of the range, want about %d", got, 32*31_000)
	}
	// A table of 8 × 20,000 rows: one batch per worker rather than one batch.
	small := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(1600, 1, 0))
	if small.batches != DefaultWorkers {
		t.Errorf("%d batches for 8 workers on 160,000 rows, want 8", small.batches)
	}
	// Never below BatchSize rows per batch.
	tiny := choosePlan(PlanBlocks, 50_000, DefaultWorkers, layoutOf(1600, 1, 0))
	if tiny.blocksPerPlan*100 < 50_000 {
		t.Errorf("batches of %d rows, below BatchSize", tiny.blocksPerPlan*100)
	}
}

// TestBlockBatchesCoverTheTable: consecutive, no gaps, the last open-ended.
func TestBlockBatchesCoverTheTable(t *testing.T) {
	for _, blocks := range []int64{1, 7, 100, 1001} {
		for _, per := range []int64{1, 3, 100, 5000} {
			p := batchPlan{byBlock: true, blocksPerPlan: per, batches: max((blocks+per-1)/per, 1)}
			var next int64
			var n int64
			open := false
			_ = p.blockBatches(func(first, end int64) error {
				if open {
					t.Fatalf("blocks=%d per=%d: a batch after the open-ended one", blocks, per)
				}
				if first != next {
					t.Fatalf("blocks=%d per=%d: batch starts at %d, want %d", blocks, per, first, next)
				}
				if end == 0 {
					open = true
				} else if end <= first {
					t.Fatalf("blocks=%d per=%d: empty batch [%d, %d)", blocks, per, first, end)
				}
				next = end
				n++
				return nil
			})
			if !open || n != p.batches || (n-1)*per >= blocks {
				t.Fatalf("blocks=%d per=%d: %d batches, open-ended last %v", blocks, per, n, open)
			}
		}
	}
}
