// Package gen holds the code oapi-codegen generates from api/openapi.yaml for
// the server: the API's types, the Gin strict-server interface and the
// embedded spec. The typed HTTP client, for programs that call the API, is
// the package gen/client. Do not edit the *.gen.go files; change the spec and
// run `make generate`.
package gen

//go:generate go tool oapi-codegen -config types.cfg.yaml ../api/openapi.yaml
//go:generate go tool oapi-codegen -config server.cfg.yaml ../api/openapi.yaml
//go:generate go tool oapi-codegen -config client/client.cfg.yaml ../api/openapi.yaml
