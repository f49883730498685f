package settlement

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Parallelism is how many of a job's batches run at once.
//
// A batch is one query; the database gives the queries that run at once an
// equal share of its cores. More batches at once than cores do not finish
// the job sooner: each runs slower, their hash tables (one per batch, a
// few MB for a month of a thousand merchants) evict each other from the
// processor's caches, and the work in flight, which progress shows only as
// it lands, grows with them. Measured on 10M shuffled rows on 2 cores: a
// job of about 20 batches took 1.3× as long 8 at once as 2 at once
// (medians of 5 runs).
//
// So an engine measures, at its first job, how many queries the database runs
// at once at full speed (its free cores, up to Workers), and runs at most
// that many batches of a job at once; Workers stays the pool's size, shared
// by the jobs this engine runs. The measure is kept for parallelismMaxAge,
// then taken again when a job starts while no other runs here (it would
// otherwise see this engine's own load).

// parallelismMaxAge is how long a measured parallelism is used.
const parallelismMaxAge = 10 * time.Minute

// busyTarget is how long one busy query of the measure runs alone.
const busyTarget = 10 * time.Millisecond

// parallelism is the engine's measured parallelism, shared by its runs.
type parallelism struct {
	mu    sync.Mutex
	value int // 0 until measured
	at    time.Time
}

// batchesAtOnce returns how many of a job's batches may run at once: the
// configured Parallelism, else the measure (taken now if there is none, or
// if it is old and no other job runs here). A failed measure gives Workers.
func (e *Engine) batchesAtOnce(ctx context.Context) int {
	if e.cfg.Parallelism > 0 {
		return min(e.cfg.Parallelism, e.cfg.Workers)
	}
	p := &e.par
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.value > 0 && (time.Since(p.at) < parallelismMaxAge || e.runningJobs() > 1) {
		return p.value
	}
	start := time.Now()
	v, err := e.measureParallelism(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("measuring the database's parallelism failed; running up to WORKERS batches at once", "err", err)
		}
		return e.cfg.Workers
	}
	p.value, p.at = v, time.Now()
	e.log.Info("measured the database's parallelism", "batches_at_once", v, "workers", e.cfg.Workers,
		"took", time.Since(start).Round(time.Millisecond))
	return v
}

// measureParallelism times a busy query alone and Workers of them at once,
// three times each, and returns Workers × alone / together, rounded and kept
// within 2..Workers: on c free cores, w queries at once take w/c times as
// long as one alone when w > c, and as long when w <= c. Each time is the
// shortest of its tries, as other work (a checkpoint, a vacuum, another
// client, a busy machine) only ever adds to it. Two at once at least: one
// query's round trips leave its core idle, and too few batches at once cost
// more (idle cores) than too many (some cache thrash).
func (e *Engine) measureParallelism(ctx context.Context) (int, error) {
	w := e.cfg.Workers
	if w <= 2 {
		return w, nil
	}
	busy := func(n int64, k int) (time.Duration, error) {
		g, gctx := errgroup.WithContext(ctx)
		start := time.Now()
		for range k {
			g.Go(func() error { return e.store.Busy(gctx, n) })
		}
		err := g.Wait()
		return time.Since(start), err
	}
	// Size the query to run about busyTarget alone (the first run also
	// opens the connections the measure uses).
	n := int64(100_000)
	if _, err := busy(n, w); err != nil {
		return 0, err
	}
	first, err := busy(n, 1)
	if err != nil {
		return 0, err
	}
	n = min(max(int64(float64(n)*float64(busyTarget)/float64(max(first, time.Microsecond))), 10_000), 10_000_000)
	alone, together := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 3 {
		a, err := busy(n, 1)
		if err != nil {
			return 0, err
		}
		b, err := busy(n, w)
		if err != nil {
			return 0, err
		}
		alone, together = min(alone, a), min(together, b)
	}
	return parallelismOf(w, alone, together), nil
}

// parallelismOf is the parallelism that w queries at once taking together
// where one alone takes alone show: w × alone / together, rounded, within
// 2..w.
func parallelismOf(w int, alone, together time.Duration) int {
	return min(max(int(math.Round(float64(w)*float64(alone)/float64(max(together, time.Nanosecond)))), 2), w)
}
