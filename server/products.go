package server

import (
	"context"
	"errors"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
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

func productNotFound(id int32) gen.ProductNotFoundJSONResponse {
	return gen.ProductNotFoundJSONResponse{Body: apiError(gen.CodeProductNotFound, "product %d not found", id)}
}

func productJSON(p domain.Product) gen.Product {
	return gen.Product{
		ID: p.ID, Name: p.Name, Stock: p.Stock, PriceCents: p.PriceCents, CreatedAt: p.CreatedAt.UTC(),
	}
}
