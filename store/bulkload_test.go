package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/seed"
	"github.com/ordersettle/ordersettle/store"
)

// TestReplaceTransactions: the rows land exactly (ids, amounts, statuses,
// microsecond timestamps), the indexes are back as they were, the rows are
// all-visible, and an interrupted replace leaves the old rows.
func TestReplaceTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := dbtest.New(t)
	indexes := func() []string {
		var defs []string
		if err := st.DB().Select(&defs, `SELECT indexdef FROM pg_indexes WHERE tablename = 'transactions' ORDER BY indexname`); err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := indexes()

	from, _ := time.Parse(time.DateOnly, "2025-01-01")
	cfg := seed.Config{N: 5000, From: from, To: from.AddDate(0, 0, 2), Merchants: 7, Seed: 3, Order: seed.Shuffled}
	var want []store.Transaction
	g := seed.New(cfg)
	next := func() (store.Transaction, bool) {
		r, ok := g.Next()
		if ok {
			want = append(want, r)
		}
		return r, ok
	}
	// Something to replace first.
	if _, err := st.CopyTransactions(ctx, seed.New(seed.Config{N: 10, From: from, To: from, Merchants: 1, Seed: 99}).Next, nil); err != nil {
		t.Fatal(err)
	}
	n, err := st.ReplaceTransactions(ctx, next, nil)
	if err != nil || n != cfg.N {
		t.Fatalf("replace: %d rows, %v", n, err)
	}
	var got []store.Transaction
	rows, err := st.DB().Query(`SELECT id, merchant_id, amount_cents, fee_cents, status, paid_at FROM transactions ORDER BY ctid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r store.Transaction
		if err := rows.Scan(&r.ID, &r.MerchantID, &r.AmountCents, &r.FeeCents, &r.Status, &r.PaidAt); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows stored, want %d", len(got), len(want))
	}
	for i := range want {
		if g, w := got[i], want[i]; g.ID != w.ID || g.MerchantID != w.MerchantID || g.AmountCents != w.AmountCents ||
			g.FeeCents != w.FeeCents || g.Status != w.Status || !g.PaidAt.Equal(w.PaidAt) {
			t.Fatalf("row %d stored as %+v, want %+v (in load order)", i, g, w)
		}
	}
	if after := indexes(); !slices.Equal(after, before) {
		t.Fatalf("indexes after the load:\n%q\nwant\n%q", after, before)
	}
	// COPY FREEZE marked every page all-visible (index-only scans need it).
	var pages, allVisible int64
	if _, err := st.DB().Exec(`ANALYZE transactions`); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().QueryRow(`SELECT relpages, relallvisible FROM pg_class WHERE oid = 'transactions'::regclass`).
		Scan(&pages, &allVisible); err != nil {
		t.Fatal(err)
	}
	if pages == 0 || allVisible != pages {
		t.Errorf("%d of %d pages all-visible after the load", allVisible, pages)
	}

	// Interrupted: the earlier rows stay.
	cctx, cancel := context.WithCancel(ctx)
	i := 0
	_, err = st.ReplaceTransactions(cctx, func() (store.Transaction, bool) {
		i++
		if i == 3000 {
			cancel()
		}
		return seed.New(seed.Config{N: 1, From: from, To: from, Merchants: 1, Seed: uint64(i)}).Next()
	}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted replace: %v, want context.Canceled", err)
	}
	var count int64
	if err := st.DB().Get(&count, `SELECT count(*) FROM transactions`); err != nil || count != cfg.N {
		t.Fatalf("after an interrupted replace: %d rows (%v), want the %d earlier ones", count, err, cfg.N)
	}
}
