package server

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordersettle/ordersettle/api"
	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

var releaseMode sync.Once

// CleanupReserve is the part of a request timeout kept for the cleanup
// after the request's work: store.ReleaseTimeout, or a quarter of a short
// timeout. Give the order committer this as its CleanupTimeout.
func CleanupReserve(timeout time.Duration) time.Duration {
	return min(store.ReleaseTimeout, timeout/4)
}

// Handler returns the service's HTTP handler: the API routes of the spec plus
// /openapi.yaml, /docs, /metrics and the dashboard at /ui/.
func (s *Server) Handler() http.Handler {
	releaseMode.Do(func() { gin.SetMode(gin.ReleaseMode) })

	r := gin.New()
	r.ContextWithFallback = true // request cancellation and deadlines reach SQL
	r.HandleMethodNotAllowed = true
	// No redirects: GET /products/ is a 404 in the contract's shape like any
	// unknown path, not a 301 to /products (or a 307 with an empty body for a
	// POST). /docs redirects to /docs/ explicitly, for humans.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// The access log and the metrics see every answer, including those of
	// the recovery middleware (which logs panics with slog).
	r.Use(headLikeGet, requestID, s.accessLog, s.metrics.observe, gin.CustomRecoveryWithWriter(io.Discard, s.recovered))
	if len(s.cfg.CORSAllowedOrigins) > 0 {
		r.Use(cors(s.cfg.CORSAllowedOrigins))
	}
	r.NoRoute(notFound)
	r.NoMethod(s.methodNotAllowed)

	// Every GET route answers HEAD too: the same status and headers; the
	// net/http server drops the body of an answer to HEAD.
	get := withHead{r}
	get.GET("/openapi.yaml", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml; charset=utf-8", api.OpenAPIYAML)
	})
	docs := docsHandler()
	get.GET("/docs", redirect("/docs/"))
	get.GET("/docs/*asset", gin.WrapH(docs))
	get.GET("/metrics", s.requireScopes(auth.ScopeMetricsRead), gin.WrapH(s.metrics.handler()))
	mountDashboard(get)

	// Access control comes before anything reads the query or the body, so
	// that a request without a valid credential learns nothing but 401.
	routes := withHead{r.Group("", s.shedLoad, s.deadline, s.authenticate, strictQuery, readBody, validateRequest(s.specRouter))}
	strict := gen.NewStrictHandlerWithOptions(s, nil, gen.StrictGinServerOptions{
		RequestErrorHandlerFunc:  requestError,
		HandlerErrorFunc:         s.handlerError,
		ResponseErrorHandlerFunc: s.responseError,
	})
	gen.RegisterHandlersWithOptions(suffixRouter{IRouter: routes, explicitHead: explicitHeads()}, strict, gen.GinServerOptions{ErrorHandler: bindError})
	return r
}

// probeRoutes are never shed: a busy server must still say that it is live
// and ready. (/metrics is outside the API routes and not shed either.)
var probeRoutes = map[string]bool{"/livez": true, "/readyz": true, "/health": true}

// shedLoad answers 503 at once when MaxInFlight API requests are being
// served, so that overload gets a fast, clear answer instead of a pile-up.
// The probes are exempt: they must tell the truth under load.
func (s *Server) shedLoad(c *gin.Context) {
	if probeRoutes[c.FullPath()] {
		c.Next()
		return
	}
	select {
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
		c.Next()
	default:
		s.metrics.shed.Inc()
		writeError(c, http.StatusServiceUnavailable,
			apiError(gen.CodeUnavailable, "the server is at capacity (%d requests in flight); retry later", cap(s.inFlight)))
	}
}

// deadline bounds the request with Config.RequestTimeout, end to end; the
// deadline reaches the database through the request context. The handler's
// work gets the timeout less a reserve for the cleanup that runs after it
// (freeing an Idempotency-Key after a failure, bounded by
// store.ReleaseTimeout), so that the answer still goes out in time.
func (s *Server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout-CleanupReserve(s.cfg.RequestTimeout))
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// withHead registers every GET route for HEAD as well, with the same
// handlers.
type withHead struct {
	gin.IRouter
}

// GET registers the route for GET and HEAD.
func (r withHead) GET(path string, handlers ...gin.HandlerFunc) gin.IRoutes {
	r.IRouter.HEAD(path, handlers...)
	return r.IRouter.GET(path, handlers...)
}
