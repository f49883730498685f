package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/store"
)

// TestKeysEndpointsFailCleanly: the /keys operations answer malformed
// input with 400, a body over 1 MiB with 413, a body that does not arrive
// with 408, an unreachable database with 503 and a broken one with 500 (a
// cached key still authenticates the request), always in the error shape.
func TestKeysEndpointsFailCleanly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodDelete, "/keys/not-a-uuid", ""},
		{http.MethodGet, "/keys?limit=0", ""},
		{http.MethodGet, "/keys?cursor=nonsense", ""},
		{http.MethodPost, "/keys", `{"name":"x","scopes":[]}`},
		{http.MethodPost, "/keys", `{"name":"x","scopes":["jobs:read"],"rate_limit":0}`},
		{http.MethodPost, "/keys", `{"name":"x","scopes":["jobs:read"],"expires_at":"2001-01-01T00:00:00Z"}`},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		status, b := h.do(c.method, c.path, body, jsonHeader)
		wantError(t, status, b, http.StatusBadRequest, client.CodeBadRequest)
	}
	big := `{"name":"padded","scopes":["jobs:read"]}` + strings.Repeat(" ", server.MaxBodyBytes)
	status, b := h.do(http.MethodPost, "/keys", bytes.NewReader([]byte(big)), jsonHeader)
	wantError(t, status, b, http.StatusRequestEntityTooLarge, client.CodePayloadTooLarge)

	// 408: the body stalls past the server's ReadTimeout.
	ts := httptest.NewUnstartedServer(h.server.Handler())
	ts.Config.ReadTimeout = time.Second
	ts.Start()
	t.Cleanup(ts.Close)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow, err := client.NewClientWithResponses(ts.URL, client.WithHTTPClient(h.http))
	if err != nil {
		t.Fatal(err)
	}
	r, err := slow.CreateKeyWithBodyWithResponse(context.Background(), "application/json",
		&stalledBody{prefix: []byte(`{"name":`), release: release})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r.StatusCode(), r.Body, http.StatusRequestTimeout, client.CodeRequestTimeout)

	calls := func(h *harness, wantStatus int, wantCode client.ErrorCode) {
		for _, c := range []struct{ method, path, body string }{
			{http.MethodPost, "/keys", `{"name":"x","scopes":["jobs:read"]}`},
			{http.MethodGet, "/keys", ""},
			{http.MethodDelete, "/keys/" + uuid.NewString(), ""},
		} {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			status, b := h.do(c.method, c.path, body, jsonHeader)
			wantError(t, status, b, wantStatus, wantCode)
		}
	}
	down := newHarnessWithStore(t, store.New(sqlx.MustOpen("postgres",
		"postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")))
	calls(down, http.StatusServiceUnavailable, client.CodeUnavailable)

	broken := newHarness(t)
	if _, err := broken.store.DB().Exec(`DROP TABLE api_keys`); err != nil {
		t.Fatal(err)
	}
	calls(broken, http.StatusInternalServerError, client.CodeInternal)
}
