package server

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// CORS headers of the answers to allowed origins.
const (
	corsAllowMethods  = "GET, HEAD, POST, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
	corsExposeHeaders = "X-Request-ID, Location, Retry-After, WWW-Authenticate, Content-Disposition"
	corsMaxAgeSeconds = "600"
)

// cors lets browsers on the allowed origins ("*" for any) call the API: it
// answers their preflight requests (204) and marks the answers to their
// requests as readable. Other origins get no CORS headers, so their pages
// cannot read answers nor send Authorization; a form they post without a
// token is refused by access control anyway.
func cors(origins []string) gin.HandlerFunc {
	anyOrigin := slices.Contains(origins, "*")
	allowed := func(o string) bool { return anyOrigin || slices.Contains(origins, o) }
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		if origin == "" || !allowed(origin) {
			c.Next()
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAgeSeconds)
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}
