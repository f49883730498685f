// Package clitest runs a command's main function in a child process of the
// command's own test binary, so that tests see what a user sees: the exit
// status, standard output and standard error, and side effects or their
// absence. Use it as
//
//	func TestMain(m *testing.M) {
//		clitest.RunMainIfChild(main)
//		os.Exit(m.Run())
//	}
//
// and clitest.Run(t, env, args...) in the tests.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv marks the child process that is to run main.
const childEnv = "ORDERSETTLE_CLITEST_RUN_MAIN"

// RunMainIfChild runs main and exits with status 0 when main returns, if
// this process is a child started by Run or Start; otherwise it returns at
// once. Call it first in TestMain.
func RunMainIfChild(main func()) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
}

// Result is how a command ended.
type Result struct {
	Code   int // exit status
	Stdout string
	Stderr string
}

// Timeout bounds a Run: a command that does not end by then is killed and
// the test fails (for example a `-h` that started the service instead).
const Timeout = 30 * time.Second

// Run runs main with args in a child process, with env (NAME=value) added to
// this process's environment, and returns how it ended.
func Run(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := Command(ctx, t, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not end within %s\nstdout:\n%s\nstderr:\n%s", args, Timeout, &stdout, &stderr)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%v: %v", args, err)
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
}

// Command returns the child process that runs main with args and env, for
// tests that start it and interact with it while it runs.
func Command(ctx context.Context, t testing.TB, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	// Under -race, a process sleeps a second at exit (atexit_sleep_ms) to
	// let races be reported; the children's exit must not cost that.
	race := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(append(os.Environ(), childEnv+"=1", "GORACE="+race), env...)
	return cmd
}
