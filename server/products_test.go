package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
)

// TestCreateAndGetProduct: POST /products answers 201 with the body echoed,
// a new id and a UTC created_at; GET /products/{id} answers the same product.
func TestCreateAndGetProduct(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()

	for _, in := range []client.NewProduct{
		{Name: "Limited sneaker", Stock: 100, PriceCents: 12999},
		{Name: "x", Stock: 0, PriceCents: 0},                                 // shortest name, zero stock and price
		{Name: "max", Stock: 2147483647, PriceCents: 2147483647},             // int32 bounds
		{Name: strings.Repeat("é", 255), Stock: 1, PriceCents: 1},            // 255 characters, 510 bytes
		{Name: strings.Repeat("🎉", 255), Stock: 1, PriceCents: 1},            // 255 characters outside the BMP
		{Name: strings.Repeat("\u3000", 254) + "x", Stock: 1, PriceCents: 1}, // blank but for one character
		{Name: "  padded  ", Stock: 1, PriceCents: 1},                        // kept as sent
		{Name: `quote " and \ backslash`, Stock: 3, PriceCents: 500},         // JSON escapes
		{Name: "DROP TABLE products;--", Stock: 1, PriceCents: 1},            // just text
	} {
		before := time.Now()
		resp, err := h.client.CreateProductWithResponse(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusCreated || resp.JSON201 == nil {
			t.Fatalf("create %q: status %d, want 201: %s", in.Name, resp.StatusCode(), resp.Body)
		}
		p := *resp.JSON201
		if p.ID < 1 || p.Name != in.Name || p.Stock != in.Stock || p.PriceCents != in.PriceCents {
			t.Errorf("create %q: got %+v, want the body echoed with an id >= 1", in.Name, p)
		}
		checkUTCTimestamp(t, resp.Body, "created_at", before)

		got, err := h.client.GetProductWithResponse(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.StatusCode() != http.StatusOK || got.JSON200 == nil {
			t.Fatalf("get %d: status %d, want 200: %s", p.ID, got.StatusCode(), got.Body)
		}
		g := *got.JSON200
		if g.ID != p.ID || g.Name != p.Name || g.Stock != p.Stock || g.PriceCents != p.PriceCents || !g.CreatedAt.Equal(p.CreatedAt) {
			t.Errorf("get %d = %+v, want %+v", p.ID, g, p)
		}
		checkUTCTimestamp(t, got.Body, "created_at", before)
	}
}

// checkUTCTimestamp asserts that the JSON object in body has field as an RFC
// 3339 timestamp in UTC ("Z"), not before notBefore and not in the future.
func checkUTCTimestamp(t *testing.T, body []byte, field string, notBefore time.Time) {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	s, ok := obj[field].(string)
	if !ok {
		t.Fatalf("%s is %v (%T), want a string: %s", field, obj[field], obj[field], body)
	}
	if !strings.HasSuffix(s, "Z") {
		t.Errorf("%s = %q, want UTC with a Z suffix", field, s)
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s = %q: %v", field, s, err)
	}
	// The database clock and ours may differ by a little.
	if ts.Before(notBefore.Add(-5*time.Second)) || ts.After(time.Now().Add(5*time.Second)) {
		t.Errorf("%s = %s, want between %s and now (%s)", field, ts, notBefore, time.Now().UTC())
	}
}

// TestGetProductNotFound: an id no product has is 404 PRODUCT_NOT_FOUND,
// naming the id.
func TestGetProductNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("exists", 1, 1)

	for _, id := range []int32{p.ID + 1, 2147483647} {
		resp, err := h.client.GetProductWithResponse(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, resp.StatusCode(), resp.Body, http.StatusNotFound, client.CodeProductNotFound)
		if !strings.Contains(resp.JSON404.Error.Message, fmt.Sprint(id)) {
			t.Errorf("404 message %q does not name product %d", resp.JSON404.Error.Message, id)
		}
	}
}

// TestListProductsPagination walks every page with a small limit: ids
// ascend, every product shows up exactly once, next_after_id is the page's
// last id while more follow and null on the last page, also when the last
// page is exactly full.
func TestListProductsPagination(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		products  int
		limit     int32
		pageSizes []int
	}{
		{products: 7, limit: 3, pageSizes: []int{3, 3, 1}},
		{products: 6, limit: 3, pageSizes: []int{3, 3}}, // the last page is full: no empty page after it
		{products: 3, limit: 3, pageSizes: []int{3}},
		{products: 2, limit: 3, pageSizes: []int{2}},
		{products: 4, limit: 1, pageSizes: []int{1, 1, 1, 1}},
		{products: 0, limit: 3, pageSizes: []int{0}},
	} {
		t.Run(fmt.Sprintf("%d products, limit %d", tc.products, tc.limit), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			created := map[int32]client.Product{}
			for i := range tc.products {
				p := h.createProduct(fmt.Sprintf("p%d", i), int32(i), int32(100+i))
				created[p.ID] = p
			}

			seen := map[int32]int{}
			var sizes []int
			var after *int32
			last := int32(0)
			for page := 0; ; page++ {
				if page > tc.products+1 {
					t.Fatalf("more than %d pages; pagination does not end", page)
				}
				got := h.listProducts(&client.ListProductsParams{Limit: &tc.limit, AfterID: after})
				sizes = append(sizes, len(got.Items))
				for _, p := range got.Items {
					if p.ID <= last {
						t.Errorf("page %d: id %d after id %d; ids must ascend across pages", page, p.ID, last)
					}
					last = p.ID
					seen[p.ID]++
					if want := created[p.ID]; p.Name != want.Name || p.Stock != want.Stock || p.PriceCents != want.PriceCents {
						t.Errorf("page %d: %+v, want %+v", page, p, want)
					}
				}
				if got.NextAfterID == nil {
					break
				}
				if len(got.Items) == 0 || *got.NextAfterID != got.Items[len(got.Items)-1].ID {
					t.Fatalf("page %d: next_after_id = %d, want the page's last id (items %+v)", page, *got.NextAfterID, got.Items)
				}
				after = got.NextAfterID
			}

			if fmt.Sprint(sizes) != fmt.Sprint(tc.pageSizes) {
				t.Errorf("page sizes = %v, want %v", sizes, tc.pageSizes)
			}
			if len(seen) != len(created) {
				t.Errorf("saw %d distinct products, want %d", len(seen), len(created))
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("product %d seen %d times, want once", id, n)
				}
				if _, ok := created[id]; !ok {
					t.Errorf("product %d listed but never created", id)
				}
			}
		})
	}
}

// TestListProductsDefaultLimit: without limit a page holds 50 products.
func TestListProductsDefaultLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if _, err := h.store.DB().Exec(
		`INSERT INTO products (name, stock, price_cents) SELECT 'bulk ' || g, g, g FROM generate_series(1, 51) g`); err != nil {
		t.Fatal(err)
	}

	first := h.listProducts(nil)
	if len(first.Items) != 50 {
		t.Fatalf("default page holds %d products, want 50", len(first.Items))
	}
	if first.NextAfterID == nil || *first.NextAfterID != first.Items[49].ID {
		t.Fatalf("next_after_id = %v, want %d", first.NextAfterID, first.Items[49].ID)
	}
	rest := h.listProducts(&client.ListProductsParams{AfterID: first.NextAfterID})
	if len(rest.Items) != 1 || rest.NextAfterID != nil {
		t.Fatalf("second page = %d items, next_after_id %v; want 1 item and null", len(rest.Items), rest.NextAfterID)
	}

	limit := int32(500)
	all := h.listProducts(&client.ListProductsParams{Limit: &limit})
	if len(all.Items) != 51 || all.NextAfterID != nil {
		t.Errorf("limit 500: %d items, next_after_id %v; want 51 and null", len(all.Items), all.NextAfterID)
	}
}

// TestListProductsAfterLastID: after_id at or beyond the last id gives an
// empty page (an empty array, not null) and a null next_after_id.
func TestListProductsAfterLastID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.createProduct("only", 1, 1)

	for _, after := range []int32{p.ID, p.ID + 1, 2147483647} {
		status, body := h.do(http.MethodGet, "/products?after_id="+itoa(after), nil, nil)
		if status != http.StatusOK {
			t.Fatalf("after_id=%d: status %d: %s", after, status, body)
		}
		if want := `{"items":[],"next_after_id":null}`; strings.TrimSpace(string(body)) != want {
			t.Errorf("after_id=%d: body %s, want %s", after, body, want)
		}
	}
	// after_id=0 (the minimum) starts at the beginning.
	if got := h.listProducts(&client.ListProductsParams{AfterID: new(int32(0))}); len(got.Items) != 1 || got.Items[0].ID != p.ID {
		t.Errorf("after_id=0: %+v, want product %d", got, p.ID)
	}
}

// listProducts gets one page and insists on 200.
func (h *harness) listProducts(params *client.ListProductsParams) client.ProductPage {
	h.t.Helper()
	resp, err := h.client.ListProductsWithResponse(context.Background(), params)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil {
		h.t.Fatalf("list products: status %d, want 200: %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}
