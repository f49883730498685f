package store

import (
	"context"
	"fmt"
	"time"
)

// StoredSettlement is a row of the settlements table as the settlements API
// shows it: the settlement, the run that wrote it (UniqueRunID) and when.
type StoredSettlement struct {
	Settlement
	GeneratedAt time.Time `db:"generated_at"` // when the writing run completed, UTC
}

// SettlementKey is a settlement's place in the order ListSettlements returns:
// by date, then merchant_id. A page's last key is where the next page starts.
type SettlementKey struct {
	Date       time.Time // UTC midnight
	MerchantID int32
}

// Key returns the settlement's place in the ListSettlements order.
func (s Settlement) Key() SettlementKey {
	return SettlementKey{Date: s.Date, MerchantID: s.MerchantID}
}

// SettlementQuery asks ListSettlements for one page. Every filter is
// optional.
type SettlementQuery struct {
	From, To   *time.Time     // first and last day, both included
	MerchantID *int32         // only this merchant
	After      *SettlementKey // start after this key (exclusive); nil starts at the beginning
	Limit      int            // the most settlements on the page (at least 1)
}

// ListSettlements returns one page of stored settlements ordered by date,
// then merchant_id, and whether more follow it. Paging is by key (never
// OFFSET), so every page costs the same: without a merchant the page is a
// range of the (date, merchant_id) index, with one a range of the UNIQUE
// (merchant_id, date) index (see migration 000009).
func (s *Store) ListSettlements(ctx context.Context, q SettlementQuery) (rows []StoredSettlement, more bool, err error) {
	if q.Limit < 1 {
		return nil, false, fmt.Errorf("list settlements: limit %d is below 1", q.Limit)
	}
	query, args := settlementListQuery(q)
	rows = []StoredSettlement{}
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, false, fmt.Errorf("list settlements: %w", translate(err))
	}
	if len(rows) > q.Limit {
		return rows[:q.Limit], true, nil
	}
	return rows, false, nil
}

// settlementListQuery is the statement of ListSettlements: q's page and one
// row more, which tells whether another page follows.
func settlementListQuery(q SettlementQuery) (string, []any) {
	var w where
	if q.From != nil {
		w.add("date >= ?::date", q.From.Format(time.DateOnly))
	}
	if q.To != nil {
		w.add("date <= ?::date", q.To.Format(time.DateOnly))
	}
	if q.MerchantID != nil {
		w.add("merchant_id = ?", *q.MerchantID)
	}
	if q.After != nil {
		if m := q.MerchantID; m != nil {
			// One merchant m: (date, m) > (d, km) is a condition on the date
			// alone, which keeps the (merchant_id, date) index's range tight.
			op := ">"
			if *m > q.After.MerchantID {
				op = ">="
			}
			w.add("date "+op+" ?::date", q.After.Date.Format(time.DateOnly))
		} else {
			w.add("(date, merchant_id) > (?::date, ?::integer)", q.After.Date.Format(time.DateOnly), q.After.MerchantID)
		}
	}
	limit := w.param(q.Limit + 1)
	return `SELECT merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id, generated_at
		FROM settlements ` + w.String() + `
		ORDER BY date, merchant_id LIMIT ` + limit, w.args
}
