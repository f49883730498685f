// Package api embeds the OpenAPI document, api/openapi.yaml, which is the
// contract of the service: gen/ is generated from it and the server serves it
// at /openapi.yaml.
package api

import _ "embed"

// OpenAPIYAML is the text of api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
