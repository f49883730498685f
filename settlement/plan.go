package settlement

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/ordersettle/ordersettle/store"
)

// Plan is how a job cuts its range into batches (see the package doc).
type Plan string

// Plans. The zero value picks per job.
const (
	// PlanAuto picks PlanIndex or PlanBlocks for each job from how its
	// range lies in the table (the default).
	PlanAuto Plan = ""
	// PlanIndex walks the range along the paid_at index: batches are
	// paid_at intervals of about BatchSize rows.
	PlanIndex Plan = "index"
	// PlanBlocks reads the whole table once in physical order: batches are
	// ranges of heap blocks (TID range scans) filtered by paid_at.
	PlanBlocks Plan = "blocks"
)

// ParsePlan returns the Plan named s: "auto" (or ""), "index" or "blocks".
func ParsePlan(s string) (Plan, error) {
	switch s {
	case "", "auto":
		return PlanAuto, nil
	case string(PlanIndex), string(PlanBlocks):
		return Plan(s), nil
	default:
		return "", fmt.Errorf("unknown settlement plan %q: want auto, index or blocks", s)
	}
}

// Cost model of the two plans, in microseconds of database CPU per row,
// measured on 10,000,000 rows (see the package doc):
//
//	index plan:  rows in range × (indexRowCost + scatterCost × (1 − c²))
//	block plan:  rows in table × blockScanCost + rows in range × blockRowCost
//
// where c is the correlation between paid_at and the physical position of
// the range's rows. The block plan wins when the range covers a large share
// of the table, the sooner the less its rows are in time order: from about
// 4 % of the table when c = 0, 43 % when c = 1.
const (
	indexRowCost  = 1.3
	scatterCost   = 7.0
	blockScanCost = 0.3
	blockRowCost  = 0.6
)

// layoutSampleBlocks is how many blocks the layout sample reads.
const layoutSampleBlocks = 300

// groupsPerBlockBatch makes a block batch cover at least this many rows of
// the range per (merchant, day) group it can meet: rows of a block range
// spread over all the range's groups, and a batch's answer has a row per
// group, so small block batches would send about as many rows as they read.
const groupsPerBlockBatch = 32

// progressSteps is how many full batches of work the block plan cuts at
// least, so that a landing batch moves progress by at most about
// 100 / progressSteps points (0: cut as before progress moved, for the
// benchmark). See progressCut for the shape that makes them land one at a
// time.
var progressSteps atomic.Int64

func init() { progressSteps.Store(defaultProgressSteps) }

const defaultProgressSteps = 24

// lastWaveShare is the size of the last wave's batches, as a share of a
// full batch (see progressCut).
const lastWaveShare = 0.75

// minRowsPerGroupForProgress keeps the batches cut for progress big next to
// the groups each one answers (a row per merchant and day): below it, more
// batches would cost more in answers than progress is worth.
const minRowsPerGroupForProgress = 1

// batchPlan is what a job does: walk the index, or read block ranges.
type batchPlan struct {
	byBlock bool
	// sizes are the blocks of the block plan's batches, in the order they
	// are sent; they add up to the table's blocks, and the last batch is
	// open-ended (see blockBatches).
	sizes     []int64
	indexCost float64
	blockCost float64
}

// batches is how many batches the block plan sends.
func (p batchPlan) batches() int64 { return int64(len(p.sizes)) }

// choosePlan picks the plan for a job whose range lies in the table as l
// describes. forced overrides the choice (PlanAuto does not).
func choosePlan(forced Plan, batchSize, workers int, l store.Layout) batchPlan {
	share := l.Share()
	c2 := math.Min(l.Correlation*l.Correlation, 1)
	tableRows := float64(l.Blocks) * l.RowsPerBlock()
	p := batchPlan{
		indexCost: tableRows * share * (indexRowCost + scatterCost*(1-c2)),
		blockCost: tableRows * (blockScanCost + share*blockRowCost),
	}
	switch forced {
	case PlanIndex:
		return p
	case PlanBlocks:
		p.byBlock = true
	default:
		p.byBlock = l.Blocks > 0 && share > 0 && p.blockCost < p.indexCost
	}
	if !p.byBlock {
		return p
	}
	groups := max(l.Merchants, 1) * max(l.Days, 1)
	// blocksFor is how many blocks hold about rows rows of the range (the
	// range is a share of each block).
	blocksFor := func(rows float64) int64 {
		return max(int64(math.Ceil(rows/math.Max(share, 1e-9)/l.RowsPerBlock())), 1)
	}
	// Rows of the range per batch: enough that the batch's groups are few
	// next to its rows, but at least BatchSize.
	perBatch := blocksFor(math.Max(float64(batchSize), float64(groupsPerBlockBatch*groups)))
	steps := progressSteps.Load()
	if steps <= 0 {
		// As before progress moved: keep every worker busy when the
		// table is big enough for it, in equal batches.
		if even := (l.Blocks + int64(workers) - 1) / int64(workers); perBatch > even && float64(even)*l.RowsPerBlock()*share >= float64(batchSize) {
			perBatch = even
		}
		p.sizes = evenCut(l.Blocks, perBatch)
		return p
	}
	// Never batches of fewer rows than the range's groups or BatchSize.
	floor := blocksFor(float64(max(minRowsPerGroupForProgress*groups, int64(batchSize))))
	p.sizes = progressCut(l.Blocks, int64(max(workers, 1)), steps, perBatch, floor)
	return p
}

// evenCut cuts blocks into batches of per blocks (the last one shorter).
func evenCut(blocks, per int64) []int64 {
	per = max(per, 1)
	var sizes []int64
	for left := blocks; left > 0; left -= per {
		sizes = append(sizes, min(per, left))
	}
	if len(sizes) == 0 {
		sizes = []int64{1}
	}
	return sizes
}

// progressCut cuts blocks into batches for w at once (see parallelism.go)
// so that they land one at a time rather than in waves: progress counts
// finished batches, and the work in flight (up to w batches) shows only
// when it lands.
//
// The w batches at once start together and share the database alike, so
// equal batches would land together. Here the first wave's batches grow as
// 1/w, 2/w, … w/w of a full batch, so the workers finish them one after
// another, and each goes on with full batches, keeping its lag behind the
// others.
// When the last batches are out, the work in flight drains faster (fewer
// batches share the database), so the last wave is made of smaller batches
// (lastWaveShare of a full one) for progress not to rush at the end.
//
// A full batch is 1/steps of the table (at most maxPer blocks, at least
// minPer), or smaller when the two waves alone would be most of the table.
// For 10M rows this makes 25 batches with w = 2 and 29 with w = 8, where
// the cut before progress moved made 11 (the cost of the extra batches is
// their answers, a row per group; running fewer at once more than pays for
// it on a database with few cores).
func progressCut(blocks, w, steps, maxPer, minPer int64) []int64 {
	if blocks <= 0 {
		return []int64{1}
	}
	units := math.Max(float64(steps), float64(w+1)/2+lastWaveShare*float64(w)+2)
	full := math.Min(float64(blocks)/units, float64(maxPer))
	full = math.Max(full, float64(minPer))
	var sizes []int64
	left := blocks
	add := func(n int64) {
		if n = min(max(n, minPer, 1), left); n > 0 {
			sizes = append(sizes, n)
			left -= n
		}
	}
	for i := int64(1); i <= w; i++ {
		add(int64(math.Round(float64(i) * full / float64(w))))
	}
	last := max(int64(math.Round(lastWaveShare*full)), minPer, 1)
	if middle := left - w*last; middle > 0 {
		n := max(int64(math.Round(float64(middle)/full)), 1)
		for _, m := range evenCut(middle, (middle+n-1)/n) {
			add(m)
		}
	}
	for left > 0 {
		add(last)
	}
	return sizes
}

// blockBatches yields the block ranges of a block plan, consecutive from
// block 0, in the order of its sizes, with the blocks each was planned for
// (its share of the work); the last one is open-ended, so that it also
// covers blocks added after the table was measured (their rows are newer
// than the snapshot and not seen, but no row the snapshot sees can be
// missed).
func (p batchPlan) blockBatches(emit func(first, end, blocks int64) error) error {
	var first int64
	for i, n := range p.sizes {
		end := first + n
		if i == len(p.sizes)-1 {
			end = 0
		}
		if err := emit(first, end, n); err != nil {
			return err
		}
		first += n
	}
	return nil
}
