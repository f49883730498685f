package pglocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
)

// Config says where the cluster lives and how it runs.
type Config struct {
	// DataDir is the cluster directory (absolute or relative to the working
	// directory). It is created and initialised with initdb when it holds
	// no PG_VERSION file.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free port.
	Port int
	// Durable turns fsync, synchronous_commit and full_page_writes on
	// (make run, benchmarks); when false all three are off (tests).
	Durable bool
	// MaxConnections is the server's max_connections; 0 means 200.
	MaxConnections int
	// Logger receives progress lines at Info level; nil means slog.Default().
	Logger *slog.Logger
	// ExtraSettings are additional postgresql.conf settings (name -> value,
	// written verbatim, so string values need their own single quotes). They
	// are applied after, and so override, the launcher's own settings.
	ExtraSettings map[string]string
}

// Cluster is a running PostgreSQL cluster. Its methods are safe for
// concurrent use.
type Cluster struct {
	binDir  string // directory holding initdb, pg_ctl, postgres
	dataDir string // absolute, symlink-free data directory
	port    int
	owned   bool
	acct    *account // user PostgreSQL runs as; nil = current user
	logger  *slog.Logger

	mu      sync.Mutex // serialises Stop
	stopped bool
}

// Start runs the cluster described by cfg, initialising its data directory
// first if needed, and returns once the server accepts TCP connections on
// 127.0.0.1. If a postmaster is already serving the data directory, Start
// reuses it and returns a Cluster that is not [Cluster.Owned]. The context
// bounds initialisation and startup only; the server keeps running until
// [Cluster.Stop].
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("pglocal: config has no data directory")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("pglocal: port %d out of range", cfg.Port)
	}
	settings, err := renderSettings(cfg)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dataDir, err := resolvePath(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pglocal: resolve data directory %q: %w", cfg.DataDir, err)
	}
	acct, err := resolveAccount(dataDir)
	if err != nil {
		return nil, err
	}
	if err := acct.checkReachable(dataDir); err != nil {
		return nil, err
	}

	// Creating and chowning the directory is harmless even if a server runs
	// on it: that server runs as its owner, which is the account chosen.
	if err := makeDataDir(dataDir, acct != nil); err != nil {
		return nil, err
	}
	if err := acct.chownTree(dataDir); err != nil {
		return nil, err
	}

	c := &Cluster{binDir: binDir, dataDir: dataDir, acct: acct, logger: logger}
	port, running, err := c.runningPort(ctx)
	if err != nil {
		return nil, err
	}
	if running {
		return c.reuse(ctx, port, cfg.Port)
	}

	if acct != nil {
		logger.Debug("PostgreSQL cannot run as root; running it as "+acct.String(), "data_dir", dataDir)
	}
	if !initialised(dataDir) {
		if err := c.initdb(ctx, cfg.Durable); err != nil {
			return nil, err
		}
	}
	if err := writeSettings(dataDir, settings, acct); err != nil {
		return nil, err
	}
	if err := c.start(ctx, cfg.Port); err != nil {
		return nil, err
	}
	c.owned = true
	logger.Info(fmt.Sprintf("PostgreSQL %s listening on 127.0.0.1:%d", serverVersion(dataDir), c.port),
		"data_dir", dataDir, "durable", cfg.Durable)
	return c, nil
}

// reuse returns a non-owned Cluster for a server found running on the data
// directory, once it accepts connections.
func (c *Cluster) reuse(ctx context.Context, port, wantPort int) (*Cluster, error) {
	if err := waitListening(ctx, port, reuseWait); err != nil {
		return nil, fmt.Errorf("pglocal: PostgreSQL is running in %s but does not accept connections on 127.0.0.1:%d: %w",
			c.dataDir, port, err)
	}
	c.port = port
	c.logger.Info(fmt.Sprintf("reusing PostgreSQL already running on 127.0.0.1:%d", port), "data_dir", c.dataDir)
	if wantPort != 0 && wantPort != port {
		c.logger.Warn(fmt.Sprintf("configured port %d ignored: the running server listens on %d", wantPort, port),
			"data_dir", c.dataDir)
	}
	return c, nil
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// URL returns a connection URL for database dbname as the superuser
// "postgres", e.g. "postgres://postgres@127.0.0.1:5432/app?sslmode=disable".
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     "127.0.0.1:" + strconv.Itoa(c.port),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Owned reports whether this Cluster started the server. It is false when
// Start found the data directory already served by a running postmaster and
// reused it; Stop then leaves the server running.
func (c *Cluster) Owned() bool { return c.owned }

// Stop shuts the server down with a fast shutdown (pg_ctl stop -m fast) and
// waits for it to exit. It is a no-op when the Cluster is not owned or has
// already been stopped, so it is safe to call more than once.
func (c *Cluster) Stop(ctx context.Context) error {
	if c == nil || !c.owned {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.logger.Info(fmt.Sprintf("stopping PostgreSQL on 127.0.0.1:%d", c.port), "data_dir", c.dataDir)
	if err := c.stop(ctx, "fast"); err != nil {
		return err
	}
	c.stopped = true
	return nil
}
