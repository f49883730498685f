package seed

import (
	"testing"
	"time"
)

func TestPermutationIsABijection(t *testing.T) {
	for _, n := range []int64{0, 1, 2, 3, 5, 16, 17, 1000, 4099} {
		p := newPermutation(n, 42)
		seen := make([]bool, n)
		for i := range n {
			v := p.at(i)
			if v < 0 || v >= n || seen[v] {
				t.Fatalf("n=%d: at(%d) = %d, out of range or repeated", n, i, v)
			}
			seen[v] = true
		}
	}
}

// TestOrdersGiveTheSameRows: both orders emit the same rows; the time order
// has paid_at non-decreasing, the shuffled one is far from it.
func TestOrdersGiveTheSameRows(t *testing.T) {
	cfg := Config{N: 20000, From: day(t, "2025-01-01"), To: day(t, "2025-01-31"), Merchants: 50, Seed: 7}
	byTime := New(cfg)
	cfg.Order = Shuffled
	shuffled := New(cfg)

	rows := map[[16]byte]time.Time{}
	var last time.Time
	for {
		r, ok := byTime.Next()
		if !ok {
			break
		}
		if r.PaidAt.Before(last) {
			t.Fatalf("time order: %v after %v", r.PaidAt, last)
		}
		if r.PaidAt.Before(cfg.From) || !r.PaidAt.Before(cfg.To.AddDate(0, 0, 1)) {
			t.Fatalf("paid_at %v outside the range", r.PaidAt)
		}
		if r.MerchantID < 1 || r.MerchantID > int32(cfg.Merchants) {
			t.Fatalf("merchant %d outside 1..%d", r.MerchantID, cfg.Merchants)
		}
		last = r.PaidAt
		rows[r.ID] = r.PaidAt
	}
	if len(rows) != int(cfg.N) {
		t.Fatalf("%d distinct ids for %d rows", len(rows), cfg.N)
	}
	descents := 0
	last = time.Time{}
	for {
		r, ok := shuffled.Next()
		if !ok {
			break
		}
		at, found := rows[r.ID]
		if !found || !at.Equal(r.PaidAt) {
			t.Fatalf("shuffled row %s is not a row of the time order", r.ID)
		}
		delete(rows, r.ID)
		if r.PaidAt.Before(last) {
			descents++
		}
		last = r.PaidAt
	}
	if len(rows) != 0 {
		t.Fatalf("the shuffled order missed %d rows", len(rows))
	}
	// A random order descends about half the time; time order never does.
	if descents < int(cfg.N)*4/10 {
		t.Errorf("only %d of %d steps go back in time: not shuffled", descents, cfg.N)
	}
}

func TestSameSeedSameRows(t *testing.T) {
	cfg := Config{N: 100, From: day(t, "2025-01-01"), To: day(t, "2025-01-01"), Merchants: 3, Seed: 1}
	a, b := New(cfg), New(cfg)
	for range cfg.N {
		x, _ := a.Next()
		y, _ := b.Next()
		if x != y {
			t.Fatalf("%+v != %+v", x, y)
		}
	}
	if _, ok := a.Next(); ok {
		t.Fatal("more than N rows")
	}
}

func TestParseOrder(t *testing.T) {
	for _, s := range []string{"time", "shuffled"} {
		if o, err := ParseOrder(s); err != nil || string(o) != s {
			t.Errorf("ParseOrder(%q) = %q, %v", s, o, err)
		}
	}
	if _, err := ParseOrder("random"); err == nil {
		t.Error("ParseOrder(random) succeeded")
	}
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
