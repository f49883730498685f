package ordercommit_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/pgproxy"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
)

// proxiedStore opens a store on a fresh database through a pgproxy.CommitCutter,
// with the claim lease given, and a direct store on the same database for
// the test's own checks and locks.
func proxiedStore(t *testing.T, lease time.Duration) (proxy *pgproxy.CommitCutter, through, direct *store.Store) {
	t.Helper()
	dsn := dbtest.NewDSN(t)
	proxy, pdsn := pgproxy.NewCommitCutter(t, dsn)
	var err error
	through, err = store.Open(context.Background(), pdsn, store.Options{ClaimLease: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = through.Close() })
	direct, err = store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	return proxy, through, direct
}

// TestRetryServedWhenClaimLapses: a keyed order whose batch's COMMIT is
// lost and whose key cannot be released (the database went away with it)
// fails with a KeyHeldError whose RetryAfter is the claim's short lease,
// not minutes; a retry before then is refused as in flight, and a retry
// after it is served, placing the order exactly once.
func TestRetryServedWhenClaimLapses(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Second
	proxy, st, direct := proxiedStore(t, lease)
	c, _ := start(t, st, ordercommit.Config{Committers: 1})
	p := testkit.CreateProduct(t, direct, "p", 10, 100).ID
	o := store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "a"}

	proxy.Arm(pgproxy.CutBeforeCommitThenDown)
	_, err := c.Place(context.Background(), "held", o)
	var held *ordercommit.KeyHeldError
	if !errors.As(err, &held) || !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v, want a KeyHeldError over ErrUnavailable", err)
	}
	if wait := held.RetryAfter(); wait > lease+time.Second || wait < time.Second {
		t.Errorf("RetryAfter = %v, want about the claim lease %v", wait, lease)
	}
	proxy.GoUp()
	if _, err := c.Place(context.Background(), "held", o); !errors.Is(err, domain.ErrIdempotencyKeyInUse) {
		t.Errorf("a retry before the claim lapses: %v, want ErrIdempotencyKeyInUse", err)
	}
	time.Sleep(held.RetryAfter())
	if _, err := c.Place(context.Background(), "held", o); err != nil {
		t.Fatalf("a retry once Retry-After has passed: %v", err)
	}
	if n, _ := orderRows(t, direct, p); n != 1 || testkit.StockOf(t, direct, p) != 9 {
		t.Errorf("%d orders, stock %d; want 1, 9", n, testkit.StockOf(t, direct, p))
	}
}

// TestCleanupBoundedAfterDeadline: a keyed order whose request times out
// while the database stalls returns within its deadline plus the cleanup
// timeout, though its key's release cannot reach the database; the key
// is then held until the claim lapses, and the error says so.
func TestCleanupBoundedAfterDeadline(t *testing.T) {
	t.Parallel()
	proxy, st, direct := proxiedStore(t, 3*time.Second)
	const cleanup = 300 * time.Millisecond
	c, _ := start(t, st, ordercommit.Config{Committers: 1, CleanupTimeout: cleanup})
	p := testkit.CreateProduct(t, direct, "p", 10, 100).ID
	release := testkit.LockProduct(t, direct, p)

	const deadline = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	started := time.Now()
	done := placeAsync(ctx, c, "stalled", store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "a"})
	testkit.Eventually(t, "the batch to wait for the lock", 10*time.Second, func() bool { return len(lockWaiters(t, direct)) == 1 })
	proxy.Stall()
	r := <-done
	took := time.Since(started)
	proxy.Unstall()
	release()
	var held *ordercommit.KeyHeldError
	if !errors.As(r.err, &held) || !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a KeyHeldError over the deadline", r.err)
	}
	if limit := deadline + cleanup + 200*time.Millisecond; took > limit {
		t.Errorf("Place returned after %v, want at most %v (deadline + cleanup)", took, limit)
	}
}

// TestAmbiguousCommitLogged: a batch whose COMMIT answer is lost is logged
// as AMBIGUOUS (its orders may all be placed), never as "none placed".
func TestAmbiguousCommitLogged(t *testing.T) {
	t.Parallel()
	proxy, st, direct := proxiedStore(t, 0)
	var logs testkit.SyncBuffer
	c, _ := start(t, st, ordercommit.Config{Committers: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	p := testkit.CreateProduct(t, direct, "p", 10, 100).ID

	proxy.Arm(pgproxy.CutAfterCommit)
	if _, err := c.Place(context.Background(), "", store.NewOrder{ProductID: p, Quantity: 1, BuyerID: "a"}); !errors.Is(err, domain.ErrCommitUnknown) {
		t.Fatalf("err = %v, want ErrCommitUnknown", err)
	}
	if n, _ := orderRows(t, direct, p); n != 1 {
		t.Fatalf("%d orders; the cut COMMIT had committed, want 1", n)
	}
	out := logs.String()
	if !strings.Contains(out, "AMBIGUOUS") || strings.Contains(out, "none of its orders was placed") {
		t.Errorf("log of a lost COMMIT answer:\n%s", out)
	}
}
