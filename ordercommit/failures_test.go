package ordercommit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/pgproxy"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
)

// terminateWaiter ends the backend of the batch that waits for the held
// lock, as an administrator or a failover would: the batch's connection
// breaks before its COMMIT.
func terminateWaiter(t *testing.T, st *store.Store) {
	t.Helper()
	var pids []int
	testkit.Eventually(t, "a batch to wait for the lock", 10*time.Second, func() bool { pids = lockWaiters(t, st); return len(pids) == 1 })
	if _, err := st.DB().Exec(`SELECT pg_terminate_backend($1)`, pids[0]); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the backend to end", 10*time.Second, func() bool { return len(lockWaiters(t, st)) == 0 })
}

// TestRetryAfterConnectionLoss: a batch whose connection breaks before
// COMMIT is sent has committed nothing, so it is run again, and its orders
// are placed exactly once.
func TestRetryAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 1})
	p := testkit.CreateProduct(t, st, "p", 10, 100).ID

	release := testkit.LockProduct(t, st, p)
	a := placeAsync(context.Background(), c, "retried", store.NewOrder{ProductID: p, Quantity: 2, BuyerID: "a"})
	terminateWaiter(t, st)
	testkit.Eventually(t, "the batch to run again", 10*time.Second, func() bool { return len(lockWaiters(t, st)) == 1 })
	release()

	if r := <-a; r.err != nil {
		t.Fatalf("after a retry: %v", r.err)
	}
	if n, units := orderRows(t, st, p); n != 1 || units != 2 || testkit.StockOf(t, st, p) != 8 {
		t.Errorf("%d orders of %d units, stock %d; want 1 of 2, stock 8", n, units, testkit.StockOf(t, st, p))
	}
	if retries, _ := metric(t, c, "ordersettle_order_batch_retries_total"); retries != 1 {
		t.Errorf("retries = %v, want 1", retries)
	}
}

// TestBatchFails: a batch that fails on every attempt answers none of its
// orders with success, commits nothing, frees their keys, and later batches
// are fine.
func TestBatchFails(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 1})
	p := testkit.CreateProduct(t, st, "p", 10, 100).ID
	o := store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "a"}

	release, blocker := hold(t, st, c)
	queued := queue(t, c, []string{"fails-1", "", "fails-2"}, o, o, o)
	// The queued orders form one batch, which waits for p: fail every
	// attempt of it.
	releaseP := testkit.LockProduct(t, st, p)
	release()
	if b := <-blocker; b.err != nil {
		t.Fatal(b.err)
	}
	for range ordercommit.MaxAttempts {
		terminateWaiter(t, st)
	}
	for i, ch := range queued {
		if r := <-ch; !errors.Is(r.err, domain.ErrUnavailable) {
			t.Errorf("order %d: %v, want ErrUnavailable", i, r.err)
		}
	}
	releaseP()
	if n, _ := orderRows(t, st, p); n != 0 || testkit.StockOf(t, st, p) != 10 {
		t.Fatalf("%d orders, stock %d after a failed batch; want 0, 10", n, testkit.StockOf(t, st, p))
	}
	for _, key := range []string{"fails-1", "fails-2", "fresh"} {
		if _, err := c.Place(context.Background(), key, o); err != nil {
			t.Errorf("key %s after the failed batch: %v", key, err)
		}
	}
	if n, _ := orderRows(t, st, p); n != 3 {
		t.Errorf("%d orders, want 3", n)
	}
	if failed, _ := metric(t, c, "ordersettle_orders_total", "outcome", "failed"); failed != 3 {
		t.Errorf("failed orders counted: %v, want 3", failed)
	}
}

// TestPoisonOrder: an order the database refuses fails alone; the orders
// that shared its batch are placed, in arrival order.
func TestPoisonOrder(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	c, _ := start(t, st, ordercommit.Config{Committers: 1})
	if _, err := st.DB().Exec(`ALTER TABLE orders ADD CONSTRAINT no_poison CHECK (buyer_id <> 'poison')`); err != nil {
		t.Fatal(err)
	}
	p := testkit.CreateProduct(t, st, "p", 2, 100).ID

	release, blocker := hold(t, st, c)
	got := queue(t, c, []string{"", "poison-key", "", ""},
		store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "first"},
		store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "poison"},
		store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "second"},
		store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "third"},
	)
	release()
	if b := <-blocker; b.err != nil {
		t.Fatal(b.err)
	}
	first, poison, second, third := <-got[0], <-got[1], <-got[2], <-got[3]
	if first.err != nil || second.err != nil || !errors.Is(third.err, domain.ErrOutOfStock) {
		t.Errorf("the others: %v, %v, %v; want placed, placed, out of stock", first.err, second.err, third.err)
	}
	if poison.err == nil || errors.Is(poison.err, domain.ErrUnavailable) {
		t.Errorf("the poison order: %v, want the database's refusal", poison.err)
	}
	if n, _ := orderRows(t, st, p); n != 2 || testkit.StockOf(t, st, p) != 0 {
		t.Errorf("%d orders, stock %d; want 2, 0", n, testkit.StockOf(t, st, p))
	}
	var keys int
	if err := st.DB().QueryRow(`SELECT count(*) FROM idempotency_keys WHERE key = 'poison-key'`).Scan(&keys); err != nil || keys != 0 {
		t.Errorf("the poison order's key is still held (%d rows, %v)", keys, err)
	}
}

// TestCommitOutcomeUnknown: when the connection breaks after COMMIT was
// sent, the batch is never run again (it may have committed: running it
// again could place its orders twice); its orders fail with ErrUnavailable.
// With a key, a retry then gets the truth: the order if it committed, a
// fresh placement if it did not.
func TestCommitOutcomeUnknown(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		mode      int32
		committed bool
	}{
		"committed": {pgproxy.CutAfterCommit, true},
		"lost":      {pgproxy.CutBeforeCommit, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proxy, dsn := pgproxy.NewCommitCutter(t, dbtest.NewDSN(t))
			st, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			c, _ := start(t, st, ordercommit.Config{Committers: 1})
			p := testkit.CreateProduct(t, st, "p", 10, 100).ID
			o := store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "a"}

			proxy.Arm(tc.mode)
			_, err = c.Place(context.Background(), "unknown", o)
			<-proxy.Fired()
			if !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, domain.ErrCommitUnknown) {
				t.Fatalf("err = %v, want ErrUnavailable with ErrCommitUnknown", err)
			}
			if retries, _ := metric(t, c, "ordersettle_order_batch_retries_total"); retries != 0 {
				t.Errorf("a batch of unknown outcome was run again (%v retries)", retries)
			}
			want := 0
			if tc.committed {
				want = 1
			}
			if n, _ := orderRows(t, st, p); n != want {
				t.Fatalf("%d orders, want %d", n, want)
			}

			again, err := c.Place(context.Background(), "unknown", o)
			if err != nil {
				t.Fatalf("retry with the key: %v", err)
			}
			if n, _ := orderRows(t, st, p); n != 1 || testkit.StockOf(t, st, p) != 9 {
				t.Errorf("after the retry: %d orders, stock %d; want 1, 9", n, testkit.StockOf(t, st, p))
			}
			var stored string
			if err := st.DB().QueryRow(`SELECT id FROM orders WHERE product_id = $1`, p).Scan(&stored); err != nil || stored != again.ID.String() {
				t.Errorf("the retry answered order %s, the database holds %s (%v)", again.ID, stored, err)
			}
		})
	}
}
