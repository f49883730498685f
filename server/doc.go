// Package server is the HTTP layer of ordersettle. It implements
// gen.StrictServerInterface (generated from api/openapi.yaml) over the
// store, the order committer (package ordercommit: orders are placed by
// group commit) and the settlement engine, and wires it into a Gin engine
// with the middleware every request goes through:
//
//   - recovery and metrics (Prometheus, labelled by route template);
//   - load shedding (a cap on requests in flight, 503 beyond it) and a
//     per-request deadline that reaches SQL;
//   - a 1 MiB body limit (413) and request validation against the spec (400);
//   - the contract's JSON error shape for everything, including unknown
//     routes (404) and wrong methods (405).
//
// It also serves /openapi.yaml, Swagger UI at /docs and /metrics. No SQL lives
// here: errors from the store are mapped to HTTP in errors.go.
package server
