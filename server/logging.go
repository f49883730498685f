package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordersettle/ordersettle/auth"
)

// LogHandler wraps next so that every record logged with the context of a
// request (the …Context methods of slog.Logger, or Log/LogAttrs) carries the
// request's id as the attribute request_id, and, once its credential is
// verified, its principal (key:<id> or jwt:<sub>, never a token) as the
// attribute principal. Records logged without such a
// context, such as those of background work, are passed on unchanged.
// Wrapping a handler that LogHandler returned returns it as is.
func LogHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{next: next}
}

// requestIDHandler is the slog.Handler of LogHandler.
type requestIDHandler struct{ next slog.Handler }

// Enabled reports whether next handles records at level.
func (h requestIDHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds request_id and principal when ctx is a request's and passes r
// on to next.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
		if p := auth.FromContext(ctx); p != nil {
			r.AddAttrs(slog.String("principal", p.ID))
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a handler whose records carry attrs too.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a handler that puts later attributes in group name.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{next: h.next.WithGroup(name)}
}

// accessLog writes one line at INFO per request once it is answered: its
// request_id (added by LogHandler from the context), method (as in the
// metrics: GET … OPTIONS or OTHER, never raw input), route (the template,
// "unmatched" when no route matched), status, duration_ms and bytes (of the
// response body).
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	if !s.log.Enabled(c.Request.Context(), slog.LevelInfo) {
		return
	}
	s.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
		slog.String("method", methodLabel(c.Request.Method)),
		slog.String("route", routeLabel(c)),
		slog.Int("status", c.Writer.Status()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
	)
}
