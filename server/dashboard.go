package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"time"

	"github.com/gin-gonic/gin"
)

// uiFiles is the dashboard: one HTML page with its script and style sheet,
// plain files served as they are (no build step, nothing from the network).
//
//go:embed ui/index.html ui/app.js ui/style.css
var uiFiles embed.FS

// dashboardPolicy lets the page load only its own files and call only this
// server: no CDN, no inline code.
const dashboardPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// asset is one file of the dashboard.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// dashboardAssets are the dashboard's files by their path under /ui.
var dashboardAssets = func() map[string]asset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
	}
	assets := map[string]asset{}
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		body, err := uiFiles.ReadFile("ui/" + name)
		if err != nil {
			panic(err) // embedded above: cannot happen
		}
		sum := sha256.Sum256(body)
		assets["/"+name] = asset{body: body, contentType: types[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	assets["/"] = assets["/index.html"]
	return assets
}()

// mountDashboard serves the dashboard at /ui/ (and /ui, redirected). It is
// not part of the API: no request validation or load shedding, like /docs.
func mountDashboard(r gin.IRoutes) {
	r.GET("/ui", redirect("/ui/"))
	r.GET("/ui/*file", serveDashboard)
}

// serveDashboard answers one file of the dashboard; revalidation with
// If-None-Match gets a 304.
func serveDashboard(c *gin.Context) {
	a, ok := dashboardAssets[c.Param("file")]
	if !ok {
		notFound(c)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("Content-Security-Policy", dashboardPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(c.Writer, c.Request, "", time.Time{}, bytes.NewReader(a.body))
}
