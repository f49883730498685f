// Package auth decides who is calling: it verifies API keys and JWTs and
// turns them into a Principal with scopes, optional merchant and buyer
// bindings and a rate limit. It knows nothing of HTTP or SQL.
//
// API keys are opaque tokens ("os_" and 43 base62 characters, 256 random
// bits). Only their SHA-256 hash is stored; a KeyVerifier keeps every live
// key in memory and refreshes that cache in the background from a KeySource
// (the database), so verifying a known key costs no database round trip,
// while revocation and expiry reach every process within seconds.
//
// JWTs come from an identity provider whose signing keys are published as a
// JWK Set (JWTVerifier); only RS256 and ES256 are accepted.
//
// RateLimiter gives every principal its own token bucket.
package auth
