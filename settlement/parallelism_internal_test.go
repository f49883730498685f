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

// TestMeasureParallelism: the measure finds a database's cores up to
// Workers, at least 2 (one more is let pass: the machine running the tests
// is busy), and Config.Parallelism overrides it.
func TestMeasureParallelism(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ workers, cores, want int }{
		{8, 1, 2}, // never below 2
		{8, 2, 2},
		{8, 4, 4},
		{8, 8, 8},
		{8, 32, 8}, // never above Workers
		{2, 1, 2},
		{1, 4, 1},
	} {
		st := coresStore{Store: &store.Store{}, cores: make(chan struct{}, tc.cores)}
		e := New(st, Config{Workers: tc.workers, Logger: testkit.Quiet})
		if got := e.batchesAtOnce(context.Background()); got < tc.want || got > min(tc.want+1, tc.workers) {
			t.Errorf("%d workers, %d cores: %d at once, want %d", tc.workers, tc.cores, got, tc.want)
		}
	}
	fixed := New(coresStore{Store: &store.Store{}, cores: make(chan struct{}, 2)}, Config{Workers: 8, Parallelism: 5, Logger: testkit.Quiet})
	if got := fixed.batchesAtOnce(context.Background()); got != 5 {
		t.Errorf("Parallelism 5: %d at once", got)
	}
}
