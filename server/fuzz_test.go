package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

// fuzzPriceCents is the price of every product of FuzzCreateOrder, so that
// each placed order's total can be checked.
const fuzzPriceCents = 7

// FuzzCreateOrder sends arbitrary bodies, with or without an arbitrary
// Idempotency-Key, to POST /orders on one server and database: the answer is
// never a 5xx, every error is in the contract's shape (the harness's doer
// checks each answer against the spec too), and every 2xx is an order whose
// total is right.
func FuzzCreateOrder(f *testing.F) {
	h := newHarness(f)
	// The seeds name products 1 and 2 (plenty of stock) and 3 (5 units).
	products := map[int32]bool{}
	for i, stock := range []int32{2147483647, 2147483647, 5} {
		p := h.createProduct("fuzzed", stock, fuzzPriceCents)
		if p.ID != int32(i+1) {
			f.Fatalf("product %d got id %d; the seeds expect ids 1 to 3 in a fresh database", i+1, p.ID)
		}
		products[p.ID] = true
	}

	for _, seed := range []struct {
		body    string
		key     string
		withKey bool
	}{
		{`{"product_id":1,"quantity":1,"buyer_id":"seed"}`, "", false},
		{`{"product_id":1,"quantity":2,"buyer_id":"seed"}`, "seed-key", true},
		{`{"product_id":999999,"quantity":1,"buyer_id":"nobody"}`, "", false},
		{`{"product_id":3,"quantity":10000,"buyer_id":"greedy"}`, "greedy-key", true},
		{`{"product_id":1,"quantity":1,"buyer_id":"a\u0000b"}`, "", false},
		{`{"product_id":1,"quantity":1,"buyer_id":"a\u0000b"}`, "nul-in-body", true},
		{strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "", false},
		{`{"product_id":1e400,"quantity":1,"buyer_id":"huge"}`, "", false},
		{`{"product_id":1,"quantity":99999999999999999999999999,"buyer_id":"huge"}`, "", false},
		{`{"product_id":1,"quantity":1,"quantity":2,"buyer_id":"dup"}`, "", false},
		{`{"product_id":1,"quantity":1,"buyer_id":"\u00e9\ud83c\udf89\u3000\ud800"}`, "", false},
		{`{"product_id":1,"quantity":1,"buyer_id":"\u3000\u3000"}`, "", false},
		{`{"product_id":1,"quantity":1.0,"buyer_id":"float"}`, "", false},
		{`{"product_id":1,"quantity":1,"buyer_id":"b"}{}`, "", false},
		{"", "", false},
		{`{"product_id":1,"quantity":1,"buyer_id":"k"}`, "", true},
		{`{"product_id":1,"quantity":1,"buyer_id":"k"}`, "\xff\xfe invalid UTF-8", true},
		{"{\"product_id\":1,\"quantity\":1,\"buyer_id\":\"\xff\xfe\"}", "", false}, // invalid UTF-8
	} {
		f.Add([]byte(seed.body), seed.key, seed.withKey)
	}

	f.Fuzz(func(t *testing.T, body []byte, key string, withKey bool) {
		if withKey && !validHeaderValue(key) {
			t.Skip("net/http refuses to send this header value")
		}
		req, err := http.NewRequest(http.MethodPost, h.url+"/orders", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if withKey {
			req.Header.Set("Idempotency-Key", key)
		}
		doer := *h.http // validates against the spec, reporting to this t
		doer.t = t
		resp, err := doer.Do(req)
		if err != nil {
			t.Fatalf("POST /orders: %v", err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}

		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("status %d for body %q, key %q: %s", resp.StatusCode, body, key, got)
		case resp.StatusCode >= 400:
			checkErrorShape(t, req, resp, got)
		case resp.StatusCode == http.StatusOK:
			var o client.Order
			dec := json.NewDecoder(bytes.NewReader(got))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&o); err != nil {
				t.Fatalf("200 body is not an Order: %v: %s", err, got)
			}
			if !products[o.ProductID] || o.Quantity < 1 || o.Quantity > 10000 || o.BuyerID == "" ||
				o.Status != client.OrderCompleted || o.TotalAmountCents != int64(o.Quantity)*fuzzPriceCents {
				t.Fatalf("implausible order %+v for body %q", o, body)
			}
		default:
			t.Fatalf("status %d, want 200 or an error: %s", resp.StatusCode, got)
		}
	})
}

// validHeaderValue reports whether net/http sends v as a header value: no
// control characters but tab (httpguts.ValidHeaderFieldValue).
func validHeaderValue(v string) bool {
	for i := range len(v) {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}
