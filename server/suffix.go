package server

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// suffixRouter registers the generated routes, mending the one Gin cannot
// express: a last segment like ":job_id.csv" is a single parameter named
// "job_id.csv" to Gin, so binding "job_id" would always fail. The route is
// registered as ":job_id" instead, behind a handler that requires the ".csv"
// suffix and strips it from the parameter.
type suffixRouter struct {
	gin.IRouter
}

// GET registers a GET route, mending a suffixed last parameter.
func (r suffixRouter) GET(path string, handlers ...gin.HandlerFunc) gin.IRoutes {
	return r.mend(http.MethodGet, path, handlers)
}

// HEAD registers a HEAD route, mending a suffixed last parameter.
func (r suffixRouter) HEAD(path string, handlers ...gin.HandlerFunc) gin.IRoutes {
	return r.mend(http.MethodHead, path, handlers)
}

func (r suffixRouter) mend(method, path string, handlers []gin.HandlerFunc) gin.IRoutes {
	i := strings.LastIndex(path, "/:")
	if i < 0 {
		return r.IRouter.Handle(method, path, handlers...)
	}
	param, suffix, found := strings.Cut(path[i+2:], ".")
	if !found || strings.Contains(suffix, "/") {
		return r.IRouter.Handle(method, path, handlers...)
	}
	suffix = "." + suffix
	strip := func(c *gin.Context) {
		for k := range c.Params {
			if c.Params[k].Key != param {
				continue
			}
			v, ok := strings.CutSuffix(c.Params[k].Value, suffix)
			if !ok || v == "" {
				notFound(c)
				return
			}
			c.Params[k].Value = v
		}
		c.Next()
	}
	return r.IRouter.Handle(method, path[:i+2]+param, append([]gin.HandlerFunc{strip}, handlers...)...)
}
