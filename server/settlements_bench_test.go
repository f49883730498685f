package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
)

// BenchmarkSettlementPages walks GET /settlements page by page over 200,000
// settlements (1,000 merchants × 200 days; pages of 1,000) and compares the
// cost of its last pages with its first ones, next to the same walk done
// with LIMIT/OFFSET in SQL, the baseline: a keyset page costs the same
// wherever it is, an OFFSET page grows with its depth.
func BenchmarkSettlementPages(b *testing.B) {
	const merchants, days, pageSize, edge = 1000, 200, 1000, 10 // edge: pages timed at each end
	for range b.N {
		h := newHarness(b)
		ctx := context.Background()
		db := h.store.DB()
		if _, err := db.Exec(`INSERT INTO settlements (merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id)
			SELECT m, date '2024-01-01' + d, 1000 + m, 30, 970 + m, 1 + m % 7, '5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a'
			FROM generate_series(1, $1) AS m, generate_series(0, $2 - 1) AS d`, merchants, days); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(`VACUUM ANALYZE settlements`); err != nil {
			b.Fatal(err)
		}
		api, err := client.NewClientWithResponses(h.url, client.WithHTTPClient(&http.Client{}), client.WithRequestEditorFn(bearer(h.token)))
		if err != nil {
			b.Fatal(err)
		}

		// The API: follow next_cursor to the end, timing each page.
		limit := int32(pageSize)
		params := client.ListSettlementsParams{Limit: &limit}
		var viaCursor []time.Duration
		rows := 0
		for {
			t0 := time.Now()
			page, err := api.ListSettlementsWithResponse(ctx, &params)
			if err != nil || page.JSON200 == nil {
				b.Fatalf("page %d: %v %s", len(viaCursor), err, page.Body)
			}
			viaCursor = append(viaCursor, time.Since(t0))
			rows += len(page.JSON200.Items)
			if page.JSON200.NextCursor == nil {
				break
			}
			params.Cursor = page.JSON200.NextCursor
		}
		if rows != merchants*days {
			b.Fatalf("the walk saw %d settlements, want %d", rows, merchants*days)
		}

		// The baseline: the same pages with OFFSET, straight in SQL (no HTTP
		// or JSON, which only flatters it).
		var offset []time.Duration
		for p := range len(viaCursor) {
			t0 := time.Now()
			r, err := db.Query(`SELECT merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id, generated_at
				FROM settlements ORDER BY date, merchant_id LIMIT $1 OFFSET $2`, pageSize, p*pageSize)
			if err != nil {
				b.Fatal(err)
			}
			for r.Next() {
			}
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
			offset = append(offset, time.Since(t0))
		}

		first, last := mean(viaCursor[:edge]), mean(viaCursor[len(viaCursor)-edge:])
		oFirst, oLast := mean(offset[:edge]), mean(offset[len(offset)-edge:])
		fmt.Printf("\n%d settlements in %d pages of %d:\n"+
			"  GET /settlements (cursor, over HTTP): first %d pages %v/page, last %d %v/page: last/first %.2fx\n"+
			"  OFFSET in SQL (baseline):             first %d pages %v/page, last %d %v/page: last/first %.2fx\n"+
			"  last pages, OFFSET / cursor: %.2fx\n",
			rows, len(viaCursor), pageSize,
			edge, first.Round(10*time.Microsecond), edge, last.Round(10*time.Microsecond), ratio(last, first),
			edge, oFirst.Round(10*time.Microsecond), edge, oLast.Round(10*time.Microsecond), ratio(oLast, oFirst),
			ratio(oLast, last))
		b.ReportMetric(ratio(last, first), "x-cursor-last/first")
		b.ReportMetric(ratio(oLast, oFirst), "x-offset-last/first")
		b.ReportMetric(float64(last.Microseconds()), "cursor-last-µs/page")
	}
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
