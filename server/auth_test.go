package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/gen/client"
)

// specOperation is an operation of the spec with a request a healthy server
// answers with a 2xx or a domain answer (a 404 for an unknown id, say).
type specOperation struct {
	id, method, path string // path with its parameters filled in
	body             []byte // nil when the operation takes none
	public           bool
	scopes           auth.ScopeSet
}

// specOperations derives a request for every operation of the spec: path
// parameters from their schema (a product id, a UUID), the body from the
// operation's example or its schema's property examples, and the required
// scopes from x-required-scopes.
func specOperations(t *testing.T, productID int32) []specOperation {
	t.Helper()
	doc, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	var ops []specOperation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security == nil {
				t.Errorf("%s %s declares no security: every operation must (security: [] when public)", method, path)
				continue
			}
			o := specOperation{id: op.OperationID, method: method, public: len(*op.Security) == 0}
			scopes, _ := op.Extensions["x-required-scopes"].([]any)
			for _, s := range scopes {
				o.scopes |= auth.NewScopeSet(auth.Scope(s.(string)))
			}
			if !o.public && o.scopes == 0 {
				t.Errorf("%s %s is protected but names no scope", method, path)
			}
			if o.public && o.scopes != 0 {
				t.Errorf("%s %s is public but names scopes", method, path)
			}
			o.path = path
			for _, p := range op.Parameters {
				if p.Value.In != "path" {
					continue
				}
				v := uuid.NewString()
				if p.Value.Schema.Value.Type.Is("integer") {
					v = strconv.Itoa(int(productID))
				}
				o.path = strings.ReplaceAll(o.path, "{"+p.Value.Name+"}", v)
			}
			if rb := op.RequestBody; rb != nil {
				o.body = exampleBody(t, rb.Value.Content.Get("application/json"))
				if o.id == "createKey" { // a key can grant only scopes its creator holds
					o.body = []byte(`{"name":"from the table","scopes":["keys:admin"]}`)
				}
				if o.id == "createOrder" {
					o.body = []byte(`{"product_id":` + strconv.Itoa(int(productID)) + `,"quantity":1,"buyer_id":"user-123"}`)
				}
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	return ops
}

// exampleBody is the media type's example, or an object of its schema's
// required properties' examples.
func exampleBody(t *testing.T, mt *openapi3.MediaType) []byte {
	t.Helper()
	v := mt.Example
	if v == nil {
		obj := map[string]any{}
		for _, name := range mt.Schema.Value.Required {
			obj[name] = mt.Schema.Value.Properties[name].Value.Example
		}
		v = obj
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send sends o with the Authorization header auth ("" for none) through a
// validating doer that adds no credential of its own.
func (o specOperation) send(h *harness, authorization string, body []byte) rawResponse {
	h.t.Helper()
	if body == nil {
		body = o.body
	}
	req, err := http.NewRequest(strings.ToUpper(o.method), h.url+o.path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	h2 := *h
	h2.http = h.http.withToken("")
	return h2.send(req)
}

// TestAccessControlFromTheSpec tries every operation of the spec with every
// kind of credential: protected ones answer 401 (with WWW-Authenticate) to
// no header, Basic, a garbage bearer, an unknown, a revoked and an expired
// key; 403 naming the scope to a key without it; their usual answer to a
// key with exactly the scopes they need; and 429 with Retry-After once a
// key is over its rate limit. A stranger gets 401 even with an invalid body
// or parameters: validation comes after access control. Public operations
// answer without a credential.
func TestAccessControlFromTheSpec(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("access", 1000, 100)
	ops := specOperations(t, p.ID)
	if len(ops) < 15 {
		t.Fatalf("only %d operations in the spec?", len(ops))
	}

	revoked := h.keys.make(storeKey{name: "revoked", scopes: auth.AllScopes})
	revokedKey, found, err := h.store.APIKeyByHash(t.Context(), auth.HashToken(revoked))
	if err != nil || !found {
		t.Fatal(found, err)
	}
	resp, err := h.client.RevokeKeyWithResponse(t.Context(), revokedKey.ID)
	if err != nil || resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %v %d", err, resp.StatusCode())
	}
	past := time.Now().Add(-time.Minute)
	expired := h.keys.make(storeKey{name: "expired", scopes: auth.AllScopes, expiresAt: &past})
	unknown, _, _ := auth.NewToken()

	challenge := regexp.MustCompile(`^Bearer realm="ordersettle"(, error="invalid_token")?$`)
	for _, o := range ops {
		t.Run(o.id, func(t *testing.T) {
			h := h.forTest(t)
			// A HEAD answer has GET's status and headers but no body.
			wantError := func(t testing.TB, status int, body []byte, wantStatus int, wantCode client.ErrorCode) {
				t.Helper()
				if strings.EqualFold(o.method, http.MethodHead) {
					if status != wantStatus || len(body) != 0 {
						t.Fatalf("HEAD: status = %d, body %q; want %d, no body", status, body, wantStatus)
					}
					return
				}
				wantError(t, status, body, wantStatus, wantCode)
			}
			if o.public {
				if r := o.send(h, "", nil); r.status >= 400 {
					t.Errorf("public %s without a credential: %d %s", o.id, r.status, r.body)
				}
				return
			}
			for _, c := range []struct {
				name, authorization string
				tokenSent           bool
			}{
				{"no header", "", false},
				{"Basic", "Basic dXNlcjpwYXNzd29yZA==", false},
				{"garbage bearer", "Bearer garbage", true},
				{"unknown key", "Bearer " + unknown, true},
				{"revoked key", "Bearer " + revoked, true},
				{"expired key", "Bearer " + expired, true},
			} {
				r := o.send(h, c.authorization, nil)
				wantError(t, r.status, r.body, http.StatusUnauthorized, client.CodeUnauthenticated)
				www := r.header.Get("WWW-Authenticate")
				if !challenge.MatchString(www) || strings.Contains(www, "invalid_token") != c.tokenSent {
					t.Errorf("%s: WWW-Authenticate %q", c.name, www)
				}
			}
			// A stranger learns nothing of validation.
			if o.body != nil {
				r := o.send(h, "", []byte(`{"unknown": `))
				wantError(t, r.status, r.body, http.StatusUnauthorized, client.CodeUnauthenticated)
			}
			if strings.Contains(o.path, "/") {
				bad := o
				bad.path += "?limit=0&cursor=%zz"
				r := bad.send(h, "", nil)
				wantError(t, r.status, r.body, http.StatusUnauthorized, client.CodeUnauthenticated)
			}

			lacking := h.keys.make(storeKey{name: "lacking", scopes: auth.AllScopes &^ o.scopes})
			r := o.send(h, "Bearer "+lacking, nil)
			wantError(t, r.status, r.body, http.StatusForbidden, client.CodeForbidden)
			for _, s := range o.scopes.List() {
				if !strings.EqualFold(o.method, http.MethodHead) && !strings.Contains(string(r.body), string(s)) {
					t.Errorf("the 403 does not name the scope %s: %s", s, r.body)
				}
			}

			limit := int32(1)
			exact := h.keys.make(storeKey{name: "exact", scopes: o.scopes, rateLimit: &limit})
			r = o.send(h, "Bearer "+exact, nil)
			switch r.status {
			case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests,
				http.StatusBadRequest, http.StatusInternalServerError, http.StatusServiceUnavailable:
				t.Fatalf("with the scopes %s: %d %s", o.scopes, r.status, r.body)
			}
			r = o.send(h, "Bearer "+exact, nil) // the bucket (1/s, burst 1) is empty now
			wantError(t, r.status, r.body, http.StatusTooManyRequests, client.CodeRateLimited)
			if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
				t.Errorf("429 with Retry-After %q", r.header.Get("Retry-After"))
			}
		})
	}
}

// TestMetricsNeedTheScope: /metrics is outside the spec but protected by
// metrics:read.
func TestMetricsNeedTheScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	get := func(authorization string) int {
		req, _ := http.NewRequest(http.MethodGet, h.url+"/metrics", nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		r := sendUnvalidated(t, req)
		return r.status
	}
	other := h.keys.make(storeKey{name: "no metrics", scopes: auth.AllScopes &^ auth.NewScopeSet(auth.ScopeMetricsRead)})
	scraper := h.keys.make(storeKey{name: "scraper", scopes: auth.NewScopeSet(auth.ScopeMetricsRead)})
	for authz, want := range map[string]int{
		"":                  http.StatusUnauthorized,
		"Bearer " + other:   http.StatusForbidden,
		"Bearer " + scraper: http.StatusOK,
	} {
		if got := get(authz); got != want {
			t.Errorf("GET /metrics with %.12q: %d, want %d", authz, got, want)
		}
	}
}
