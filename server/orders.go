package server

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// CreateOrder implements POST /orders, with or without an Idempotency-Key.
// The order committer places it in a batch with the orders that arrived
// alongside; the answer goes out once that batch is durable.
func (s *Server) CreateOrder(ctx context.Context, req gen.CreateOrderRequestObject) (gen.CreateOrderResponseObject, error) {
	ctx = requestContext(ctx)
	in := store.NewOrder{ProductID: req.Body.ProductID, Quantity: req.Body.Quantity, BuyerID: req.Body.BuyerID}
	if isBlank(in.BuyerID) {
		return badOrder("request body: buyer_id: must not be blank"), nil
	}
	if p := auth.FromContext(ctx); p != nil && p.BuyerID != nil && *p.BuyerID != in.BuyerID {
		return gen.CreateOrder403JSONResponse{ForbiddenJSONResponse: forbidden(
			"the credential is bound to buyer_id %q and cannot order for another buyer", *p.BuyerID)}, nil
	}

	key := ""
	if k := req.Params.IdempotencyKey; k != nil {
		if *k == "" {
			return badOrder(`header parameter "Idempotency-Key": must not be empty`), nil
		}
		key = *k
	}
	order, err := s.orders.Place(ctx, key, in)

	switch {
	case err == nil:
		return gen.CreateOrder200JSONResponse{Body: orderJSON(order)}, nil
	case errors.Is(err, store.ErrProductNotFound):
		return gen.CreateOrder404JSONResponse{ProductNotFoundJSONResponse: productNotFound(in.ProductID)}, nil
	case errors.Is(err, store.ErrOutOfStock):
		return gen.CreateOrder409JSONResponse{Body: apiError(gen.CodeOutOfStock,
			"product %d has not enough stock for quantity %d", in.ProductID, in.Quantity)}, nil
	case errors.Is(err, store.ErrIdempotencyKeyInUse):
		return gen.CreateOrder409JSONResponse{Body: apiError(gen.CodeIdempotencyKeyInUse,
			"a request with this Idempotency-Key is still in progress; retry shortly")}, nil
	case errors.Is(err, store.ErrIdempotencyKeyReused):
		return gen.CreateOrder422JSONResponse{Body: apiError(gen.CodeIdempotencyKeyReused,
			"this Idempotency-Key was used with a different request; use a new key")}, nil
	default:
		return nil, err
	}
}

// GetOrder implements GET /orders/{id}.
func (s *Server) GetOrder(ctx context.Context, req gen.GetOrderRequestObject) (gen.GetOrderResponseObject, error) {
	ctx = requestContext(ctx)
	// A buyer-bound credential sees its buyer's orders only; the others
	// are not found, never revealing that they exist.
	o, err := s.store.GetOrder(ctx, req.ID, auth.FromContext(ctx).Buyer())
	if errors.Is(err, store.ErrOrderNotFound) {
		return gen.GetOrder404JSONResponse{Body: apiError(gen.CodeOrderNotFound, "order %s not found", req.ID)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetOrder200JSONResponse{Body: orderJSON(o)}, nil
}

func badOrder(msg string) gen.CreateOrder400JSONResponse {
	return gen.CreateOrder400JSONResponse{BadRequestJSONResponse: badRequest("%s", msg)}
}

func orderJSON(o store.Order) gen.Order {
	return gen.Order{
		ID: o.ID, ProductID: o.ProductID, Quantity: o.Quantity, BuyerID: o.BuyerID,
		TotalAmountCents: o.TotalAmountCents, Status: gen.OrderStatus(o.Status), CreatedAt: o.CreatedAt.UTC(),
	}
}

// isBlank reports whether s is empty or only Unicode white space. The spec's
// pattern catches ASCII white space; this also catches the rest.
func isBlank(s string) bool {
	return strings.TrimFunc(s, unicode.IsSpace) == ""
}
