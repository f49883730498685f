package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
)

// TestProblemFor maps every kind of unexpected error to its status and code,
// and never lets the error's own text reach the client.
func TestProblemFor(t *testing.T) {
	t.Parallel()
	// secret stands for what a driver error says: it must stay in the log.
	const secret = `pq: relation "products" does not exist at character 15 (SELECT id FROM products)`
	driverErr := errors.New(secret)

	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   gen.ErrorCode
	}{
		{"store unavailable", store.ErrUnavailable, http.StatusServiceUnavailable, gen.CodeUnavailable},
		{"store unavailable, wrapped twice", fmt.Errorf("get product 7: %w", fmt.Errorf("%w: %w", store.ErrUnavailable, driverErr)),
			http.StatusServiceUnavailable, gen.CodeUnavailable},
		{"deadline exceeded", context.DeadlineExceeded, http.StatusServiceUnavailable, gen.CodeUnavailable},
		{"deadline exceeded, wrapped", fmt.Errorf("create order: %w: %w", context.DeadlineExceeded, driverErr),
			http.StatusServiceUnavailable, gen.CodeUnavailable},
		{"canceled", context.Canceled, http.StatusServiceUnavailable, gen.CodeUnavailable},
		{"canceled by the database (57014), wrapped", fmt.Errorf("list products: %w: %w", context.Canceled, driverErr),
			http.StatusServiceUnavailable, gen.CodeUnavailable},
		{"invalid input", fmt.Errorf("create product: %w: %w", store.ErrInvalidInput, driverErr),
			http.StatusBadRequest, gen.CodeBadRequest},
		{"plain error", driverErr, http.StatusInternalServerError, gen.CodeInternal},
		{"plain error, wrapped", fmt.Errorf("get order: %w", driverErr), http.StatusInternalServerError, gen.CodeInternal},
		{"joined with unavailable", errors.Join(driverErr, store.ErrUnavailable), http.StatusServiceUnavailable, gen.CodeUnavailable},
		// Domain errors a handler should have answered itself are still not
		// the client's business.
		{"unhandled domain error", fmt.Errorf("replay: %w", store.ErrOutOfStock), http.StatusInternalServerError, gen.CodeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := problemFor(tc.err)
			if p.status != tc.status || p.body.Error.Code != tc.code {
				t.Errorf("problemFor(%v) = %d %s, want %d %s", tc.err, p.status, p.body.Error.Code, tc.status, tc.code)
			}
			msg := p.body.Error.Message
			if msg == "" {
				t.Fatal("empty message")
			}
			for _, leak := range []string{secret, "pq:", "relation", "SELECT", tc.err.Error()} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q leaks %q", msg, leak)
				}
			}
		})
	}
}

// TestRetryAfterOfHeldKey: a 503 for a keyed order whose key stays held
// until its claim lapses says so in Retry-After (rounded up); other 503s
// say 1 second.
func TestRetryAfterOfHeldKey(t *testing.T) {
	t.Parallel()
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"key held": {fmt.Errorf("place: %w", &ordercommit.KeyHeldError{Err: store.ErrUnavailable, Until: time.Now().Add(6500 * time.Millisecond)}), "7"},
		"plain":    {store.ErrUnavailable, "1"},
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodPost, "/orders", nil)
			s.writeUnexpected(c, tc.err)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != tc.want {
				t.Errorf("status %d, Retry-After %q; want 503, %q", w.Code, w.Header().Get("Retry-After"), tc.want)
			}
		})
	}
}
