package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/gen"
)

// notBlankPattern is the spec's pattern of the strings that must not be
// blank: ECMA-262's \S spelled out as a class (Go's \S is ASCII only), the
// same set as isECMASpace.
const notBlankPattern = `[^\t\n\v\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]`

// MaxBodyBytes is the largest request body the API accepts (1 MiB), with or
// without a Content-Length.
const MaxBodyBytes = 1 << 20

func init() {
	// kin-openapi checks format: uuid only once a validator is defined.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return errors.New("not a UUID like 3f1c2b9e-8d4a-4f6b-9c1d-2e5a7b8c9d0e")
		}
		return nil
	}))
	// A date is a day of the calendar from 0001-01-01 to 9999-12-31
	// (kin-openapi's own check takes 2025-02-30 and 0000-01-01).
	openapi3.DefineStringFormatValidator("date", openapi3.NewCallbackValidator(checkDate))
}

// checkDate checks a YYYY-MM-DD date of the API.
func checkDate(s string) error {
	if len(s) != len(time.DateOnly) {
		return errors.New("not a date like 2025-01-31 (YYYY-MM-DD)")
	}
	d, err := time.Parse(time.DateOnly, s)
	switch {
	case err != nil && strings.HasPrefix(s, "0000-"), err == nil && d.Year() < 1:
		return fmt.Errorf("date %s is out of range: dates run from 0001-01-01 to 9999-12-31", s)
	case err != nil && strings.Contains(err.Error(), "out of range"):
		return fmt.Errorf("%s is not a day of the calendar", s)
	case err != nil:
		return errors.New("not a date like 2025-01-31 (YYYY-MM-DD)")
	}
	return nil
}

// newSpecRouter loads the embedded spec and builds the router that finds a
// request's operation in it. The spec's servers are dropped so that paths
// match whatever host and port the service runs on.
func newSpecRouter() (routers.Router, error) {
	doc, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded OpenAPI spec: %w", err)
	}
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("build OpenAPI router: %w", err)
	}
	return r, nil
}

// readBody reads the whole request body, up to MaxBodyBytes, so that a body
// over the limit is refused with 413 before anything else reads it, chunked
// or not; a body that does not arrive before the server's ReadTimeout gets
// 408. A JSON body that is more than one JSON value is refused with 400
// (kin-openapi decodes the first value and ignores the rest, so `{…}{…}` or
// `{…} junk` would otherwise pass), and so is one with invalid UTF-8, a
// duplicate key or a number out of range (see checkJSON).
func readBody(c *gin.Context) {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	tooLarge := func() {
		writeError(c, http.StatusRequestEntityTooLarge,
			apiError(gen.CodePayloadTooLarge, "request body is larger than %d bytes", MaxBodyBytes))
	}
	if c.Request.ContentLength > MaxBodyBytes {
		tooLarge()
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	var maxErr *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &maxErr):
		tooLarge()
		return
	case errors.As(err, &netErr) && netErr.Timeout():
		// The server's ReadTimeout fired while the body was arriving. The
		// error's text names both socket addresses: never echo it.
		writeError(c, http.StatusRequestTimeout,
			apiError(gen.CodeRequestTimeout, "the request body did not arrive in time; send it again"))
		return
	case errors.As(err, &netErr):
		writeError(c, http.StatusBadRequest, apiError(gen.CodeBadRequest, "reading the request body failed: the connection failed"))
		return
	case err != nil: // a malformed chunked encoding, a body shorter than its Content-Length
		writeError(c, http.StatusBadRequest, apiError(gen.CodeBadRequest, "reading the request body failed: %v", err))
		return
	}
	if ct := c.ContentType(); (ct == "application/json" || ct == "application/merge-patch+json") && len(bytes.TrimSpace(body)) > 0 {
		// Other media types and empty bodies are left to the validator.
		if err := checkJSON(body); err != nil {
			writeError(c, http.StatusBadRequest, apiError(gen.CodeBadRequest, "%s", err.message()))
			return
		}
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	c.Next()
}

// validateRequest checks the request's parameters and body against the spec
// and answers 400 BAD_REQUEST naming the field and the reason when they do
// not match. It runs on the API routes only.
func validateRequest(router routers.Router) gin.HandlerFunc {
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// Leave the validated value on the body so that the strict server binds
		// exactly what was validated instead of decoding again.
		KeepValidatedValue: true,
	}
	return func(c *gin.Context) {
		req := c.Request
		if req.Method == http.MethodHead {
			// HEAD is GET without the body: validated as the GET it stands for.
			get := *req
			get.Method = http.MethodGet
			req = &get
		}
		var route *routers.Route
		var pathParams map[string]string
		var err error
		if found, ok := c.Get(specRouteKey); ok { // authenticate found it already
			route, pathParams = found.(specRoute).route, found.(specRoute).params
		} else {
			route, pathParams, err = router.FindRoute(req)
		}
		if err != nil {
			// Gin's route is wider than the spec's (the ".csv" suffix).
			routeNotInSpec(c, router, errors.Is(err, routers.ErrMethodNotAllowed))
			return
		}
		if msg := unsupportedMediaType(req, route.Operation); msg != "" {
			writeError(c, http.StatusUnsupportedMediaType, apiError(gen.CodeUnsupportedMediaType, "%s", msg))
			return
		}
		err = openapi3filter.ValidateRequest(c.Request.Context(), &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
			Options:    opts,
		})
		if err != nil {
			writeError(c, http.StatusBadRequest, apiError(gen.CodeBadRequest, "%s", describeValidationError(err)))
			return
		}
		c.Next()
	}
}

// unsupportedMediaType says why the request's body cannot be taken by op
// when its Content-Type is not one op declares (JSON, or none sent with a
// body); "" when it can.
func unsupportedMediaType(req *http.Request, op *openapi3.Operation) string {
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return ""
	}
	content := op.RequestBody.Value.Content
	declared := slices.Sorted(maps.Keys(content))
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		if req.ContentLength == 0 {
			return "" // no body at all: the validator says it is required
		}
		return fmt.Sprintf("the request body has no Content-Type; send it as %s", strings.Join(declared, " or "))
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && content.Get(mt) != nil {
		return ""
	}
	return fmt.Sprintf("Content-Type %q is not supported here; send the body as %s", ct, strings.Join(declared, " or "))
}

// describeValidationError turns a kin-openapi validation error into one line
// that names the parameter or body field and the reason, without echoing
// kin-openapi's internals.
func describeValidationError(err error) string {
	var reqErr *openapi3filter.RequestError
	if !errors.As(err, &reqErr) {
		return err.Error()
	}
	where := "request"
	switch {
	case reqErr.Parameter != nil:
		where = fmt.Sprintf("%s parameter %q", reqErr.Parameter.In, reqErr.Parameter.Name)
	case reqErr.RequestBody != nil:
		where = "request body"
	}

	var schemaErr *openapi3.SchemaError
	if errors.As(reqErr.Err, &schemaErr) {
		if ptr := schemaErr.JSONPointer(); len(ptr) > 0 {
			where += ": " + strings.Join(ptr, ".")
		}
		if schemaErr.SchemaField == "pattern" && schemaErr.Schema != nil && schemaErr.Schema.Pattern == notBlankPattern {
			return where + ": must not be blank"
		}
		return where + ": " + schemaErr.Reason
	}
	var parseErr *openapi3filter.ParseError
	if errors.As(reqErr.Err, &parseErr) {
		if reqErr.RequestBody != nil {
			cause := parseErr.Cause
			for errors.Unwrap(cause) != nil {
				cause = errors.Unwrap(cause)
			}
			if cause != nil {
				return where + " is not valid JSON: " + cause.Error()
			}
			return where + " is not valid JSON"
		}
		if parseErr.Value != nil {
			reason := parseErr.Reason
			if reason == "" {
				reason = "invalid"
			}
			return fmt.Sprintf("%s: value %q is %s", where, fmt.Sprint(parseErr.Value), reason)
		}
		return where + ": " + parseErr.Error()
	}
	if errors.Is(reqErr.Err, openapi3filter.ErrInvalidRequired) || reqErr.Err == nil && strings.Contains(reqErr.Reason, "required") {
		return where + " is required"
	}
	if reqErr.Err != nil && reqErr.Reason != "" && reqErr.Reason != reqErr.Err.Error() {
		return where + ": " + reqErr.Reason + ": " + reqErr.Err.Error()
	}
	if reqErr.Err != nil {
		return where + ": " + reqErr.Err.Error()
	}
	return where + ": " + reqErr.Reason
}

// strictQuery refuses a query string that does not parse (a ";" separator,
// a bad %-escape) with 400, instead of letting the parameters it holds be
// dropped silently: GET /jobs?status=bogus;x must not list every job.
func strictQuery(c *gin.Context) {
	if _, err := url.ParseQuery(c.Request.URL.RawQuery); err != nil {
		writeError(c, http.StatusBadRequest, apiError(gen.CodeBadRequest, "query string: %v", err))
		return
	}
	c.Next()
}
