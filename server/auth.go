package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen"
)

// Access control comes from the spec: each operation's `security` says
// whether it is public (`security: []`) or needs a bearer token, and its
// `x-required-scopes` what the token must allow. The server reads both at
// start; an operation without `security` stops it.

// securityScheme is the spec's one security scheme.
const securityScheme = "bearerAuth"

// scopesExtension lists an operation's required scopes.
const scopesExtension = "x-required-scopes"

// realm is the WWW-Authenticate realm.
const realm = "ordersettle"

// requirement is what an operation asks of a request's credential.
type requirement struct {
	public bool
	scopes auth.ScopeSet // all of them are needed
}

// requirements reads every operation's requirement from the spec, keyed by
// operation id. An operation without `security`, with another scheme, or
// protected without a known scope is an error.
func requirements(doc *openapi3.T) (map[string]requirement, error) {
	reqs := map[string]requirement{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.Security == nil {
				return nil, fmt.Errorf("spec: %s declares no security (use security: [] for a public operation)", where)
			}
			if len(*op.Security) == 0 {
				reqs[op.OperationID] = requirement{public: true}
				continue
			}
			for _, sr := range *op.Security {
				if _, ok := sr[securityScheme]; !ok || len(sr) != 1 {
					return nil, fmt.Errorf("spec: %s must require exactly %s", where, securityScheme)
				}
			}
			raw, _ := op.Extensions[scopesExtension].([]any)
			if len(raw) == 0 {
				return nil, fmt.Errorf("spec: protected %s lists no %s", where, scopesExtension)
			}
			var r requirement
			for _, v := range raw {
				s, _ := v.(string)
				if !auth.Scope(s).Valid() {
					return nil, fmt.Errorf("spec: %s requires unknown scope %q", where, s)
				}
				r.scopes |= auth.NewScopeSet(auth.Scope(s))
			}
			reqs[op.OperationID] = r
		}
	}
	return reqs, nil
}

// specRouteKey is where authenticate leaves the spec route it found, for
// validateRequest.
const specRouteKey = "ordersettle.specRoute"

// specRoute is a request's operation in the spec, with its path parameters.
type specRoute struct {
	route  *routers.Route
	params map[string]string
}

// authenticate enforces the operation's requirement before anything else
// looks at the request (query, body or validation): a stranger learns
// nothing but 401. It finds the request's operation in the spec (and leaves
// it for validateRequest), lets public operations through, and otherwise
// answers 401 without a valid credential, 403 without the scopes, 429 over
// the credential's rate limit, or puts the principal in the request's
// context.
func (s *Server) authenticate(c *gin.Context) {
	find := c.Request
	if find.Method == http.MethodHead {
		// HEAD is GET without the body: it needs what GET needs.
		get := *find
		get.Method = http.MethodGet
		find = &get
	}
	route, params, err := s.specRouter.FindRoute(find)
	if err != nil {
		// Not an operation of the spec: validateRequest answers 404 or 405,
		// and no handler runs.
		c.Next()
		return
	}
	c.Set(specRouteKey, specRoute{route: route, params: params})
	req, ok := s.requirements[route.Operation.OperationID]
	if !ok {
		// requirements covers every operation of the spec; fail closed.
		s.writeUnexpected(c, fmt.Errorf("operation %s has no security requirement", route.Operation.OperationID))
		return
	}
	if req.public {
		c.Next()
		return
	}
	s.admit(c, req.scopes)
}

// requireScopes guards a route outside the spec (/metrics) like a protected
// operation.
func (s *Server) requireScopes(scopes ...auth.Scope) gin.HandlerFunc {
	set := auth.NewScopeSet(scopes...)
	return func(c *gin.Context) { s.admit(c, set) }
}

// admit lets the request through when its credential is valid, holds scopes
// and is within its rate limit.
func (s *Server) admit(c *gin.Context, scopes auth.ScopeSet) {
	p, sent, err := s.principal(c)
	switch {
	case errors.Is(err, auth.ErrInvalidCredential) || p == nil:
		s.unauthenticated(c, sent, err)
		return
	case err != nil:
		s.writeUnexpected(c, err)
		return
	}
	ctx := auth.NewContext(c.Request.Context(), p)
	c.Request = c.Request.WithContext(ctx)
	if missing := scopes &^ p.Scopes; missing != 0 {
		writeError(c, http.StatusForbidden, apiError(gen.CodeForbidden,
			"this operation needs the scope %s, which the credential does not have", missing))
		return
	}
	if ok, wait := s.limiter.Allow(p, time.Now()); !ok {
		s.metrics.rateLimited.Inc()
		secs := max(1, int(wait/time.Second))
		c.Header("Retry-After", strconv.Itoa(secs))
		writeError(c, http.StatusTooManyRequests, apiError(gen.CodeRateLimited,
			"too many requests for this credential; retry after %d s", secs))
		return
	}
	c.Next()
}

// principal verifies the request's bearer token. sent tells whether a bearer
// token was sent at all; err wraps auth.ErrInvalidCredential when it is not
// valid, and is another error when the check itself failed (the database).
func (s *Server) principal(c *gin.Context) (p *auth.Principal, sent bool, err error) {
	h := c.GetHeader("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, false, auth.ErrInvalidCredential
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, false, auth.ErrInvalidCredential
	}
	ctx := c.Request.Context()
	switch {
	case strings.HasPrefix(token, auth.KeyPrefix):
		p, err = s.keys.Verify(ctx, token)
	case s.cfg.JWT != nil:
		p, err = s.cfg.JWT.Verify(ctx, token)
	default:
		err = auth.ErrInvalidCredential
	}
	return p, true, err
}

// unauthenticated answers 401 UNAUTHENTICATED with WWW-Authenticate. The
// reason is logged at debug level (never the token).
func (s *Server) unauthenticated(c *gin.Context, sent bool, reason error) {
	s.metrics.unauthenticated.Inc()
	challenge := `Bearer realm="` + realm + `"`
	msg := "this operation needs a credential: send Authorization: Bearer <token> with an API key (os_…) or a JWT"
	if sent {
		challenge += `, error="invalid_token"`
		msg = "the credential is unknown, revoked, expired or malformed; send Authorization: Bearer <token> with a valid API key or JWT"
		s.log.DebugContext(c.Request.Context(), "credential refused", "reason", reason)
	}
	c.Header("WWW-Authenticate", challenge)
	writeError(c, http.StatusUnauthorized, apiError(gen.CodeUnauthenticated, "%s", msg))
}

// forbidden builds the 403 body for a binding the credential lacks.
func forbidden(format string, args ...any) gen.ForbiddenJSONResponse {
	return gen.ForbiddenJSONResponse{Body: apiError(gen.CodeForbidden, format, args...)}
}
