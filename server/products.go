package server

import (
	"context"
	"errors"

	"github.com/oapi-codegen/nullable"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// Product list paging limits, as in the spec.
const defaultProductPageSize = 50

// CreateProduct implements POST /products.
func (s *Server) CreateProduct(ctx context.Context, req gen.CreateProductRequestObject) (gen.CreateProductResponseObject, error) {
	ctx = requestContext(ctx)
	if isBlank(req.Body.Name) {
		return gen.CreateProduct400JSONResponse{BadRequestJSONResponse: badRequest("request body: name: must not be blank")}, nil
	}
	p, err := s.store.CreateProduct(ctx, domain.NewProduct{
		Name: req.Body.Name, Stock: req.Body.Stock, PriceCents: req.Body.PriceCents,
		MaxPerBuyer: req.Body.MaxPerBuyer, HoldSeconds: req.Body.HoldSeconds,
	})
	if err != nil {
		return nil, err
	}
	return gen.CreateProduct201JSONResponse{Body: productJSON(p)}, nil
}

// GetProduct implements GET /products/{id}.
func (s *Server) GetProduct(ctx context.Context, req gen.GetProductRequestObject) (gen.GetProductResponseObject, error) {
	ctx = requestContext(ctx)
	p, err := s.store.GetProduct(ctx, req.ID)
	if errors.Is(err, domain.ErrProductNotFound) {
		return gen.GetProduct404JSONResponse{ProductNotFoundJSONResponse: productNotFound(req.ID)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetProduct200JSONResponse{Body: productJSON(p)}, nil
}

// ListProducts implements GET /products with keyset pagination.
func (s *Server) ListProducts(ctx context.Context, req gen.ListProductsRequestObject) (gen.ListProductsResponseObject, error) {
	ctx = requestContext(ctx)
	limit := defaultProductPageSize
	if req.Params.Limit != nil {
		limit = int(*req.Params.Limit)
	}
	var after int32
	if req.Params.AfterID != nil {
		after = *req.Params.AfterID
	}
	products, more, err := s.store.ListProducts(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	page := gen.ProductPage{Items: make([]gen.Product, len(products))}
	for i, p := range products {
		page.Items[i] = productJSON(p)
	}
	if more {
		last := products[len(products)-1].ID
		page.NextAfterID = &last
	}
	return gen.ListProducts200JSONResponse{Body: page}, nil
}

// PatchProduct implements PATCH /products/{id}: a JSON merge patch, sent
// as application/merge-patch+json or application/json.
func (s *Server) PatchProduct(ctx context.Context, req gen.PatchProductRequestObject) (gen.PatchProductResponseObject, error) {
	ctx = requestContext(ctx)
	body := req.ApplicationMergePatchPlusJSONBody
	if body == nil {
		body = req.JSONBody
	}
	if body == nil {
		return gen.PatchProduct400JSONResponse{BadRequestJSONResponse: badRequest(
			"request body: send a JSON merge patch as application/merge-patch+json or application/json")}, nil
	}
	if body.Name != nil && isBlank(*body.Name) {
		return gen.PatchProduct400JSONResponse{BadRequestJSONResponse: badRequest("request body: name: must not be blank")}, nil
	}
	patch := store.ProductPatch{Name: body.Name, PriceCents: body.PriceCents}
	patch.SetMaxPerBuyer, patch.MaxPerBuyer = mergeField(body.MaxPerBuyer)
	patch.SetHoldSeconds, patch.HoldSeconds = mergeField(body.HoldSeconds)
	p, err := s.store.PatchProduct(ctx, req.ID, patch)
	if errors.Is(err, domain.ErrProductNotFound) {
		return gen.PatchProduct404JSONResponse{ProductNotFoundJSONResponse: productNotFound(req.ID)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.PatchProduct200JSONResponse{Body: productJSON(p)}, nil
}

// mergeField reads a nullable field of a merge patch: whether it was sent,
// and its value (nil for null).
func mergeField(f nullable.Nullable[int32]) (set bool, value *int32) {
	if !f.IsSpecified() {
		return false, nil
	}
	if f.IsNull() {
		return true, nil
	}
	v := f.MustGet()
	return true, &v
}

// RestockProduct implements POST /products/{id}/restock.
func (s *Server) RestockProduct(ctx context.Context, req gen.RestockProductRequestObject) (gen.RestockProductResponseObject, error) {
	ctx = requestContext(ctx)
	p, err := s.store.RestockProduct(ctx, req.ID, req.Body.Quantity)
	switch {
	case err == nil:
		return gen.RestockProduct200JSONResponse{Body: productJSON(p)}, nil
	case errors.Is(err, domain.ErrProductNotFound):
		return gen.RestockProduct404JSONResponse{ProductNotFoundJSONResponse: productNotFound(req.ID)}, nil
	case errors.Is(err, domain.ErrStockOverflow):
		return gen.RestockProduct409JSONResponse{Body: apiError(gen.CodeStockOverflow,
			"restocking product %d by %d would take its units (stock plus pending and completed orders) past 2147483647",
			req.ID, req.Body.Quantity)}, nil
	default:
		return nil, err
	}
}

func productNotFound(id int32) gen.ProductNotFoundJSONResponse {
	return gen.ProductNotFoundJSONResponse{Body: apiError(gen.CodeProductNotFound, "product %d not found", id)}
}

func productJSON(p domain.Product) gen.Product {
	return gen.Product{
		ID: p.ID, Name: p.Name, Stock: p.Stock, PriceCents: p.PriceCents, CreatedAt: p.CreatedAt.UTC(),
		MaxPerBuyer: p.MaxPerBuyer, HoldSeconds: p.HoldSeconds,
	}
}
