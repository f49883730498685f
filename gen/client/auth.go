package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// WithBearerToken returns the ClientOption that sends the credential token
// (an API key "os_…", or a JWT from the identity provider) as
// "Authorization: Bearer <token>" on every request the client makes:
//
//	c, err := client.NewClientWithResponses("http://localhost:8080",
//		client.WithBearerToken(os.Getenv("ORDERSETTLE_TOKEN")))
//
// Every operation except the public ones (the catalog reads, the probes)
// needs a token; without one, or with a revoked or expired one, the API
// answers 401 UNAUTHENTICATED, and with one that lacks the operation's scope
// 403 FORBIDDEN naming the missing scope. A per-call RequestEditorFn runs
// after it and may replace the header.
//
// NewClient fails if the token is empty or holds a space or a control
// character, so that a missing environment variable shows up at once rather
// than as a 401 on the first call.
func WithBearerToken(token string) ClientOption {
	return func(c *Client) error {
		if err := checkToken(token); err != nil {
			return err
		}
		header := "Bearer " + token
		c.RequestEditors = append(c.RequestEditors, func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", header)
			return nil
		})
		return nil
	}
}

// checkToken refuses what cannot be a bearer token (RFC 6750's b64token is
// printable ASCII without spaces), without saying what the token holds.
func checkToken(token string) error {
	if token == "" {
		return errors.New("client: empty bearer token")
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return errors.New("client: the bearer token holds a space or a character outside printable ASCII")
	}
	return nil
}
