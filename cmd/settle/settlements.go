package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/gen/client"
)

// setupSettlementsList is "settle settlements list": GET /settlements,
// following next_cursor.
func setupSettlementsList(fs *flag.FlagSet) action {
	from := fs.String("from", "", "first day, `YYYY-MM-DD` (UTC; default: the first stored)")
	to := fs.String("to", "", "last day, `YYYY-MM-DD` (UTC; default: the last stored)")
	merchant := fs.Int64("merchant", 0, "only this merchant's settlements (merchant `ID`)")
	limits := registerPaging(fs, "settlements", defaultSettlementsShow)
	return func(ctx context.Context, s *session, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		limit, err := limits.limit(fs)
		if err != nil {
			return err
		}
		var params client.ListSettlementsParams
		if isSet(fs, "from") {
			d, err := parseDate("from", *from)
			if err != nil {
				return err
			}
			params.From = &openapi_types.Date{Time: d}
		}
		if isSet(fs, "to") {
			d, err := parseDate("to", *to)
			if err != nil {
				return err
			}
			params.To = &openapi_types.Date{Time: d}
		}
		if params.From != nil && params.To != nil && params.To.Before(params.From.Time) {
			return badUsage("--to %s is before --from %s", *to, *from)
		}
		if isSet(fs, "merchant") {
			m, err := intInRange("merchant", *merchant, 1, math.MaxInt32)
			if err != nil {
				return err
			}
			params.MerchantID = &m
		}
		rows, next, err := collect(ctx, limit, maxSettlementsPage, func(ctx context.Context, size int32, cursor *string) ([]client.Settlement, *string, error) {
			p := params
			p.Limit, p.Cursor = &size, cursor
			r, err := s.api.ListSettlementsWithResponse(ctx, &p)
			page, err := result(s, r, err, http.StatusOK, func() *client.SettlementPage { return r.JSON200 })
			if err != nil {
				return nil, nil, err
			}
			return page.Items, page.NextCursor, nil
		})
		if err != nil {
			return err
		}
		if s.json {
			return printJSONValue(s.stdout, client.SettlementPage{Items: rows, NextCursor: next})
		}
		if err := writeSettlements(s.stdout, rows); err != nil {
			return err
		}
		s.noteMore(next, "settlements")
		return nil
	}
}

// writeSettlements writes settlements as a table, amounts in cents.
func writeSettlements(w io.Writer, rows []client.Settlement) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no settlements")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "DATE\tMERCHANT\tGROSS_CENTS\tFEE_CENTS\tNET_CENTS\tTXN_COUNT\tJOB ID\tGENERATED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Date, r.MerchantID, r.GrossCents, r.FeeCents,
			r.NetCents, r.TxnCount, r.JobID, r.GeneratedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
