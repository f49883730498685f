package server

import (
	"context"
	"errors"

	"github.com/ordersettle/ordersettle/gen"
)

// ListSettlements implements GET /settlements.
// TODO(settlements API): placeholder until the settlements API lands; never merged like this.
func (s *Server) ListSettlements(context.Context, gen.ListSettlementsRequestObject) (gen.ListSettlementsResponseObject, error) {
	return nil, errors.New("listing settlements is not implemented yet")
}
