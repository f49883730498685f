// Package testserver starts the service for tests, always through its
// composition root (internal/app), so that what the tests run is wired
// like cmd/server: in process (Start), or as a child process of the test
// binary (StartProcess, with RunChildIfAsked in the package's TestMain).
package testserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/ordersettle/ordersettle/internal/app"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/testkit"
)

// childEnv holds the database URL when the test binary runs as a server
// child process.
const childEnv = "ORDERSETTLE_TEST_SERVER_CHILD_DSN"

// config is the service's configuration on the database at dsn: no
// migrations (test databases are copied from a migrated template),
// warnings only, settlement files in dir.
func configFor(dsn, dir string) (config.Config, error) {
	// RATE_LIMIT=0: tests send many requests on one key.
	env := map[string]string{"DATABASE_URL": dsn, "MIGRATE": "false", "LOG_LEVEL": "warn", "SETTLEMENT_DIR": dir, "RATE_LIMIT": "0"}
	return config.FromEnv(func(k string) string { return env[k] })
}

// Start runs the service in process on the database at dsn, on a free
// port of 127.0.0.1, until tb ends; logs go to w (nil: discarded).
func Start(tb testing.TB, dsn string, w io.Writer) *app.App {
	tb.Helper()
	cfg, err := configFor(dsn, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	if w == nil {
		w = io.Discard
	}
	ctx, stop := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, w))
	if err != nil {
		stop()
		tb.Fatal(err)
	}
	if err := a.Listen("127.0.0.1:0"); err != nil {
		a.Close()
		stop()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	tb.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			tb.Errorf("service: %v", err)
		}
	})
	return a
}

// RunChildIfAsked makes the test binary a server child process when
// StartProcess started it: it serves (through internal/app, on a free port
// of 127.0.0.1, printing "listening URL" on stdout) until SIGTERM and exits.
// Otherwise it returns at once. Call it first in TestMain.
func RunChildIfAsked() {
	dsn := os.Getenv(childEnv)
	if dsn == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fail := func(err error) { fmt.Fprintln(os.Stderr, "server child:", err); os.Exit(2) }
	dir, err := os.MkdirTemp("", "ordersettle-child-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	cfg, err := configFor(dsn, dir)
	if err != nil {
		fail(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, os.Stderr))
	if err != nil {
		fail(err)
	}
	if err := a.Listen("127.0.0.1:0"); err != nil {
		fail(err)
	}
	fmt.Printf("listening %s\n", a.URL())
	if err := a.Run(ctx); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// Process is a server child process.
type Process struct {
	// URL is where it serves ("http://127.0.0.1:port").
	URL    string
	cmd    *exec.Cmd
	stderr *testkit.SyncBuffer
	done   chan struct{} // closed once the process has exited
}

// StartProcess starts the test binary as a server child process on the
// database at dsn and waits until it listens. The package's TestMain must
// call RunChildIfAsked first. The process is killed when t ends, if still
// running; its stderr is logged when t failed.
func StartProcess(t *testing.T, dsn string) *Process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dsn)
	p := &Process{cmd: cmd, stderr: &testkit.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() && p.stderr.String() != "" {
			t.Logf("server process %d stderr:\n%s", cmd.Process.Pid, p.stderr)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server process did not start: %v\n%s", err, p.stderr)
	}
	p.URL = strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p
}

// Kill ends the process with SIGKILL: no shutdown code runs.
func (p *Process) Kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// Stop sends SIGTERM (a graceful shutdown) and returns the exit code once
// the process has exited.
func (p *Process) Stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// Stderr is what the process wrote to its standard error so far.
func (p *Process) Stderr() string { return p.stderr.String() }
