package server

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// Order list paging limits, as in the spec.
const defaultOrderPageSize = 20

// CreateOrder implements POST /orders, with or without an Idempotency-Key.
// The order committer places it in a batch with the orders that arrived
// alongside; the answer goes out once that batch is durable.
func (s *Server) CreateOrder(ctx context.Context, req gen.CreateOrderRequestObject) (gen.CreateOrderResponseObject, error) {
	ctx = requestContext(ctx)
	in := domain.NewOrder{ProductID: req.Body.ProductID, Quantity: req.Body.Quantity, BuyerID: req.Body.BuyerID}
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
	case errors.Is(err, domain.ErrProductNotFound):
		return gen.CreateOrder404JSONResponse{ProductNotFoundJSONResponse: productNotFound(in.ProductID)}, nil
	case errors.Is(err, domain.ErrOutOfStock):
		return gen.CreateOrder409JSONResponse{Body: apiError(gen.CodeOutOfStock,
			"product %d has not enough stock for quantity %d", in.ProductID, in.Quantity)}, nil
	case errors.Is(err, domain.ErrBuyerLimitExceeded):
		return gen.CreateOrder409JSONResponse{Body: apiError(gen.CodeBuyerLimitExceeded,
			"buyer %s would pass the per-buyer limit of product %d with quantity %d", in.BuyerID, in.ProductID, in.Quantity)}, nil
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
	o, err := s.store.GetOrder(ctx, req.ID, boundBuyer(ctx))
	if errors.Is(err, domain.ErrOrderNotFound) {
		return gen.GetOrder404JSONResponse{OrderNotFoundJSONResponse: orderNotFound(req.ID.String())}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetOrder200JSONResponse{Body: orderJSON(o)}, nil
}

// ListOrders implements GET /orders.
func (s *Server) ListOrders(ctx context.Context, req gen.ListOrdersRequestObject) (gen.ListOrdersResponseObject, error) {
	ctx = requestContext(ctx)
	q := store.OrderQuery{Limit: defaultOrderPageSize, BuyerID: boundBuyer(ctx)}
	p := req.Params
	if p.Limit != nil {
		q.Limit = int(*p.Limit)
	}
	if p.BuyerID != nil {
		if q.BuyerID != "" && q.BuyerID != *p.BuyerID {
			// Bound to another buyer: none of these orders is visible.
			return gen.ListOrders200JSONResponse{Body: gen.OrderList{Items: []gen.Order{}}}, nil
		}
		q.BuyerID = *p.BuyerID
	}
	if p.ProductID != nil {
		q.ProductID = *p.ProductID
	}
	if p.Status != nil {
		q.Status = string(*p.Status)
	}
	if p.Cursor != nil {
		after, err := decodeOrderCursor(*p.Cursor)
		if err != nil {
			return gen.ListOrders400JSONResponse{BadRequestJSONResponse: badRequest("query parameter cursor: %v", err)}, nil
		}
		q.After = &after
	}
	orders, more, err := s.store.ListOrders(ctx, q)
	if err != nil {
		return nil, err
	}
	list := gen.OrderList{Items: make([]gen.Order, len(orders))}
	for i, o := range orders {
		list.Items[i] = orderJSON(o)
	}
	if more {
		next := encodeOrderCursor(orders[len(orders)-1].Key())
		list.NextCursor = &next
	}
	return gen.ListOrders200JSONResponse{Body: list}, nil
}

// ConfirmOrder implements POST /orders/{id}/confirm.
func (s *Server) ConfirmOrder(ctx context.Context, req gen.ConfirmOrderRequestObject) (gen.ConfirmOrderResponseObject, error) {
	ctx = requestContext(ctx)
	o, err := s.orders.Confirm(ctx, req.ID, boundBuyer(ctx))
	switch {
	case err == nil:
		return gen.ConfirmOrder200JSONResponse{Body: orderJSON(o)}, nil
	case errors.Is(err, domain.ErrOrderNotFound):
		return gen.ConfirmOrder404JSONResponse{OrderNotFoundJSONResponse: orderNotFound(req.ID.String())}, nil
	case errors.Is(err, domain.ErrOrderExpired):
		return gen.ConfirmOrder409JSONResponse{Body: orderExpired(o)}, nil
	case errors.Is(err, domain.ErrOrderNotPending):
		return gen.ConfirmOrder409JSONResponse{Body: apiError(gen.CodeOrderNotPending,
			"order %s is %s and cannot be confirmed", req.ID, o.Status)}, nil
	default:
		return nil, err
	}
}

// CancelOrder implements POST /orders/{id}/cancel.
func (s *Server) CancelOrder(ctx context.Context, req gen.CancelOrderRequestObject) (gen.CancelOrderResponseObject, error) {
	ctx = requestContext(ctx)
	o, err := s.orders.Cancel(ctx, req.ID, boundBuyer(ctx))
	switch {
	case err == nil:
		return gen.CancelOrder200JSONResponse{Body: orderJSON(o)}, nil
	case errors.Is(err, domain.ErrOrderNotFound):
		return gen.CancelOrder404JSONResponse{OrderNotFoundJSONResponse: orderNotFound(req.ID.String())}, nil
	case errors.Is(err, domain.ErrOrderExpired):
		return gen.CancelOrder409JSONResponse{Body: orderExpired(o)}, nil
	default:
		return nil, err
	}
}

// boundBuyer is the buyer the request's credential is bound to, "" when
// it is bound to none. Every read or change of orders passes it to the
// store, which then finds only that buyer's orders (others are 404
// ORDER_NOT_FOUND, never revealing that they exist).
func boundBuyer(ctx context.Context) string { return auth.FromContext(ctx).Buyer() }

func orderNotFound(id string) gen.OrderNotFoundJSONResponse {
	return gen.OrderNotFoundJSONResponse{Body: apiError(gen.CodeOrderNotFound, "order %s not found", id)}
}

func orderExpired(o domain.Order) gen.Error {
	if o.ExpiresAt == nil {
		return apiError(gen.CodeOrderExpired, "order %s expired", o.ID)
	}
	return apiError(gen.CodeOrderExpired, "order %s expired at %s unconfirmed; its units go back to the stock",
		o.ID, o.ExpiresAt.UTC().Format(time.RFC3339Nano))
}

func badOrder(msg string) gen.CreateOrder400JSONResponse {
	return gen.CreateOrder400JSONResponse{BadRequestJSONResponse: badRequest("%s", msg)}
}

func orderJSON(o domain.Order) gen.Order {
	out := gen.Order{
		ID: o.ID, ProductID: o.ProductID, Quantity: o.Quantity, BuyerID: o.BuyerID,
		TotalAmountCents: o.TotalAmountCents, Status: gen.OrderStatus(o.Status),
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(),
	}
	if o.ExpiresAt != nil {
		t := o.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
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
