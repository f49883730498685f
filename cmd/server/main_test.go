package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/app"
	"github.com/ordersettle/ordersettle/internal/clitest"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
)

func TestMain(m *testing.M) {
	clitest.RunMainIfChild(main)
	dbtest.Main(m)
}

// idleEnv is an environment in which the server, if it started, would start
// a local PostgreSQL in a directory that the test then finds created.
func idleEnv(t *testing.T) (env []string, pgDir string) {
	pgDir = filepath.Join(t.TempDir(), "pg")
	return []string{"DATABASE_URL=", "DB_HOST=", "LOCAL_PG_DIR=" + pgDir, "PORT=0"}, pgDir
}

func wantNothingDone(t *testing.T, pgDir string) {
	t.Helper()
	if _, err := os.Stat(pgDir); !os.IsNotExist(err) {
		t.Errorf("the command touched LOCAL_PG_DIR (%v): it must do nothing", err)
	}
}

// TestHelp: -h, --help and help print the usage with every environment
// variable and its default on stdout, exit 0 and do nothing else.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help", "-help", "help"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			env, pgDir := idleEnv(t)
			r := clitest.Run(t, env, arg)
			if r.Code != 0 || r.Stderr != "" || !strings.HasPrefix(r.Stdout, "usage: server") {
				t.Fatalf("server %s: exit %d\nstdout:\n%s\nstderr:\n%s", arg, r.Code, r.Stdout, r.Stderr)
			}
			for _, v := range vars() {
				def := v.Default
				if def == "" {
					def = "-"
				}
				if !regexp.MustCompile(`(?m)^\s+` + v.Name + `\s+` + regexp.QuoteMeta(def) + `\s`).MatchString(r.Stdout) {
					t.Errorf("the usage does not list %s with its default %s", v.Name, def)
				}
			}
			wantNothingDone(t, pgDir)
		})
	}
}

// TestVersion: --version and version print NAME VERSION (REVISION,
// GOVERSION) and exit 0.
func TestVersion(t *testing.T) {
	t.Parallel()
	line := regexp.MustCompile(`^server \S+ \(\S+, go\S+\)\n$`)
	for _, arg := range []string{"--version", "-version", "version"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			env, pgDir := idleEnv(t)
			r := clitest.Run(t, env, arg)
			if r.Code != 0 || r.Stderr != "" || !line.MatchString(r.Stdout) {
				t.Errorf("server %s: exit %d, stdout %q, stderr %q", arg, r.Code, r.Stdout, r.Stderr)
			}
			wantNothingDone(t, pgDir)
		})
	}
}

// TestBadUsage: an unknown flag or argument prints the problem and the
// usage on stderr, exits 2 and does nothing.
func TestBadUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-x"}, {"--port=1"}, {"serve"}, {"help", "me"}, {"--version", "help"}, {"healthcheck", "now"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			env, pgDir := idleEnv(t)
			r := clitest.Run(t, env, args...)
			if r.Code != 2 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "server: ") || !strings.Contains(r.Stderr, "usage: server") {
				t.Errorf("server %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
			}
			wantNothingDone(t, pgDir)
		})
	}
}

// TestHealthcheck: `server healthcheck` exits 0 when GET
// 127.0.0.1:$PORT/readyz answers 200, else 1.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	var ready atomic.Bool
	ready.Store(true)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(`{"status":"…"}`))
	}))
	defer ts.Close()
	port := strconv.Itoa(ts.Listener.Addr().(*net.TCPAddr).Port)

	if r := clitest.Run(t, []string{"PORT=" + port}, "healthcheck"); r.Code != 0 || !strings.Contains(r.Stdout, "200") {
		t.Errorf("ready: exit %d, stdout %q, stderr %q; want 0", r.Code, r.Stdout, r.Stderr)
	}
	ready.Store(false)
	if r := clitest.Run(t, []string{"PORT=" + port}, "healthcheck"); r.Code != 1 || !strings.Contains(r.Stdout, "503") {
		t.Errorf("not ready: exit %d, stdout %q, stderr %q; want 1", r.Code, r.Stdout, r.Stderr)
	}
	ts.Close()
	if r := clitest.Run(t, []string{"PORT=" + port}, "healthcheck"); r.Code != 1 || r.Stderr == "" {
		t.Errorf("nothing listening: exit %d, stdout %q, stderr %q; want 1", r.Code, r.Stdout, r.Stderr)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServeAndStop runs the service: it becomes ready (as `server
// healthcheck` sees it), logs JSON lines with LOG_FORMAT=json, an access-log
// line per request with its request_id, and exits 0 on SIGTERM.
func TestServeAndStop(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(freePort(t))
	env := []string{
		"DATABASE_URL=" + dbtest.NewDSN(t), "PORT=" + port, "LOG_FORMAT=json",
		"SETTLEMENT_DIR=" + t.TempDir(),
	}
	srv := startServed(t, env, port)
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/products", nil)
	req.Header.Set("X-Request-ID", "serve-and-stop")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-ID") != "serve-and-stop" {
		t.Errorf("GET /products: %d, X-Request-ID %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}

	srv.stop(t)

	var access, shutdown bool
	sc := bufio.NewScanner(strings.NewReader(srv.stderr.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("with LOG_FORMAT=json, a log line is not JSON: %q", sc.Text())
			continue
		}
		if line["msg"] == "request" && line["request_id"] == "serve-and-stop" && line["route"] == "/products" && line["status"] == float64(200) {
			access = true
		}
		if line["msg"] == "shutting down" {
			shutdown = true
		}
	}
	if !access || !shutdown {
		t.Errorf("the log lacks the access-log line of GET /products (%v) or the shutdown (%v):\n%s", access, shutdown, srv.stderr.String())
	}
}

// TestComposeFile: docker-compose.yml gives the server longer than its
// shutdown timeout to stop, checks its health with `server healthcheck`,
// and checks PostgreSQL over TCP (not the entrypoint's socket-only server).
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	compose := string(b)
	m := regexp.MustCompile(`(?m)^\s+stop_grace_period:\s*(\S+)`).FindStringSubmatch(compose)
	if m == nil {
		t.Fatal("docker-compose.yml sets no stop_grace_period")
	}
	if grace, err := time.ParseDuration(m[1]); err != nil || grace <= app.ShutdownTimeout {
		t.Errorf("stop_grace_period %s (%v) must be longer than the shutdown timeout %s", m[1], err, app.ShutdownTimeout)
	}
	for _, want := range []string{
		`test: ["CMD", "server", "healthcheck"]`,
		`test: ["CMD", "pg_isready", "-h", "127.0.0.1"`,
	} {
		if !strings.Contains(compose, want) {
			t.Errorf("docker-compose.yml lacks %s", want)
		}
	}
}

// TestShutdownDelay: after SIGTERM, for SHUTDOWN_DELAY /readyz answers 503
// while requests are still served; then the listener closes and the process
// exits 0.
func TestShutdownDelay(t *testing.T) {
	t.Parallel()
	const delay = 2 * time.Second
	port := strconv.Itoa(freePort(t))
	base := "http://127.0.0.1:" + port
	env := []string{"DATABASE_URL=" + dbtest.NewDSN(t), "PORT=" + port, "SHUTDOWN_DELAY=" + delay.String()}
	srv := startServed(t, env, port)
	// A fresh connection per request: the listener must still accept.
	get := func(path string) (int, error) {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := c.Get(base + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	signalled := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var sawNotReady, servedWhileNotReady bool
	for time.Since(signalled) < delay/2 {
		ready, err := get("/readyz")
		if err != nil {
			t.Fatalf("within SHUTDOWN_DELAY (%v after SIGTERM) /readyz failed: %v", time.Since(signalled), err)
		}
		if ready == http.StatusServiceUnavailable {
			sawNotReady = true
			if status, err := get("/products"); err == nil && status == http.StatusOK {
				servedWhileNotReady = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawNotReady || !servedWhileNotReady {
		t.Fatalf("during SHUTDOWN_DELAY: /readyz 503 seen %v, requests served meanwhile %v", sawNotReady, servedWhileNotReady)
	}
	srv.wait(t)
	if took := time.Since(signalled); took < delay {
		t.Fatalf("exited %v after SIGTERM, before SHUTDOWN_DELAY %v", took, delay)
	}
	if _, err := get("/livez"); err == nil {
		t.Fatal("the listener still accepts after the process exited")
	}
}

// servedProcess is the server command running as a child of a test.
type servedProcess struct {
	cmd    *exec.Cmd
	stderr *testkit.SyncBuffer
	done   chan struct{} // closed once the process has exited; then err is set
	err    error         // cmd.Wait's answer
}

// startServed runs the server with env and waits (up to 60 s) until its
// healthcheck on port passes. The process is killed when t ends if it is
// still running.
func startServed(t *testing.T, env []string, port string) *servedProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p := &servedProcess{cmd: clitest.Command(ctx, t, env), stderr: &testkit.SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	deadline := time.Now().Add(60 * time.Second)
	for clitest.Run(t, []string{"PORT=" + port}, "healthcheck").Code != 0 {
		select {
		case <-p.done:
			t.Fatalf("the server exited; its log:\n%s", p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never became ready; its log:\n%s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// stop sends SIGTERM and waits up to 30 s for the process to exit; it
// fails the test unless the exit is 0.
func (p *servedProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
}

// wait waits up to 30 s for the process to exit (after a SIGTERM sent
// earlier) and fails the test unless the exit is 0.
func (p *servedProcess) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("after SIGTERM: %v; want exit 0. Log:\n%s", p.err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not stop within 30 s of SIGTERM; its log:\n%s", p.stderr.String())
	}
}
