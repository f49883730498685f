package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/store"
)

// TestPingDoesNotWaitForThePool: with every connection of the pool taken,
// a query waits (here until its deadline) but Ping answers over its own
// connection.
func TestPingDoesNotWaitForThePool(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), dbtest.NewDSN(t), store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	tx, err := st.DB().Begin() // holds the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := st.DB().ExecContext(ctx, `SELECT 1`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a query on the saturated pool: %v; want it to wait until its deadline", err)
	}

	for range 3 { // the connection is kept and reused
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := st.Ping(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Ping with the pool saturated: %v", err)
		}
	}
	if inUse := st.DB().Stats().InUse; inUse != 1 {
		t.Errorf("the pool has %d connections in use; Ping must not take one", inUse)
	}
}
