package server_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/server"
)

// logLines parses a JSON log, one object per line.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not one JSON object: %q: %v", sc.Text(), err)
		}
		lines = append(lines, line)
	}
	return lines
}

// linesOf returns the log lines of the request with id.
func linesOf(lines []map[string]any, id string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["request_id"] == id {
			out = append(out, l)
		}
	}
	return out
}

// TestAccessLog: with a JSON logger, every request is logged once at INFO
// with request_id, method, route (the template; "unmatched" when none),
// status, duration_ms and bytes; the other lines logged while serving a
// request carry its request_id too.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var log testkit.SyncBuffer
	h := newHarness(t, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(&log, nil)) })
	p := h.createProduct("logged", 1, 1)

	get := h.send(h.newRequest(http.MethodGet, "/products/"+itoa(p.ID), nil, map[string]string{"X-Request-ID": "access-1"}))
	miss := h.send(h.newRequest(http.MethodGet, "/nope/42", nil, map[string]string{"X-Request-ID": "access-2"}))
	weird := sendUnvalidated(t, h.newRequest("BREW", "/products", nil, map[string]string{"X-Request-ID": "access-3"}))

	// A request that fails unexpectedly logs "request failed" as well.
	if _, err := h.store.DB().Exec(`DROP TABLE products CASCADE`); err != nil {
		t.Fatal(err)
	}
	failed := h.send(h.newRequest(http.MethodGet, "/products/"+itoa(p.ID), nil, map[string]string{"X-Request-ID": "access-4"}))
	if failed.status != http.StatusInternalServerError {
		t.Fatalf("GET /products/{id} without the table: %d: %s", failed.status, failed.body)
	}

	lines := logLines(t, log.String())
	for _, want := range []struct {
		id, method, route string
		resp              rawResponse
	}{
		{"access-1", "GET", "/products/:id", get},
		{"access-2", "GET", "unmatched", miss},
		{"access-3", "OTHER", "unmatched", weird},
		{"access-4", "GET", "/products/:id", failed},
	} {
		var access []map[string]any
		for _, l := range linesOf(lines, want.id) {
			if l["msg"] == "request" {
				access = append(access, l)
			}
		}
		if len(access) != 1 {
			t.Errorf("request %s: %d access-log lines, want 1:\n%s", want.id, len(access), log.String())
			continue
		}
		a := access[0]
		if a["level"] != "INFO" || a["method"] != want.method || a["route"] != want.route ||
			a["status"] != float64(want.resp.status) || a["bytes"] != float64(len(want.resp.body)) {
			t.Errorf("request %s: access log %v; want INFO %s %s %d, %d bytes",
				want.id, a, want.method, want.route, want.resp.status, len(want.resp.body))
		}
		if d, ok := a["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("request %s: duration_ms = %v, want a number of milliseconds", want.id, a["duration_ms"])
		}
	}

	var failure bool
	for _, l := range linesOf(lines, "access-4") {
		if l["msg"] == "request failed" {
			failure = true
			if l["level"] != "ERROR" || !strings.Contains(l["err"].(string), "does not exist") {
				t.Errorf("request failed line: %v", l)
			}
		}
	}
	if !failure {
		t.Errorf("no \"request failed\" line with request_id access-4:\n%s", log.String())
	}
	for _, l := range lines {
		if l["msg"] == "request" && l["request_id"] == nil {
			t.Errorf("access-log line without request_id: %v", l)
		}
	}
}

// TestLogHandlerWrapsOnce: wrapping twice adds request_id once.
func TestLogHandlerWrapsOnce(t *testing.T) {
	var buf strings.Builder
	h := server.LogHandler(server.LogHandler(slog.NewJSONHandler(&buf, nil)))
	slog.New(h).InfoContext(server.WithRequestID(t.Context(), "once"), "hello")
	if n := strings.Count(buf.String(), `"request_id"`); n != 1 {
		t.Errorf("request_id %d times: %s", n, buf.String())
	}
	buf.Reset()
	slog.New(h).Info("background")
	if strings.Contains(buf.String(), "request_id") {
		t.Errorf("a line without a request's context has a request_id: %s", buf.String())
	}
}
