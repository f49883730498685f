package server

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// headLikeGet makes the answer to a HEAD request carry the headers the GET
// would: the handlers run as for GET, their body is counted instead of
// sent, and unless they streamed it (flushed) or set it themselves, the
// Content-Length of that body is declared, as net/http does for a GET
// whose whole body fits its buffer.
func headLikeGet(c *gin.Context) {
	if c.Request.Method != http.MethodHead {
		c.Next()
		return
	}
	w := &headWriter{ResponseWriter: c.Writer}
	c.Writer = w
	c.Next()
	c.Writer = w.ResponseWriter
	if !w.flushed && w.n > 0 && w.n <= netHTTPBuffer {
		h := w.Header()
		if h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
			h.Set("Content-Length", strconv.Itoa(w.n))
		}
	}
	w.ResponseWriter.WriteHeaderNow() // the status and headers, once
}

// netHTTPBuffer is how much of a body net/http buffers before it sends the
// headers: a GET whose whole body fits gets a Content-Length, a longer one
// is sent chunked.
const netHTTPBuffer = 2048

// headWriter counts the body of an answer to HEAD instead of writing it.
type headWriter struct {
	gin.ResponseWriter
	n       int  // body bytes the handlers wrote
	flushed bool // the handlers flushed: the headers are out
}

// Write counts b.
func (w *headWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// WriteString counts s.
func (w *headWriter) WriteString(s string) (int, error) {
	w.n += len(s)
	return len(s), nil
}

// WriteHeaderNow waits: the headers go out when the handlers are done.
func (w *headWriter) WriteHeaderNow() {}

// Written reports whether the handlers wrote a body (or flushed).
func (w *headWriter) Written() bool { return w.n > 0 || w.flushed || w.ResponseWriter.Written() }

// Size is the size of the body the handlers wrote.
func (w *headWriter) Size() int {
	if w.n > 0 {
		return w.n
	}
	return w.ResponseWriter.Size()
}

// Flush sends the headers now, without a Content-Length.
func (w *headWriter) Flush() {
	w.flushed = true
	w.ResponseWriter.Flush()
}

// redirect answers a permanent redirect to location with the same small
// HTML body for GET and HEAD (http.Redirect writes it for GET only).
func redirect(location string) gin.HandlerFunc {
	body := "<a href=\"" + location + "\">Moved Permanently</a>.\n"
	return func(c *gin.Context) {
		c.Header("Location", location)
		c.Data(http.StatusMovedPermanently, "text/html; charset=utf-8", []byte(body))
	}
}
