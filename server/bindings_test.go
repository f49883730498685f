package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen/client"
)

// asKey returns a client of h's server that sends token.
func (h *harness) asKey(token string) *client.ClientWithResponses {
	h.t.Helper()
	c, err := client.NewClientWithResponses(h.url, client.WithHTTPClient(h.http.withToken(token)))
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// TestMerchantBinding: over settlements of 40 merchants, a credential bound
// to one merchant lists exactly that merchant's rows, with or without the
// filter and across pages; another merchant's filter and CSV downloads are
// 403.
func TestMerchantBinding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.store.DB().Exec(`
		INSERT INTO transactions (merchant_id, amount_cents, fee_cents, status, paid_at)
		SELECT m, 1000 + m, 10, 'PAID', timestamp '2025-01-01' + d * interval '1 day' + interval '1 hour'
		FROM generate_series(1, 40) m, generate_series(0, 2) d`); err != nil {
		t.Fatal(err)
	}
	day := func(s string) openapi_types.Date {
		var d openapi_types.Date
		if err := d.UnmarshalText([]byte(s)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	created, err := h.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: day("2025-01-01"), To: day("2025-01-03")})
	if err != nil || created.JSON202 == nil {
		t.Fatalf("queue: %v %d", err, created.StatusCode())
	}
	if j := waitJobStatus(t, h, created.JSON202.JobID); j.Status != client.JobCompleted {
		t.Fatalf("job %s", j.Status)
	}

	m := int32(7)
	bound := h.asKey(h.keys.make(storeKey{name: "merchant 7", scopes: auth.AllScopes, merchantID: &m}))
	for _, filter := range []*int32{nil, &m} {
		var rows []client.Settlement
		limit := int32(2)
		params := client.ListSettlementsParams{MerchantID: filter, Limit: &limit}
		for {
			page, err := bound.ListSettlementsWithResponse(ctx, &params)
			if err != nil || page.JSON200 == nil {
				t.Fatalf("list: %v %d %s", err, page.StatusCode(), page.Body)
			}
			rows = append(rows, page.JSON200.Items...)
			if page.JSON200.NextCursor == nil {
				break
			}
			params.Cursor = page.JSON200.NextCursor
		}
		if len(rows) != 3 {
			t.Errorf("filter %v: %d rows, want merchant 7's 3", filter, len(rows))
		}
		for _, r := range rows {
			if r.MerchantID != 7 || r.GrossCents != 1007 {
				t.Errorf("filter %v: a row of merchant %d: %+v", filter, r.MerchantID, r)
			}
		}
	}
	other := int32(8)
	r, err := bound.ListSettlementsWithResponse(ctx, &client.ListSettlementsParams{MerchantID: &other})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r.StatusCode(), r.Body, http.StatusForbidden, client.CodeForbidden)
	dl, err := bound.DownloadSettlementCSVWithResponse(ctx, created.JSON202.JobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, dl.StatusCode(), dl.Body, http.StatusForbidden, client.CodeForbidden)

	// An unbound credential still sees every merchant.
	all, err := h.client.ListSettlementsWithResponse(ctx, &client.ListSettlementsParams{})
	if err != nil || all.JSON200 == nil || len(all.JSON200.Items) != 100 || all.JSON200.NextCursor == nil {
		t.Fatalf("unbound: %v %d", err, all.StatusCode())
	}
}

// TestBuyerBinding: over orders of 12 buyers, a credential bound to one
// buyer reads exactly that buyer's orders (the others are 404
// ORDER_NOT_FOUND, as if they did not exist) and orders only for that buyer.
func TestBuyerBinding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.createProduct("bound", 1000, 5)
	owner := map[uuid.UUID]string{}
	for i := range 36 {
		buyer := fmt.Sprintf("buyer-%d", i%12)
		r, err := h.client.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: buyer})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("order: %v %d", err, r.StatusCode())
		}
		owner[r.JSON200.ID] = buyer
	}
	me := "buyer-3"
	bound := h.asKey(h.keys.make(storeKey{name: "buyer 3", scopes: auth.AllScopes, buyerID: &me}))
	seen := 0
	for id, buyer := range owner {
		r, err := bound.GetOrderWithResponse(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if buyer == me {
			if r.JSON200 == nil || r.JSON200.BuyerID != me {
				t.Errorf("own order %s: %d %s", id, r.StatusCode(), r.Body)
			}
			seen++
			continue
		}
		wantError(t, r.StatusCode(), r.Body, http.StatusNotFound, client.CodeOrderNotFound)
	}
	if seen != 3 {
		t.Errorf("saw %d own orders, want 3", seen)
	}
	placed, err := bound.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: me})
	if err != nil || placed.JSON200 == nil {
		t.Fatalf("own order: %v %d %s", err, placed.StatusCode(), placed.Body)
	}
	foreign, err := bound.CreateOrderWithResponse(ctx, nil, client.NewOrder{ProductID: p.ID, Quantity: 1, BuyerID: "buyer-4"})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, foreign.StatusCode(), foreign.Body, http.StatusForbidden, client.CodeForbidden)
	if got := h.productStock(p.ID); got != 1000-37 {
		t.Errorf("stock %d, want %d: the refused order moved stock", got, 1000-37)
	}
}

// TestKeysAPI: POST /keys answers the token once (the list never shows
// it), a key can grant only scopes it holds and a bound key only keys bound
// like itself, a bound administrator lists and revokes only such keys, and
// revoking twice is 204, an unknown key 404 KEY_NOT_FOUND. A revoked key is
// refused at once on the server that revoked it.
func TestKeysAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	m := int32(5)
	admin5 := h.asKey(h.keys.make(storeKey{name: "admin of merchant 5", merchantID: &m,
		scopes: auth.NewScopeSet(auth.ScopeKeysAdmin, auth.ScopeSettlementsRead)}))

	created, err := admin5.CreateKeyWithResponse(ctx, client.NewAPIKey{Name: "reader", Scopes: []client.NewAPIKeyScopes{client.GrantSettlementsRead}})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create: %v %d %s", err, created.StatusCode(), created.Body)
	}
	k := created.JSON201
	if !tokenPattern.MatchString(k.Token) || k.MerchantID == nil || *k.MerchantID != 5 || len(k.Scopes) != 1 {
		t.Errorf("created %+v: want a token and the creator's binding", k)
	}
	reader := h.asKey(k.Token)
	if r, err := reader.ListSettlementsWithResponse(ctx, nil); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("the new key: %v %d", err, r.StatusCode())
	}

	for name, body := range map[string]client.NewAPIKey{
		"a scope the creator lacks":    {Name: "x", Scopes: []client.NewAPIKeyScopes{client.GrantJobsRead}},
		"all":                          {Name: "x", Scopes: []client.NewAPIKeyScopes{client.GrantAll}},
		"another merchant":             {Name: "x", Scopes: []client.NewAPIKeyScopes{client.GrantSettlementsRead}, MerchantID: ptr(int32(6))},
		"unbound creator, bound buyer": {Name: "x", Scopes: []client.NewAPIKeyScopes{client.GrantSettlementsRead}, BuyerID: ptr("b")},
	} {
		r, err := admin5.CreateKeyWithResponse(ctx, body)
		if err != nil {
			t.Fatal(err)
		}
		if name == "unbound creator, bound buyer" { // merchant 5 and buyer b: narrower, allowed
			if r.StatusCode() != http.StatusCreated {
				t.Errorf("%s: %d %s", name, r.StatusCode(), r.Body)
			}
			continue
		}
		wantError(t, r.StatusCode(), r.Body, http.StatusForbidden, client.CodeForbidden)
	}

	// A key with a rate limit creates keys limited as much or more.
	slowLimit := int32(10)
	slowAdmin := h.asKey(h.keys.make(storeKey{name: "slow admin", scopes: auth.AllScopes, rateLimit: &slowLimit}))
	faster := int32(11)
	if r, _ := slowAdmin.CreateKeyWithResponse(ctx, client.NewAPIKey{Name: "x", Scopes: []client.NewAPIKeyScopes{client.GrantJobsRead}, RateLimit: &faster}); r.StatusCode() != http.StatusForbidden {
		t.Errorf("a 10/s key created a 11/s key: %d", r.StatusCode())
	}
	if r, _ := slowAdmin.CreateKeyWithResponse(ctx, client.NewAPIKey{Name: "x", Scopes: []client.NewAPIKeyScopes{client.GrantJobsRead}}); r.JSON201 == nil || r.JSON201.RateLimit == nil || *r.JSON201.RateLimit != 10 {
		t.Errorf("a 10/s key's child: %d %s, want rate_limit 10", r.StatusCode(), r.Body)
	}

	// The bound administrator sees merchant 5's keys only; the admin all.
	list, err := admin5.ListKeysWithResponse(ctx, nil)
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list: %v", err)
	}
	for _, key := range list.JSON200.Items {
		if key.MerchantID == nil || *key.MerchantID != 5 {
			t.Errorf("merchant 5's administrator lists %+v", key)
		}
	}
	var all []client.APIKey
	limit := int32(1)
	params := client.ListKeysParams{Limit: &limit}
	for {
		page, err := h.client.ListKeysWithResponse(ctx, &params)
		if err != nil || page.JSON200 == nil {
			t.Fatalf("list: %v %d", err, page.StatusCode())
		}
		all = append(all, page.JSON200.Items...)
		if page.JSON200.NextCursor == nil {
			break
		}
		params.Cursor = page.JSON200.NextCursor
	}
	if len(all) != 6 { // the harness's, merchant 5's admin, reader, the narrower one, the slow admin and its child
		t.Errorf("%d keys listed, want 6", len(all))
	}
	if string(list.Body) != "" && (containsToken(list.Body) || containsToken([]byte(mustJSON(t, all)))) {
		t.Errorf("a list shows a token")
	}
	harnessKey := all[len(all)-1]
	if r, _ := admin5.RevokeKeyWithResponse(ctx, harnessKey.ID); r.StatusCode() != http.StatusNotFound {
		t.Errorf("merchant 5's administrator revoked an unbound key: %d", r.StatusCode())
	}

	for range 2 {
		r, err := h.client.RevokeKeyWithResponse(ctx, k.ID)
		if err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("revoke: %v %d %s", err, r.StatusCode(), r.Body)
		}
	}
	r, err := reader.ListSettlementsWithResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r.StatusCode(), r.Body, http.StatusUnauthorized, client.CodeUnauthenticated)
	gone, err := h.client.RevokeKeyWithResponse(ctx, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, gone.StatusCode(), gone.Body, http.StatusNotFound, client.CodeKeyNotFound)
	bad, err := h.client.CreateKeyWithResponse(ctx, client.NewAPIKey{Name: "  ", Scopes: []client.NewAPIKeyScopes{client.GrantJobsRead}})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, bad.StatusCode(), bad.Body, http.StatusBadRequest, client.CodeBadRequest)
}

func ptr[T any](v T) *T { return &v }
