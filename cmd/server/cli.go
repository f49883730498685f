package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ordersettle/ordersettle/internal/app"
	"github.com/ordersettle/ordersettle/internal/buildinfo"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

const usageText = `usage: server [command]

Runs the ordersettle HTTP service until SIGINT or SIGTERM. On either signal
it stops reporting ready (GET /readyz answers 503), gives requests in flight
%s to finish and hands running settlement jobs back to the queue.

Commands:
  (none)       run the service
  healthcheck  ask the service on 127.0.0.1:$PORT whether it is ready
               (GET /readyz): exit 0 when it answers 200, 1 otherwise
  keys create --name NAME --scopes LIST [--merchant-id N] [--buyer-id ID]
              [--expires-in DURATION] [--rate-limit N]
               create an API key in the server's database and print its
               token alone on stdout (LIST: comma-separated scopes, or all)
  keys list    list the API keys (no secrets)
  keys revoke ID
               revoke an API key; every server refuses it within seconds
  help         print this help (also -h, --help)
  version      print the version (also --version)

Environment (variable, default, meaning):
`

// usage prints the help text, with every environment variable and its
// default, to w.
func usage(w io.Writer) {
	fmt.Fprintf(w, usageText, app.ShutdownTimeout)
	_ = config.WriteVars(w, vars())
}

// packageDefaults are the defaults of the settings that config leaves to
// their packages: those packages' exported defaults.
var packageDefaults = map[string]string{
	"DB_MAX_CONNS":     strconv.Itoa(store.DefaultMaxOpenConns),
	"WORKERS":          strconv.Itoa(settlement.DefaultWorkers),
	"BATCH_SIZE":       strconv.Itoa(settlement.DefaultBatchSize),
	"JOB_LEASE":        settlement.DefaultLease.String(),
	"REQUEST_TIMEOUT":  server.DefaultRequestTimeout.String(),
	"MAX_IN_FLIGHT":    strconv.Itoa(server.DefaultMaxInFlight),
	"ORDER_COMMITTERS": strconv.Itoa(ordercommit.DefaultCommitters),
	"ORDER_BATCH_SIZE": strconv.Itoa(ordercommit.DefaultMaxBatch),
	"ORDER_QUEUE_SIZE": strconv.Itoa(ordercommit.DefaultQueueSize),
	"RATE_LIMIT":       strconv.Itoa(server.DefaultRateLimit),
}

// vars is config.Vars with every default filled in.
func vars() []config.Var {
	vs := slices.Clone(config.Vars)
	for i, v := range vs {
		if d, ok := packageDefaults[v.Name]; ok {
			vs[i].Default = d
		}
	}
	return vs
}

// cli runs the command that args name and returns the exit code: 0 done, 1
// failed, 2 the arguments are wrong (usage on stderr, nothing done).
func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed below
	version := fs.Bool("version", false, "print the version")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return 0
	case err != nil:
		return badUsage(stderr, err.Error())
	case fs.Arg(0) == "keys" && !*version:
		return keysCommand(fs.Args()[1:], stdout, stderr)
	case fs.NArg() > 1:
		return badUsage(stderr, "unexpected argument "+strconv.Quote(fs.Arg(1)))
	}
	cmd := fs.Arg(0)
	if *version {
		if cmd != "" {
			return badUsage(stderr, "--version takes no command")
		}
		cmd = "version"
	}
	switch cmd {
	case "":
		return serve()
	case "help":
		usage(stdout)
		return 0
	case "version":
		fmt.Fprintln(stdout, buildinfo.Read().String("server"))
		return 0
	case "healthcheck":
		return healthcheck(stdout, stderr)
	default:
		return badUsage(stderr, "unknown command "+strconv.Quote(cmd))
	}
}

// badUsage reports wrong arguments on w, with the usage, and returns 2.
func badUsage(w io.Writer, problem string) int {
	fmt.Fprintf(w, "server: %s\n\n", problem)
	usage(w)
	return 2
}

// healthcheckTimeout bounds `server healthcheck`; the readiness check itself
// answers within about a second.
const healthcheckTimeout = 5 * time.Second

// healthcheck asks the server on 127.0.0.1:$PORT for GET /readyz: 0 when it
// answers 200, else 1. The answer (or the failure) is printed, for the
// container engine's health log.
func healthcheck(stdout, stderr io.Writer) int {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "server healthcheck:", err)
		return 1
	}
	if cfg.Port == 0 {
		fmt.Fprintln(stderr, "server healthcheck: PORT is 0 (a random port); set the port the server listens on")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthcheckTimeout)
	defer cancel()
	url := "http://127.0.0.1:" + strconv.Itoa(cfg.Port) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "server healthcheck:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "server healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	fmt.Fprintf(stdout, "GET %s: %d %s\n", url, resp.StatusCode, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
