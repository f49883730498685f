package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ordersettle/ordersettle/gen/client"
)

// responseHeaderTimeout bounds the wait for a response to start; a CSV body
// may then stream for as long as it takes.
const responseHeaderTimeout = 30 * time.Second

// session is what a command runs with: the API client, the output mode and
// the output streams. Results go to stdout; progress, notes and errors to
// stderr.
type session struct {
	baseURL string // without a trailing slash
	api     *client.ClientWithResponses
	// token says whether a credential is sent (never what it is), so that a
	// 401 can tell "none was sent" from "it was refused".
	token  bool
	json   bool // print response JSON instead of text
	stdout io.Writer
	stderr io.Writer
	tty    bool // stderr is a terminal, so a progress bar can be drawn
}

// newSession validates the global flags and builds the client.
func newSession(g globals, stdout, stderr io.Writer) (*session, error) {
	base, err := parseBaseURL(g.url)
	if err != nil {
		return nil, err
	}
	token, err := g.credential()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = responseHeaderTimeout
	opts := []client.ClientOption{
		client.WithHTTPClient(&http.Client{Transport: transport}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("User-Agent", "settle")
			return nil
		}),
	}
	if token != "" {
		opts = append(opts, client.WithBearerToken(token))
	}
	api, err := client.NewClientWithResponses(base, opts...)
	if err != nil {
		return nil, fmt.Errorf("--url %q: %v", g.url, err)
	}
	return &session{
		baseURL: base,
		api:     api,
		token:   token != "",
		json:    g.json,
		stdout:  stdout,
		stderr:  stderr,
		tty:     isTerminal(stderr),
	}, nil
}

// parseBaseURL checks that raw is an absolute http(s) URL and returns it
// without a trailing slash.
func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--url %q is not an http(s) base URL such as %s", raw, defaultURL)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// credential returns the token to send: --token when given, else
// $ORDERSETTLE_TOKEN, else none. Surrounding white space (a line break from a
// file) is dropped; a token with white space or control characters inside is
// a usage error whose message does not repeat it.
func (g globals) credential() (string, error) {
	token, from := g.token.value, "--token"
	if !g.token.set {
		token, from = os.Getenv(tokenEnv), "$"+tokenEnv
	}
	token = strings.TrimSpace(token)
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return "", fmt.Errorf("the token in %s holds white space or a character outside printable ASCII; pass the API key (os_…) or JWT alone", from)
	}
	return token, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// fail turns the error of a generated client call into one that says what to
// do next.
func (s *session) fail(err error) error {
	return requestError(s.baseURL, err)
}

// unexpected describes a success status without the body the contract
// promises, as when --url points at some other server.
func (s *session) unexpected(r response) error {
	return &unexpectedError{msg: fmt.Sprintf("unexpected response from %s: HTTP %d with Content-Type %q; is --url the ordersettle API?",
		s.baseURL, r.StatusCode(), r.ContentType())}
}

// result turns a generated-client call into its decoded body or one error:
// the network failure, the API error for any status but want, or a success
// status without the body the contract promises. body reads the decoded
// field (JSON200, JSON202); it is only called when r is there.
func result[T any](s *session, r response, err error, want int, body func() *T) (*T, error) {
	if err != nil {
		return nil, s.fail(err)
	}
	if err := s.expect(r, want); err != nil {
		return nil, err
	}
	v := body()
	if v == nil {
		return nil, s.unexpected(r)
	}
	return v, nil
}
