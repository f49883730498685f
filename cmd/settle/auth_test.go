package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

// testToken is the credential the tests send; it looks like an API key
// (built, so that no key-shaped literal sits in the source).
var testToken = "os_" + strings.Repeat("t3st", 9)

// TestTokenIsSentOnEveryCall: with --token every request of every command
// carries "Authorization: Bearer <token>", and a fake that insists on it
// answers them all.
func TestTokenIsSentOnEveryCall(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, completing...)
	api.requireToken(testToken)
	api.settlements = fakeSettlements(2, 2)
	out := filepath.Join(t.TempDir(), "january.csv")
	for _, args := range [][]string{
		{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31", "--out", out},
		{"jobs", "get", fakeJobID.String()},
		{"jobs", "list", "--all"},
		{"jobs", "download", fakeJobID.String(), "--out", "-"},
		{"settlements", "list", "--all"},
		{"orders", "create", "--product", "1", "--quantity", "1", "--buyer", "user-1"},
		{"orders", "get", fakeOrderID.String()},
	} {
		code, stdout, stderr := runCLI(t, t.Context(), append(args, "--url", api.URL(), "--token", testToken)...)
		wantCode(t, code, 0, stdout, stderr)
	}
	// --token before the command counts too.
	code, stdout, stderr := runCLI(t, t.Context(), "--token", testToken, "--url", api.URL(), "jobs", "cancel", fakeJobID.String())
	wantCode(t, code, 1, stdout, stderr) // 409: the job is COMPLETED
	if !strings.Contains(stderr, "JOB_NOT_CANCELLABLE") {
		t.Errorf("stderr = %q, want the 409", stderr)
	}

	calls, auths := api.Calls(), api.Authorizations()
	if len(calls) < 10 {
		t.Fatalf("only %d calls: %v", len(calls), calls)
	}
	for i, a := range auths {
		if a != "Bearer "+testToken {
			t.Errorf("%s carried Authorization %q, want Bearer and the token", calls[i], a)
		}
	}
}

// TestTokenComesFromTheEnvironmentAndTheFlagWins: $ORDERSETTLE_TOKEN is
// sent when --token is not given; --token replaces it, and an explicitly
// empty --token sends none.
func TestTokenComesFromTheEnvironmentAndTheFlagWins(t *testing.T) {
	api := newFakeAPI(t)
	t.Setenv(tokenEnv, "  "+testToken+"\n") // as read from a file: the white space goes
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Bearer " + testToken},
		{[]string{"--token", "os_fromTheFlag"}, "Bearer os_fromTheFlag"},
		{[]string{"--token="}, ""},
	} {
		before := len(api.Authorizations())
		code, stdout, stderr := runCLI(t, t.Context(), append([]string{"jobs", "get", fakeJobID.String(), "--url", api.URL()}, tt.args...)...)
		wantCode(t, code, 0, stdout, stderr)
		if got := api.Authorizations()[before:]; len(got) != 1 || got[0] != tt.want {
			t.Errorf("%v: Authorization %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestUnauthenticatedSaysHowToPassAndCreateAToken: a 401 exits 3 with one
// line that says whether a token was sent, how to pass one and how to
// create one; --json prints the API's error object.
func TestUnauthenticatedSaysHowToPassAndCreateAToken(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.requireToken(testToken)
	tests := []struct {
		name  string
		token string
		want  []string
	}{
		{"none sent", "", []string{"no credential was sent and the server requires one", "UNAUTHENTICATED", "HTTP 401", ".pgdata/admin-token"}},
		{"refused", "os_" + strings.Repeat("revoked", 5), []string{"the server refused the credential", "UNAUTHENTICATED", "HTTP 401", "revoked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{
				{"jobs", "list"},
				{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-02", "--wait"},
				{"jobs", "download", fakeJobID.String(), "--out", filepath.Join(t.TempDir(), "job.csv")},
			} {
				args = append(args, "--url", api.URL(), "--token="+tt.token)
				code, stdout, stderr := runCLI(t, t.Context(), args...)
				wantCode(t, code, exitUnauthenticated, stdout, stderr)
				want := append(tt.want, "pass --token or set $ORDERSETTLE_TOKEN", "server keys create --name NAME --scopes LIST")
				for _, w := range want {
					if !strings.Contains(stderr, w) {
						t.Errorf("%v: stderr lacks %q:\n%s", args[:2], w, stderr)
					}
				}
				if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
					t.Errorf("%v: want one line on stderr and nothing on stdout; got\nstdout: %s\nstderr: %s", args[:2], stdout, stderr)
				}
				if tt.token != "" && strings.Contains(stderr, tt.token) {
					t.Errorf("%v: stderr repeats the token: %s", args[:2], stderr)
				}
				code, stdout, stderr = runCLI(t, t.Context(), append(args, "--json")...)
				wantCode(t, code, exitUnauthenticated, stdout, stderr)
				var e errorObject
				decodeOne(t, stdout, &e)
				if e.Error.Code != string(client.CodeUnauthenticated) || !strings.Contains(e.Error.Message, "unknown, revoked or expired") {
					t.Errorf("%v --json: stdout = %s, want the API's error object", args[:2], stdout)
				}
			}
		})
	}
}

// TestForbiddenShowsTheServersMessage: a 403 exits 4 and shows the
// server's message, which names the missing scope; --json prints it as sent.
func TestForbiddenShowsTheServersMessage(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	const msg = "this operation needs the scope jobs:write, which the credential does not have"
	api.deny = func(r *http.Request) (int, string) {
		if r.Method == http.MethodPost {
			return http.StatusForbidden, msg
		}
		return 0, ""
	}
	args := []string{"jobs", "create", "--from", "2025-01-01", "--to", "2025-01-02", "--url", api.URL(), "--token", testToken}
	code, stdout, stderr := runCLI(t, t.Context(), args...)
	wantCode(t, code, exitForbidden, stdout, stderr)
	if want := "FORBIDDEN: " + msg + " (HTTP 403)\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	code, stdout, stderr = runCLI(t, t.Context(), append(args, "--json")...)
	wantCode(t, code, exitForbidden, stdout, stderr)
	var e errorObject
	decodeOne(t, stdout, &e)
	if e.Error.Code != string(client.CodeForbidden) || e.Error.Message != msg {
		t.Errorf("--json: stdout = %s, want the API's 403 object", stdout)
	}
	// A read the credential may do still works.
	code, stdout, stderr = runCLI(t, t.Context(), "jobs", "get", fakeJobID.String(), "--url", api.URL(), "--token", testToken)
	wantCode(t, code, 0, stdout, stderr)
}

// TestRateLimitedSaysWhenToRetry: a 429 exits 1 and says after how many
// seconds to retry (the Retry-After header).
func TestRateLimitedSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.deny = func(*http.Request) (int, string) {
		return http.StatusTooManyRequests, "too many requests for this credential (limit 5 per second); retry after 7 s"
	}
	for _, args := range [][]string{
		{"orders", "get", fakeOrderID.String()},
		{"jobs", "download", fakeJobID.String(), "--out", "-"},
	} {
		code, stdout, stderr := runCLI(t, t.Context(), append(args, "--url", api.URL(), "--token", testToken)...)
		wantCode(t, code, exitFailure, stdout, stderr)
		if !strings.Contains(stderr, "RATE_LIMITED") || !strings.HasSuffix(strings.TrimSpace(stderr), "retry after 7 s") {
			t.Errorf("%v: stderr = %q, want RATE_LIMITED and 'retry after 7 s' at the end", args[:2], stderr)
		}
	}
}

// TestWaitRidesOutARateLimit: polling that hits the rate limit waits
// Retry-After and goes on.
func TestWaitRidesOutARateLimit(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, completing...)
	api.retryAfter = "1"
	var limited atomic.Bool
	api.deny = func(r *http.Request) (int, string) {
		if r.Method == http.MethodGet && limited.CompareAndSwap(false, true) {
			return http.StatusTooManyRequests, "too many requests for this credential (limit 4 per second); retry after 1 s"
		}
		return 0, ""
	}
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "create", "--from", "2025-01-01", "--to", "2025-01-31", "--wait",
		"--url", api.URL(), "--token", testToken)
	wantCode(t, code, 0, stdout, stderr)
	if n := api.called("GET /jobs/" + fakeJobID.String()); n != 4 {
		t.Errorf("polled %d times, want 4 (one 429, then QUEUED, RUNNING, COMPLETED)", n)
	}
}

// TestTokenIsNeverShown: a token with white space inside is a usage error
// that does not repeat it, and help never shows the token as a default.
func TestTokenIsNeverShown(t *testing.T) {
	api := newFakeAPI(t)
	secret := "os_" + strings.Repeat("secret", 6)
	code, stdout, stderr := runCLI(t, t.Context(), "jobs", "list", "--url", api.URL(), "--token", secret+" extra")
	wantCode(t, code, exitUsage, stdout, stderr)
	if !strings.Contains(stderr, "--token holds white space") || strings.Contains(stderr, "secret") {
		t.Errorf("stderr = %q, want the usage error without the token", stderr)
	}
	if n := len(api.Calls()); n != 0 {
		t.Errorf("%d requests sent with a malformed token", n)
	}

	t.Setenv(tokenEnv, secret)
	for _, args := range [][]string{
		{"--token", secret, "jobs", "get", "-h"},
		{"jobs", "list", "--help"},
		{"help", "jobs", "create"},
		{"help"},
	} {
		code, stdout, stderr := runCLI(t, t.Context(), args...)
		wantCode(t, code, 0, stdout, stderr)
		if strings.Contains(stdout+stderr, "secret") {
			t.Errorf("%v shows the token:\n%s%s", args, stdout, stderr)
		}
		if !strings.Contains(stdout, "-token") || !strings.Contains(stdout, tokenEnv) {
			t.Errorf("%v: the help does not mention --token and $%s:\n%s", args, tokenEnv, stdout)
		}
	}
}
