package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/server"
)

const (
	testIssuer   = "https://idp.test/"
	testAudience = "ordersettle"
)

// identityProvider is a local JWKS endpoint with one RSA and one P-256 key.
type identityProvider struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	down atomic.Bool // answer 503 instead of the key set
	url  string
}

func newIdentityProvider(t *testing.T) *identityProvider {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	idp := &identityProvider{rsa: rk, ec: ek}
	b64 := base64.RawURLEncoding.EncodeToString
	point, err := ek.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
			"n": b64(rk.PublicKey.N.Bytes()), "e": b64(big.NewInt(int64(rk.PublicKey.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
			"x": b64(point[1:33]), "y": b64(point[33:])},
	}}
	body, _ := json.Marshal(set)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if idp.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(ts.Close)
	idp.url = ts.URL + "/.well-known/jwks.json"
	return idp
}

// claims are valid claims for sub with scope, adjusted by edit.
func claims(scope string, edit func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": []string{"other", testAudience}, "sub": "alice",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "scope": scope,
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// sign signs c with method, key and kid.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newJWTHarness is a harness whose server accepts the provider's JWTs.
func newJWTHarness(t *testing.T, idp *identityProvider) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := auth.NewJWTVerifier(ctx, auth.JWTOptions{
		JWKSURL: idp.url, Issuer: testIssuer, Audience: testAudience, UnknownKIDRefresh: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, func(c *server.Config) { c.JWT = v })
}

// TestJWT: RS256 and ES256 tokens of the provider work; a wrong issuer or
// audience, an expired or not-yet-valid token, no exp, alg none, HS256
// signed with the public key, an unknown kid and a foreign key are 401; a
// scope claim without the scope is 403; merchant_id and buyer_id claims
// bind; a job records jwt:<sub>.
func TestJWT(t *testing.T) {
	t.Parallel()
	idp := newIdentityProvider(t)
	h := newJWTHarness(t, idp)
	ctx := context.Background()
	const read = "jobs:read settlements:read jobs:write orders:write"
	pubDER, err := x509.MarshalPKIXPublicKey(&idp.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	noneTok := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(read, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	listJobs := func(token string) (int, []byte) {
		r, err := h.asKey(token).ListJobsWithResponse(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.StatusCode(), r.Body
	}
	for name, tc := range map[string]struct {
		token string
		want  int
	}{
		"RS256":                     {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, nil)), http.StatusOK},
		"ES256":                     {sign(t, jwt.SigningMethodES256, idp.ec, "ec-1", claims(read, nil)), http.StatusOK},
		"expired within the leeway": {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() })), http.StatusOK},
		"wrong issuer":              {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, func(c jwt.MapClaims) { c["iss"] = "https://evil.test/" })), http.StatusUnauthorized},
		"wrong audience":            {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, func(c jwt.MapClaims) { c["aud"] = "someone-else" })), http.StatusUnauthorized},
		"expired":                   {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })), http.StatusUnauthorized},
		"not yet valid":             {sign(t, jwt.SigningMethodES256, idp.ec, "ec-1", claims(read, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(2 * time.Minute).Unix() })), http.StatusUnauthorized},
		"no exp":                    {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, func(c jwt.MapClaims) { delete(c, "exp") })), http.StatusUnauthorized},
		"no sub":                    {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, func(c jwt.MapClaims) { delete(c, "sub") })), http.StatusUnauthorized},
		"alg none":                  {noneTok, http.StatusUnauthorized},
		"HS256 with the public key": {sign(t, jwt.SigningMethodHS256, pubPEM, "rsa-1", claims(read, nil)), http.StatusUnauthorized},
		"unknown kid":               {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-9", claims(read, nil)), http.StatusUnauthorized},
		"another key, known kid":    {sign(t, jwt.SigningMethodRS256, stranger, "rsa-1", claims(read, nil)), http.StatusUnauthorized},
		"ES256 token, RSA kid":      {sign(t, jwt.SigningMethodES256, idp.ec, "rsa-1", claims(read, nil)), http.StatusUnauthorized},
		"scope lacking":             {sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims("settlements:read", nil)), http.StatusForbidden},
	} {
		status, body := listJobs(tc.token)
		if status != tc.want {
			t.Errorf("%s: %d %s, want %d", name, status, body, tc.want)
		}
	}

	// Bindings from the claims.
	bound := h.asKey(sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims(read, func(c jwt.MapClaims) {
		c["merchant_id"] = 7
		c["buyer_id"] = "buyer-7"
	})))
	other := int32(8)
	r, err := bound.ListSettlementsWithResponse(ctx, &client.ListSettlementsParams{MerchantID: &other})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r.StatusCode(), r.Body, http.StatusForbidden, client.CodeForbidden)
	p := h.createProduct("jwt", 10, 1)
	o, err := bound.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "buyer-8"})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, o.StatusCode(), o.Body, http.StatusForbidden, client.CodeForbidden)
	if o, err := bound.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "buyer-7"}); err != nil || o.JSON200 == nil {
		t.Errorf("own buyer: %v %d", err, o.StatusCode())
	}

	var day openapi_types.Date
	_ = day.UnmarshalText([]byte("2025-01-01"))
	job, err := bound.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: day, To: day})
	if err != nil || job.JSON202 == nil || job.JSON202.CreatedBy == nil || *job.JSON202.CreatedBy != "jwt:alice" {
		t.Errorf("a job queued with a JWT: %v %d %s", err, job.StatusCode(), job.Body)
	}
}

// TestJWKSDownAtStart: the server starts while the JWK Set cannot be
// fetched and answers 401 to JWTs; once the set can be fetched, the same
// tokens work (an unknown kid fetches it again, rate-limited).
func TestJWKSDownAtStart(t *testing.T) {
	t.Parallel()
	idp := newIdentityProvider(t)
	idp.down.Store(true)
	h := newJWTHarness(t, idp)
	token := sign(t, jwt.SigningMethodRS256, idp.rsa, "rsa-1", claims("jobs:read", nil))
	get := func() int {
		r, err := h.asKey(token).ListJobsWithResponse(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.StatusCode()
	}
	if s := get(); s != http.StatusUnauthorized {
		t.Fatalf("with the key set unreachable: %d, want 401", s)
	}
	idp.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for get() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("JWTs still refused 5 s after the key set came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
