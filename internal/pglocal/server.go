package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	// logFile is the server log, kept inside the data directory, which is
	// the one place certain to be writable by the server's user.
	logFile = "postgresql.log"
	// pidFile is the postmaster's lock file.
	pidFile = "postmaster.pid"
	// maxLogSize is the size above which the log is rotated on start.
	maxLogSize = 16 << 20
	// logTailLines is how much of the log a failed start reports.
	logTailLines = 20
	// pgctlTimeout is pg_ctl's -t: seconds to wait for start or stop.
	pgctlTimeout = "60"
	// portAttempts bounds retries when a picked free port is taken meanwhile.
	portAttempts = 3
	// readyWait and reuseWait bound the TCP readiness check.
	readyWait = 10 * time.Second
	reuseWait = 5 * time.Second
	// waitDelay is how long a cancelled child gets to exit after SIGINT.
	waitDelay = 15 * time.Second
)

// run runs one of the PostgreSQL binaries as the cluster's account, inside
// the data directory, and returns its combined output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Dir = c.dataDir
	cmd.Cancel = func() error { return interrupt(cmd.Process) }
	cmd.WaitDelay = waitDelay
	c.acct.apply(cmd, filepath.Dir(c.dataDir))
	out, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return strings.TrimSpace(string(out)), err
}

// runningPort reports whether a postmaster is serving the data directory
// and, if so, its port. A stale postmaster.pid counts as not running.
func (c *Cluster) runningPort(ctx context.Context) (port int, running bool, err error) {
	pidPath := filepath.Join(c.dataDir, pidFile)
	if _, err := os.Stat(pidPath); errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, fmt.Errorf("pglocal: check for a running server: %w", err)
	}
	out, err := c.run(ctx, "pg_ctl", "status", "-D", c.dataDir)
	var exit *exec.ExitError
	switch {
	case err == nil:
		port, err := readPidPort(pidPath)
		if err != nil {
			return 0, false, err
		}
		return port, true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 3: // "no server running"
		c.logger.Debug("ignoring stale "+pidFile, "data_dir", c.dataDir)
		return 0, false, nil
	default:
		return 0, false, fmt.Errorf("pglocal: check for a server running in %s: %w%s", c.dataDir, err, indent(out))
	}
}

// readPidPort reads the port from line 4 of postmaster.pid.
func readPidPort(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pglocal: read %s: %w", pidFile, err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 4 {
		return 0, fmt.Errorf("pglocal: %s has no port line", path)
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("pglocal: %s has invalid port line %q", path, lines[3])
	}
	return port, nil
}

// initdb initialises the data directory.
func (c *Cluster) initdb(ctx context.Context, durable bool) error {
	var attrs []any
	if c.acct != nil {
		attrs = append(attrs, "run_as", c.acct.String())
	}
	c.logger.Info("initialising PostgreSQL cluster in "+c.dataDir+" (first start only, takes a few seconds)", attrs...)
	args := []string{"-D", c.dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if !durable {
		args = append(args, "--no-sync")
	}
	if out, err := c.run(ctx, "initdb", args...); err != nil {
		return fmt.Errorf("pglocal: initdb in %s: %w%s", c.dataDir, err, indent(out))
	}
	return nil
}

// start launches the server with pg_ctl and waits until it accepts TCP
// connections. With wantPort 0 it picks a free port, retrying with another
// one if that port is taken before the server binds it.
func (c *Cluster) start(ctx context.Context, wantPort int) error {
	logPath := filepath.Join(c.dataDir, logFile)
	if err := rotateLog(logPath); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		port := wantPort
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
		}
		offset := fileSize(logPath)
		out, err := c.run(ctx, "pg_ctl", "start", "-D", c.dataDir, "-l", logPath,
			"-w", "-t", pgctlTimeout, "-o", "-p "+strconv.Itoa(port))
		if err == nil {
			if err := waitListening(ctx, port, readyWait); err != nil {
				c.abort(ctx)
				return fmt.Errorf("pglocal: PostgreSQL in %s started but does not accept connections on 127.0.0.1:%d: %w%s",
					c.dataDir, port, err, logExcerpt(logPath, offset))
			}
			c.port = port
			return nil
		}
		// pg_ctl gave up waiting or was interrupted: the server may still
		// be coming up, so make sure it does not linger.
		if ctx.Err() != nil || strings.Contains(out, "did not start in time") {
			c.abort(ctx)
		}
		tail := readTail(logPath, offset, logTailLines)
		if wantPort == 0 && attempt < portAttempts && ctx.Err() == nil && portTaken(tail) {
			c.logger.Debug("port taken meanwhile, retrying with another", "port", port)
			continue
		}
		return fmt.Errorf("pglocal: start PostgreSQL in %s on port %d: %w%s%s",
			c.dataDir, port, err, indent(out), logExcerptText(logPath, tail))
	}
}

// stop runs pg_ctl stop with the given shutdown mode. A server that is
// already gone (no postmaster.pid) counts as stopped.
func (c *Cluster) stop(ctx context.Context, mode string) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, pidFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", mode, "-w", "-t", pgctlTimeout)
	if err != nil {
		if _, statErr := os.Stat(filepath.Join(c.dataDir, pidFile)); errors.Is(statErr, fs.ErrNotExist) && ctx.Err() == nil {
			return nil // exited meanwhile
		}
		return fmt.Errorf("pglocal: stop PostgreSQL in %s: %w%s", c.dataDir, err, indent(out))
	}
	return nil
}

// abort makes a best-effort attempt to stop a server whose start failed,
// even if ctx is already cancelled.
func (c *Cluster) abort(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := c.stop(ctx, "immediate"); err != nil {
		c.logger.Warn("could not stop PostgreSQL after failed start", "data_dir", c.dataDir, "err", err)
	}
}

// portTaken reports whether a server log excerpt shows that the port was in
// use. The messages are in English because initdb --locale=C sets
// lc_messages to C.
func portTaken(log string) bool {
	return strings.Contains(log, "Address already in use") ||
		strings.Contains(log, "could not create any TCP/IP sockets")
}

// initialised reports whether dataDir holds an initialised cluster.
func initialised(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	return err == nil
}

// serverVersion returns the cluster's major version from PG_VERSION.
func serverVersion(dataDir string) string {
	data, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimSpace(string(data))
}

// makeDataDir creates dataDir with mode 0700 if it does not exist. Missing
// parents are created too; when traversable is set (PostgreSQL runs as
// another user) they get mode 0755 regardless of the umask.
func makeDataDir(dataDir string, traversable bool) error {
	fi, err := os.Stat(dataDir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("pglocal: data directory %s is not a directory", dataDir)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("pglocal: data directory: %w", err)
	}
	if err := makeParents(filepath.Dir(dataDir), traversable); err != nil {
		return err
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("pglocal: create data directory: %w", err)
	}
	return nil
}

// makeParents creates dir and its missing parents.
func makeParents(dir string, traversable bool) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := makeParents(parent, traversable); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fmt.Errorf("pglocal: create directory for the data directory: %w", err)
	}
	if traversable {
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("pglocal: make %s traversable: %w", dir, err)
		}
	}
	return nil
}

// resolvePath makes p absolute and resolves symlinks in its longest existing
// prefix, so that permission checks see the directories actually traversed.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// rotateLog moves an oversized server log aside, keeping one old copy.
func rotateLog(path string) error {
	if fileSize(path) <= maxLogSize {
		return nil
	}
	if err := os.Rename(path, path+".1"); err != nil {
		return fmt.Errorf("pglocal: rotate server log: %w", err)
	}
	return nil
}

// fileSize returns the size of path, or 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readTail returns the last n lines written to the file at path after
// offset (reading at most the final 64 KiB).
func readTail(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const window = 64 << 10
	if size := fileSize(path); size-offset > window {
		offset = size - window
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	data, err := io.ReadAll(io.LimitReader(f, window))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logExcerpt formats the log lines written after offset for an error.
func logExcerpt(path string, offset int64) string {
	return logExcerptText(path, readTail(path, offset, logTailLines))
}

// logExcerptText formats a log excerpt for an error.
func logExcerptText(path, tail string) string {
	if strings.TrimSpace(tail) == "" {
		return ""
	}
	return "\nserver log (" + path + "):" + indent(tail)
}

// indent formats command output for inclusion in an error message.
func indent(s string) string {
	if s == "" {
		return ""
	}
	return "\n\t" + strings.ReplaceAll(s, "\n", "\n\t")
}
