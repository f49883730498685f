package pglocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/testkit"
)

// tempDir returns a fresh directory under os.TempDir with mode 0755, so that
// the postgres user can reach a data directory inside it when the tests run
// as root (t.TempDir lives under a 0700 directory).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pglocal-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func start(t *testing.T, cfg Config) (*Cluster, *testkit.SyncBuffer) {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, cfg)
	t.Log(strings.TrimSpace(logs.String()))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c, logs
}

func stop(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func dial(t *testing.T, port int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatalf("dial port %d: %v", port, err)
	}
	conn.Close()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestStartReuseStopRestart(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(tempDir(t), "data")

	c1, logs := start(t, Config{DataDir: dataDir})
	t.Cleanup(func() { _ = c1.Stop(context.Background()) })
	if !c1.Owned() {
		t.Error("first cluster not owned")
	}
	if c1.Port() <= 0 {
		t.Fatalf("Port() = %d", c1.Port())
	}
	dial(t, c1.Port())
	if want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable", c1.Port()); c1.URL("app") != want {
		t.Errorf("URL = %q, want %q", c1.URL("app"), want)
	}
	for _, want := range []string{"initialising PostgreSQL cluster in " + dataDir, "listening on 127.0.0.1:" + strconv.Itoa(c1.Port())} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if conf := readFile(t, filepath.Join(dataDir, settingsFile)); !strings.Contains(conf, "fsync = off") {
		t.Errorf("%s for a non-durable cluster:\n%s", settingsFile, conf)
	}
	pgVersion, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}

	// A second Start on the running data directory reuses the server.
	c2, logs := start(t, Config{DataDir: dataDir})
	if c2.Owned() {
		t.Error("second cluster on a running data directory is owned")
	}
	if c2.Port() != c1.Port() {
		t.Errorf("reused port = %d, want %d", c2.Port(), c1.Port())
	}
	if !strings.Contains(logs.String(), "reusing PostgreSQL") {
		t.Errorf("log lacks the reuse message")
	}
	stop(t, c2) // no-op
	dial(t, c1.Port())

	stop(t, c1)
	stop(t, c1) // idempotent
	if _, err := os.Stat(filepath.Join(dataDir, pidFile)); !os.IsNotExist(err) {
		t.Errorf("%s after Stop: %v", pidFile, err)
	}

	// A stale lock file (its process is gone) must not prevent a restart.
	stale := fmt.Sprintf("4194303\n%s\n1700000000\n%d\n\n", dataDir, c1.Port())
	if err := os.WriteFile(filepath.Join(dataDir, pidFile), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}

	// Restart keeps the data directory and applies the new durability.
	c3, logs := start(t, Config{DataDir: dataDir, Durable: true})
	t.Cleanup(func() { _ = c3.Stop(context.Background()) })
	if !c3.Owned() {
		t.Error("restarted cluster not owned")
	}
	dial(t, c3.Port())
	if strings.Contains(logs.String(), "initialising") {
		t.Error("restart initialised the cluster again")
	}
	if after, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil || !after.ModTime().Equal(pgVersion.ModTime()) {
		t.Errorf("PG_VERSION changed or vanished on restart: %v", err)
	}
	if conf := readFile(t, filepath.Join(dataDir, settingsFile)); !strings.Contains(conf, "fsync = on") {
		t.Errorf("%s for a durable cluster:\n%s", settingsFile, conf)
	}
	if conf := readFile(t, filepath.Join(dataDir, "postgresql.conf")); strings.Count(conf, includeLine) != 1 {
		t.Errorf("postgresql.conf includes %s %d times", settingsFile, strings.Count(conf, includeLine))
	}
	stop(t, c3)
}

func TestStartFixedPortAndExtraSettings(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(tempDir(t), "nested", "data")
	c, _ := start(t, Config{
		DataDir:        dataDir,
		Port:           port,
		MaxConnections: 20,
		ExtraSettings:  map[string]string{"work_mem": "'8MB'"},
	})
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if c.Port() != port {
		t.Errorf("Port() = %d, want %d", c.Port(), port)
	}
	dial(t, port)
	conf := readFile(t, filepath.Join(dataDir, settingsFile))
	for _, want := range []string{"max_connections = 20", "work_mem = '8MB'"} {
		if !strings.Contains(conf, want) {
			t.Errorf("%s lacks %q:\n%s", settingsFile, want, conf)
		}
	}
	stop(t, c)
}

func TestUnreachableDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the traversal check only applies when running as root")
	}
	t.Parallel()
	locked := filepath.Join(tempDir(t), "locked")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(locked, "data")
	_, err := Start(context.Background(), Config{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("Start under a 0700 root-owned directory succeeded")
	}
	for _, want := range []string{locked + " ", "chmod o+x " + locked, "/var/tmp"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, statErr := os.Stat(dataDir); !os.IsNotExist(statErr) {
		t.Errorf("data directory created despite the error: %v", statErr)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no data dir":     {},
		"negative port":   {DataDir: "x", Port: -1},
		"huge port":       {DataDir: "x", Port: 70000},
		"negative conns":  {DataDir: "x", MaxConnections: -1},
		"bad extra name":  {DataDir: "x", ExtraSettings: map[string]string{"a b": "1"}},
		"multiline value": {DataDir: "x", ExtraSettings: map[string]string{"work_mem": "1\nfsync = on"}},
	} {
		if _, err := Start(context.Background(), cfg); err == nil {
			t.Errorf("%s: Start succeeded", name)
		}
	}
}

func TestStopNotOwnedOrNil(t *testing.T) {
	var nilCluster *Cluster
	if err := nilCluster.Stop(context.Background()); err != nil {
		t.Errorf("nil Stop: %v", err)
	}
	if err := (&Cluster{}).Stop(context.Background()); err != nil {
		t.Errorf("not-owned Stop: %v", err)
	}
}

func TestResolvePath(t *testing.T) {
	root := tempDir(t)
	if err := os.Mkdir(filepath.Join(root, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := resolvePath(filepath.Join(root, "link", "missing", "data"))
	if want := filepath.Join(realRoot, "real", "missing", "data"); err != nil || got != want {
		t.Errorf("resolvePath = %q, %v; want %q", got, err, want)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if wd, err = filepath.EvalSymlinks(wd); err != nil {
		t.Fatal(err)
	}
	got, err = resolvePath(filepath.Join("rel", "data"))
	if want := filepath.Join(wd, "rel", "data"); err != nil || got != want {
		t.Errorf("resolvePath(rel/data) = %q, %v; want %q", got, err, want)
	}
}

// TestStartFailures shares one data directory between failure scenarios to
// keep the number of (slow) initdb runs down.
func TestStartFailures(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(tempDir(t), "data")
	quiet := slog.New(slog.DiscardHandler)

	t.Run("cancelled during init", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := Start(ctx, Config{DataDir: dataDir, Logger: quiet})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start with a 300ms deadline: err = %v, want context.DeadlineExceeded", err)
		}
		// An interrupted initdb cleans up after itself, so the next Start
		// initialises from scratch instead of using a half-made cluster.
		c, _ := start(t, Config{DataDir: dataDir})
		t.Cleanup(func() { _ = c.Stop(context.Background()) })
		dial(t, c.Port())
		stop(t, c)
	})

	t.Run("server log in error", func(t *testing.T) {
		_, err := Start(context.Background(), Config{
			DataDir:       dataDir,
			ExtraSettings: map[string]string{"shared_buffers": "'banana'"},
			Logger:        quiet,
		})
		if err == nil {
			t.Fatal("Start with an invalid setting succeeded")
		}
		if !strings.Contains(err.Error(), `invalid value for parameter "shared_buffers"`) || !strings.Contains(err.Error(), "server log") {
			t.Errorf("error does not show the server log:\n%v", err)
		}
		if _, statErr := os.Stat(filepath.Join(dataDir, pidFile)); !os.IsNotExist(statErr) {
			t.Errorf("server left running after failed start: %v", statErr)
		}
	})

	t.Run("fixed port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		_, err = Start(context.Background(), Config{DataDir: dataDir, Port: port, Logger: quiet})
		if err == nil {
			t.Fatalf("Start on busy port %d succeeded", port)
		}
		if !portTaken(err.Error()) {
			t.Errorf("error does not show the bind failure:\n%v", err)
		}
	})

	t.Run("cancelled during startup", func(t *testing.T) {
		for _, d := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			c, err := Start(ctx, Config{DataDir: dataDir, Logger: quiet})
			cancel()
			if err == nil { // fast machine: started within the deadline
				stop(t, c)
				continue
			}
			t.Logf("deadline %v: %v", d, err)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("deadline %v: err = %v, want context.DeadlineExceeded", d, err)
			}
			// The half-started server must not linger.
			if _, statErr := os.Stat(filepath.Join(dataDir, pidFile)); !os.IsNotExist(statErr) {
				t.Fatalf("deadline %v: server left running after cancelled start: %v", d, statErr)
			}
		}
	})
}
