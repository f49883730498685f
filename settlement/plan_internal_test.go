package settlement

import (
	"math"
	"slices"
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
}

// TestBlockBatchSize: a block batch covers enough of the range's rows that
// its groups are few next to its rows, at least BatchSize, and the table is
// cut for progress into about defaultProgressSteps full batches.
func TestBlockBatchSize(t *testing.T) {
	rows := func(n int64) int64 { return n * 100 }
	// 10M rows, all in range, 31,000 groups: 11 batches of 32 × 31,000
	// rows before progress moved; now about 25 for 2 batches at once and 29
	// for 8, the smallest still of more rows than groups.
	for _, atOnce := range []int{2, DefaultWorkers} {
		p := choosePlan(PlanBlocks, DefaultBatchSize, atOnce, layoutOf(100_000, 1, 0))
		if n := p.batches(); n < 24 || n > 30 || rows(slices.Min(p.sizes)) < 31_000 {
			t.Errorf("%d at once: %d batches %v, want 24 to 30 of more than 31,000 rows", atOnce, n, p.sizes)
		}
	}
	restore := SetProgressSteps(0)
	before := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(100_000, 1, 0))
	restore()
	if n := before.batches(); n != 11 {
		t.Errorf("before progress moved: %d batches %v, want 11", n, before.sizes)
	}
	// 1M rows: never batches of fewer rows than groups.
	mid := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(10_000, 1, 0))
	if rows(slices.Min(mid.sizes[:mid.batches()-1])) < 31_000 || mid.batches() < 20 {
		t.Errorf("%d batches %v for 31,000 groups, want 20 or more of at least 31,000 rows", mid.batches(), mid.sizes)
	}
	// A tenth of the table in range: the batch covers ten times more blocks
	// (1M rows of the range: a full batch is about 1/24 of it).
	p10 := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(100_000, 0.1, 0))
	if got := float64(rows(slices.Max(p10.sizes))) * 0.1; got < 40_000 || got > 46_000 {
		t.Errorf("full batch covers %.0f rows of the range, want about 43,000", got)
	}
	// Never below BatchSize rows per batch (but the last, open-ended one).
	tiny := choosePlan(PlanBlocks, 50_000, DefaultWorkers, layoutOf(1600, 1, 0))
	if rows(slices.Min(tiny.sizes[:tiny.batches()-1])) < 50_000 {
		t.Errorf("batches %v, below BatchSize", tiny.sizes)
	}
	// A huge table: full batches stop at 32 × groups rows, so progress
	// moves in more, smaller steps.
	huge := choosePlan(PlanBlocks, DefaultBatchSize, DefaultWorkers, layoutOf(1_000_000, 1, 0))
	if got := rows(slices.Max(huge.sizes)); got > 32*31_000*101/100 {
		t.Errorf("a full batch of %d rows, want at most %d", got, 32*31_000)
	}
}

// TestProgressCutLandsOneAtATime runs the block plan's batches through a
// model of the database (w batches at a time sharing c cores alike, as
// PostgreSQL's backends share them), polls progress (the share of blocks in
// batches that finished) 10 times over the run at several phases, and
// checks what the benchmark checks on a real job: at least 5 distinct
// values strictly between 0 and 100 and no jump above 30 points, for a
// database with fewer, as many and more cores than workers. Equal batches,
// as many, do not: they land in waves.
func TestProgressCutLandsOneAtATime(t *testing.T) {
	for _, w := range []int{1, 2, 4, DefaultWorkers} {
		sizes := progressCut(100_000, int64(w), defaultProgressSteps, 1<<40, 1)
		for _, cores := range []int{1, 2, 4, 8, 16} {
			if inside, jump := modelProgress(sizes, w, cores, 10); inside < 5 || jump > 30 {
				t.Errorf("%d at once on %d cores: %d values inside, largest jump %.1f: want >= 5 and <= 30 (%v)", w, cores, inside, jump, sizes)
			}
		}
	}
	// 11 equal batches, 8 at once (the cut before progress moved), on 2 cores.
	if _, jump := modelProgress(evenCut(100_000, 100_000/11+1), DefaultWorkers, 2, 10); jump <= 30 {
		t.Errorf("the cut before progress moved landed smoothly in the model (jump %.1f): the model no longer tells the shapes apart", jump)
	}
}

// modelProgress runs batches of the given sizes on w workers sharing cores
// cores (each at most one) and returns, over polls evenly spaced polls at
// ten phases, the fewest distinct progress values strictly between 0 and
// 100 and the largest jump between consecutive values.
func modelProgress(sizes []int64, w, cores, polls int) (inside int, jump float64) {
	type event struct{ at, pct float64 }
	var total float64
	for _, s := range sizes {
		total += float64(s)
	}
	queue := slices.Clone(sizes)
	type task struct{ left, size float64 }
	var running []task
	start := func() {
		for len(running) < w && len(queue) > 0 {
			running = append(running, task{float64(queue[0]), float64(queue[0])})
			queue = queue[1:]
		}
	}
	start()
	var events []event
	var now, done float64
	for len(running) > 0 {
		rate := math.Min(1, float64(cores)/float64(len(running)))
		step := math.Inf(1)
		for _, r := range running {
			step = math.Min(step, r.left)
		}
		now += step / rate
		kept := running[:0]
		for _, r := range running {
			if r.left -= step; r.left > 1e-9 {
				kept = append(kept, r)
				continue
			}
			done += r.size
			events = append(events, event{now, 100 * done / total})
		}
		running = kept
		start()
	}
	inside = math.MaxInt
	for phase := range 10 {
		values := []float64{0}
		for i := range polls {
			at := (float64(i) + float64(phase)/10) * now / float64(polls)
			var v float64
			for _, e := range events {
				if e.at <= at {
					v = e.pct
				}
			}
			if v != values[len(values)-1] {
				values = append(values, v)
			}
		}
		if values[len(values)-1] != 100 {
			values = append(values, 100)
		}
		n := 0
		for i, v := range values {
			if v > 0 && v < 100 {
				n++
			}
			if i > 0 {
				jump = math.Max(jump, v-values[i-1])
			}
		}
		inside = min(inside, n)
	}
	return inside, jump
}

// TestBlockBatchesCoverTheTable: consecutive, no gaps, the last open-ended.
func TestBlockBatchesCoverTheTable(t *testing.T) {
	for _, blocks := range []int64{1, 7, 100, 1001} {
		for _, per := range []int64{1, 3, 100, 5000} {
			p := batchPlan{byBlock: true, sizes: evenCut(blocks, per)}
			var next int64
			var n int64
			open := false
			_ = p.blockBatches(func(first, end, _ int64) error {
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
			if !open || n != p.batches() || (n-1)*per >= blocks {
				t.Fatalf("blocks=%d per=%d: %d batches, open-ended last %v", blocks, per, n, open)
			}
		}
	}
}
