package main

import (
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"github.com/ordersettle/ordersettle/internal/clitest"
	"github.com/ordersettle/ordersettle/internal/dbtest"
)

var tokenLine = regexp.MustCompile(`^os_[0-9A-Za-z]{32,}$`)

// TestKeysCommands: `server keys create` prints the token alone on stdout's
// only line, the database holds its hash but never the token, `keys list`
// shows the key without secrets, `keys revoke` revokes it, and wrong
// arguments exit 2 doing nothing.
func TestKeysCommands(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDSN(t)
	env := []string{"DATABASE_URL=" + dsn}
	r := clitest.Run(t, env, "keys", "create", "--name", "ci", "--scopes", "orders:read,jobs:read",
		"--merchant-id", "7", "--expires-in", "24h", "--rate-limit", "50")
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if r.Code != 0 || len(lines) != 1 || !tokenLine.MatchString(lines[0]) {
		t.Fatalf("keys create: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	token := lines[0]
	if strings.Contains(r.Stderr, token) {
		t.Errorf("the token is on stderr too:\n%s", r.Stderr)
	}

	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id, dump string
	if err := db.QueryRow(`SELECT id::text, (SELECT string_agg(k::text, ' ') FROM api_keys k) FROM api_keys`).Scan(&id, &dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, token) || strings.Contains(dump, strings.TrimPrefix(token, "os_")) {
		t.Errorf("the key table holds the token in clear: %s", dump)
	}

	r = clitest.Run(t, env, "keys", "list")
	if r.Code != 0 || !strings.Contains(r.Stdout, id) || !strings.Contains(r.Stdout, "orders:read,jobs:read") ||
		!strings.Contains(r.Stdout, "merchant_id 7") || strings.Contains(r.Stdout, token) {
		t.Errorf("keys list: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = clitest.Run(t, env, "keys", "revoke", id)
	if r.Code != 0 || !strings.Contains(r.Stdout, "revoked key "+id) {
		t.Errorf("keys revoke: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	var revoked bool
	if err := db.QueryRow(`SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1`, id).Scan(&revoked); err != nil || !revoked {
		t.Errorf("after keys revoke: revoked %v, %v", revoked, err)
	}
	if r := clitest.Run(t, env, "keys", "revoke", "0b7e5d3c-2f1a-4c6e-9d8b-7a6f5e4d3c2b"); r.Code != 1 {
		t.Errorf("revoking an unknown key: exit %d, want 1", r.Code)
	}

	for _, args := range [][]string{
		{"keys"}, {"keys", "rotate"}, {"keys", "create", "--scopes", "all"}, {"keys", "create", "--name", "x"},
		{"keys", "create", "--name", "x", "--scopes", "orders:delete"}, {"keys", "create", "--name", " ", "--scopes", "all"},
		{"keys", "create", "--name", "x", "--scopes", "all", "--rate-limit", "0"},
		{"keys", "create", "--name", "x", "--scopes", "all", "--expires-in", "-1h"},
		{"keys", "revoke"}, {"keys", "revoke", "not-a-uuid"}, {"keys", "list", "extra"},
	} {
		if r := clitest.Run(t, env, args...); r.Code != 2 || r.Stdout != "" || !strings.Contains(r.Stderr, "usage:") {
			t.Errorf("server %s: exit %d, want 2 with the usage on stderr\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM api_keys`).Scan(&n); err != nil || n != 1 {
		t.Errorf("wrong arguments created keys: %d keys, %v", n, err)
	}
}

// TestLocalBootstrap: a server on its private local PostgreSQL with no key
// creates an admin key, writes its token to LOCAL_PG_DIR/admin-token (mode
// 0600) and logs the file's path, never the token; the token works, the
// principal is on the access log, and a second start creates no other key.
func TestLocalBootstrap(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	// When the test runs as root, PostgreSQL runs as another user, who must
	// be able to enter the directories on the way.
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pgDir := filepath.Join(base, "pg")
	port := strconv.Itoa(freePort(t))
	env := []string{"DATABASE_URL=", "DB_HOST=", "LOCAL_PG_DIR=" + pgDir, "PORT=" + port, "SETTLEMENT_DIR=" + t.TempDir()}

	log, token := serveOnce(t, env, port, func(token string) {
		get := func(auth string) int {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/jobs", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		if s := get(""); s != http.StatusUnauthorized {
			t.Errorf("GET /jobs without a token: %d, want 401", s)
		}
		if s := get("Bearer " + token); s != http.StatusOK {
			t.Errorf("GET /jobs with the admin token: %d, want 200", s)
		}
	})
	if !strings.Contains(log, filepath.Join(pgDir, "admin-token")) || !strings.Contains(log, "principal=key:") {
		t.Errorf("the log names neither the token file nor the principal:\n%s", log)
	}
	if strings.Contains(log, token) {
		t.Errorf("the log holds the token:\n%s", log)
	}

	// A second start finds a key and leaves the file as it is.
	log, again := serveOnce(t, env, port, func(string) {})
	if again != token || strings.Contains(log, "admin-token") {
		t.Errorf("the second start changed the token file or created a key:\n%s", log)
	}
}

// serveOnce starts the server with env, waits until it is ready, reads the
// admin token, runs check with it, stops the server and returns its log and
// the token.
func serveOnce(t *testing.T, env []string, port string, check func(token string)) (log, token string) {
	t.Helper()
	srv := startServed(t, env, port)
	var pgDir string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "LOCAL_PG_DIR="); ok {
			pgDir = v
		}
	}
	path := filepath.Join(pgDir, "admin-token")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no admin token file: %v\n%s", err, srv.stderr.String())
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("admin-token has mode %v, want 0600", info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(string(b))
	if !tokenLine.MatchString(token) {
		t.Fatalf("admin-token holds %d bytes that are not a key", len(b))
	}
	check(token)
	srv.stop(t)
	return srv.stderr.String(), token
}
