package server

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
)

// CreateOrder implements POST /orders, with or without an Idempotency-Key.
// The order committer places it in a batch with the orders that arrived
// alongside; the answer goes out once that batch is durable.
func (s *Server) CreateOrder(ctx context.Context, req gen.CreateOrderRequestObject) (gen.CreateOrderResponseObject, error) {
	ctx = requestContext(ctx)
	in := domain.NewOrder{ProductID: req.Body.ProductID, Quantity: req.Body.Quantity, BuyerID: req.Body.BuyerID}
	if isBlank(in.BuyerID) {
		return badOrder("request body: buyer_id: must not be blank"), nil
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
	case errors.Is(err, domain.ErrProductNotFound):
		return gen.CreateOrder404JSONResponse{ProductNotFoundJSONResponse: productNotFound(in.ProductID)}, nil
	case errors.Is(err, domain.ErrOutOfStock):
		return gen.CreateOrder409JSONResponse{Body: apiError(gen.CodeOutOfStock,
			"product %d has not enough stock for quantity %d", in.ProductID, in.Quantity)}, nil
	case errors.Is(err, domain.ErrIdempotencyKeyInUse):
		return gen.CreateOrder409JSONResponse{Body: apiError(gen.CodeIdempotencyKeyInUse,
			"a request with this Idempotency-Key is still in progress; retry shortly")}, nil
	case errors.Is(err, domain.ErrIdempotencyKeyReused):
		return gen.CreateOrder422JSONResponse{Body: apiError(gen.CodeIdempotencyKeyReused,
			"this Idempotency-Key was used with a different request; use a new key")}, nil
	default:
		return nil, err
	}
}

// GetOrder implements GET /orders/{id}.
func (s *Server) GetOrder(ctx context.Context, req gen.GetOrderRequestObject) (gen.GetOrderResponseObject, error) {
	ctx = requestContext(ctx)
	o, err := s.store.GetOrder(ctx, req.ID)
	if errors.Is(err, domain.ErrOrderNotFound) {
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

func orderJSON(o domain.Order) gen.Order {
	return gen.Order{
		ID: o.ID, ProductID: o.ProductID, Quantity: o.Quantity, BuyerID: o.BuyerID,
		TotalAmountCents: o.TotalAmountCents, Status: gen.OrderStatus(o.Status), CreatedAt: o.CreatedAt.UTC(),
	}
}

// isBlank reports whether s is empty or only white space as the spec's
// pattern means it: ECMA-262's \s (see isECMASpace). The validator applies
// that pattern too; this check keeps the rule when the spec is not in front.
func isBlank(s string) bool {
	return strings.TrimFunc(s, isECMASpace) == ""
}

// isECMASpace reports whether r is white space to ECMA-262's \s: its
// WhiteSpace (tab, vertical tab, form feed, space, no-break space, U+FEFF
// and the Zs category) and LineTerminator (LF, CR, U+2028, U+2029). Unlike
// unicode.IsSpace it includes U+FEFF and excludes U+0085.
func isECMASpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u2028', '\u2029', '\ufeff':
		return true
	}
	return unicode.Is(unicode.Zs, r)
}
