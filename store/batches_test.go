package store_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/store"
)

// TestAggregateBatchKeysAtTheEdges: a batch's groups carry their merchant
// and day through the key packed in SQL, for merchants at both ends of the
// INTEGER range and days before 1970 as after, and their sums; by index
// and by block.
func TestAggregateBatchKeysAtTheEdges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := dbtest.New(t)
	days := []time.Time{
		time.Date(1901, 12, 14, 1, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 6, 30, 12, 0, 0, 0, time.UTC),
	}
	merchants := []int32{math.MinInt32, -1, 0, 1, math.MaxInt32}
	var rows []store.Transaction
	for _, d := range days {
		for _, m := range merchants {
			rows = append(rows,
				store.Transaction{ID: uuid.New(), MerchantID: m, AmountCents: math.MaxInt32, FeeCents: 7, Status: store.TxnPaid, PaidAt: d},
				store.Transaction{ID: uuid.New(), MerchantID: m, AmountCents: math.MaxInt32, FeeCents: 5, Status: store.TxnPaid, PaidAt: d},
				store.Transaction{ID: uuid.New(), MerchantID: m, AmountCents: 3, FeeCents: 1, Status: store.TxnFailed, PaidAt: d})
		}
	}
	i := 0
	if _, err := st.CopyTransactions(ctx, func() (store.Transaction, bool) {
		if i == len(rows) {
			return store.Transaction{}, false
		}
		i++
		return rows[i-1], true
	}, nil); err != nil {
		t.Fatal(err)
	}
	snap, err := st.OpenSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	from, to := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, b := range []store.Batch{{From: from, To: to}, {From: from, To: to, ByBlock: true}} {
		type key struct{ merchant, day int32 }
		got := map[key]store.DailyTotal{}
		if err := st.AggregateBatch(ctx, snap.ID, b, func(d store.DailyTotal) { got[key{d.MerchantID, d.Day}] = d }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(days)*len(merchants) {
			t.Fatalf("byBlock=%v: %d groups, want %d: %v", b.ByBlock, len(got), len(days)*len(merchants), got)
		}
		for _, d := range days {
			day := int32(d.Unix() / 86400)
			if d.Unix() < 0 && d.Unix()%86400 != 0 {
				day-- // floor, as paid_at::date does
			}
			for _, m := range merchants {
				g, ok := got[key{m, day}]
				want := store.DailyTotal{MerchantID: m, Day: day, Scanned: 3, TxnCount: 2, GrossCents: 2 * math.MaxInt32, FeeCents: 12}
				if !ok || g != want {
					t.Errorf("byBlock=%v: merchant %d on %s: %+v, want %+v", b.ByBlock, m, d.Format(time.DateOnly), g, want)
				}
			}
		}
	}
}
