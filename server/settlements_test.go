package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/gen/client"
)

// seedSettlementData inserts PAID transactions for merchants 1..8 over
// 2025-03-01..2025-03-20, merchant m paid on the days d with (m + d) % 3 != 0,
// so days and merchants have gaps.
func seedSettlementData(t *testing.T, h *harness) {
	t.Helper()
	_, err := h.store.DB().Exec(`
		INSERT INTO transactions (merchant_id, amount_cents, fee_cents, status, paid_at)
		SELECT m, 1000 * m + d, m + d, 'PAID', timestamp '2025-03-01' + (d - 1) * interval '1 day' + m * interval '1 minute'
		FROM generate_series(1, 8) AS m, generate_series(1, 20) AS d
		WHERE (m + d) % 3 <> 0`)
	if err != nil {
		t.Fatal(err)
	}
}

// tableSettlements reads the settlements table with SQL, ordered by date then
// merchant, optionally filtered, in the API's shape.
func tableSettlements(t *testing.T, h *harness, from, to string, merchant int32) []client.Settlement {
	t.Helper()
	var rows []struct {
		MerchantID  int32     `db:"merchant_id"`
		Date        time.Time `db:"date"`
		Gross       int64     `db:"gross_cents"`
		Fee         int64     `db:"fee_cents"`
		Net         int64     `db:"net_cents"`
		TxnCount    int64     `db:"txn_count"`
		RunID       uuid.UUID `db:"unique_run_id"`
		GeneratedAt time.Time `db:"generated_at"`
	}
	err := h.store.DB().Select(&rows, `SELECT merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id, generated_at
		FROM settlements
		WHERE ($1 = '' OR date >= $1::date) AND ($2 = '' OR date <= $2::date) AND ($3 = 0 OR merchant_id = $3)
		ORDER BY date, merchant_id`, from, to, merchant)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]client.Settlement, len(rows))
	for i, r := range rows {
		out[i] = client.Settlement{
			MerchantID: r.MerchantID, Date: openapi_types.Date{Time: r.Date}, GrossCents: r.Gross, FeeCents: r.Fee,
			NetCents: r.Net, TxnCount: r.TxnCount, JobID: r.RunID, GeneratedAt: r.GeneratedAt.UTC(),
		}
	}
	return out
}

// walkSettlements follows next_cursor from the first page of params.
func walkSettlements(t *testing.T, h *harness, params client.ListSettlementsParams) (items []client.Settlement, pages int) {
	t.Helper()
	for {
		pages++
		if pages > 1000 {
			t.Fatal("the walk does not end")
		}
		resp, err := h.client.ListSettlementsWithResponse(context.Background(), &params)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("list settlements %+v: %v, status %d: %s", params, err, resp.StatusCode(), resp.Body)
		}
		items = append(items, resp.JSON200.Items...)
		if resp.JSON200.NextCursor == nil {
			return items, pages
		}
		if params.Limit != nil && len(resp.JSON200.Items) != int(*params.Limit) {
			t.Errorf("a page with next_cursor holds %d settlements, not the limit %d", len(resp.JSON200.Items), *params.Limit)
		}
		params.Cursor = resp.JSON200.NextCursor
	}
}

// sameSettlements compares two lists field by field (times by instant).
func sameSettlements(got, want []client.Settlement) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d settlements, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.MerchantID != w.MerchantID || g.Date.String() != w.Date.String() || g.GrossCents != w.GrossCents || g.FeeCents != w.FeeCents ||
			g.NetCents != w.NetCents || g.TxnCount != w.TxnCount || g.JobID != w.JobID || !g.GeneratedAt.Equal(w.GeneratedAt) {
			return fmt.Errorf("item %d = %+v, want %+v", i, g, w)
		}
	}
	return nil
}

// TestSettlementPagesEqualTheTable: walking GET /settlements page by page,
// with and without each filter and at several page sizes, gives exactly the
// table's rows in order, and each row names the job that wrote it.
func TestSettlementPagesEqualTheTable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedSettlementData(t, h)
	// Two overlapping jobs: the second rewrites 03-08..03-12 under its own id.
	first := waitJobStatus(t, h, createJob(t, h, "2025-03-01", "2025-03-12").JobID)
	second := waitJobStatus(t, h, createJob(t, h, "2025-03-08", "2025-03-20").JobID)
	if first.Status != client.JobCompleted || second.Status != client.JobCompleted {
		t.Fatalf("jobs ended %s and %s", first.Status, second.Status)
	}
	all := tableSettlements(t, h, "", "", 0)
	if len(all) < 100 {
		t.Fatalf("only %d settlements were stored", len(all))
	}
	owners := map[uuid.UUID]int{}
	for _, s := range all {
		owners[s.JobID]++
	}
	if owners[first.JobID] == 0 || owners[second.JobID] == 0 || len(owners) != 2 {
		t.Errorf("rows by job = %v, want rows of both jobs only", owners)
	}
	if int64(owners[second.JobID]) != *second.Settlements {
		t.Errorf("the second job stored %d rows but says settlements = %d", owners[second.JobID], *second.Settlements)
	}

	limits := []int32{1, 7, 13, 1000}
	tests := []struct {
		from, to string
		merchant int32
	}{
		{"", "", 0},
		{"2025-03-05", "", 0},
		{"", "2025-03-09", 0},
		{"2025-03-05", "2025-03-09", 0},
		{"2025-03-07", "2025-03-07", 0},
		{"", "", 4},
		{"2025-03-02", "2025-03-15", 4},
		{"2025-03-02", "2025-03-15", 99}, // no such merchant
		{"2026-01-01", "", 0},            // after every row
	}
	for _, tt := range tests {
		want := tableSettlements(t, h, tt.from, tt.to, tt.merchant)
		for _, limit := range limits {
			t.Run(fmt.Sprintf("from=%s,to=%s,merchant=%d,limit=%d", tt.from, tt.to, tt.merchant, limit), func(t *testing.T) {
				params := client.ListSettlementsParams{Limit: &limit}
				if tt.from != "" {
					d := date(tt.from)
					params.From = &d
				}
				if tt.to != "" {
					d := date(tt.to)
					params.To = &d
				}
				if tt.merchant != 0 {
					params.MerchantID = &tt.merchant
				}
				got, pages := walkSettlements(t, h, params)
				if err := sameSettlements(got, want); err != nil {
					t.Error(err)
				}
				if wantPages := max(1, (len(want)+int(limit)-1)/int(limit)); pages != wantPages {
					t.Errorf("%d pages for %d rows at %d a page, want %d", pages, len(want), limit, wantPages)
				}
			})
		}
	}

	// The default page is 100.
	resp, err := h.client.ListSettlementsWithResponse(context.Background(), nil)
	if err != nil || resp.JSON200 == nil || len(resp.JSON200.Items) != 100 || resp.JSON200.NextCursor == nil {
		t.Errorf("default page: %v, status %d, %d items", err, resp.StatusCode(), len(resp.JSON200.Items))
	}
}

// TestSettlementsBadQueries: the 400s of GET /settlements.
func TestSettlementsBadQueries(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, q := range []string{
		"from=2025-03-02&to=2025-03-01", "from=2025-02-30", "to=yesterday", "from=2025-01-01T00:00:00Z",
		"merchant_id=0", "merchant_id=-1", "merchant_id=2147483648", "merchant_id=x",
		"limit=0", "limit=1001", "limit=ten", "cursor=",
	} {
		status, body := h.do(http.MethodGet, "/settlements?"+q, nil, nil)
		t.Run(q, func(t *testing.T) { wantError(t, status, body, http.StatusBadRequest, client.CodeBadRequest) })
	}
	// from == to is one day, not an error.
	if status, body := h.do(http.MethodGet, "/settlements?from=2025-03-01&to=2025-03-01", nil, nil); status != http.StatusOK {
		t.Errorf("from == to: %d %s", status, body)
	}
}
