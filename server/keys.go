package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// defaultKeyPageSize is the default limit of GET /keys, as in the spec.
const defaultKeyPageSize = 20

// CreateKey implements POST /keys. The new key can grant only scopes the
// caller holds, and a bound caller only creates keys bound like itself (its
// binding is inherited when the request names none); a caller with a rate
// limit of its own creates keys limited as much or more. The token is in this
// answer only; the database keeps its hash.
func (s *Server) CreateKey(ctx context.Context, req gen.CreateKeyRequestObject) (gen.CreateKeyResponseObject, error) {
	ctx = requestContext(ctx)
	caller := auth.FromContext(ctx)
	b := req.Body
	if isBlank(b.Name) {
		return gen.CreateKey400JSONResponse{BadRequestJSONResponse: badRequest("request body: name: must not be blank")}, nil
	}
	if b.BuyerID != nil && isBlank(*b.BuyerID) {
		return gen.CreateKey400JSONResponse{BadRequestJSONResponse: badRequest("request body: buyer_id: must not be blank")}, nil
	}
	if b.ExpiresAt != nil && !b.ExpiresAt.After(time.Now()) {
		return gen.CreateKey400JSONResponse{BadRequestJSONResponse: badRequest("request body: expires_at: must be in the future")}, nil
	}
	names := make([]string, len(b.Scopes))
	for i, sc := range b.Scopes {
		names[i] = string(sc)
	}
	scopes, err := auth.ParseScopes(names)
	if err != nil {
		return gen.CreateKey400JSONResponse{BadRequestJSONResponse: badRequest("request body: scopes: %v", err)}, nil
	}
	in := store.NewAPIKey{
		Name: b.Name, Scopes: scopes, MerchantID: b.MerchantID, BuyerID: b.BuyerID,
		RateLimit: b.RateLimit, ExpiresAt: b.ExpiresAt,
	}
	if caller != nil {
		if missing := scopes &^ caller.Scopes; missing != 0 {
			return gen.CreateKey403JSONResponse{ForbiddenJSONResponse: forbidden(
				"a key can only grant scopes the credential holds; it lacks %s", missing)}, nil
		}
		if m := caller.MerchantID; m != nil {
			if in.MerchantID != nil && *in.MerchantID != *m {
				return gen.CreateKey403JSONResponse{ForbiddenJSONResponse: forbidden(
					"the credential is bound to merchant_id %d and can only create keys bound to it", *m)}, nil
			}
			in.MerchantID = m
		}
		if lim := caller.RateLimit; lim > 0 { // nor a higher rate than its own
			if in.RateLimit != nil && float64(*in.RateLimit) > lim {
				return gen.CreateKey403JSONResponse{ForbiddenJSONResponse: forbidden(
					"the credential's rate limit is %g requests/s; it cannot create a key with a higher one", lim)}, nil
			}
			if in.RateLimit == nil {
				r := int32(lim)
				in.RateLimit = &r
			}
		}
		if buyer := caller.BuyerID; buyer != nil {
			if in.BuyerID != nil && *in.BuyerID != *buyer {
				return gen.CreateKey403JSONResponse{ForbiddenJSONResponse: forbidden(
					"the credential is bound to buyer_id %q and can only create keys bound to it", *buyer)}, nil
			}
			in.BuyerID = buyer
		}
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return nil, fmt.Errorf("make up an API key: %w", err)
	}
	in.Hash = hash
	k, err := s.store.CreateAPIKey(ctx, in)
	if err != nil {
		return nil, err
	}
	s.keys.Remember(k) // usable here at once; other servers within a refresh
	s.log.InfoContext(ctx, "API key created", "key", "key:"+k.ID.String(), "name", k.Name, "scopes", k.Scopes.String())
	v := keyJSON(k)
	return gen.CreateKey201JSONResponse{Body: gen.CreatedAPIKey{
		ID: v.ID, Name: v.Name, Scopes: v.Scopes, MerchantID: v.MerchantID, BuyerID: v.BuyerID,
		ExpiresAt: v.ExpiresAt, RateLimit: v.RateLimit, CreatedAt: v.CreatedAt,
		LastUsedAt: v.LastUsedAt, RevokedAt: v.RevokedAt, Token: token,
	}}, nil
}

// ListKeys implements GET /keys. A bound caller sees only the keys with its
// binding.
func (s *Server) ListKeys(ctx context.Context, req gen.ListKeysRequestObject) (gen.ListKeysResponseObject, error) {
	ctx = requestContext(ctx)
	q := store.APIKeyQuery{Limit: defaultKeyPageSize}
	if req.Params.Limit != nil {
		q.Limit = int(*req.Params.Limit)
	}
	if caller := auth.FromContext(ctx); caller != nil {
		q.MerchantID, q.BuyerID = caller.MerchantID, caller.BuyerID
	}
	if req.Params.Cursor != nil {
		after, err := decodeJobCursor(*req.Params.Cursor) // same shape: created_at, id
		if err != nil {
			return gen.ListKeys400JSONResponse{BadRequestJSONResponse: badRequest("query parameter cursor: %v", err)}, nil
		}
		q.After = &store.APIKeyCursor{CreatedAt: after.CreatedAt, ID: after.ID}
	}
	keys, more, err := s.store.ListAPIKeys(ctx, q)
	if err != nil {
		return nil, err
	}
	page := gen.APIKeyPage{Items: make([]gen.APIKey, len(keys))}
	for i, k := range keys {
		page.Items[i] = keyJSON(k)
	}
	if more {
		last := keys[len(keys)-1]
		next := encodeJobCursor(domain.JobKey{CreatedAt: last.CreatedAt, ID: last.ID})
		page.NextCursor = &next
	}
	return gen.ListKeys200JSONResponse{Body: page}, nil
}

// RevokeKey implements DELETE /keys/{id}: revoked here at once, on other
// servers within their cache's refresh. A bound caller can only revoke keys
// with its binding (others are not found).
func (s *Server) RevokeKey(ctx context.Context, req gen.RevokeKeyRequestObject) (gen.RevokeKeyResponseObject, error) {
	ctx = requestContext(ctx)
	notFound := gen.RevokeKey404JSONResponse{Body: apiError(gen.CodeKeyNotFound, "key %s not found", req.ID)}
	k, err := s.store.GetAPIKey(ctx, req.ID)
	if errors.Is(err, store.ErrKeyNotFound) {
		return notFound, nil
	}
	if err != nil {
		return nil, err
	}
	if caller := auth.FromContext(ctx); caller != nil && !sameBinding(caller, k) {
		return notFound, nil
	}
	k, err = s.store.RevokeAPIKey(ctx, req.ID)
	if errors.Is(err, store.ErrKeyNotFound) {
		return notFound, nil
	}
	if err != nil {
		return nil, err
	}
	s.keys.Remember(k) // out of this server's cache at once
	s.log.InfoContext(ctx, "API key revoked", "key", "key:"+k.ID.String())
	return gen.RevokeKey204Response{}, nil
}

// sameBinding reports whether a bound caller may manage k: an unbound
// caller manages every key, a bound one those bound exactly like it.
func sameBinding(caller *auth.Principal, k auth.Key) bool {
	if caller.MerchantID == nil && caller.BuyerID == nil {
		return true
	}
	eqInt := func(a, b *int32) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	eqStr := func(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	return eqInt(caller.MerchantID, k.MerchantID) && eqStr(caller.BuyerID, k.BuyerID)
}

// keyJSON is the API view of a key: never its hash.
func keyJSON(k auth.Key) gen.APIKey {
	scopes := k.Scopes.List()
	out := gen.APIKey{
		ID: k.ID, Name: k.Name, Scopes: make([]gen.Scope, len(scopes)),
		MerchantID: k.MerchantID, BuyerID: k.BuyerID, RateLimit: k.RateLimit,
		ExpiresAt: utcPtr(k.ExpiresAt), CreatedAt: k.CreatedAt.UTC(),
		LastUsedAt: utcPtr(k.LastUsedAt), RevokedAt: utcPtr(k.RevokedAt),
	}
	for i, sc := range scopes {
		out.Scopes[i] = gen.Scope(sc)
	}
	return out
}
