// Package server is the HTTP layer of ordersettle. It implements
// gen.StrictServerInterface (generated from api/openapi.yaml) over the
// store, the order committer (package ordercommit: orders are placed by
// group commit) and the settlement engine, and wires it into a Gin engine
// with the middleware every request goes through:
//
//   - a request id (X-Request-ID on every response, in the request's
//     context, and on every line logged with it: see LogHandler), one
//     access-log line per request, and Prometheus metrics labelled by route
//     template and a bounded method;
//   - recovery (a panic is a 500 in the error shape);
//   - load shedding (a cap on requests in flight, 503 beyond it; never the
//     probes) and a per-request deadline that reaches SQL;
//   - strict input: no redirects, 400 for a query string that does not
//     parse, a 1 MiB body limit (413), 408 for a body that does not arrive
//     in time, 400 for invalid UTF-8 or duplicate keys, and request
//     validation against the spec (400);
//   - the contract's JSON error shape for everything, including unknown
//     routes (404) and wrong methods (405).
//
// The probes (/livez, /readyz, /health) check the database over the store's
// own connection; BeginShutdown turns readiness off when a shutdown starts.
// Settlement CSVs are streamed from the database a chunk at a time, with a
// strong ETag, 304 for a matching If-None-Match, and HEAD (downloads.go).
// It also serves /openapi.yaml, Swagger UI at /docs and /metrics. No SQL
// lives here: errors from the store are mapped to HTTP in errors.go.
package server
