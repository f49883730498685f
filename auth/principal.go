package auth

import (
	"context"
	"strconv"
)

// Principal is who a request comes from, as its credential says.
type Principal struct {
	// ID names the credential: "key:<uuid>" for an API key, "jwt:<sub>" for a
	// JWT. Logs and Job.created_by carry it; it is never a secret.
	ID string
	// Scopes are what the credential may do.
	Scopes ScopeSet
	// MerchantID, when set, binds the credential to this merchant's data.
	MerchantID *int32
	// BuyerID, when set, binds the credential to this buyer's orders.
	BuyerID *string
	// RateLimit is the credential's own limit in requests per second; 0
	// means the server's default.
	RateLimit float64
}

// Buyer is the buyer the principal is bound to, or "" when it is not bound
// (the store's buyer filters read "" as any buyer). It is nil-safe.
func (p *Principal) Buyer() string {
	if p == nil || p.BuyerID == nil {
		return ""
	}
	return *p.BuyerID
}

// Binding describes the principal's bindings for messages, or "" when it has
// none.
func (p *Principal) Binding() string {
	switch {
	case p.MerchantID != nil && p.BuyerID != nil:
		return "merchant_id " + strconv.Itoa(int(*p.MerchantID)) + " and buyer_id " + strconv.Quote(*p.BuyerID)
	case p.MerchantID != nil:
		return "merchant_id " + strconv.Itoa(int(*p.MerchantID))
	case p.BuyerID != nil:
		return "buyer_id " + strconv.Quote(*p.BuyerID)
	}
	return ""
}

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal that ctx carries, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
