package server

import (
	"context"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// defaultSettlementPageSize is the default limit of GET /settlements, as in
// the spec.
const defaultSettlementPageSize = 100

// ListSettlements implements GET /settlements.
func (s *Server) ListSettlements(ctx context.Context, req gen.ListSettlementsRequestObject) (gen.ListSettlementsResponseObject, error) {
	ctx = requestContext(ctx)
	p := req.Params
	q := store.SettlementQuery{Limit: defaultSettlementPageSize, MerchantID: p.MerchantID}
	if who := auth.FromContext(ctx); who != nil && who.MerchantID != nil {
		// A merchant-bound credential sees its merchant only: the filter is
		// part of the query.
		if p.MerchantID != nil && *p.MerchantID != *who.MerchantID {
			return gen.ListSettlements403JSONResponse{ForbiddenJSONResponse: forbidden(
				"the credential is bound to merchant_id %d and cannot read merchant_id %d", *who.MerchantID, *p.MerchantID)}, nil
		}
		q.MerchantID = who.MerchantID
	}
	if p.Limit != nil {
		q.Limit = int(*p.Limit)
	}
	if p.From != nil {
		q.From = &p.From.Time
	}
	if p.To != nil {
		q.To = &p.To.Time
	}
	if q.From != nil && q.To != nil && q.To.Before(*q.From) {
		return gen.ListSettlements400JSONResponse{BadRequestJSONResponse: badRequest(
			"query parameters: to (%s) must not be before from (%s)", p.To, p.From)}, nil
	}
	if p.Cursor != nil {
		after, err := decodeSettlementCursor(*p.Cursor)
		if err != nil {
			return gen.ListSettlements400JSONResponse{BadRequestJSONResponse: badRequest("query parameter cursor: %v", err)}, nil
		}
		q.After = &after
	}
	rows, more, err := s.store.ListSettlements(ctx, q)
	if err != nil {
		return nil, err
	}
	page := gen.SettlementPage{Items: make([]gen.Settlement, len(rows))}
	for i, r := range rows {
		page.Items[i] = settlementJSON(r)
	}
	if more {
		next := encodeSettlementCursor(rows[len(rows)-1].Key())
		page.NextCursor = &next
	}
	return gen.ListSettlements200JSONResponse{Body: page}, nil
}

// settlementJSON is the API view of a stored settlement.
func settlementJSON(r store.StoredSettlement) gen.Settlement {
	return gen.Settlement{
		MerchantID:  r.MerchantID,
		Date:        openapi_types.Date{Time: r.Date},
		GrossCents:  r.GrossCents,
		FeeCents:    r.FeeCents,
		NetCents:    r.NetCents,
		TxnCount:    r.TxnCount,
		JobID:       r.UniqueRunID,
		GeneratedAt: r.GeneratedAt.UTC(),
	}
}
