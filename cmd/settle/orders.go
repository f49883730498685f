package main

import (
	"context"
	"flag"
	"math"
	"net/http"

	"github.com/ordersettle/ordersettle/gen/client"
)

// setupOrdersCreate is "settle orders create": POST /orders.
func setupOrdersCreate(fs *flag.FlagSet) action {
	product := fs.Int64("product", 0, "`ID` of the product to order (required)")
	quantity := fs.Int64("quantity", 0, "units to order, `N` in 1..10000 (required)")
	buyer := fs.String("buyer", "", "the buyer's `ID`, 1..255 characters (required)")
	key := fs.String("idempotency-key", "", "`KEY` (1..255 characters) that makes a retry return the first outcome")
	return func(ctx context.Context, s *session, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if !isSet(fs, "product") {
			return badUsage("--product is required")
		}
		productID, err := intInRange("product", *product, 1, math.MaxInt32)
		if err != nil {
			return err
		}
		if !isSet(fs, "quantity") {
			return badUsage("--quantity is required")
		}
		qty, err := intInRange("quantity", *quantity, 1, 10000)
		if err != nil {
			return err
		}
		if err := checkText("buyer", *buyer, 255); err != nil {
			return err
		}
		var params client.CreateOrderParams
		if isSet(fs, "idempotency-key") {
			if n := len([]rune(*key)); n < 1 || n > 255 {
				return badUsage("--idempotency-key must have 1..255 characters, not %d", n)
			}
			params.IdempotencyKey = key
		}

		r, err := s.api.CreateOrderWithResponse(ctx, &params, client.NewOrder{
			ProductID: productID,
			Quantity:  qty,
			BuyerID:   *buyer,
		})
		order, err := result(s, r, err, http.StatusOK, func() *client.Order { return r.JSON200 })
		if err != nil {
			return err
		}
		if s.json {
			return printJSON(s.stdout, r.Body)
		}
		return writeOrder(s.stdout, order)
	}
}

// setupOrdersGet is "settle orders get ID": GET /orders/{id}.
func setupOrdersGet(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		id, err := oneID("order", args)
		if err != nil {
			return err
		}
		r, err := s.api.GetOrderWithResponse(ctx, id)
		order, err := result(s, r, err, http.StatusOK, func() *client.Order { return r.JSON200 })
		if err != nil {
			return err
		}
		if s.json {
			return printJSON(s.stdout, r.Body)
		}
		return writeOrder(s.stdout, order)
	}
}
