package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

// TestWithBearerTokenSendsTheHeader: every call carries the token, a
// per-call editor may replace it, and a client without the option sends no
// Authorization header.
func TestWithBearerTokenSendsTheHeader(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer ts.Close()
	ctx := context.Background()

	c, err := client.NewClientWithResponses(ts.URL, client.WithBearerToken("os_abc123"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.ListJobsWithResponse(ctx, &client.ListJobsParams{})
	_, _ = c.CreateProductWithResponse(ctx, client.NewProduct{Name: "x", PriceCents: 1, Stock: 1})
	_, _ = c.ListJobsWithResponse(ctx, &client.ListJobsParams{}, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer other")
		return nil
	})
	plain, err := client.NewClientWithResponses(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = plain.ListJobsWithResponse(ctx, &client.ListJobsParams{})

	want := []string{
		"GET /jobs Bearer os_abc123",
		"POST /products Bearer os_abc123",
		"GET /jobs Bearer other",
		"GET /jobs ",
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests seen:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// TestWithBearerTokenRefusesWhatCannotBeAToken: an empty token (an unset
// environment variable) or one with a space or a line break fails at
// construction, and the error does not repeat the token.
func TestWithBearerTokenRefusesWhatCannotBeAToken(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"", "os_secret value", "os_secret\n", "os_secret\r\nX-Evil: 1", "os_sécret"} {
		_, err := client.NewClientWithResponses("http://localhost:8080", client.WithBearerToken(token))
		if err == nil {
			t.Errorf("WithBearerToken(%q): no error", token)
			continue
		}
		if token != "" && strings.Contains(err.Error(), "secret") {
			t.Errorf("WithBearerToken(%q): the error %q repeats the token", token, err)
		}
	}
}

// TestExampleServerRefusesRequestsWithoutTheToken: the example server
// answers 401 without the token, so Example passing shows the token is sent.
func TestExampleServerRefusesRequestsWithoutTheToken(t *testing.T) {
	t.Parallel()
	c, err := client.NewClientWithResponses(exampleURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.ListJobsWithResponse(context.Background(), &client.ListJobsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusUnauthorized || resp.JSON401 == nil || resp.JSON401.Error.Code != client.CodeUnauthenticated {
		t.Errorf("without a token: HTTP %d %s", resp.StatusCode(), resp.Body)
	}
}
