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
//   - access control from the spec (auth.go): each operation's `security`
//     and `x-required-scopes`, read at start, decide who may call it, before
//     anything reads the query or the body: 401 UNAUTHENTICATED with
//     WWW-Authenticate without a valid API key or JWT, 403 FORBIDDEN without
//     the scope, 429 RATE_LIMITED over the credential's rate limit; the
//     principal (auth.FromContext) then travels in the request's context,
//     where handlers apply merchant and buyer bindings in their store
//     queries and the log adds it to every line; CORS only for the allowed
//     origins;
//   - strict input: no redirects, 400 for a query string that does not
//     parse, a 1 MiB body limit (413), 408 for a body that does not arrive
//     in time, 415 for a body that is not JSON, 400 for invalid UTF-8,
//     duplicate keys, numbers out of range or NUL characters (the jsontext
//     decoder), and request validation against the spec (400);
//   - HEAD on every GET route, and the contract's JSON error shape for
//     everything, including unknown routes (404) and wrong methods (405,
//     with Allow).
//
// /livez answers while the process serves and never touches the database;
// /readyz and /health check the database over the store's own connection,
// and BeginShutdown turns readiness off when a shutdown starts.
// Settlement CSVs are streamed from the database a chunk at a time, with a
// strong ETag, 304 for a matching If-None-Match, and HEAD (downloads.go).
// It also serves /openapi.yaml, Swagger UI at /docs and /metrics. No SQL
// lives here: errors from the store are mapped to HTTP in errors.go.
package server
