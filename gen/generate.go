// Package gen holds the code oapi-codegen generates from api/openapi.yaml:
// the API's types, the Gin strict-server interface, the typed HTTP client and
// the embedded spec. Do not edit the *.gen.go files; change the spec and run
// `make generate`.
package gen

//go:generate go tool oapi-codegen -config types.cfg.yaml ../api/openapi.yaml
//go:generate go tool oapi-codegen -config server.cfg.yaml ../api/openapi.yaml
//go:generate go tool oapi-codegen -config client.cfg.yaml ../api/openapi.yaml
