package ordercommit_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// start runs a committer over st until t ends (or until the returned stop
// is called, which waits for Run to return).
func start(t *testing.T, st ordercommit.Store, cfg ordercommit.Config) (c *ordercommit.Committer, stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testkit.Quiet
	}
	c = ordercommit.New(st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// orderRows counts the orders of a product and their units.
func orderRows(t *testing.T, st *store.Store, id int32) (n int, units int64) {
	t.Helper()
	if err := st.DB().QueryRow(`SELECT count(*), coalesce(sum(quantity), 0) FROM orders WHERE product_id = $1`, id).
		Scan(&n, &units); err != nil {
		t.Fatal(err)
	}
	return n, units
}

// lockWaiters returns the backends of st's database that wait for a lock.
func lockWaiters(t *testing.T, st *store.Store) []int {
	t.Helper()
	var pids []int
	if err := st.DB().Select(&pids, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' ORDER BY pid`); err != nil {
		t.Fatal(err)
	}
	return pids
}

// placed is the outcome of a Place call made in the background.
type placed struct {
	order store.Order
	err   error
}

// placeAsync calls Place in a goroutine; the outcome arrives on the channel.
func placeAsync(ctx context.Context, c *ordercommit.Committer, key string, in store.NewOrder) <-chan placed {
	ch := make(chan placed, 1)
	go func() {
		o, err := c.Place(ctx, key, in)
		ch <- placed{o, err}
	}()
	return ch
}

// metric reads a counter or histogram of c: its value, or for a histogram
// its sample sum and count. labels select one series of a vector.
func metric(t *testing.T, c prometheus.Collector, name string, labels ...string) (value float64, count uint64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Histogram != nil:
				return m.Histogram.GetSampleSum(), m.Histogram.GetSampleCount()
			case m.Counter != nil:
				return m.Counter.GetValue(), 0
			case m.Gauge != nil:
				return m.Gauge.GetValue(), 0
			}
		}
	}
	t.Fatalf("no metric %s %v", name, labels)
	return 0, 0
}

func isErr(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}
