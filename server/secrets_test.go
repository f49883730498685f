package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/server"
)

var (
	tokenPattern = regexp.MustCompile(`^os_[0-9A-Za-z]{32,}$`)
	anyToken     = regexp.MustCompile(`os_[0-9A-Za-z]{32,}`)
)

func containsToken(b []byte) bool { return anyToken.Match(b) }

// TestTokensNeverLeak: with the log at debug level, create keys through the
// API, use them (valid, revoked, garbage, on errors and rate limits), then
// check that no token is in any log line, in the key table (every column of
// every row as text), in the metrics, or in any answer but the 201 that
// created it; that every line logged while serving a keyed request carries
// its principal; and that a job records who queued it.
func TestTokensNeverLeak(t *testing.T) {
	t.Parallel()
	var log testkit.SyncBuffer
	h := newHarness(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	var answers []byte
	var tokens []string

	limit := int32(1)
	for i, body := range []client.NewAPIKey{
		{Name: "ops", Scopes: []client.NewAPIKeyScopes{client.GrantAll}},
		{Name: "slow", Scopes: []client.NewAPIKeyScopes{client.GrantJobsRead, client.GrantJobsWrite}, RateLimit: &limit},
	} {
		r, err := h.client.CreateKeyWithResponse(ctx, body)
		if err != nil || r.JSON201 == nil {
			t.Fatalf("create %d: %v %d", i, err, r.StatusCode())
		}
		tokens = append(tokens, r.JSON201.Token)
	}
	tokens = append(tokens, h.token)
	ops, slow := h.asKey(tokens[0]), h.asKey(tokens[1])

	// A keyed request that logs a line of its own: creating a key.
	created, err := ops.CreateKeyWithResponse(ctx, client.NewAPIKey{Name: "child", Scopes: []client.NewAPIKeyScopes{client.GrantJobsRead}})
	if err != nil || created.JSON201 == nil {
		t.Fatal(err)
	}
	tokens = append(tokens, created.JSON201.Token)
	childID := created.JSON201.ID

	from := openapi_types.Date{}
	_ = from.UnmarshalText([]byte("2025-01-01"))
	job, err := slow.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: from, To: from})
	if err != nil || job.JSON202 == nil {
		t.Fatalf("queue: %v %d %s", err, job.StatusCode(), job.Body)
	}
	slowKey, _, _ := h.store.APIKeyByHash(ctx, auth.HashToken(tokens[1]))
	if cb := job.JSON202.CreatedBy; cb == nil || *cb != "key:"+slowKey.ID.String() {
		t.Errorf("created_by = %v, want key:%s", cb, slowKey.ID)
	}
	answers = append(answers, job.Body...)
	limited, err := slow.ListJobsWithResponse(ctx, nil) // over 1/s
	if err != nil || limited.StatusCode() != http.StatusTooManyRequests {
		t.Errorf("second request in a second on a 1/s key: %v %d", err, limited.StatusCode())
	}
	answers = append(answers, limited.Body...)
	if r, err := h.client.RevokeKeyWithResponse(ctx, childID); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatal(err)
	}
	child := h.asKey(tokens[3])
	for _, call := range []func() (int, []byte){
		func() (int, []byte) { r, _ := child.ListJobsWithResponse(ctx, nil); return r.StatusCode(), r.Body },
		func() (int, []byte) {
			r, _ := h.asKey(tokens[0]+"x").ListJobsWithResponse(ctx, nil)
			return r.StatusCode(), r.Body
		},
		func() (int, []byte) {
			r, _ := ops.GetJobWithResponse(ctx, job.JSON202.JobID)
			return r.StatusCode(), r.Body
		},
		func() (int, []byte) { r, _ := ops.ListKeysWithResponse(ctx, nil); return r.StatusCode(), r.Body },
		func() (int, []byte) {
			r, _ := ops.CreateOrderWithBodyWithResponse(ctx, nil, "application/json", strings.NewReader(`{"bad":`))
			return r.StatusCode(), r.Body
		},
	} {
		_, body := call()
		answers = append(answers, body...)
	}
	answers = append(answers, h.scrape().body...)

	var dump string
	if err := h.store.DB().QueryRow(`SELECT string_agg(k::text, E'\n') FROM api_keys k`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		secret := strings.TrimPrefix(tok, "os_")
		for where, text := range map[string]string{"the log": log.String(), "the key table": dump, "an answer": string(answers)} {
			if strings.Contains(text, secret[:16]) {
				t.Errorf("%s holds (part of) a token", where)
			}
		}
	}
	if strings.Contains(strings.ToLower(log.String()), "authorization") || strings.Contains(log.String(), "Bearer os_") {
		t.Errorf("the log mentions the Authorization header")
	}

	// Every line of the keyed request that created the child key carries
	// its principal: the access log and "API key created".
	opsKey, _, _ := h.store.APIKeyByHash(ctx, auth.HashToken(tokens[0]))
	var access, created2 bool
	for _, l := range logLines(t, log.String()) {
		if l["msg"] == "API key created" && l["name"] == "child" {
			created2 = l["principal"] == "key:"+opsKey.ID.String() && l["request_id"] != nil
		}
		if l["msg"] == "request" && l["route"] == "/keys" && l["method"] == "POST" && l["principal"] == "key:"+opsKey.ID.String() {
			access = true
		}
	}
	if !access || !created2 {
		t.Errorf("principal missing on the access log (%v) or on the request's own line (%v):\n%s", access, created2, log.String())
	}
}
