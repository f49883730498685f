package settlement

import (
	"cmp"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/ordersettle/ordersettle/store"
)

// dayKey identifies a merchant's day.
type dayKey struct {
	day      int32 // days since 1970-01-01 (UTC)
	merchant int32
}

// dayTotal is the running sum of a merchant's PAID transactions on a day.
type dayTotal struct {
	gross, fee, count int64
}

// dailyTotals merges the partial sums of a job's batches; the workers add
// to it concurrently. Its size is the number of (merchant, day) pairs with
// a PAID transaction, never the number of rows.
type dailyTotals struct {
	mu sync.Mutex
	m  map[dayKey]dayTotal
}

func newDailyTotals() *dailyTotals { return &dailyTotals{m: map[dayKey]dayTotal{}} }

// add merges one group of a batch.
func (d *dailyTotals) add(t store.DailyTotal) {
	if t.TxnCount == 0 {
		return // no PAID transaction: nothing to settle
	}
	k := dayKey{day: t.Day, merchant: t.MerchantID}
	d.mu.Lock()
	sum := d.m[k]
	sum.gross += t.GrossCents
	sum.fee += t.FeeCents
	sum.count += t.TxnCount
	d.m[k] = sum
	d.mu.Unlock()
}

// len is the number of settlements. Call it (and sorted) once every batch
// has been merged.
func (d *dailyTotals) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}

// compareKeys orders by day, then merchant, as integers: cmp.Compare never
// overflows, where subtracting two int32s (−2^31 − 1) would wrap.
func compareKeys(a, b dayKey) int {
	if c := cmp.Compare(a.day, b.day); c != 0 {
		return c
	}
	return cmp.Compare(a.merchant, b.merchant)
}

// sorted yields the settlements ordered by date, then merchant_id. Only the
// keys are sorted (once, here); rows are built one at a time as they are
// consumed, and the sequence can be read more than once.
func (d *dailyTotals) sorted() iter.Seq[store.Settlement] {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]dayKey, 0, len(d.m))
	for k := range d.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return func(yield func(store.Settlement) bool) {
		for _, k := range keys {
			s := d.m[k]
			row := store.Settlement{
				MerchantID: k.merchant,
				Date:       time.Unix(int64(k.day)*86400, 0).UTC(),
				GrossCents: s.gross,
				FeeCents:   s.fee,
				NetCents:   s.gross - s.fee,
				TxnCount:   s.count,
			}
			if !yield(row) {
				return
			}
		}
	}
}
