package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/ordersettle/ordersettle/gen/client"
)

// Exit statuses.
const (
	exitOK              = 0
	exitFailure         = 1 // an API or network error, or a job that did not complete
	exitUsage           = 2 // a bad command line, found before any request
	exitUnauthenticated = 3 // the server wants a credential, or refused the one sent (HTTP 401)
	exitForbidden       = 4 // the credential lacks the scope or binding the request needs (HTTP 403)
	exitInterrupted     = 130
)

// exitError ends the command with code, after printing msg on stderr unless it
// is empty (the command has already said what happened).
type exitError struct {
	code int
	msg  string
	// shown means stdout already holds the JSON that tells the outcome (a
	// job that ended FAILED, say), so --json prints no error object.
	shown bool
}

func (e *exitError) Error() string { return e.msg }

// usageError is a problem with the command line.
type usageError struct {
	cmd string // the command, e.g. "jobs create"; empty for settle itself
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(cmd, format string, a ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, a...)}
}

// apiError is an error response from the API.
type apiError struct {
	status  int
	code    client.ErrorCode // empty when the body is not the contract's error shape
	message string
	// tokenSent says whether the request carried a credential (for a 401).
	tokenSent bool
	// retryAfter is the Retry-After of a 429 in seconds, 0 when absent.
	retryAfter int
}

// Error is the one line printed on stderr: the API's code, message and
// status, and for 401, 403 and 429 what to do about it.
func (e *apiError) Error() string {
	what := fmt.Sprintf("%s: %s (HTTP %d)", e.code, e.message, e.status)
	if e.code == "" {
		what = fmt.Sprintf("unexpected response: %s (HTTP %d)", e.message, e.status)
	}
	switch e.status {
	case http.StatusUnauthorized:
		const howTo = "pass --token or set $" + tokenEnv + "; create a key with 'server keys create --name NAME --scopes LIST'"
		inner := fmt.Sprintf("%s: %s; HTTP %d", e.code, e.message, e.status)
		if e.code == "" {
			inner = fmt.Sprintf("HTTP %d: %s", e.status, e.message)
		}
		if !e.tokenSent {
			return fmt.Sprintf("no credential was sent and the server requires one (%s): %s (a local 'make run' writes an admin key to .pgdata/admin-token)", inner, howTo)
		}
		return fmt.Sprintf("the server refused the credential (%s): %s", inner, howTo)
	case http.StatusTooManyRequests:
		if e.retryAfter > 0 {
			return fmt.Sprintf("%s: retry after %d s", what, e.retryAfter)
		}
		return what + ": retry later"
	}
	// A 403's message names the missing scope or binding: it is shown as is.
	return what
}

// exitCode is the exit status for the error: its own for 401 and 403.
func (e *apiError) exitCode() int {
	switch e.status {
	case http.StatusUnauthorized:
		return exitUnauthenticated
	case http.StatusForbidden:
		return exitForbidden
	}
	return exitFailure
}

// unreachableError says that nothing answered at the base URL.
type unreachableError struct {
	url   string
	cause string
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("the server is not reachable at %s (%s): start it with 'make run', or set --url or $%s to a running server",
		e.url, e.cause, urlEnv)
}

// report prints err as one line on stderr and returns the exit status.
func report(stderr io.Writer, err error) int {
	var (
		exit  *exitError
		usage *usageError
		api   *apiError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit):
		if exit.msg != "" {
			fmt.Fprintln(stderr, "settle: "+exit.msg)
		}
		return exit.code
	case errors.As(err, &usage):
		name := "settle"
		if usage.cmd != "" {
			name = "settle " + usage.cmd
		}
		fmt.Fprintf(stderr, "%s: %s\n\n", name, usage.msg)
		printUsageOf(stderr, usage.cmd)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "settle: interrupted")
		return exitInterrupted
	case errors.As(err, &api):
		fmt.Fprintln(stderr, api.Error())
		return api.exitCode()
	default:
		fmt.Fprintln(stderr, "settle: "+err.Error())
		return exitFailure
	}
}

// response is what every generated *Response type offers.
type response interface {
	StatusCode() int
	GetBody() []byte
	ContentType() string
}

// expect returns nil if r has the status want, and otherwise the API error in
// its body, with what the CLI needs to explain a 401 or a 429.
func (s *session) expect(r response, want int) error {
	if r.StatusCode() == want {
		return nil
	}
	e := errorFromBody(r.StatusCode(), r.GetBody())
	e.tokenSent = s.token
	if h := httpResponse(r); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Header.Get("Retry-After"))); err == nil && n > 0 {
			e.retryAfter = n
		}
	}
	return e
}

// httpResponse returns the *http.Response of a generated response type (its
// field HTTPResponse, which no method exposes), or nil.
func httpResponse(r response) *http.Response {
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	f := v.FieldByName("HTTPResponse")
	if !f.IsValid() {
		return nil
	}
	h, _ := f.Interface().(*http.Response)
	return h
}

// errorFromBody reads the contract's error shape from an error response body;
// a body of another shape (from a proxy, say) is quoted briefly instead.
func errorFromBody(status int, body []byte) *apiError {
	var e client.Error
	if err := json.Unmarshal(body, &e); err == nil && e.Error.Code != "" {
		return &apiError{status: status, code: e.Error.Code, message: e.Error.Message}
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = text[:200]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
		text += "…"
	}
	if text == "" {
		text = "empty body"
	}
	return &apiError{status: status, message: text}
}

// requestError turns the error of a generated client call into one that says
// what to do next. Interrupts pass through unchanged.
func requestError(baseURL string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &unreachableError{url: baseURL, cause: dialCause(op)}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("request to %s failed: %w", baseURL, uerr.Err)
	}
	// The generated client could not decode the response.
	return &unexpectedError{msg: fmt.Sprintf("unexpected response from %s (is it the ordersettle API?): %v", baseURL, err)}
}

// dialCause names why a connection could not be made, in a few words.
func dialCause(op *net.OpError) string {
	var dns *net.DNSError
	switch {
	case errors.Is(op, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(op, &dns):
		return dns.Err + ": " + dns.Name
	case op.Timeout():
		return "connection timed out"
	default:
		return op.Err.Error()
	}
}

// Codes of the error objects that --json prints for errors that are not the
// API's own.
const (
	codeUsage              = "USAGE"               // a bad command line (exit 2)
	codeUnreachable        = "UNREACHABLE"         // nothing answered at the base URL
	codeUnexpectedResponse = "UNEXPECTED_RESPONSE" // an answer outside the contract
	codeInterrupted        = "INTERRUPTED"         // Ctrl-C (exit 130)
	codeClientError        = "CLIENT_ERROR"        // anything else that went wrong here
)

// errorObject is the API's error shape, {"error":{"code":…,"message":…}},
// with a code that may also be one of the CLI's own.
type errorObject struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeJSONError prints err on w as an error object: an API error as the API
// sent it, anything else with the CLI's code for it.
func writeJSONError(w io.Writer, err error) {
	var (
		exit        *exitError
		usage       *usageError
		api         *apiError
		unreachable *unreachableError
		unexpected  *unexpectedError
		obj         errorObject
	)
	switch {
	case errors.As(err, &exit) && exit.shown:
		return
	case errors.As(err, &usage):
		obj.Error.Code, obj.Error.Message = codeUsage, usage.msg
	case errors.As(err, &api) && api.code != "":
		obj.Error.Code, obj.Error.Message = string(api.code), api.message
	case errors.As(err, &api):
		obj.Error.Code, obj.Error.Message = codeUnexpectedResponse, api.Error()
	case errors.As(err, &unreachable):
		obj.Error.Code, obj.Error.Message = codeUnreachable, unreachable.Error()
	case errors.As(err, &unexpected):
		obj.Error.Code, obj.Error.Message = codeUnexpectedResponse, unexpected.Error()
	case errors.As(err, &exit) && exit.code == exitInterrupted, errors.Is(err, context.Canceled):
		obj.Error.Code, obj.Error.Message = codeInterrupted, "interrupted"
	default:
		obj.Error.Code, obj.Error.Message = codeClientError, err.Error()
	}
	b, _ := json.Marshal(obj) // a struct of two strings always encodes
	_ = printJSON(w, b)
}

// wantsJSON reports whether the command line asks for --json, looking at
// the raw arguments, so that an error found before the flags are parsed (an
// unknown flag before --json, say) is printed as JSON too.
func wantsJSON(args []string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "json" {
			continue
		}
		on = true
		if hasValue {
			on, _ = strconv.ParseBool(value)
		}
	}
	return on
}

// unexpectedError is a success status without the body the contract
// promises, as when --url points at some other server.
type unexpectedError struct {
	msg string
}

func (e *unexpectedError) Error() string { return e.msg }
