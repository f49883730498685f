package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWTOptions configure a JWTVerifier.
type JWTOptions struct {
	// JWKSURL is where the identity provider publishes its signing keys.
	JWKSURL string
	// Issuer must equal the token's iss claim.
	Issuer string
	// Audience must be among the token's aud claim.
	Audience string
	// UnknownKIDRefresh is the least time between two fetches of the JWK Set
	// caused by tokens with an unknown kid (default 10 s).
	UnknownKIDRefresh time.Duration
	// Refresh is how often the JWK Set is fetched anyway (default 15 min).
	Refresh time.Duration
	// Logger receives fetch failures; nil means slog.Default().
	Logger *slog.Logger
}

// JWTLeeway is the clock skew allowed on exp and nbf.
const JWTLeeway = 60 * time.Second

// jwtAlgorithms are the only signature algorithms accepted: none, HS* (the
// public key used as an HMAC secret) and everything else are refused.
var jwtAlgorithms = []string{"RS256", "ES256"}

// JWTVerifier verifies JWTs signed by the keys of a JWK Set, fetched on first
// use and cached; a token with an unknown kid makes it fetch the set again,
// at most once per UnknownKIDRefresh. While the set cannot be fetched every
// token is refused.
type JWTVerifier struct {
	opts   JWTOptions
	log    *slog.Logger
	parser *jwt.Parser
	ctx    context.Context // ends the key set's background refresh

	mu      sync.Mutex
	keys    keyfunc.Keyfunc // nil until first use
	refetch *rate.Limiter   // fetches for unknown kids
}

// jwtClaims are the claims read from a token.
type jwtClaims struct {
	jwt.RegisteredClaims
	Scope      string   `json:"scope"`
	MerchantID *float64 `json:"merchant_id"`
	BuyerID    *string  `json:"buyer_id"`
}

// NewJWTVerifier returns a verifier for opts; it fetches nothing yet. ctx
// ends the key set's background refresh.
func NewJWTVerifier(ctx context.Context, opts JWTOptions) (*JWTVerifier, error) {
	if opts.JWKSURL == "" || opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("a JWK Set URL, an issuer and an audience are all required")
	}
	if opts.UnknownKIDRefresh <= 0 {
		opts.UnknownKIDRefresh = 10 * time.Second
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 15 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &JWTVerifier{
		opts: opts,
		log:  opts.Logger,
		ctx:  ctx,
		parser: jwt.NewParser(
			jwt.WithValidMethods(jwtAlgorithms),
			jwt.WithIssuer(opts.Issuer),
			jwt.WithAudience(opts.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(JWTLeeway),
		),
		refetch: rate.NewLimiter(rate.Every(opts.UnknownKIDRefresh), 1),
	}, nil
}

// keySet returns the key set, creating it (and fetching it for the first
// time) on first use.
func (v *JWTVerifier) keySet() (keyfunc.Keyfunc, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys != nil {
		return v.keys, nil
	}
	url := v.opts.JWKSURL
	k, err := keyfunc.NewDefaultOverrideCtx(v.ctx, []string{url}, keyfunc.Override{
		HTTPTimeout:     5 * time.Second,
		RefreshInterval: v.opts.Refresh,
		// Verify gates unknown-kid fetches with its own limiter, which never
		// makes a request wait; this one lets every gated fetch through.
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				v.log.Warn("fetching the JWK Set failed; JWTs are refused until it succeeds", "url", url, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	v.keys = k
	return k, nil
}

// knownKID reports whether the cached key set holds kid, without fetching.
func knownKID(ctx context.Context, k keyfunc.Keyfunc, kid string) bool {
	all, err := k.Storage().KeyReadAll(ctx)
	if err != nil {
		return false
	}
	for _, j := range all {
		if j.Marshal().KID == kid {
			return true
		}
	}
	return false
}

// Verify returns the principal of the JWT token, or an error wrapping
// ErrInvalidCredential (the reason, never the token) when the signature,
// algorithm, issuer, audience, expiry or not-before time is wrong.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	keys, err := v.keySet()
	if err != nil {
		return nil, fmt.Errorf("%w: JWK Set unavailable: %v", ErrInvalidCredential, err)
	}
	lookup := keys.KeyfuncCtx(ctx)
	var claims jwtClaims
	_, err = v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("the token names no key (kid)")
		}
		if !knownKID(ctx, keys, kid) && !v.refetch.Allow() {
			return nil, errors.New("unknown key id; the key set was fetched too recently to fetch it again")
		}
		return lookup(t)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCredential, err)
	}
	if claims.Subject == "" {
		return nil, fmt.Errorf("%w: the token has no sub claim", ErrInvalidCredential)
	}
	p := &Principal{ID: "jwt:" + claims.Subject}
	for _, s := range strings.Fields(claims.Scope) {
		p.Scopes |= NewScopeSet(Scope(s)) // unknown scopes grant nothing
	}
	if m := claims.MerchantID; m != nil {
		if *m != math.Trunc(*m) || *m < 1 || *m > math.MaxInt32 {
			return nil, fmt.Errorf("%w: merchant_id claim is not a merchant id", ErrInvalidCredential)
		}
		id := int32(*m)
		p.MerchantID = &id
	}
	if b := claims.BuyerID; b != nil {
		if strings.TrimSpace(*b) == "" {
			return nil, fmt.Errorf("%w: buyer_id claim is blank", ErrInvalidCredential)
		}
		p.BuyerID = b
	}
	return p, nil
}
