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

// earlyCountCorrelation is the |c| from which a block plan counts the
// range with an index-only scan alongside its batches, so that total and
// progress show while it runs. The count visits the visibility map in the
// index's order: cheap for rows stored in time order (1.1 s of CPU for 10M
// rows), but for scattered rows every lookup lands elsewhere (2.2 s alone,
// about 4 s next to the batches: a third of the job, and it ended near the
// job's end anyway). Below it, the total is the sum of the batches' rows,
// known when the last batch is in.
const earlyCountCorrelation = 0.7

// layoutSampleBlocks is how many blocks the layout sample reads.
const layoutSampleBlocks = 300

// groupsPerBlockBatch makes a block batch cover at least this many rows of
// the range per (merchant, day) group it can meet: rows of a block range
// spread over all the range's groups, and a batch's answer has a row per
// group, so small block batches would send about as many rows as they read.
const groupsPerBlockBatch = 32

// progressWaves is how many batches per worker the block plan cuts at
// least (when its batches stay big enough, see minRowsPerGroupForProgress),
// so that its progress moves in steps of about 100 / progressWaves points
// as the workers finish batches in waves.
var progressWaves atomic.Int64

func init() { progressWaves.Store(defaultProgressWaves) }

const defaultProgressWaves = 6

// minRowsPerGroupForProgress keeps the batches cut for progress big next to
// the groups each one answers (a row per merchant and day): below it, more
// batches would cost more in answers than progress is worth.
const minRowsPerGroupForProgress = 1

// batchPlan is what a job does: walk the index, or read block ranges.
type batchPlan struct {
	byBlock       bool
	blocksPerPlan int64 // blocks per batch when byBlock
	batches       int64 // block batches when byBlock
	// countEarly: the block plan counts the range next to its batches;
	// otherwise its total is known at the end. (The index plan's walk is
	// its count.)
	countEarly bool
	indexCost  float64
	blockCost  float64
}

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
	p.countEarly = math.Abs(l.Correlation) >= earlyCountCorrelation
	// Rows of the range per batch: enough that the batch's groups are few
	// next to its rows, but at least BatchSize.
	rangeRows := math.Max(float64(batchSize), float64(groupsPerBlockBatch*max(l.Merchants, 1)*max(l.Days, 1)))
	// As table rows (the range is a share of each block), then blocks.
	perBatch := int64(math.Ceil(rangeRows / math.Max(share, 1e-9) / l.RowsPerBlock()))
	// Keep every worker busy when the table is big enough for it.
	if even := (l.Blocks + int64(workers) - 1) / int64(workers); perBatch > even && float64(even)*l.RowsPerBlock()*share >= float64(batchSize) {
		perBatch = even
	}
	// Enough batches for progress to move: the workers finish batches in
	// waves, and a job of a few big batches would jump from 0 to 100.
	if waves := progressWaves.Load(); waves > 0 {
		fine := l.Blocks / (waves * int64(workers))
		minRows := float64(max(minRowsPerGroupForProgress*max(l.Merchants, 1)*max(l.Days, 1), int64(batchSize)))
		floor := int64(math.Ceil(minRows / math.Max(share, 1e-9) / l.RowsPerBlock()))
		perBatch = min(perBatch, max(fine, floor, 1))
	}
	p.blocksPerPlan = max(perBatch, 1)
	p.batches = max((l.Blocks+p.blocksPerPlan-1)/p.blocksPerPlan, 1)
	return p
}

// blockBatches yields the block ranges of a block plan over a table of
// blocks blocks: [0, n), [n, 2n), …, the last one open-ended, so that it
// also covers blocks added after the table was measured (their rows are
// newer than the snapshot and not seen, but no row the snapshot sees can
// be missed).
func (p batchPlan) blockBatches(emit func(first, end int64) error) error {
	for i := range p.batches {
		first, end := i*p.blocksPerPlan, (i+1)*p.blocksPerPlan
		if i == p.batches-1 {
			end = 0
		}
		if err := emit(first, end); err != nil {
			return err
		}
	}
	return nil
}
