package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/gin-gonic/gin"
)

// RequestIDHeader carries a request's id, on the request (the client's own,
// optional) and on every response.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen is the longest client-supplied request id that is kept.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID returns the id of the request whose context ctx is, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns a copy of ctx that carries the request id id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// validRequestID reports whether id matches ^[A-Za-z0-9._:-]{1,128}$, the
// ids the server accepts from clients.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID makes up a request id: 128 random bits in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// requestID gives every request an id (the client's X-Request-ID when it is
// valid, else a new one), puts it in the request's context and sends it back
// on every response, whoever writes it: handlers, error hooks, Gin's 404/405,
// the recovery middleware or /docs.
func requestID(c *gin.Context) {
	id := c.GetHeader(RequestIDHeader)
	if !validRequestID(id) {
		id = newRequestID()
	}
	c.Request = c.Request.WithContext(WithRequestID(c.Request.Context(), id))
	c.Writer.Header().Set(RequestIDHeader, id)
	c.Writer = &requestIDWriter{ResponseWriter: c.Writer, id: id}
	c.Next()
}

// requestIDWriter keeps the X-Request-ID header on the response. The
// generated strict-server responses declare the header (the spec requires it
// on every response) and set it from a field that handlers leave empty; this
// writer puts the request's id back before the header is written, so no
// handler has to carry the id around.
type requestIDWriter struct {
	gin.ResponseWriter
	id string
}

func (w *requestIDWriter) keepID() {
	if !w.Written() {
		if h := w.Header(); h.Get(RequestIDHeader) != w.id {
			h.Set(RequestIDHeader, w.id)
		}
	}
}

// WriteHeader records the status, keeping the request id.
func (w *requestIDWriter) WriteHeader(code int) {
	w.keepID()
	w.ResponseWriter.WriteHeader(code)
}

// WriteHeaderNow writes the header, keeping the request id.
func (w *requestIDWriter) WriteHeaderNow() {
	w.keepID()
	w.ResponseWriter.WriteHeaderNow()
}

// Write writes body bytes (and the header first, if not yet written).
func (w *requestIDWriter) Write(b []byte) (int, error) {
	w.keepID()
	return w.ResponseWriter.Write(b)
}

// WriteString writes a string body (and the header first, if not yet written).
func (w *requestIDWriter) WriteString(s string) (int, error) {
	w.keepID()
	return w.ResponseWriter.WriteString(s)
}

var _ http.ResponseWriter = (*requestIDWriter)(nil)
