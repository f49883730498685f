// Command settle is a small command-line client for the ordersettle API, built
// on the generated client in package client.
//
// Usage:
//
//	settle [--url URL] [--token TOKEN] [--json] <group> <command> [flags] [arguments]
//
//	settle jobs create --from 2025-01-01 --to 2025-01-31 [--wait] [--out FILE|-]
//	settle jobs get ID
//	settle jobs list [--status S] [--limit N | --all]
//	settle jobs cancel ID
//	settle jobs retry ID
//	settle jobs download ID [--out FILE|-]
//	settle settlements list [--from DAY] [--to DAY] [--merchant ID] [--limit N | --all]
//	settle orders create --product ID --quantity N --buyer BUYER [--idempotency-key K]
//	settle orders get ID
//	settle help | -h | --help
//	settle version | --version
//
// The API base URL comes from --url, else $ORDERSETTLE_URL, else
// http://localhost:8080. The credential, an API key (os_…) or a JWT, comes
// from --token, else $ORDERSETTLE_TOKEN, and is sent as "Authorization:
// Bearer TOKEN" on every request; a 401 says how to pass or create one, a 403
// shows the server's message (which names the missing scope), a 429 when to
// retry. Every command accepts --url, --token and --json; --json prints
// the response JSON (indented) instead of the text view, and errors as JSON
// on stdout too: the API's error object, or one of the same shape with the
// code USAGE, UNREACHABLE, UNEXPECTED_RESPONSE, INTERRUPTED or CLIENT_ERROR
// (the exit status does not change; stderr still gets the human message).
// Flags may come before or after the arguments.
//
// The list commands follow the API's cursor: --limit N shows at most N items
// (fetching as many pages as that takes), --all every item.
//
// "jobs create --wait" polls the job every 250 ms and draws a progress bar on
// stderr (a plain progress line at most once a second when stderr is not a
// terminal); "--out FILE" also waits and then streams the CSV into FILE through
// a temporary file in FILE's directory, renamed into place when complete.
// Ctrl-C while waiting cancels the job on the server before exiting.
//
// Exit status: 0 success, 1 API or network error (or a job that ended FAILED or
// CANCELLED), 2 usage error, 3 credential missing or refused (HTTP 401),
// 4 credential without the needed scope or binding (HTTP 403), 130
// interrupted.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	// After the first Ctrl-C, restore the default handling so that a second
	// one kills the process even while the job's cancel is being confirmed.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args (without the program name), writing
// results to stdout and progress and errors to stderr, and returns the exit
// status. Cancelling ctx is how an interrupt reaches a running command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	if err != nil && wantsJSON(args) {
		writeJSONError(stdout, err)
	}
	return report(stderr, err)
}
