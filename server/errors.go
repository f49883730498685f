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
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
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
	case errors.Is(err, store.ErrUnavailable):
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
	case errors.Is(err, store.ErrInvalidInput):
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

// methodNotAllowed answers a known path with a method it does not support; Gin
// has set the Allow header.
func methodNotAllowed(c *gin.Context) {
	writeError(c, http.StatusMethodNotAllowed,
		apiError(gen.CodeMethodNotAllowed, "%s is not allowed on %s; allowed: %s",
			c.Request.Method, c.Request.URL.Path, c.Writer.Header().Get("Allow")))
}

// routeNotInSpec answers a request that Gin routed but the spec has no
// operation for (for example /downloads/x without the .csv suffix).
func routeNotInSpec(c *gin.Context, methodMismatch bool) {
	if methodMismatch {
		writeError(c, http.StatusMethodNotAllowed,
			apiError(gen.CodeMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
		return
	}
	notFound(c)
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
