package settlement

import (
	"context"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/store"
)

// coresStore's busy queries run on cores cores: each holds one for n × 100
// ns; more queries at once than cores wait for one.
type coresStore struct {
	Store
	cores chan struct{}
}

func (s coresStore) Busy(ctx context.Context, n int64) error {
	select {
	case s.cores <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.cores }()
	time.Sleep(time.Duration(n) * 100 * time.Nanosecond)
	return nil
}

// TestParallelismOf: w queries at once on c cores take w/c times as long
// as one alone when w > c, as long when w <= c; the parallelism read from
// the two times is c, at least 2, at most w.
func TestParallelismOf(t *testing.T) {
	const alone = 10 * time.Millisecond
	for _, tc := range []struct{ w, cores, want int }{
		{8, 1, 2}, {8, 2, 2}, {8, 3, 3}, {8, 4, 4}, {8, 6, 6}, {8, 8, 8}, {8, 32, 8}, {16, 4, 4}, {3, 1, 2},
	} {
		together := alone * time.Duration(max(tc.w, tc.cores)) / time.Duration(tc.cores)
		if got := parallelismOf(tc.w, alone, together); got != tc.want {
			t.Errorf("%d at once on %d cores (%v): %d, want %d", tc.w, tc.cores, together, got, tc.want)
		}
	}
	if got := parallelismOf(8, alone, 0); got != 8 {
		t.Errorf("no time together: %d, want 8", got)
	}
}

// TestMeasureParallelism: the measure, run against a database whose cores
// are a semaphore, tells few cores from many (its times are wall times on
// a machine busy with other tests, so only that), needs no query when
// Workers is 2 or fewer, and Config.Parallelism overrides it.
func TestMeasureParallelism(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ workers, cores, lo, hi int }{
		{8, 2, 2, 3},
		{8, 32, 6, 8},
		{2, 1, 2, 2},
		{1, 4, 1, 1},
	} {
		st := coresStore{Store: &store.Store{}, cores: make(chan struct{}, tc.cores)}
		e := New(st, Config{Workers: tc.workers, Logger: testkit.Quiet})
		if got := e.batchesAtOnce(context.Background()); got < tc.lo || got > tc.hi {
			t.Errorf("%d workers, %d cores: %d at once, want %d to %d", tc.workers, tc.cores, got, tc.lo, tc.hi)
		}
	}
	fixed := New(coresStore{Store: &store.Store{}, cores: make(chan struct{}, 2)}, Config{Workers: 8, Parallelism: 5, Logger: testkit.Quiet})
	if got := fixed.batchesAtOnce(context.Background()); got != 5 {
		t.Errorf("Parallelism 5: %d at once", got)
	}
}
