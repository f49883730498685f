package pglocal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderSettings(t *testing.T) {
	got, err := renderSettings(Config{Durable: true, ExtraSettings: map[string]string{
		"work_mem":                   "'16MB'",
		"log_min_duration_statement": "0",
	}})
	if err != nil {
		t.Fatal(err)
	}
	conf := string(got)
	for _, want := range []string{
		"listen_addresses = '127.0.0.1'\n",
		"unix_socket_directories = ''\n",
		"max_connections = 200\n",
		"timezone = 'UTC'\n",
		"log_timezone = 'UTC'\n",
		"fsync = on\n",
		"synchronous_commit = on\n",
		"full_page_writes = on\n",
		"shared_buffers = '256MB'\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("settings lack %q:\n%s", want, conf)
		}
	}
	// Extra settings come last (so they override) and in a stable order.
	if i, j, k := strings.Index(conf, "shared_buffers"), strings.Index(conf, "log_min_duration_statement = 0"), strings.Index(conf, "work_mem = '16MB'"); !(i < j && j < k) {
		t.Errorf("extra settings out of order:\n%s", conf)
	}

	got, err = renderSettings(Config{MaxConnections: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"max_connections = 50\n", "fsync = off\n", "synchronous_commit = off\n", "full_page_writes = off\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("settings lack %q:\n%s", want, got)
		}
	}
}

func TestEnsureIncludeIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "postgresql.conf")
	if err := os.WriteFile(path, []byte("port = 5432"), 0o600); err != nil { // no trailing newline
		t.Fatal(err)
	}
	for range 2 {
		if err := ensureInclude(path); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), includeLine); n != 1 {
		t.Errorf("include line present %d times:\n%s", n, data)
	}
	if !strings.HasPrefix(string(data), "port = 5432\n") {
		t.Errorf("original content damaged:\n%s", data)
	}
}
