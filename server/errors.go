package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/ordercommit"
)

// This file is the one place where errors become HTTP responses. Handlers
// return typed responses for the outcomes the spec declares (404, 409, …) and
// `nil, err` for everything else, which ends up in writeUnexpected.

// retryAfterSeconds is the Retry-After of 503 responses.
const retryAfterSeconds = 1

// apiError builds the contract's error body.
func apiError(code gen.ErrorCode, format string, args ...any) gen.Error {
	return gen.Error{Error: gen.ErrorDetail{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// writeError writes an error in the contract's shape, encoded like the
// generated responses (application/json, one line), and stops the handler
// chain.
func writeError(c *gin.Context, status int, body gen.Error) {
	c.Abort()
	if status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	c.Header("Content-Type", "application/json")
	c.Status(status)
	_ = json.NewEncoder(c.Writer).Encode(body) // the client is gone if this fails
}

// problem is how an error that no handler expected is answered.
type problem struct {
	status int
	body   gen.Error
}

// problemFor maps an unexpected error to its response. Only the code and a
// fixed message reach the client; the error itself goes to the log.
func problemFor(err error) problem {
	switch {
	case errors.Is(err, domain.ErrUnavailable):
		return problem{http.StatusServiceUnavailable,
			apiError(gen.CodeUnavailable, "the database is unavailable; retry later")}
	case errors.Is(err, ordercommit.ErrQueueFull):
		return problem{http.StatusServiceUnavailable,
			apiError(gen.CodeUnavailable, "the server has too many orders waiting; retry later")}
	case errors.Is(err, ordercommit.ErrClosed):
		return problem{http.StatusServiceUnavailable,
			apiError(gen.CodeUnavailable, "the server is shutting down; retry later")}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The request ran out of time, most often waiting for a database
		// connection under load, or its client went away.
		return problem{http.StatusServiceUnavailable,
			apiError(gen.CodeUnavailable, "the server is busy and could not answer in time; retry later")}
	case errors.Is(err, domain.ErrInvalidInput):
		return problem{http.StatusBadRequest,
			apiError(gen.CodeBadRequest, "the request holds a value that cannot be stored (for example a NUL character)")}
	default:
		return problem{http.StatusInternalServerError,
			apiError(gen.CodeInternal, "internal error; the server log has the details")}
	}
}

// writeUnexpected logs err and answers with problemFor(err).
func (s *Server) writeUnexpected(c *gin.Context, err error) {
	p := problemFor(err)
	level := slog.LevelWarn
	if p.status >= http.StatusInternalServerError && p.status != http.StatusServiceUnavailable {
		level = slog.LevelError
	}
	s.log.Log(c.Request.Context(), level, "request failed",
		"method", c.Request.Method, "path", c.Request.URL.Path, "status", p.status, "err", err)
	var wait interface{ RetryAfter() time.Duration }
	if p.status == http.StatusServiceUnavailable && errors.As(err, &wait) {
		// A keyed order whose key stays held until its claim lapses: a
		// retry before then would be refused as in flight.
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.RetryAfter().Seconds()))))
	}
	writeError(c, p.status, p.body)
}

// handlerError is the strict server's hook for `nil, err` from a handler.
func (s *Server) handlerError(c *gin.Context, err error) { s.writeUnexpected(c, err) }

// responseError is the strict server's hook for a response that could not be
// written or has an unexpected type.
func (s *Server) responseError(c *gin.Context, err error) {
	if c.Writer.Written() {
		// Too late to answer; the client sees a truncated body.
		s.log.ErrorContext(c.Request.Context(), "writing response failed", "path", c.Request.URL.Path, "err", err)
		return
	}
	s.writeUnexpected(c, err)
}

// requestError is the strict server's hook for a body it could not decode.
// Request validation normally rejects such bodies first.
// A JSON number that validates as an integer but does not decode as one (1.0)
// ends up here; its message names the field, not Go's types.
func requestError(c *gin.Context, err error) {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		writeError(c, http.StatusBadRequest, apiError(gen.CodeBadRequest,
			"request body: %s: %s is not a valid %s", typeErr.Field, typeErr.Value, jsonKind(typeErr.Type.Kind())))
		return
	}
	writeError(c, http.StatusBadRequest, apiError(gen.CodeBadRequest, "request body: %v", err))
}

// jsonKind names a Go kind the way the API documents its fields.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	default:
		return "value here"
	}
}

// bindError is the generated wrapper's hook for path, query and header
// parameters it could not bind.
func bindError(c *gin.Context, err error, status int) {
	code := gen.CodeBadRequest
	if status >= http.StatusInternalServerError {
		code = gen.CodeInternal
	}
	writeError(c, status, apiError(code, "%v", err))
}

// notFound answers requests for paths the API does not have.
func notFound(c *gin.Context) {
	writeError(c, http.StatusNotFound,
		apiError(gen.CodeNotFound, "no such path: %s %s; the API is described at /docs", c.Request.Method, c.Request.URL.Path))
}

// methodNotAllowed answers a known path with a method it does not support.
// Allow lists the methods the spec routes for the URL; for the paths that
// are not in the spec (/metrics, /docs, /ui), those Gin found, which it has
// set in Allow.
func (s *Server) methodNotAllowed(c *gin.Context) {
	allow := specMethods(s.specRouter, c.Request)
	if len(allow) == 0 {
		allow = sortMethods(strings.Split(c.Writer.Header().Get("Allow"), ","))
	}
	writeMethodNotAllowed(c, allow)
}

// writeMethodNotAllowed answers 405 with Allow: allow.
func writeMethodNotAllowed(c *gin.Context, allow []string) {
	c.Writer.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(c, http.StatusMethodNotAllowed,
		apiError(gen.CodeMethodNotAllowed, "%s is not allowed on %s; allowed: %s",
			c.Request.Method, c.Request.URL.Path, strings.Join(allow, ", ")))
}

// methodOrder is the order of the methods in an Allow header.
var methodOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// sortMethods trims, deduplicates and orders methods as methodOrder does
// (others last, alphabetically).
func sortMethods(methods []string) []string {
	var out []string
	for _, m := range methods {
		if m = strings.TrimSpace(m); m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	rank := func(m string) int {
		if i := slices.Index(methodOrder, m); i >= 0 {
			return i
		}
		return len(methodOrder)
	}
	slices.SortFunc(out, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// routeNotInSpec answers a request that Gin routed but the spec has no
// operation for (for example /downloads/x without the .csv suffix); when
// the spec has the path with other methods, Allow lists them.
func routeNotInSpec(c *gin.Context, router routers.Router, methodMismatch bool) {
	if !methodMismatch {
		notFound(c)
		return
	}
	writeMethodNotAllowed(c, specMethods(router, c.Request))
}

// specMethods lists, in the usual order, the methods for which the spec
// has an operation at req's URL, with HEAD where it has GET.
func specMethods(router routers.Router, req *http.Request) []string {
	var allow []string
	for _, m := range methodOrder {
		probe := *req
		probe.Method = m
		if m == http.MethodHead {
			probe.Method = http.MethodGet // every GET answers HEAD
		}
		if _, _, err := router.FindRoute(&probe); err == nil {
			allow = append(allow, m)
		}
	}
	return allow
}

// recovered answers a request whose handler panicked.
func (s *Server) recovered(c *gin.Context, v any) {
	s.log.ErrorContext(c.Request.Context(), "handler panicked", "path", c.Request.URL.Path, "panic", v, "stack", string(debug.Stack()))
	writeError(c, http.StatusInternalServerError, apiError(gen.CodeInternal, "internal error; the server log has the details"))
}

// badRequest builds a 400 BAD_REQUEST response.
func badRequest(format string, args ...any) gen.BadRequestJSONResponse {
	return gen.BadRequestJSONResponse{Body: apiError(gen.CodeBadRequest, format, args...)}
}
