package server

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ordersettle/ordersettle/gen"
)

// suffixRouter registers the generated routes, mending the one Gin cannot
// express: a last segment like ":job_id.csv" is a single parameter named
// "job_id.csv" to Gin, so binding "job_id" would always fail. The route is
// registered as ":job_id" instead, behind a handler that requires the ".csv"
// suffix and strips it from the parameter.
//
// A GET route is registered through the wrapped router's GET (which adds
// HEAD, see withHead) unless the spec has a HEAD operation of its own for
// the path (explicitHead, in Gin's path syntax): that one is registered as
// generated.
type suffixRouter struct {
	gin.IRouter
	explicitHead map[string]bool
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
	handle := func(p string, h ...gin.HandlerFunc) gin.IRoutes {
		if method == http.MethodGet && !r.explicitHead[path] {
			return r.IRouter.GET(p, h...)
		}
		return r.IRouter.Handle(method, p, h...)
	}
	i := strings.LastIndex(path, "/:")
	if i < 0 {
		return handle(path, handlers...)
	}
	param, suffix, found := strings.Cut(path[i+2:], ".")
	if !found || strings.Contains(suffix, "/") {
		return handle(path, handlers...)
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
	return handle(path[:i+2]+param, append([]gin.HandlerFunc{strip}, handlers...)...)
}

// explicitHeads returns the paths, in Gin's syntax, for which the spec has
// a HEAD operation of its own.
func explicitHeads() map[string]bool {
	heads := map[string]bool{}
	doc, err := gen.GetSpec()
	if err != nil {
		return heads // newSpecRouter has already refused such a spec
	}
	for path, item := range doc.Paths.Map() {
		if item.Head != nil {
			heads[ginPath.ReplaceAllString(path, ":$1")] = true
		}
	}
	return heads
}

// ginPath matches a spec path's parameter ({id}).
var ginPath = regexp.MustCompile(`\{([^}/]+)\}`)
