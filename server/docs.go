package server

import (
	"net/http"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

// docsHandler serves Swagger UI at /docs/ from the binary (no network
// needed), reading the spec at /openapi.yaml. Its Authorize button takes a
// token for the spec's bearerAuth scheme and sends it as
// "Authorization: Bearer" with every "Try it out"; persistAuthorization
// keeps the token in the browser's local storage across reloads, until
// Logout.
func docsHandler() http.Handler {
	return v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "ordersettle API",
		SwaggerJSON: "/openapi.yaml",
		BasePath:    "/docs/",
		SettingsUI:  map[string]string{"persistAuthorization": "true"},
	})
}
