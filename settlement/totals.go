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
// to it concurrently, each group under the lock of its key's shard only, so
// that workers rarely wait for each other (a shuffled range sends every
// batch a group for nearly every merchant and day). Its size is the number
// of (merchant, day) pairs with a PAID transaction, never the number of
// rows.
type dailyTotals struct {
	shards [totalShards]totalShard
}

// totalShards is how many independently locked maps dailyTotals spreads its
// keys over (a power of two).
const totalShards = 64

// totalShard is one locked part of dailyTotals: its keys' sums in a slice,
// found through an index, so that adding to a known key is one map lookup.
type totalShard struct {
	mu   sync.Mutex
	idx  map[dayKey]int32
	sums []dayTotal
}

func newDailyTotals() *dailyTotals {
	d := &dailyTotals{}
	for i := range d.shards {
		d.shards[i].idx = map[dayKey]int32{}
	}
	return d
}

// shard is the shard that holds k.
func (d *dailyTotals) shard(k dayKey) *totalShard {
	h := uint32(k.merchant)*0x9E3779B1 ^ uint32(k.day)*0x85EBCA77
	return &d.shards[(h>>16)&(totalShards-1)]
}

// add merges one group of a batch.
func (d *dailyTotals) add(t store.DailyTotal) {
	if t.TxnCount == 0 {
		return // no PAID transaction: nothing to settle
	}
	k := dayKey{day: t.Day, merchant: t.MerchantID}
	sh := d.shard(k)
	sh.mu.Lock()
	i, ok := sh.idx[k]
	if !ok {
		i = int32(len(sh.sums))
		sh.idx[k] = i
		sh.sums = append(sh.sums, dayTotal{})
	}
	sum := &sh.sums[i]
	sum.gross += t.GrossCents
	sum.fee += t.FeeCents
	sum.count += t.TxnCount
	sh.mu.Unlock()
}

// get returns the sums of k.
func (d *dailyTotals) get(k dayKey) dayTotal {
	sh := d.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, ok := sh.idx[k]; ok {
		return sh.sums[i]
	}
	return dayTotal{}
}

// len is the number of settlements. Call it (and sorted) once every batch
// has been merged.
func (d *dailyTotals) len() int {
	n := 0
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		n += len(sh.sums)
		sh.mu.Unlock()
	}
	return n
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
	keys := make([]dayKey, 0, d.len())
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for k := range sh.idx {
			keys = append(keys, k)
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(keys, compareKeys)
	return func(yield func(store.Settlement) bool) {
		for _, k := range keys {
			s := d.get(k)
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
